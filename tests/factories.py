"""Builders of valid contract objects for tests; override any field by keyword."""

import datetime as dt
from typing import Any

from schemas import (
    DocumentCode,
    DocumentType,
    Envelope,
    Organ,
    PromulgationInfo,
    Signer,
)


def organ(agency_id: str, name: str | None = None) -> Organ:
    return Organ(id=agency_id, name=name or f"Cơ quan {agency_id}")


def make_envelope(sender: Organ, recipients: list[Organ], **overrides: Any) -> Envelope:
    fields: dict[str, Any] = {
        "sender": sender,
        "recipients": recipients,
        "code": DocumentCode(number="123", notation="QĐ-TTg"),
        "document_type": DocumentType.DECISION,
        "subject": "Về việc triển khai thử nghiệm trục liên thông văn bản",
        "promulgation": PromulgationInfo(place="Hà Nội", date=dt.date(2022, 6, 30)),
        "signer": Signer(
            competence="KT. BỘ TRƯỞNG", function="Thứ trưởng", full_name="Nguyễn Văn A"
        ),
    }
    fields.update(overrides)
    return Envelope(**fields)
