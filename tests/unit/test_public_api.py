"""The public names of the contract and of the client library: a change here is a change of API."""

import importlib

import pytest

import agency_client
import schemas

SCHEMAS_API = [
    "AGENCY_ID_PATTERN",
    "SCHEMA_VERSION",
    "AgencyDirectory",
    "AgencyEntry",
    "AgencyId",
    "AgencyKind",
    "Attachment",
    "Business",
    "BusinessKind",
    "DocumentCode",
    "DocumentReference",
    "DocumentType",
    "Envelope",
    "Names",
    "Organ",
    "OtherInfo",
    "PromulgationInfo",
    "RejectionReason",
    "Signature",
    "Signer",
    "Staff",
    "StatusCode",
    "StatusReceipt",
    "TraceHop",
    "Urgency",
    "canonical_bytes",
    "content_hash",
    "is_agency_id",
    "key_id",
    "public_key_from_text",
    "public_key_to_text",
    "sign",
    "verify",
]

AGENCY_CLIENT_API = [
    "DEFAULT_AMQP_URL",
    "AgencyClient",
    "AgencyClientError",
    "BrokerUnavailable",
    "Delivery",
    "DocumentRefused",
    "DocumentUnroutable",
    "Incoming",
    "InvalidDocument",
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


def test_agency_client_reexports_the_error_tree() -> None:
    for name in (
        "BrokerUnavailable",
        "DocumentRefused",
        "DocumentUnroutable",
        "InvalidDocument",
        "NotProvisioned",
        "UnknownAgency",
    ):
        assert issubclass(getattr(agency_client, name), agency_client.AgencyClientError)
