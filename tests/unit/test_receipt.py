"""The status receipt: who may issue it, and what it carries."""

import datetime as dt
import json
import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from schemas import (
    DocumentReference,
    RejectionReason,
    Signature,
    Staff,
    StatusCode,
    StatusReceipt,
)
from tests.factories import organ

REFERENCE = DocumentReference(
    id=uuid.UUID("6a1f0e2c-7d36-4c3c-9e65-3f1f4c1c7c55"),
    sender="000.00.00.G01",
    code="123/QĐ-TTg",
    promulgation_date=dt.date(2022, 6, 30),
)
RESPONDER = organ("000.00.00.H01")
SIGNATURE = Signature(key_id="0123456789abcdef", value=b"\x01" * 64)


def receipt(**fields: Any) -> StatusReceipt:
    data: dict[str, Any] = {"document": REFERENCE, "responder": RESPONDER, "code": "01"}
    data.update(fields)
    return StatusReceipt(**data)


def test_agency_receipt_is_valid() -> None:
    before = dt.datetime.now(dt.UTC)
    made = receipt(code=StatusCode.ACCEPTED, description="Đã tiếp nhận")
    assert made.code is StatusCode.ACCEPTED
    assert made.responder == RESPONDER
    assert made.reason is None
    assert made.signature is None
    assert not made.issued_by_hub
    assert made.schema_version == "1.0"
    assert before <= made.timestamp <= dt.datetime.now(dt.UTC)


def test_hub_refusal_has_no_responder() -> None:
    made = receipt(responder=None, code=StatusCode.REFUSED, reason=RejectionReason.BAD_SIGNATURE)
    assert made.issued_by_hub
    assert made.reason is RejectionReason.BAD_SIGNATURE


def test_an_agency_may_refuse_without_a_reason_code() -> None:
    made = receipt(code=StatusCode.REFUSED, description="Sai thẩm quyền")
    assert not made.issued_by_hub
    assert made.reason is None


@pytest.mark.parametrize(
    "code", [code for code in StatusCode if code is not StatusCode.REFUSED], ids=str
)
def test_only_refusals_may_lack_a_responder(code: StatusCode) -> None:
    with pytest.raises(ValidationError, match=r"only the hub's refusals \(code 02 with a reason\)"):
        receipt(responder=None, code=code, reason=RejectionReason.MALFORMED)


def test_hub_refusal_needs_a_reason() -> None:
    with pytest.raises(ValidationError, match=r"only the hub's refusals \(code 02 with a reason\)"):
        receipt(responder=None, code=StatusCode.REFUSED)


def test_hub_receipts_are_not_signed() -> None:
    with pytest.raises(ValidationError, match="the hub's own receipts are not signed"):
        receipt(
            responder=None,
            code=StatusCode.REFUSED,
            reason=RejectionReason.UNSIGNED,
            signature=SIGNATURE,
        )


@pytest.mark.parametrize("code", [StatusCode.REFUSED, StatusCode.ARRIVED])
def test_reason_only_on_hub_receipts(code: StatusCode) -> None:
    with pytest.raises(ValidationError, match="only the hub's own refusals carry a rejection"):
        receipt(code=code, reason=RejectionReason.UNKNOWN_RECIPIENT)


def test_responder_is_required_even_if_none() -> None:
    with pytest.raises(ValidationError, match=r"responder\s+Field required"):
        StatusReceipt(document=REFERENCE, code=StatusCode.ARRIVED)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"code": "07"}, "Input should be '01', '02'", id="unknown code"),
        pytest.param({"code": 1}, "Input should be '01', '02'", id="code as number"),
        pytest.param(
            {"timestamp": dt.datetime(2022, 7, 1, 8, 0)},
            "Input should have timezone info",
            id="naive timestamp",
        ),
        pytest.param({"schema_version": "1.1"}, "Input should be '1.0'", id="wrong version"),
        pytest.param({"extra": True}, "Extra inputs are not permitted", id="unknown field"),
        pytest.param({"description": "x" * 2001}, "at most 2000 characters", id="long text"),
        pytest.param(
            {"staff": {"full_name": "A", "phone": "0" * 33}},
            "at most 32 characters",
            id="long phone",
        ),
        pytest.param({"reason": "lost"}, "Input should be 'malformed'", id="unknown reason"),
    ],
)
def test_receipt_is_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        receipt(**fields)


@pytest.mark.parametrize(
    "value",
    [pytest.param(b"\x00" * 63, id="63 bytes"), pytest.param(b"\x00" * 65, id="65 bytes")],
)
def test_signature_value_is_64_bytes(value: bytes) -> None:
    with pytest.raises(ValidationError, match="64 bytes"):
        Signature(key_id="0123456789abcdef", value=value)


@pytest.mark.parametrize("key_id", ["0123456789ABCDEF", "0123456789abcde", "0123456789abcdef0"])
def test_signature_key_id_is_16_lowercase_hex(key_id: str) -> None:
    with pytest.raises(ValidationError, match="should match pattern"):
        Signature(key_id=key_id, value=b"\x00" * 64)


def test_receipt_json_round_trip() -> None:
    made = receipt(
        code=StatusCode.ASSIGNED,
        description='Giao cho phòng "Tổng hợp" \\ xử lý',
        staff=Staff(full_name="Trần Thị B", department="Văn thư", email="b@example.vn"),
        timestamp=dt.datetime(2022, 7, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=7))),
        signature=SIGNATURE,
    )
    text = made.model_dump_json()
    again = StatusReceipt.model_validate_json(text)
    assert again == made
    assert again.signature is not None
    assert again.signature.value == b"\x01" * 64
    data = json.loads(text)
    assert data["code"] == "04"
    assert isinstance(data["signature"]["value"], str)


def test_hub_refusal_json_round_trip() -> None:
    made = receipt(responder=None, code=StatusCode.REFUSED, reason=RejectionReason.ID_CONFLICT)
    data = json.loads(made.model_dump_json())
    assert data["responder"] is None
    assert data["reason"] == "id_conflict"
    assert StatusReceipt.model_validate_json(made.model_dump_json()) == made
