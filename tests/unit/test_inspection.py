"""Step 1 of the router: ``inspect()`` turns one ingress message into an input or a refusal."""

import base64
import hashlib
import json
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.inspection import (
    DocumentInput,
    Publishers,
    ReceiptInput,
    Refusal,
    Verdict,
    input_key,
    inspect,
)
from hub.registry import Registry
from schemas import (
    DocumentReference,
    Envelope,
    Names,
    RefusedInput,
    RejectionReason,
    StatusCode,
    StatusReceipt,
    limits,
    sign_document,
    sign_receipt,
    thumbprint,
)
from schemas.jws import DOCUMENT_TYP, RECEIPT_TYP, b64url_decode, sign_flattened
from tests.factories import (
    HUB_KEY,
    TEST_USER,
    TRUSTING,
    directory_of,
    flattened_jws,
    jws_body,
    make_envelope,
    organ,
    signed_body,
)

A, B, C, D = "000.00.00.G01", "000.00.00.G02", "000.00.00.H01", "000.00.00.H02"
UNREGISTERED = "000.00.00.G99"
KEYS = {agency: Ed25519PrivateKey.generate() for agency in (A, B, C, D)}
STRANGER_KEY = Ed25519PrivateKey.generate()
REGISTRY = Registry(directory_of(KEYS))
MAX = limits.MAX_MESSAGE_BYTES
DOC, STATUS = "document", "status"
STRICT = Publishers(Names("test"))
"""Publishers that trust no user: each agency publishes as its own broker user."""


def document(sender: str = A, to: tuple[str, ...] = (C, D), **fields: Any) -> Envelope:
    return make_envelope(organ(sender), [organ(agency) for agency in to], **fields)


def receipt(about: Envelope, responder: str | None = C, **fields: Any) -> StatusReceipt:
    data: dict[str, Any] = {
        "document": about.reference(),
        "responder": organ(responder) if responder else None,
        "code": StatusCode.ARRIVED,
    }
    data.update(fields)
    return StatusReceipt(**data)


def run(
    routing_key: str,
    data: bytes,
    max_bytes: int = MAX,
    user_id: str | None = TEST_USER,
    publishers: Publishers = TRUSTING,
) -> Verdict:
    return inspect(routing_key, data, user_id, REGISTRY, publishers, max_bytes)


def refusal(
    routing_key: str,
    data: bytes,
    max_bytes: int = MAX,
    user_id: str | None = TEST_USER,
    publishers: Publishers = TRUSTING,
) -> Refusal:
    verdict = run(routing_key, data, max_bytes, user_id, publishers)
    assert isinstance(verdict, Refusal), verdict
    assert verdict.input_key == hashlib.sha256(data).hexdigest()
    assert verdict.detail
    return verdict


def signed_payload(
    payload: dict[str, Any], key: Ed25519PrivateKey, typ: str = DOCUMENT_TYP
) -> bytes:
    """A JWS of ``payload`` (any JSON object, valid or not), signed by ``key``."""
    return sign_flattened(json.dumps(payload, ensure_ascii=False).encode(), key, typ)


def payload_data(model: Envelope | StatusReceipt) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(model.model_dump_json())
    return data


# Accepted


def test_valid_signed_document() -> None:
    signed = sign_document(document(), KEYS[A])
    verdict = run(DOC, signed.body)
    assert isinstance(verdict, DocumentInput)
    assert verdict.envelope == signed.model
    assert verdict.input_key == input_key(signed.body) == hashlib.sha256(signed.body).hexdigest()
    assert verdict.content_hash == signed.payload_sha256
    assert verdict.body == signed.body


def test_content_hash_is_of_the_signed_payload_not_of_the_body() -> None:
    signed = sign_document(document(), KEYS[A])
    members = json.loads(signed.body)
    rewritten = json.dumps(dict(reversed(members.items())), indent=1).encode()
    first = run(DOC, signed.body)
    second = run(DOC, rewritten)
    assert isinstance(first, DocumentInput)
    assert isinstance(second, DocumentInput)
    assert first.input_key != second.input_key
    assert first.content_hash == second.content_hash == hashlib.sha256(signed.payload).hexdigest()
    assert second.body == rewritten  # forwarded exactly as received


