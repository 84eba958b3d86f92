"""Ed25519 signatures over canonical bytes."""

import base64
import datetime as dt
import hashlib
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from schemas import (
    Attachment,
    DocumentReference,
    Envelope,
    Organ,
    StatusCode,
    StatusReceipt,
    TraceHop,
    Urgency,
    canonical_bytes,
    content_hash,
    key_id,
    public_key_from_text,
    public_key_to_text,
    sign,
    verify,
)
from tests.factories import make_envelope, organ

KEY = Ed25519PrivateKey.generate()
OTHER_KEY = Ed25519PrivateKey.generate()
SENDER = organ("000.00.00.G01")
RECIPIENT = organ("000.00.00.H01")


def envelope() -> Envelope:
    return make_envelope(
        SENDER,
        [RECIPIENT],
        attachments=[Attachment.inline("a.txt", "text/plain", b"abc")],
        sent_at=dt.datetime(2022, 6, 30, 20, 0, tzinfo=dt.UTC),
    )


def receipt() -> StatusReceipt:
    return StatusReceipt(
        document=envelope().reference(),
        responder=RECIPIENT,
        code=StatusCode.ARRIVED,
        description="Đã đến",
        timestamp=dt.datetime(2022, 7, 1, 1, 0, tzinfo=dt.UTC),
    )


# Canonical bytes


def test_canonical_bytes_are_sorted_compact_utf8_json() -> None:
    reference = DocumentReference(
        id=uuid.UUID("6a1f0e2c-7d36-4c3c-9e65-3f1f4c1c7c55"),
        sender="000.00.00.G01",
        code="123/QĐ-TTg",
        promulgation_date=dt.date(2022, 6, 30),
    )
    assert (
        canonical_bytes(reference)
        == (
            '{"code":"123/QĐ-TTg","id":"6a1f0e2c-7d36-4c3c-9e65-3f1f4c1c7c55",'
            '"promulgation_date":"2022-06-30","sender":"000.00.00.G01"}'
        ).encode()
    )


def test_canonical_bytes_keep_non_ascii_as_utf8() -> None:
    data = canonical_bytes(Organ(id="000.00.00.G01", name="Bộ Nội vụ"))
    assert data == b'{"id":"000.00.00.G01","name":"B\xe1\xbb\x99 N\xe1\xbb\x99i v\xe1\xbb\xa5"}'
    assert b"\\u" not in data


def test_canonical_bytes_leave_out_signature_and_trace() -> None:
    unsigned = envelope()
    signed = sign(unsigned, KEY)
    traced = signed.model_copy(
        update={"trace": [TraceHop(node="hub:x", at=dt.datetime.now(dt.UTC))]}
    )
    assert canonical_bytes(signed) == canonical_bytes(unsigned) == canonical_bytes(traced)
    assert b'"signature"' not in canonical_bytes(signed)
    assert b'"trace"' not in canonical_bytes(traced)
    assert b'"subject"' in canonical_bytes(signed)


def test_content_hash_is_sha256_of_canonical_bytes() -> None:
    model = envelope()
    assert content_hash(model) == hashlib.sha256(canonical_bytes(model)).hexdigest()
    assert re.fullmatch(r"[0-9a-f]{64}", content_hash(model))


def test_canonical_bytes_survive_a_json_round_trip() -> None:
    model = sign(envelope(), KEY)
    again = Envelope.model_validate_json(model.model_dump_json(indent=2))
    assert canonical_bytes(again) == canonical_bytes(model)


# Sign and verify


@pytest.mark.parametrize("make", [envelope, receipt], ids=["envelope", "receipt"])
def test_sign_verify_round_trip(make: Callable[[], Envelope | StatusReceipt]) -> None:
    model = make()
    signed = sign(model, KEY)
    assert model.signature is None  # sign returns a copy
    assert signed.signature is not None
    assert signed.signature.algorithm == "ed25519"
    assert signed.signature.key_id == key_id(KEY.public_key())
    assert len(signed.signature.value) == 64
    assert verify(signed, KEY.public_key())
    assert verify(signed, KEY.public_key(), canonical_bytes(model))


@pytest.mark.parametrize("make", [envelope, receipt], ids=["envelope", "receipt"])
def test_signature_survives_json(make: Callable[[], Envelope | StatusReceipt]) -> None:
    signed = sign(make(), KEY)
    again = type(signed).model_validate_json(signed.model_dump_json())
    assert verify(again, KEY.public_key())


def test_unsigned_model_does_not_verify() -> None:
    assert not verify(envelope(), KEY.public_key())


