"""Step 1 of the router: ``inspect()`` turns one ingress message into an input or a refusal."""

import datetime as dt
import hashlib
import json
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.inspection import DocumentInput, ReceiptInput, Refusal, Verdict, input_key, inspect
from hub.registry import Registry
from schemas import (
    DocumentReference,
    Envelope,
    RejectionReason,
    StatusCode,
    StatusReceipt,
    TraceHop,
    content_hash,
    key_id,
    limits,
    sign,
)
from tests.factories import directory_of, make_envelope, organ

A, B, C, D = "000.00.00.G01", "000.00.00.G02", "000.00.00.H01", "000.00.00.H02"
UNREGISTERED = "000.00.00.G99"
KEYS = {agency: Ed25519PrivateKey.generate() for agency in (A, B, C, D)}
STRANGER_KEY = Ed25519PrivateKey.generate()
REGISTRY = Registry(directory_of(KEYS))
MAX = limits.MAX_MESSAGE_BYTES
DOC, STATUS = "document", "status"


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


def body(model: Envelope | StatusReceipt) -> bytes:
    return model.model_dump_json().encode()


def signed_body(model: Envelope | StatusReceipt, key: Ed25519PrivateKey) -> bytes:
    return body(sign(model, key))


def refusal(routing_key: str, data: bytes, max_bytes: int = MAX) -> Refusal:
    verdict = inspect(routing_key, data, REGISTRY, max_bytes)
    assert isinstance(verdict, Refusal), verdict
    assert verdict.input_key == hashlib.sha256(data).hexdigest()
    assert verdict.detail
    return verdict


# Accepted


def test_valid_signed_document() -> None:
    signed = sign(document(), KEYS[A])
    data = body(signed)
    verdict = inspect(DOC, data, REGISTRY, MAX)
    assert isinstance(verdict, DocumentInput)
    assert verdict.envelope == signed
    assert verdict.input_key == input_key(data) == hashlib.sha256(data).hexdigest()
    assert verdict.content_hash == content_hash(signed)


def test_content_hash_ignores_the_trace() -> None:
    signed = sign(document(), KEYS[A])
    traced = signed.model_copy(
        update={"trace": [TraceHop(node=A, at=dt.datetime(2022, 6, 30, tzinfo=dt.UTC))]}
    )
    first = inspect(DOC, body(signed), REGISTRY, MAX)
    second = inspect(DOC, body(traced), REGISTRY, MAX)
    assert isinstance(first, DocumentInput)
    assert isinstance(second, DocumentInput)
    assert first.input_key != second.input_key
    assert first.content_hash == second.content_hash


def test_valid_signed_receipt() -> None:
    signed = sign(receipt(document()), KEYS[C])
    data = body(signed)
    verdict = inspect(STATUS, data, REGISTRY, MAX)
    assert isinstance(verdict, ReceiptInput)
    assert verdict.receipt == signed
    assert verdict.input_key == hashlib.sha256(data).hexdigest()


def test_body_exactly_at_the_limit_is_read() -> None:
    data = signed_body(document(), KEYS[A])
    assert isinstance(inspect(DOC, data, REGISTRY, len(data)), DocumentInput)


# Refused before parsing


@pytest.mark.parametrize("routing_key", ["documents", "", "status.x", "Document", "dlq"])
def test_unknown_routing_key(routing_key: str) -> None:
    found = refusal(routing_key, signed_body(document(), KEYS[A]))
    assert found.reason is RejectionReason.UNKNOWN_KIND
    assert found.kind == routing_key
    assert found.notify is None


def test_an_oversize_document_is_refused_and_its_signer_told() -> None:
    """Within the contract's limit but over this hub's: read, so that its sender hears of it."""
    envelope = sign(document(), KEYS[A])
    data = body(envelope)
    found = refusal(DOC, data, max_bytes=len(data) - 1)
    assert found.reason is RejectionReason.OVERSIZE
    assert found.kind == DOC
    assert found.detail == f"{len(data)} bytes, more than the limit of {len(data) - 1}"
    assert found.notify == envelope.reference()


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
            json.dumps({"id": str(uuid.uuid4()), "sender": {"id": A}}).encode()[:-1]
            + b', "x": '
            + b"[" * 5_000
            + b"]" * 5_000
            + b"}",
            id="deep field of a claimed document",
        ),
    ],
)
def test_deeply_nested_json_is_malformed_not_a_crash(routing_key: str, data: bytes) -> None:
    found = refusal(routing_key, data)
    assert found.reason is RejectionReason.MALFORMED
    assert found.notify is None


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
    envelope = sign(document(), KEYS[A])
    as_status = refusal(STATUS, body(envelope))
    assert as_status.reason is RejectionReason.SCHEMA_INVALID
    as_document = refusal(DOC, signed_body(receipt(envelope), KEYS[C]))
    assert as_document.reason is RejectionReason.SCHEMA_INVALID
    assert as_document.notify is None