def test_valid_signed_receipt() -> None:
    signed = sign_receipt(receipt(document()), KEYS[C])
    verdict = run(STATUS, signed.body)
    assert isinstance(verdict, ReceiptInput)
    assert verdict.receipt == signed.model
    assert verdict.input_key == hashlib.sha256(signed.body).hexdigest()
    assert verdict.content_hash == signed.payload_sha256
    assert verdict.body == signed.body


def test_a_hand_written_payload_is_accepted_and_kept_as_written() -> None:
    envelope = document()
    data = payload_data(envelope)
    data["sent_at"] = "2022-06-30T20:00:00.123Z"
    data["id"] = str(envelope.id).upper()
    for optional in ("schema_version", "content", "due_date", "attachments", "other_info"):
        data.pop(optional)
    payload = json.dumps(dict(reversed(data.items())), indent=3).encode()
    body = sign_flattened(payload, KEYS[A], DOCUMENT_TYP)
    verdict = run(DOC, body)
    assert isinstance(verdict, DocumentInput), verdict
    assert verdict.envelope.id == envelope.id
    assert verdict.content_hash == hashlib.sha256(payload).hexdigest()
    assert verdict.body == body


def test_body_exactly_at_the_limit_is_read() -> None:
    data = signed_body(document(), KEYS[A])
    assert isinstance(run(DOC, data, max_bytes=len(data)), DocumentInput)


# The broker user that published it


def test_an_agency_publishing_as_its_own_broker_user_is_accepted() -> None:
    body = signed_body(document(sender=A), KEYS[A])
    verdict = run(DOC, body, user_id=f"test.{A}", publishers=STRICT)
    assert isinstance(verdict, DocumentInput)
    receipt_body = signed_body(receipt(document()), KEYS[C])
    verdict = run(STATUS, receipt_body, user_id=f"test.{C}", publishers=STRICT)
    assert isinstance(verdict, ReceiptInput)


@pytest.mark.parametrize(
    ("user_id", "detail"),
    [
        pytest.param(f"test.{B}", f"published by broker user 'test.{B}'", id="another agency"),
        pytest.param(TEST_USER, "published by broker user 'guest'", id="untrusted guest"),
        pytest.param(f"other.{A}", "not 'test.000.00.00.G01'", id="another namespace"),
        pytest.param(None, "no user_id", id="no user_id"),
    ],
)
def test_a_document_published_by_another_user_is_refused_and_nobody_told(
    user_id: str | None, detail: str
) -> None:
    """Someone else's signed bytes, replayed: the signer did not publish them and is not told."""
    envelope = document(sender=A)
    found = refusal(DOC, signed_body(envelope, KEYS[A]), user_id=user_id, publishers=STRICT)
    assert found.reason is RejectionReason.USER_MISMATCH
    assert detail in found.detail
    assert found.notify is None
    assert found.document == envelope.reference()


@pytest.mark.parametrize("user_id", [f"test.{D}", None])
def test_a_receipt_published_by_another_user_is_refused(user_id: str | None) -> None:
    found = refusal(
        STATUS, signed_body(receipt(document()), KEYS[C]), user_id=user_id, publishers=STRICT
    )
    assert found.reason is RejectionReason.USER_MISMATCH
    assert found.kind == STATUS
    assert found.notify is None


def test_a_trusted_user_may_publish_for_any_agency() -> None:
    publishers = Publishers(Names("test"), frozenset({"fleet"}))
    for sender in (A, B):
        body = signed_body(document(sender=sender), KEYS[sender])
        assert isinstance(run(DOC, body, user_id="fleet", publishers=publishers), DocumentInput)


def test_publishers_problem() -> None:
    publishers = Publishers(Names("dochub"), ("fleet",))
    assert publishers.problem(f"dochub.{A}", A) is None
    assert publishers.problem("fleet", A) is None
    assert publishers.problem(f"dochub.{B}", A) == (
        f"published by broker user 'dochub.{B}', not 'dochub.{A}' of {A}"
    )
    assert publishers.problem(None, A) == f"no user_id: {A} publishes as broker user dochub.{A}"


