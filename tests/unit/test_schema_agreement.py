"""The JSON Schema that ``python -m schemas`` exports matches what the hub accepts.

An agency in another language validates against the exported schema; it must not pass what the
hub refuses for its form, nor refuse what the hub accepts. Checked three ways: every payload the
conformance vectors show accepted validates; every form defect of the vectors that a JSON Schema
can express is refused by it too; and a table of payloads at each limit gets the same answer from
the schema and from the hub. Rules a JSON Schema cannot state (one member against another) are
listed, with the hub refusing what the schema lets through; the contract states them in prose.
"""

import base64
import copy
import datetime as dt
import hashlib
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jsonschema import Draft202012Validator, FormatChecker

from hub.inspection import Publishers, Refusal, inspect
from hub.registry import Registry
from schemas import AgencyDirectory, Names, limits
from schemas.jws import DOCUMENT_TYP, RECEIPT_TYP, sign_flattened
from schemas.rejection import RejectionReason

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "conformance" / "vectors"
KEYS: dict[str, Any] = json.loads((VECTORS / "keys.json").read_text(encoding="utf-8"))
REGISTRY = Registry(
    AgencyDirectory.from_toml((VECTORS / "directory.toml").read_text(encoding="utf-8"))
)
PUBLISHERS = Publishers(Names(KEYS["namespace"]), frozenset(KEYS["trusted_users"]))
FORM_REASONS = {
    RejectionReason.SCHEMA_INVALID.value,
    RejectionReason.UNSUPPORTED_VERSION.value,
    RejectionReason.UNSIGNED.value,
}


def load(folder: str) -> dict[str, dict[str, Any]]:
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((VECTORS / folder).glob("*.json"))
    }


HUB_VECTORS = load("hub")
DELIVERY_VECTORS = load("delivery")

FORMATS = FormatChecker()
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


@FORMATS.checks("date-time", raises=ValueError)
def _rfc3339_date_time(instance: object) -> bool:
    """RFC 3339 §5.6 date-time, checked here: jsonschema only checks it with an extra package."""
    if not isinstance(instance, str):
        return True
    if not _RFC3339.fullmatch(instance):
        return False
    dt.datetime.fromisoformat(instance.upper().replace("Z", "+00:00"))
    return True


@pytest.fixture(scope="module")
def exported() -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "schemas"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=True,
    )
    schemas: dict[str, Any] = json.loads(result.stdout)
    for schema in schemas.values():
        Draft202012Validator.check_schema(schema)
    return schemas


def schema_errors(schema: dict[str, Any], text: str) -> list[str]:
    """Why ``text`` (JSON) does not validate; empty if it does."""
    try:
        instance = json.loads(text)
    except ValueError as exc:
        return [f"not JSON: {exc}"]
    validator = Draft202012Validator(schema, format_checker=FORMATS)
    return [error.message for error in validator.iter_errors(instance)]


def payload_schema(exported: dict[str, Any], routing_key: str) -> dict[str, Any]:
    schema: dict[str, Any] = exported["Envelope" if routing_key == "document" else "StatusReceipt"]
    return schema


# --- The vectors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", sorted(name for name, v in HUB_VECTORS.items() if v["verdict"].get("accepted"))
)
def test_accepted_vectors_validate(exported: dict[str, Any], name: str) -> None:
    vector = HUB_VECTORS[name]
    schema = payload_schema(exported, vector["routing_key"])
    assert schema_errors(schema, vector["payload_json"]) == []
    if not vector["verdict"]["duplicate"]:
        assert schema_errors(exported["FlattenedJws"], vector["body"]) == []


@pytest.mark.parametrize(
    "name", sorted(name for name, v in DELIVERY_VECTORS.items() if v["verdict"]["accepted"])
)
def test_accepted_deliveries_and_their_stamps_validate(exported: dict[str, Any], name: str) -> None:
    vector = DELIVERY_VECTORS[name]
    kind = "document" if ".inbox." in vector["queue"] else "status"
    assert schema_errors(payload_schema(exported, kind), vector["payload_json"]) == []
    assert schema_errors(exported["FlattenedJws"], vector["body"]) == []
    assert schema_errors(exported["Stamp"], vector["stamp"]["payload_json"]) == []