def with_fields(model: Envelope | StatusReceipt, **changes: Any) -> bytes:
    data = json.loads(model.model_dump_json())
    data.update(changes)
    return json.dumps(data, ensure_ascii=False).encode()


@pytest.mark.parametrize("version", ["2.0", "0.9", "1", 1.0])
def test_unsupported_document_version_notifies_the_sender(version: object) -> None:
    envelope = sign(document(), KEYS[A])
    found = refusal(DOC, with_fields(envelope, schema_version=version))
    assert found.reason is RejectionReason.UNSUPPORTED_VERSION
    assert found.notify == DocumentReference(id=envelope.id, sender=A)


def test_unsupported_receipt_version() -> None:
    signed = sign(receipt(document()), KEYS[C])
    found = refusal(STATUS, with_fields(signed, schema_version="2.0"))
    assert found.reason is RejectionReason.UNSUPPORTED_VERSION
    assert found.notify is None


def test_schema_invalid_document_of_a_registered_sender_notifies_it() -> None:
    envelope = sign(document(), KEYS[A])
    found = refusal(DOC, with_fields(envelope, subject="", urgency=9))
    assert found.reason is RejectionReason.SCHEMA_INVALID
    assert "subject" in found.detail
    assert "urgency" in found.detail
    assert found.notify == DocumentReference(id=envelope.id, sender=A)


def test_bare_claim_of_id_and_registered_sender_notifies_it() -> None:
    document_id = uuid.uuid4()
    data = json.dumps({"id": str(document_id), "sender": {"id": B}}).encode()
    found = refusal(DOC, data)
    assert found.reason is RejectionReason.SCHEMA_INVALID
    assert found.notify == DocumentReference(id=document_id, sender=B)


@pytest.mark.parametrize(
    "claim",
    [
        pytest.param({"id": str(uuid.uuid4()), "sender": {"id": UNREGISTERED}}, id="unregistered"),
        pytest.param({"id": "not-a-uuid", "sender": {"id": A}}, id="unparseable id"),
        pytest.param({"id": str(uuid.uuid4()), "sender": A}, id="sender not an object"),
        pytest.param({"id": str(uuid.uuid4())}, id="no sender"),
        pytest.param({"sender": {"id": A}}, id="no id"),
        pytest.param({"id": None, "sender": {"id": A}}, id="null id"),
    ],
)
def test_schema_invalid_document_without_a_provable_claim_notifies_no_one(
    claim: dict[str, Any],
) -> None:
    found = refusal(DOC, json.dumps(claim).encode())
    assert found.reason is RejectionReason.SCHEMA_INVALID
    assert found.notify is None


def test_full_trace_leaves_no_room_for_the_hub() -> None:
    hops = [TraceHop(node=A, at=dt.datetime.now(dt.UTC))] * limits.MAX_TRACE_HOPS
    envelope = sign(document(trace=hops), KEYS[A])
    found = refusal(DOC, body(envelope))
    assert found.reason is RejectionReason.SCHEMA_INVALID
    assert "trace" in found.detail
    assert found.notify == envelope.reference()


# Refused by the registry and the signature


def test_unknown_sender() -> None:
    found = refusal(DOC, signed_body(document(sender=UNREGISTERED), STRANGER_KEY))
    assert found.reason is RejectionReason.UNKNOWN_SENDER
    assert UNREGISTERED in found.detail
    assert found.notify is None


def test_unsigned_document_notifies_the_sender() -> None:
    envelope = document()
    found = refusal(DOC, body(envelope))
    assert found.reason is RejectionReason.UNSIGNED
    assert found.notify == envelope.reference()


def test_document_changed_after_signing_has_a_bad_signature() -> None:
    signed = sign(document(), KEYS[A])
    tampered = signed.model_copy(update={"subject": "Nội dung đã bị sửa"})
    found = refusal(DOC, body(tampered))
    assert found.reason is RejectionReason.BAD_SIGNATURE
    assert found.notify == tampered.reference()
    assert found.notify is not None
    assert found.notify.sender == A


def test_document_signed_by_another_registered_agency_notifies_the_real_signer() -> None:
    spoofed = sign(document(sender=A), KEYS[B])
    found = refusal(DOC, body(spoofed))
    assert found.reason is RejectionReason.SENDER_MISMATCH
    assert A in found.detail
    assert B in found.detail
    assert found.notify is not None
    assert found.notify.sender == B
    assert found.notify.id == spoofed.id