def test_the_user_is_checked_after_the_signature() -> None:
    """A bad signature is refused as such, whoever published it."""
    signed = sign_document(document(), KEYS[A])
    members = json.loads(signed.body)
    tampered = json.loads(signed.payload)
    tampered["subject"] = "Nội dung đã bị sửa"
    members["payload"] = (
        base64.urlsafe_b64encode(json.dumps(tampered).encode()).decode().rstrip("=")
    )
    found = refusal(DOC, jws_body(members), user_id=None, publishers=STRICT)
    assert found.reason is RejectionReason.BAD_SIGNATURE


# Refused before parsing


@pytest.mark.parametrize("routing_key", ["documents", "", "status.x", "Document", "dlq"])
def test_unknown_routing_key(routing_key: str) -> None:
    found = refusal(routing_key, signed_body(document(), KEYS[A]))
    assert found.reason is RejectionReason.UNKNOWN_KIND
    assert found.kind == routing_key
    assert found.notify is None
    assert found.document is None


def test_an_oversize_document_is_refused_and_its_signer_told() -> None:
    """Within the contract's limit but over this hub's: read, so that its sender hears of it."""
    signed = sign_document(document(), KEYS[A])
    data = signed.body
    found = refusal(DOC, data, max_bytes=len(data) - 1)
    assert found.reason is RejectionReason.OVERSIZE
    assert found.kind == DOC
    assert found.detail == f"{len(data)} bytes, more than the limit of {len(data) - 1}"
    assert found.notify == A
    assert found.document == signed.model.reference()


def test_an_oversize_document_that_does_not_authenticate_tells_nobody() -> None:
    data = signed_body(document(sender=A), STRANGER_KEY)
    found = refusal(DOC, data, max_bytes=len(data) - 1)
    assert found.reason is RejectionReason.OVERSIZE
    assert found.notify is None
    assert found.document is None


def test_an_oversize_document_of_a_registered_but_refused_signer_tells_it() -> None:
    """Over the hub's limit and signed by B as A: B, the proven signer, hears of it."""
    envelope = document(sender=A)
    data = signed_body(envelope, KEYS[B])
    found = refusal(DOC, data, max_bytes=len(data) - 1)
    assert found.reason is RejectionReason.OVERSIZE
    assert found.notify == B
    assert found.document == DocumentReference(id=envelope.id, sender=B)


def test_an_oversize_document_from_another_user_tells_nobody() -> None:
    data = signed_body(document(), KEYS[A])
    found = refusal(DOC, data, max_bytes=len(data) - 1, user_id=None, publishers=STRICT)
    assert found.reason is RejectionReason.OVERSIZE
    assert found.notify is None


def test_an_oversize_receipt_is_refused_and_nobody_told() -> None:
    data = signed_body(receipt(document()), KEYS[C])
    found = refusal(STATUS, data, max_bytes=len(data) - 1)
    assert found.reason is RejectionReason.OVERSIZE
    assert found.kind == STATUS
    assert found.notify is None


def test_a_document_over_the_contract_limit_is_not_read() -> None:
    padding = b" " * limits.MAX_MESSAGE_BYTES
    found = refusal(DOC, signed_body(document(), KEYS[A]) + padding, max_bytes=1024)
    assert found.reason is RejectionReason.OVERSIZE
    assert found.notify is None
    assert found.document is None


# Refused by parsing


@pytest.mark.parametrize("routing_key", [DOC, STATUS])
@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"not json", id="text"),
        pytest.param(b'{"id": ', id="truncated"),
        pytest.param(b"\xff\xfe\x00\x01", id="not UTF-8"),
        pytest.param('{"subject": "Về"}'.encode("utf-16"), id="UTF-16"),
        pytest.param(b'{"a": 1} trailing', id="trailing garbage"),
    ],
)
def test_malformed_bytes(routing_key: str, data: bytes) -> None:
    found = refusal(routing_key, data)
    assert found.reason is RejectionReason.MALFORMED
    assert found.kind == routing_key
    assert found.notify is None