BODY = "body"
PAYLOAD = "payload"
FORM_DEFECTS: dict[str, str | None] = {
    # Seen in the message body, against the FlattenedJws schema.
    "schema-invalid-not-a-jws": BODY,
    "schema-invalid-json-array": BODY,
    "schema-invalid-padded-base64url": BODY,
    "schema-invalid-unprotected-header": BODY,
    "schema-invalid-general-serialisation": BODY,
    "schema-invalid-extra-member": BODY,
    "schema-invalid-alg-none": BODY,  # an unsecured JWS has an empty signature
    "schema-invalid-alg-hs256": BODY,  # a 32-byte HMAC is not an 86-character signature
    "unsupported-version-1-0-body": BODY,
    "unsigned-no-signature-member": BODY,
    "unsigned-empty-signature": BODY,
    # Seen in the payload, against the Envelope or StatusReceipt schema.
    "schema-invalid-payload-not-an-envelope": PAYLOAD,
    "schema-invalid-payload-not-json": PAYLOAD,
    "schema-invalid-missing-id": PAYLOAD,
    "schema-invalid-missing-sent-at": PAYLOAD,
    "schema-invalid-unknown-member": PAYLOAD,
    "schema-invalid-standard-base64-attachment": PAYLOAD,
    "schema-invalid-receipt-missing-timestamp": PAYLOAD,
    "unsupported-version-payload": PAYLOAD,
    # Inside the base64url of the protected header, which no JSON Schema of the body can read.
    "schema-invalid-receipt-typ-on-document": None,
    "schema-invalid-document-typ-on-status": None,
    "schema-invalid-crit": None,
    "schema-invalid-missing-kid": None,
    # A member named twice: JSON Schema sees only the parsed object, not its text.
    "schema-invalid-duplicate-header-member": None,
    "schema-invalid-duplicate-body-member": None,
    "schema-invalid-duplicate-payload-member": None,
    # One member against another: only a responder-less (hub) receipt carries a reason.
    "schema-invalid-receipt-reason-from-agency": None,
}


def test_every_form_refusal_is_classified() -> None:
    form_refusals = {
        name for name, v in HUB_VECTORS.items() if v["verdict"].get("reason") in FORM_REASONS
    }
    assert form_refusals == set(FORM_DEFECTS)


@pytest.mark.parametrize("name", sorted(FORM_DEFECTS))
def test_the_schema_refuses_what_it_can_express(exported: dict[str, Any], name: str) -> None:
    vector = HUB_VECTORS[name]
    where = FORM_DEFECTS[name]
    body_errors = schema_errors(exported["FlattenedJws"], vector["body"])
    if where == BODY:
        assert body_errors
        return
    assert body_errors == []  # a well-formed JWS: the defect is elsewhere
    schema = payload_schema(exported, vector["routing_key"])
    payload_errors = schema_errors(schema, vector["payload_json"])
    if where == PAYLOAD:
        assert payload_errors
    else:
        assert payload_errors == []  # the schema cannot see it; the hub alone refuses it


# --- A table of payloads at the limits ---------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def key_of(name: str) -> Ed25519PrivateKey:
    seed = base64.urlsafe_b64decode(KEYS["keys"][name]["private_seed"] + "=")
    return Ed25519PrivateKey.from_private_bytes(seed)


def hub_accepts_the_form(payload: bytes, routing_key: str) -> bool:
    """Whether the hub takes the payload's form: it may still refuse it for something else (an
    unknown recipient), but not as schema_invalid or unsupported_version."""
    signer, typ = ("A", DOCUMENT_TYP) if routing_key == "document" else ("B", RECEIPT_TYP)
    body = sign_flattened(payload, key_of(signer), typ)
    user = KEYS["keys"][signer]["broker_user"]
    verdict = inspect(routing_key, body, user, REGISTRY, PUBLISHERS, limits.MAX_MESSAGE_BYTES)
    return not (isinstance(verdict, Refusal) and verdict.reason.value in FORM_REASONS)


def base_payload(routing_key: str) -> dict[str, Any]:
    name = "document-minimal" if routing_key == "document" else "receipt-arrived"
    payload: dict[str, Any] = json.loads(HUB_VECTORS[name]["payload_json"])
    return payload


