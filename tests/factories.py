"""Builders of valid contract objects for tests; override any field by keyword."""

import datetime as dt
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.inspection import Verdict, inspect
from hub.registry import Registry
from schemas import (
    AgencyDirectory,
    AgencyEntry,
    AgencyKind,
    DocumentCode,
    DocumentType,
    Envelope,
    Organ,
    PromulgationInfo,
    Signer,
    StatusReceipt,
    limits,
    sign,
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


def directory_of(keys: Mapping[str, Ed25519PrivateKey]) -> AgencyDirectory:
    """A directory registering each agency's key, its kind read from the id's level-1 letter."""
    kinds = {"G": AgencyKind.MINISTRY, "H": AgencyKind.PROVINCE}
    return AgencyDirectory(
        agencies=[
            AgencyEntry.for_key(
                agency_id,
                f"Cơ quan {agency_id}",
                kinds.get(agency_id[-3], AgencyKind.OTHER),
                key.public_key(),
            )
            for agency_id, key in keys.items()
        ]
    )


def inspected(
    routing_key: str,
    model: Envelope | StatusReceipt,
    key: Ed25519PrivateKey,
    registry: Registry,
) -> Verdict:
    """What the hub's inspection makes of ``model``, signed with ``key``."""
    body = sign(model, key).model_dump_json().encode()
    return inspect(routing_key, body, registry, limits.MAX_MESSAGE_BYTES)