@pytest.mark.parametrize("routing_key", [DOC, STATUS])
@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"[" * 100_000, id="unclosed brackets"),
        pytest.param(b"[" * 5_000 + b"]" * 5_000, id="deep list"),
        pytest.param(
            json.dumps({"payload": "e30", "protected": "e30"}).encode()[:-1]
            + b', "x": '
            + b"[" * 5_000
            + b"]" * 5_000
            + b"}",
            id="deep member of a JWS",
        ),
    ],
)
def test_deeply_nested_json_is_malformed_not_a_crash(routing_key: str, data: bytes) -> None:
    found = refusal(routing_key, data)
    assert found.reason is RejectionReason.MALFORMED
    assert found.notify is None


def test_a_deeply_nested_signed_payload_is_refused_not_a_crash() -> None:
    payload = (
        b'{"id": "' + str(uuid.uuid4()).encode() + b'", "x": ' + b"[" * 5_000 + b"]" * 5_000 + b"}"
    )
    found = refusal(DOC, sign_flattened(payload, KEYS[A], DOCUMENT_TYP))
    assert found.reason is RejectionReason.SCHEMA_INVALID
    assert found.notify == A


@pytest.mark.parametrize("routing_key", [DOC, STATUS])
@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"{}", id="empty object"),
        pytest.param(b'{"hello": 1}', id="other object"),
        pytest.param(b"[]", id="array"),
        pytest.param(b"42", id="number"),
        pytest.param(b'"text"', id="string"),
        pytest.param(b"null", id="null"),
    ],
)
def test_wrong_schema(routing_key: str, data: bytes) -> None:
    found = refusal(routing_key, data)
    assert found.reason is RejectionReason.SCHEMA_INVALID
    assert found.notify is None


def test_receipt_sent_as_document_and_document_sent_as_status() -> None:
    envelope = document()
    as_status = refusal(STATUS, signed_body(envelope, KEYS[A]))
    assert as_status.reason is RejectionReason.SCHEMA_INVALID
    assert "typ" in as_status.detail
    assert as_status.notify is None
    as_document = refusal(DOC, signed_body(receipt(envelope), KEYS[C]))
    assert as_document.reason is RejectionReason.SCHEMA_INVALID
    assert "typ" in as_document.detail
    assert as_document.notify is None


@pytest.mark.parametrize("version", ["1.0", "0.9", "1", 1.0, 2.0])
def test_unsupported_document_version_notifies_the_signer(version: object) -> None:
    envelope = document()
    data = payload_data(envelope)
    data["schema_version"] = version
    found = refusal(DOC, signed_payload(data, KEYS[A]))
    assert found.reason is RejectionReason.UNSUPPORTED_VERSION
    assert found.notify == A
    assert found.document == DocumentReference(id=envelope.id, sender=A)


def test_unsupported_receipt_version() -> None:
    data = payload_data(receipt(document()))
    data["schema_version"] = "1.0"
    found = refusal(STATUS, signed_payload(data, KEYS[C], RECEIPT_TYP))
    assert found.reason is RejectionReason.UNSUPPORTED_VERSION
    assert found.notify is None


@pytest.mark.parametrize("routing_key", [DOC, STATUS])
def test_a_contract_1_0_message_is_unsupported_and_nobody_told(routing_key: str) -> None:
    """A 1.0 envelope carried its own signature; nobody's registered key verified this one."""
    data = payload_data(document())
    data.update(
        schema_version="1.0",
        trace=[],
        signature={"algorithm": "ed25519", "key_id": "0" * 16, "value": "AA" * 43},
    )
    found = refusal(routing_key, json.dumps(data).encode())
    assert found.reason is RejectionReason.UNSUPPORTED_VERSION
    assert found.notify is None
    assert found.document is None


def test_schema_invalid_document_of_a_registered_signer_notifies_it() -> None:
    envelope = document()
    data = payload_data(envelope)
    data.update(subject="", urgency=9)
    found = refusal(DOC, signed_payload(data, KEYS[A]))
    assert found.reason is RejectionReason.SCHEMA_INVALID
    assert "subject" in found.detail
    assert "urgency" in found.detail
    assert found.notify == A
    assert found.document == DocumentReference(id=envelope.id, sender=A)