def test_document_signed_by_an_unregistered_key_notifies_the_claimed_sender() -> None:
    """Unauthenticated, so told to the sender it claims, as a best effort: a stale key in the
    hub's registry looks like this, and the agency needs to hear of it."""
    envelope = document(sender=A)
    found = refusal(DOC, signed_body(envelope, STRANGER_KEY))
    assert found.reason is RejectionReason.SENDER_MISMATCH
    assert "an unregistered key" in found.detail
    assert found.notify == envelope.reference()


def test_forged_key_id_of_another_agency_does_not_notify_that_agency() -> None:
    """Signed by a stranger under B's key id: B did not sign it and is not told; A, the claimed
    sender, is, as for any unauthenticated document."""
    signed = sign(document(sender=A), STRANGER_KEY)
    assert signed.signature is not None
    forged = signed.model_copy(
        update={
            "signature": signed.signature.model_copy(
                update={"key_id": key_id(KEYS[B].public_key())}
            )
        }
    )
    found = refusal(DOC, body(forged))
    assert found.reason is RejectionReason.SENDER_MISMATCH
    assert found.notify is not None
    assert found.notify.sender == A


def test_unknown_recipient_notifies_the_sender() -> None:
    envelope = sign(document(to=(C, UNREGISTERED, "000.00.00.H98")), KEYS[A])
    found = refusal(DOC, body(envelope))
    assert found.reason is RejectionReason.UNKNOWN_RECIPIENT
    assert UNREGISTERED in found.detail
    assert "000.00.00.H98" in found.detail
    assert C not in found.detail
    assert found.notify == envelope.reference()


def test_receipt_without_responder_is_for_the_hub_only() -> None:
    hub_receipt = receipt(
        document(), responder=None, code=StatusCode.REFUSED, reason=RejectionReason.MALFORMED
    )
    found = refusal(STATUS, body(hub_receipt))
    assert found.reason is RejectionReason.SCHEMA_INVALID
    assert "without a responder" in found.detail
    assert found.notify is None


def test_receipt_with_a_bad_signature() -> None:
    signed = sign(receipt(document()), KEYS[C])
    tampered = signed.model_copy(update={"code": StatusCode.COMPLETED})
    found = refusal(STATUS, body(tampered))
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
    found = refusal(STATUS, signed_body(made, key) if key else body(made))
    assert found.reason is reason
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


def check(verdict: Verdict, data: bytes) -> None:
    assert isinstance(verdict, VERDICTS)
    assert verdict.input_key == hashlib.sha256(data).hexdigest()


@FAST
@given(routing_key=routing_keys, data=st.binary(max_size=2_000))
def test_arbitrary_bytes_never_raise(routing_key: str, data: bytes) -> None:
    check(inspect(routing_key, data, REGISTRY, MAX), data)


@FAST
@given(routing_key=st.sampled_from([DOC, STATUS]), value=json_values)
def test_arbitrary_json_never_raises(routing_key: str, value: object) -> None:
    data = json.dumps(value).encode()
    verdict = inspect(routing_key, data, REGISTRY, MAX)
    check(verdict, data)
    assert isinstance(verdict, Refusal)


@FAST
@given(
    routing_key=st.sampled_from([DOC, STATUS]),
    base=st.sampled_from([VALID_DOCUMENT, VALID_RECEIPT]),
    changes=st.dictionaries(
        st.sampled_from(sorted({*VALID_DOCUMENT, *VALID_RECEIPT, "x"})), json_values, max_size=3
    ),
    dropped=st.sets(st.sampled_from(sorted({*VALID_DOCUMENT, *VALID_RECEIPT})), max_size=2),
)
def test_mutated_valid_messages_never_raise(
    routing_key: str, base: dict[str, Any], changes: dict[str, Any], dropped: set[str]
) -> None:
    value = {key: item for key, item in {**base, **changes}.items() if key not in dropped}
    data = json.dumps(value, ensure_ascii=False).encode()
    verdict = inspect(routing_key, data, REGISTRY, MAX)
    check(verdict, data)
    # Whatever is accepted is exactly what was signed: only unsigned fields may have changed.
    if isinstance(verdict, DocumentInput):
        assert verdict.content_hash == content_hash(Envelope.model_validate(VALID_DOCUMENT))
    elif isinstance(verdict, ReceiptInput):
        assert content_hash(verdict.receipt) == content_hash(
            StatusReceipt.model_validate(VALID_RECEIPT)
        )