@pytest.mark.parametrize("make", [envelope, receipt], ids=["envelope", "receipt"])
def test_wrong_key_fails(make: Callable[[], Envelope | StatusReceipt]) -> None:
    signed = sign(make(), OTHER_KEY)
    assert not verify(signed, KEY.public_key())


def test_signature_by_another_key_under_the_right_key_id_fails() -> None:
    signed = sign(envelope(), OTHER_KEY)
    assert signed.signature is not None
    forged = signed.model_copy(
        update={
            "signature": signed.signature.model_copy(update={"key_id": key_id(KEY.public_key())})
        }
    )
    assert not verify(forged, KEY.public_key())


def test_adding_a_trace_hop_keeps_the_signature_valid() -> None:
    signed = sign(envelope(), KEY)
    hops = [TraceHop(node=f"hop{n}", at=dt.datetime.now(dt.UTC)) for n in range(3)]
    assert verify(signed.model_copy(update={"trace": hops}), KEY.public_key())


ENVELOPE_CHANGES: list[Any] = [
    pytest.param({"subject": "Về việc khác"}, id="subject"),
    pytest.param({"id": uuid.uuid4()}, id="id"),
    pytest.param({"sender": organ("000.00.00.G02")}, id="sender"),
    pytest.param({"sender": organ("000.00.00.G01", "Tên khác")}, id="sender name"),
    pytest.param({"recipients": [organ("000.00.00.H02")]}, id="recipients"),
    pytest.param({"recipients": [RECIPIENT, organ("000.00.00.H02")]}, id="recipient added"),
    pytest.param({"urgency": Urgency.FLASH}, id="urgency"),
    pytest.param({"content": "thêm"}, id="content"),
    pytest.param({"sent_at": dt.datetime(2022, 6, 30, 20, 0, 1, tzinfo=dt.UTC)}, id="sent_at"),
    pytest.param({"due_date": dt.date(2022, 12, 31)}, id="due date"),
    pytest.param(
        {"attachments": [Attachment.inline("a.txt", "text/plain", b"abd")]}, id="attachment"
    ),
    pytest.param({"attachments": []}, id="attachment removed"),
]


@pytest.mark.parametrize("change", ENVELOPE_CHANGES)
def test_any_change_to_a_signed_envelope_breaks_verification(change: dict[str, Any]) -> None:
    signed = sign(envelope(), KEY)
    assert verify(signed, KEY.public_key())
    changed = Envelope.model_validate({**signed.model_dump(), **change})
    assert not verify(changed, KEY.public_key())


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"code": StatusCode.COMPLETED}, id="code"),
        pytest.param({"description": "Hoàn thành"}, id="description"),
        pytest.param({"responder": organ("000.00.00.H02")}, id="responder"),
        pytest.param(
            {"document": DocumentReference(id=uuid.uuid4(), sender="000.00.00.G01")},
            id="document",
        ),
        pytest.param(
            {"timestamp": dt.datetime(2022, 7, 1, 1, 0, 1, tzinfo=dt.UTC)}, id="timestamp"
        ),
        pytest.param({"id": uuid.uuid4()}, id="id"),
    ],
)
def test_any_change_to_a_signed_receipt_breaks_verification(change: dict[str, Any]) -> None:
    signed = sign(receipt(), KEY)
    assert verify(signed, KEY.public_key())
    changed = StatusReceipt.model_validate({**signed.model_dump(), **change})
    assert not verify(changed, KEY.public_key())


# Keys


def test_key_id_is_16_hex_digits_of_the_raw_key_digest() -> None:
    public = KEY.public_key()
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert re.fullmatch(r"[0-9a-f]{16}", key_id(public))
    assert key_id(public) == hashlib.sha256(raw).hexdigest()[:16]
    assert key_id(public) != key_id(OTHER_KEY.public_key())


def test_public_key_text_round_trip() -> None:
    public = KEY.public_key()
    text = public_key_to_text(public)
    assert base64.b64decode(text) == public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert key_id(public_key_from_text(text)) == key_id(public)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("not base64!", "base64 of 32 raw Ed25519 bytes", id="not base64"),
        pytest.param("QUJD\n", "base64 of 32 raw Ed25519 bytes", id="newline"),
        pytest.param("QUJ", "base64 of 32 raw Ed25519 bytes", id="bad padding"),
        pytest.param("", "32 bytes, not 0", id="empty"),
        pytest.param(base64.b64encode(b"\1" * 31).decode(), "32 bytes, not 31", id="31 bytes"),
        pytest.param(base64.b64encode(b"\1" * 33).decode(), "32 bytes, not 33", id="33 bytes"),
        pytest.param(base64.b64encode(b"\1" * 64).decode(), "32 bytes, not 64", id="64 bytes"),
    ],
)
def test_public_key_from_text_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        public_key_from_text(text)