@pytest.mark.parametrize("missing", ["id", "sent_at"])
def test_a_document_without_its_wire_required_members_is_schema_invalid(missing: str) -> None:
    envelope = document()
    data = payload_data(envelope)
    del data[missing]
    found = refusal(DOC, signed_payload(data, KEYS[A]))
    assert found.reason is RejectionReason.SCHEMA_INVALID
    assert f"{missing}: Field required" in found.detail
    assert found.notify == A
    if missing == "id":
        assert found.document is None
    else:
        assert found.document == DocumentReference(id=envelope.id, sender=A)


CLAIMS = [
    pytest.param(
        {"id": str(uuid.uuid4()), "sender": {"id": UNREGISTERED}}, True, id="unregistered"
    ),
    pytest.param({"id": "not-a-uuid", "sender": {"id": A}}, False, id="unparseable id"),
    pytest.param({"id": str(uuid.uuid4()), "sender": A}, True, id="sender not an object"),
    pytest.param({"id": str(uuid.uuid4())}, True, id="no sender"),
    pytest.param({"sender": {"id": A}}, False, id="no id"),
    pytest.param({"id": None, "sender": {"id": A}}, False, id="null id"),
]


@pytest.mark.parametrize(("claim", "id_readable"), CLAIMS)
def test_a_signed_bare_claim_notifies_the_signer_about_the_id_it_claims(
    claim: dict[str, Any], id_readable: bool
) -> None:
    """Whatever the payload claims, the agency told is the one whose key verified it, and the
    document named is the claimed id with that agency as its sender."""
    found = refusal(DOC, signed_payload(claim, KEYS[A]))
    assert found.reason is RejectionReason.SCHEMA_INVALID
    assert found.notify == A
    if id_readable:
        assert found.document == DocumentReference(id=uuid.UUID(claim["id"]), sender=A)
    else:
        assert found.document is None


@pytest.mark.parametrize(("claim", "id_readable"), CLAIMS)
def test_an_unsigned_bare_claim_notifies_no_one(claim: dict[str, Any], id_readable: bool) -> None:
    found = refusal(DOC, json.dumps(claim).encode())
    assert found.reason is RejectionReason.SCHEMA_INVALID
    assert found.notify is None
    assert found.document is None


def test_a_bare_claim_of_id_and_registered_sender_notifies_no_one() -> None:
    """1.0 told the claimed sender; 2.0 tells only a proven signer."""
    data = json.dumps({"id": str(uuid.uuid4()), "sender": {"id": B}}).encode()
    found = refusal(DOC, data)
    assert found.reason is RejectionReason.SCHEMA_INVALID
    assert found.notify is None


# Refused by the registry and the signature


def test_unknown_sender() -> None:
    found = refusal(DOC, signed_body(document(sender=UNREGISTERED), STRANGER_KEY))
    assert found.reason is RejectionReason.UNKNOWN_SENDER
    assert UNREGISTERED in found.detail
    assert found.notify is None
    assert found.document is None


def test_unsigned_document_notifies_nobody() -> None:
    members = json.loads(signed_body(document(), KEYS[A]))
    del members["signature"]
    found = refusal(DOC, jws_body(members))
    assert found.reason is RejectionReason.UNSIGNED
    assert found.notify is None
    assert found.document is None


def test_document_changed_after_signing_has_a_bad_signature_and_nobody_is_told() -> None:
    signed = sign_document(document(), KEYS[A])
    tampered = signed.model.model_copy(update={"subject": "Nội dung đã bị sửa"})
    members = json.loads(signed.body)
    members["payload"] = (
        base64.urlsafe_b64encode(tampered.model_dump_json().encode()).decode().rstrip("=")
    )
    found = refusal(DOC, jws_body(members))
    assert found.reason is RejectionReason.BAD_SIGNATURE
    assert found.notify is None
    assert found.document is None


def test_document_signed_by_another_registered_agency_notifies_the_real_signer() -> None:
    spoofed = document(sender=A)
    found = refusal(DOC, signed_body(spoofed, KEYS[B]))
    assert found.reason is RejectionReason.SENDER_MISMATCH
    assert A in found.detail
    assert B in found.detail
    assert found.notify == B
    assert found.document == DocumentReference(id=spoofed.id, sender=B)


