"""The public names of the contract and of the client library: a change here is a change of API."""

import importlib

import pytest

import agency_client
import schemas

SCHEMAS_API = [
    "AGENCY_ID_PATTERN",
    "HUB_SIGNER",
    "SCHEMA_VERSION",
    "AgencyDirectory",
    "AgencyEntry",
    "AgencyId",
    "AgencyKind",
    "Attachment",
    "Authenticated",
    "Business",
    "BusinessKind",
    "DocumentCode",
    "DocumentReference",
    "DocumentType",
    "Envelope",
    "HubEntry",
    "Names",
    "NotAuthentic",
    "Organ",
    "OtherInfo",
    "PromulgationInfo",
    "RefusedInput",
    "RejectionReason",
    "Signed",
    "Signer",
    "Staff",
    "Stamp",
    "StatusCode",
    "StatusReceipt",
    "Urgency",
    "authenticate",
    "is_agency_id",
    "public_key_from_text",
    "public_key_to_text",
    "sign_document",
    "sign_receipt",
    "thumbprint",
]

AGENCY_CLIENT_API = [
    "DEFAULT_AMQP_URL",
    "AccessRefused",
    "AgencyClient",
    "AgencyClientError",
    "BrokerUnavailable",
    "Delivery",
    "DocumentRefused",
    "DocumentUnroutable",
    "Incoming",
    "InvalidDocument",
    "InvalidSettings",
    "KeyFiles",
    "NotProvisioned",
    "StatusUpdate",
    "Subscription",
    "UnknownAgency",
    "load_signing_key",
    "write_key_pair",
]


@pytest.mark.parametrize(
    ("module", "expected"),
    [(schemas, SCHEMAS_API), (agency_client, AGENCY_CLIENT_API)],
    ids=["schemas", "agency_client"],
)
def test_all_is_pinned(module: object, expected: list[str]) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    assert sorted(names) == sorted(expected)
    assert len(set(names)) == len(names)


@pytest.mark.parametrize(
    ("module_name", "name"),
    [("schemas", name) for name in SCHEMAS_API]
    + [("agency_client", name) for name in AGENCY_CLIENT_API],
)
def test_every_public_name_is_importable(module_name: str, name: str) -> None:
    module = importlib.import_module(module_name)
    assert getattr(module, name) is not None
    namespace: dict[str, object] = {}
    exec(f"from {module_name} import {name}", namespace)  # noqa: S102 - fixed names
    assert namespace[name] is getattr(module, name)


def test_star_import_gives_exactly_the_public_names() -> None:
    for module_name, expected in (("schemas", SCHEMAS_API), ("agency_client", AGENCY_CLIENT_API)):
        namespace: dict[str, object] = {}
        exec(f"from {module_name} import *", namespace)  # noqa: S102 - fixed names
        assert sorted(set(namespace) - {"__builtins__"}) == sorted(expected)


@pytest.mark.parametrize(
    "name", ["Signature", "TraceHop", "canonical_bytes", "content_hash", "key_id", "sign", "verify"]
)
def test_the_names_of_contract_1_0_are_gone(name: str) -> None:
    """2.0 signs JWS over the bytes as sent: no canonical form, no embedded signature, no trace."""
    assert not hasattr(schemas, name)


def test_agency_client_reexports_the_error_tree() -> None:
    for name in (
        "AccessRefused",
        "BrokerUnavailable",
        "DocumentRefused",
        "DocumentUnroutable",
        "InvalidDocument",
        "InvalidSettings",
        "NotProvisioned",
        "UnknownAgency",
    ):
        assert issubclass(getattr(agency_client, name), agency_client.AgencyClientError)
