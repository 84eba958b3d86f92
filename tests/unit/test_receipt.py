"""The status receipt: who may issue it, and what it carries."""

import datetime as dt
import hashlib
import json
import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from schemas import (
    DocumentReference,
    RefusedInput,
    RejectionReason,
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
REFUSED = RefusedInput(sha256=hashlib.sha256(b"the refused body").hexdigest(), kind="document")
HUB_ONLY = r"only the hub's refusals \(code 02 with a reason and the refused input\)"


def receipt(**fields: Any) -> StatusReceipt:
    data: dict[str, Any] = {"document": REFERENCE, "responder": RESPONDER, "code": "01"}
    data.update(fields)
    return StatusReceipt(**data)


def hub_refusal(**fields: Any) -> StatusReceipt:
    data: dict[str, Any] = {
        "responder": None,
        "code": StatusCode.REFUSED,
        "reason": RejectionReason.BAD_SIGNATURE,
        "refused": REFUSED,
    }
    data.update(fields)
    return receipt(**data)


def test_agency_receipt_is_valid() -> None:
    before = dt.datetime.now(dt.UTC)
    made = receipt(code=StatusCode.ACCEPTED, description="Đã tiếp nhận")
    assert made.code is StatusCode.ACCEPTED
    assert made.responder == RESPONDER
    assert made.document == REFERENCE
    assert made.reason is None
    assert made.refused is None
    assert not made.issued_by_hub
    assert made.schema_version == "2.0"
    assert before <= made.timestamp <= dt.datetime.now(dt.UTC)


def test_a_receipt_carries_no_signature_of_its_own() -> None:
    # 2.0: the signature is the JWS around the receipt, never a member of it.
    assert "signature" not in StatusReceipt.model_fields
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        receipt(signature={"algorithm": "ed25519", "key_id": "0" * 16, "value": "AA"})


def test_hub_refusal_has_no_responder() -> None:
    made = hub_refusal()
    assert made.issued_by_hub
    assert made.reason is RejectionReason.BAD_SIGNATURE
    assert made.refused == REFUSED


def test_hub_refusal_of_an_unreadable_input_names_no_document() -> None:
    made = hub_refusal(document=None, reason=RejectionReason.SCHEMA_INVALID)
    assert made.issued_by_hub
    assert made.document is None
    assert made.refused == REFUSED


def test_an_agency_may_refuse_without_a_reason_code() -> None:
    made = receipt(code=StatusCode.REFUSED, description="Sai thẩm quyền")
    assert not made.issued_by_hub
    assert made.reason is None


@pytest.mark.parametrize(
    "code", [code for code in StatusCode if code is not StatusCode.REFUSED], ids=str
)
def test_only_refusals_may_lack_a_responder(code: StatusCode) -> None:
    with pytest.raises(ValidationError, match=HUB_ONLY):
        hub_refusal(code=code, reason=RejectionReason.MALFORMED)


def test_hub_refusal_needs_a_reason() -> None:
    with pytest.raises(ValidationError, match=HUB_ONLY):
        hub_refusal(reason=None)


def test_hub_refusal_needs_the_refused_input() -> None:
    with pytest.raises(ValidationError, match=HUB_ONLY):
        hub_refusal(refused=None)


@pytest.mark.parametrize("code", [StatusCode.REFUSED, StatusCode.ARRIVED])
def test_reason_only_on_hub_receipts(code: StatusCode) -> None:
    with pytest.raises(ValidationError, match="only the hub's own refusals carry a reason"):
        receipt(code=code, reason=RejectionReason.UNKNOWN_RECIPIENT)


@pytest.mark.parametrize("code", [StatusCode.REFUSED, StatusCode.ARRIVED])
def test_refused_input_only_on_hub_receipts(code: StatusCode) -> None:
    with pytest.raises(ValidationError, match="only the hub's own refusals carry a reason"):
        receipt(code=code, refused=REFUSED)


def test_an_agency_receipt_names_its_document() -> None:
    with pytest.raises(ValidationError, match="a receipt from an agency names its document"):
        receipt(document=None)


def test_responder_is_required_even_if_none() -> None:
    with pytest.raises(ValidationError, match=r"responder\s+Field required"):
        StatusReceipt(document=REFERENCE, code=StatusCode.ARRIVED)  # type: ignore[call-arg]


def test_document_is_required_even_if_none() -> None:
    with pytest.raises(ValidationError, match=r"document\s+Field required"):
        StatusReceipt(responder=RESPONDER, code=StatusCode.ARRIVED)  # type: ignore[call-arg]


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
        pytest.param({"schema_version": "1.1"}, "Input should be '2.0'", id="wrong version"),
        pytest.param({"schema_version": "1.0"}, "Input should be '2.0'", id="old version"),
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
    ("fields", "message"),
    [
        pytest.param({"sha256": "ABC"}, "should match pattern", id="digest not hex"),
        pytest.param(
            {"sha256": hashlib.sha256(b"x").hexdigest().upper()},
            "should match pattern",
            id="digest uppercase",
        ),
        pytest.param({"kind": "audit"}, "Input should be 'document' or 'status'", id="kind"),
        pytest.param({"extra": 1}, "Extra inputs are not permitted", id="unknown field"),
    ],
)
def test_refused_input_is_refused(fields: dict[str, Any], message: str) -> None:
    data: dict[str, Any] = {"sha256": hashlib.sha256(b"x").hexdigest(), "kind": "status"}
    data.update(fields)
    with pytest.raises(ValidationError, match=message):
        RefusedInput(**data)


def test_receipt_json_round_trip() -> None:
    made = receipt(
        code=StatusCode.ASSIGNED,
        description='Giao cho phòng "Tổng hợp" \\ xử lý',
        staff=Staff(full_name="Trần Thị B", department="Văn thư", email="b@example.vn"),
        timestamp=dt.datetime(2022, 7, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=7))),
    )
    text = made.model_dump_json()
    again = StatusReceipt.model_validate_json(text)
    assert again == made
    assert again.timestamp.utcoffset() == dt.timedelta(hours=7)
    data = json.loads(text)
    assert data["code"] == "04"
    assert data["schema_version"] == "2.0"
    assert data["refused"] is None
    assert "signature" not in data


def test_hub_refusal_json_round_trip() -> None:
    made = hub_refusal(reason=RejectionReason.ID_CONFLICT)
    data = json.loads(made.model_dump_json())
    assert data["responder"] is None
    assert data["reason"] == "id_conflict"
    assert data["refused"] == {"sha256": REFUSED.sha256, "kind": "document"}
    assert StatusReceipt.model_validate_json(made.model_dump_json()) == made