def test_document_signed_by_an_unregistered_key_notifies_nobody() -> None:
    """Unauthenticated: 1.0 told the sender it claimed, as a best effort; 2.0 tells only an agency
    whose registered key verified the signature."""
    found = refusal(DOC, signed_body(document(sender=A), STRANGER_KEY))
    assert found.reason is RejectionReason.SENDER_MISMATCH
    assert "an unregistered key" in found.detail
    assert found.notify is None
    assert found.document is None


def test_forged_key_id_of_another_agency_notifies_nobody() -> None:
    """Signed by a stranger under B's key id: B did not sign it and is not told, nor is A."""
    payload = document(sender=A).model_dump_json().encode()
    forged = flattened_jws(
        payload, STRANGER_KEY, DOCUMENT_TYP, kid=thumbprint(KEYS[B].public_key())
    )
    found = refusal(DOC, jws_body(forged))
    assert found.reason is RejectionReason.BAD_SIGNATURE
    assert found.notify is None


def test_a_document_signed_by_the_hubs_key_is_not_accepted_from_the_ingress() -> None:
    found = refusal(DOC, signed_body(document(sender=A), HUB_KEY))
    assert found.reason is RejectionReason.SENDER_MISMATCH
    assert found.notify is None


def test_unknown_recipient_notifies_the_sender() -> None:
    envelope = document(to=(C, UNREGISTERED, "000.00.00.H98"))
    found = refusal(DOC, signed_body(envelope, KEYS[A]))
    assert found.reason is RejectionReason.UNKNOWN_RECIPIENT
    assert UNREGISTERED in found.detail
    assert "000.00.00.H98" in found.detail
    assert C not in found.detail
    assert found.notify == A
    assert found.document == envelope.reference()


def hub_only_receipt() -> StatusReceipt:
    return receipt(
        document(),
        responder=None,
        code=StatusCode.REFUSED,
        reason=RejectionReason.MALFORMED,
        refused=RefusedInput(sha256="0" * 64, kind="document"),
    )


@pytest.mark.parametrize(
    "key", [pytest.param(KEYS[C], id="signed by an agency"), pytest.param(HUB_KEY, id="hub key")]
)
def test_receipt_without_responder_is_for_the_hub_only(key: Ed25519PrivateKey) -> None:
    found = refusal(STATUS, signed_body(hub_only_receipt(), key))
    assert found.reason is RejectionReason.SENDER_MISMATCH
    assert found.notify is None


def test_receipt_with_a_bad_signature() -> None:
    signed = sign_receipt(receipt(document()), KEYS[C])
    tampered = signed.model.model_copy(update={"code": StatusCode.COMPLETED})
    members = json.loads(signed.body)
    members["payload"] = (
        base64.urlsafe_b64encode(tampered.model_dump_json().encode()).decode().rstrip("=")
    )
    found = refusal(STATUS, jws_body(members))
    assert found.reason is RejectionReason.BAD_SIGNATURE
    assert found.kind == STATUS
    assert found.notify is None


@pytest.mark.parametrize(
    ("responder", "key", "reason"),
    [
        pytest.param(C, None, RejectionReason.UNSIGNED, id="unsigned"),
        pytest.param(UNREGISTERED, STRANGER_KEY, RejectionReason.UNKNOWN_SENDER, id="unknown"),
        pytest.param(C, KEYS[D], RejectionReason.SENDER_MISMATCH, id="spoofed"),
        pytest.param(C, STRANGER_KEY, RejectionReason.SENDER_MISMATCH, id="stranger key"),
    ],
)
def test_receipt_signer_is_checked(
    responder: str, key: Ed25519PrivateKey | None, reason: RejectionReason
) -> None:
    made = receipt(document(), responder=responder)
    if key is None:
        members = json.loads(signed_body(made, KEYS[C]))
        members["signature"] = ""
        data = jws_body(members)
    else:
        data = signed_body(made, key)
    found = refusal(STATUS, data)
    assert found.reason is reason
    assert found.notify is None
    assert found.document is None


def test_a_schema_invalid_receipt_tells_nobody() -> None:
    data = payload_data(receipt(document()))
    data["code"] = "99"
    found = refusal(STATUS, signed_payload(data, KEYS[C], RECEIPT_TYP))
    assert found.reason is RejectionReason.SCHEMA_INVALID
    assert found.notify is None