def setting(path: str, value: object) -> Mutation:
    def mutate(payload: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = payload
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        target[last] = value

    return mutate


def removing(member: str) -> Mutation:
    def mutate(payload: dict[str, Any]) -> None:
        del payload[member]

    return mutate


def recipients(count: int) -> Mutation:
    organs = [{"id": f"{n:03d}.00.00.H29", "name": f"Cơ quan {n}"} for n in range(count)]
    return setting("recipients", organs)


INLINE = bytes([0xFB, 0xEF, 0xFF, 0x00, 0x3E])


def inline(content: str, name: str = "a.bin") -> Mutation:
    attachment = {
        "name": name,
        "media_type": "application/octet-stream",
        "size": len(INLINE),
        "sha256": hashlib.sha256(INLINE).hexdigest(),
        "content": content,
    }
    return setting("attachments", [attachment])


URLSAFE = base64.urlsafe_b64encode(INLINE).decode()
STANDARD = base64.standard_b64encode(INLINE).decode()
assert {"+", "/"} <= set(STANDARD)
assert "-" in URLSAFE

# (case, routing key, change, whether both accept the form)
TABLE: list[tuple[str, str, Mutation, bool]] = [
    ("subject at 2,000 characters", "document", setting("subject", "ệ" * 2000), True),
    ("subject at 2,001 characters", "document", setting("subject", "ệ" * 2001), False),
    ("subject empty", "document", setting("subject", ""), False),
    ("no recipients", "document", recipients(0), False),
    ("500 recipients", "document", recipients(limits.MAX_RECIPIENTS), True),
    ("501 recipients", "document", recipients(limits.MAX_RECIPIENTS + 1), False),
    (
        "agency id with a lower-case letter",
        "document",
        setting("sender.id", "000.00.00.g12"),
        False,
    ),
    (
        "agency id with non-ASCII digits",
        "document",
        setting("sender.id", "\u0660\u0660\u0660.00.00.G12"),
        False,
    ),
    ("agency id with a short group", "document", setting("sender.id", "000.00.00.G1"), False),
    ("code number at 20 characters", "document", setting("code.number", "1" * 20), True),
    ("code number at 21 characters", "document", setting("code.number", "1" * 21), False),
    ("code number with a space", "document", setting("code.number", "12 3"), False),
    ("urgency 4", "document", setting("urgency", 4), True),
    ("urgency 5", "document", setting("urgency", 5), False),
    ("document type unknown", "document", setting("document_type", "QUYET_DINH"), False),
    ("inline content base64url unpadded", "document", inline(URLSAFE.rstrip("=")), True),
    ("inline content base64url padded", "document", inline(URLSAFE), True),
    ("inline content with '+' and '/'", "document", inline(STANDARD), False),
    ("attachment name with '/'", "document", inline(URLSAFE, name="a/b.bin"), False),
    ("page count 0", "document", setting("other_info", {"page_count": 0}), False),
    ("appendixes 0", "document", setting("other_info", {"appendixes": 0}), True),
    ("urgency as a string", "document", setting("urgency", "1"), False),
    ("urgency as a boolean", "document", setting("urgency", True), False),
    ("sent_at as Unix seconds", "document", setting("sent_at", 1795000000), False),
    ("sent_at without seconds", "document", setting("sent_at", "2026-11-25T03:00Z"), False),
    ("sent_at with +0700", "document", setting("sent_at", "2026-11-25T10:00:00+0700"), False),
    ("sent_at with +07:00", "document", setting("sent_at", "2026-11-25T10:00:00+07:00"), True),
    (
        "id without hyphens",
        "document",
        setting("id", "d0c0ee0020264c259a00000000000001"),
        False,
    ),
    (
        "id as a URN",
        "document",
        setting("id", "urn:uuid:d0c0ee00-2026-4c25-9a00-000000000001"),
        False,
    ),
    (
        "promulgation date as a timestamp",
        "document",
        setting("promulgation.date", "2026-11-24T00:00:00Z"),
        False,
    ),
    ("page count 2.5", "document", setting("other_info", {"page_count": 2.5}), False),
    ("due date null", "document", setting("due_date", None), True),
    ("sent_at without an offset", "document", setting("sent_at", "2026-11-25T03:00:00"), False),
    ("id not a UUID", "document", setting("id", "d0c0ee00-2026"), False),
    ("id missing", "document", removing("id"), False),
    ("sent_at missing", "document", removing("sent_at"), False),
    ("a member the contract lacks", "document", setting("priority", 1), False),
    ("schema_version 2.0", "document", setting("schema_version", "2.0"), True),
    ("schema_version 2.1", "document", setting("schema_version", "2.1"), False),
    ("receipt description at 2,000", "status", setting("description", "x" * 2000), True),
    ("receipt description at 2,001", "status", setting("description", "x" * 2001), False),
    ("receipt code 07", "status", setting("code", "07"), False),
    (
        "receipt staff email of 255",
        "status",
        setting("staff", {"full_name": "A", "email": "e" * 255}),
        False,
    ),
    ("receipt timestamp missing", "status", removing("timestamp"), False),
    ("receipt document missing", "status", removing("document"), False),
    ("receipt responder missing", "status", removing("responder"), False),
]


def mutated(routing_key: str, change: Mutation) -> bytes:
    payload = copy.deepcopy(base_payload(routing_key))
    change(payload)
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


@pytest.mark.parametrize(
    ("routing_key", "change", "accepted"),
    [pytest.param(key, change, ok, id=case) for case, key, change, ok in TABLE],
)
def test_schema_and_hub_agree_at_the_limits(
    exported: dict[str, Any], routing_key: str, change: Mutation, accepted: bool
) -> None:
    payload = mutated(routing_key, change)
    assert (
        schema_errors(payload_schema(exported, routing_key), payload.decode()) == []
    ) is accepted
    assert hub_accepts_the_form(payload, routing_key) is accepted


def both(first: Mutation, then: Mutation) -> Mutation:
    def mutate(payload: dict[str, Any]) -> None:
        first(payload)
        then(payload)

    return mutate


def reference_to(document_id: str) -> dict[str, Any]:
    return {"id": document_id, "sender": "000.00.00.G12"}


HUB_ONLY: list[tuple[str, str, Mutation]] = [
    # JSON Schema counts 2.0 as an integer; the hub reads JSON's types strictly, and refuses it.
    ("page count 2.0", "document", setting("other_info", {"page_count": 2.0})),
    (
        "a recipient listed twice",
        "document",
        setting("recipients", [{"id": "000.00.00.H29", "name": "B"}] * 2),
    ),
    (
        "a recall without a reference",
        "document",
        setting("business", {"kind": 1}),
    ),
    (
        "a new document with a reference",
        "document",
        setting(
            "business",
            {"kind": 0, "reference": reference_to("d0c0ee00-2026-4c25-9a00-000000000099")},
        ),
    ),
    (
        "a document recalling itself",
        "document",
        setting(
            "business",
            {"kind": 1, "reference": reference_to("d0c0ee00-2026-4c25-9a00-000000000001")},
        ),
    ),
    ("a due date before the promulgation", "document", setting("due_date", "2026-11-01")),
    (
        "inline content of another size",
        "document",
        both(inline(URLSAFE), setting("attachments.0.size", 6)),
    ),
    (
        "inline content of another digest",
        "document",
        both(inline(URLSAFE), setting("attachments.0.sha256", "0" * 64)),
    ),
    ("an agency's receipt with a reason", "status", setting("reason", "schema_invalid")),
    ("an agency's receipt about no document", "status", setting("document", None)),
    ("no responder and no reason", "status", setting("responder", None)),
]


@pytest.mark.parametrize(
    ("routing_key", "change"),
    [pytest.param(key, change, id=case) for case, key, change in HUB_ONLY],
)
def test_rules_between_members_are_the_hubs_alone(
    exported: dict[str, Any], routing_key: str, change: Mutation
) -> None:
    """Rules of one member against another, which the exported schema does not state: it passes
    these, the hub refuses them (schema_invalid), and the contract states each in prose."""
    payload = mutated(routing_key, change)
    assert schema_errors(payload_schema(exported, routing_key), payload.decode()) == []
    assert not hub_accepts_the_form(payload, routing_key)