def test_same_bytes_give_the_same_input_key() -> None:
    data = b"not json"
    assert refusal(DOC, data).input_key == refusal(STATUS, data).input_key


# Bad input never raises


VERDICTS = (DocumentInput, ReceiptInput, Refusal)
FAST = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=25,
)
routing_keys = st.sampled_from([DOC, STATUS]) | st.text(max_size=20)

VALID_DOCUMENT: dict[str, Any] = json.loads(signed_body(document(), KEYS[A]))
VALID_RECEIPT: dict[str, Any] = json.loads(signed_body(receipt(document()), KEYS[C]))
DOCUMENT_PAYLOAD: dict[str, Any] = payload_data(document())
RECEIPT_PAYLOAD: dict[str, Any] = payload_data(receipt(document()))
JWS_MEMBERS = sorted({"protected", "payload", "signature", "header", "signatures", "x"})


def check(verdict: Verdict, data: bytes) -> None:
    assert isinstance(verdict, VERDICTS)
    assert verdict.input_key == hashlib.sha256(data).hexdigest()


def signed_payload_of(members: dict[str, Any]) -> bytes:
    return b64url_decode(members["payload"], "payload")


@FAST
@given(routing_key=routing_keys, data=st.binary(max_size=2_000))
def test_arbitrary_bytes_never_raise(routing_key: str, data: bytes) -> None:
    check(run(routing_key, data), data)


@FAST
@given(routing_key=st.sampled_from([DOC, STATUS]), value=json_values)
def test_arbitrary_json_never_raises(routing_key: str, value: object) -> None:
    data = json.dumps(value).encode()
    verdict = run(routing_key, data)
    check(verdict, data)
    assert isinstance(verdict, Refusal)
    assert verdict.notify is None


@FAST
@given(
    routing_key=st.sampled_from([DOC, STATUS]),
    base=st.sampled_from([VALID_DOCUMENT, VALID_RECEIPT]),
    changes=st.dictionaries(
        st.sampled_from(JWS_MEMBERS),
        json_values | st.text(alphabet="AZaz09-_=+/.", max_size=50),
        max_size=3,
    ),
    dropped=st.sets(st.sampled_from(JWS_MEMBERS), max_size=2),
)
def test_mutated_jws_never_raises(
    routing_key: str, base: dict[str, Any], changes: dict[str, Any], dropped: set[str]
) -> None:
    value = {key: item for key, item in {**base, **changes}.items() if key not in dropped}
    data = json.dumps(value, ensure_ascii=False).encode()
    verdict = run(routing_key, data)
    check(verdict, data)
    # Whatever is accepted is exactly what was signed.
    if isinstance(verdict, DocumentInput | ReceiptInput):
        assert verdict.content_hash == hashlib.sha256(signed_payload_of(base)).hexdigest()


@FAST
@given(
    routing_key=st.sampled_from([DOC, STATUS]),
    base=st.sampled_from([DOCUMENT_PAYLOAD, RECEIPT_PAYLOAD]),
    changes=st.dictionaries(
        st.sampled_from(sorted({*DOCUMENT_PAYLOAD, *RECEIPT_PAYLOAD, "x"})), json_values, max_size=3
    ),
    dropped=st.sets(st.sampled_from(sorted({*DOCUMENT_PAYLOAD, *RECEIPT_PAYLOAD})), max_size=2),
)
def test_mutated_signed_payloads_never_raise(
    routing_key: str, base: dict[str, Any], changes: dict[str, Any], dropped: set[str]
) -> None:
    value = {key: item for key, item in {**base, **changes}.items() if key not in dropped}
    is_document = base is DOCUMENT_PAYLOAD
    signer = A if is_document else C
    typ = DOCUMENT_TYP if routing_key == DOC else RECEIPT_TYP
    data = signed_payload(value, KEYS[signer], typ)
    verdict = run(routing_key, data)
    check(verdict, data)
    if isinstance(verdict, DocumentInput):
        assert verdict.envelope.sender.id == signer
    elif isinstance(verdict, ReceiptInput):
        assert verdict.receipt.responder is not None
        assert verdict.receipt.responder.id == signer
    elif verdict.notify is not None:
        # Only the proven signer is ever told, and only of a document.
        assert verdict.notify == signer
        assert routing_key == DOC
