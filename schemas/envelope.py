"""The document envelope: DocHub's JSON rendering of an edXML package (QCVN 102:2016).

Field meanings follow ``shared/domain/NOTES.md``. The envelope travels as the payload of its
sender's JWS (see ``jws.py``), signed exactly as sent; what the hub adds (its routing stamp, with
the time and node of its hop) travels beside it, outside the signed bytes.
"""

import datetime as dt
import hashlib
from collections.abc import Callable
from enum import IntEnum, StrEnum
from typing import Annotated, Any, Self
from uuid import uuid4

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from schemas import limits
from schemas.agency_id import AgencyId
from schemas.contract import (
    Contract,
    NotBoolean,
    SchemaVersion,
    Timestamp,
    WireUuid,
    base64url_bytes,
)

Name = Annotated[str, StringConstraints(min_length=1, max_length=limits.MAX_NAME_CHARS)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=limits.MAX_SHORT_TEXT_CHARS)]
Description = Annotated[str, StringConstraints(max_length=limits.MAX_DESCRIPTION_CHARS)]
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
MediaType = Annotated[
    str,
    StringConstraints(
        pattern=r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+$",  # RFC 6838 restricted names
        max_length=limits.MAX_SHORT_TEXT_CHARS,
    ),
]
FileName = Annotated[
    str, StringConstraints(min_length=1, max_length=limits.MAX_NAME_CHARS, pattern=r"^[^/\\\x00]+$")
]


class DocumentType(StrEnum):
    """The kind of document (edXML DocumentType)."""

    OFFICIAL_LETTER = "cong_van"
    DECISION = "quyet_dinh"
    NOTICE = "thong_bao"
    REPORT = "bao_cao"
    SUBMISSION = "to_trinh"
    PLAN = "ke_hoach"
    OTHER = "khac"


class Urgency(IntEnum):
    """edXML Priority."""

    NORMAL = 0
    URGENT = 1
    VERY_URGENT = 2
    FLASH = 3
    FLASH_SET_TIME = 4


class BusinessKind(IntEnum):
    """edXML business kind: a new document, or a recall, update or replacement of an earlier one."""

    NEW = 0
    RECALL = 1
    UPDATE = 2
    REPLACE = 3


class Organ(Contract):
    id: AgencyId
    name: Name


class DocumentCode(Contract):
    """Number and notation (số, ký hiệu), e.g. number ``123`` and notation ``QĐ-TTg``."""

    number: Annotated[
        str,
        StringConstraints(min_length=1, max_length=limits.MAX_CODE_NUMBER_CHARS, pattern=r"^\S+$"),
    ]
    notation: Annotated[
        str, StringConstraints(min_length=1, max_length=limits.MAX_NOTATION_CHARS, pattern=r"^\S+$")
    ]

    def __str__(self) -> str:
        return f"{self.number}/{self.notation}"


class PromulgationInfo(Contract):
    place: Name
    date: dt.date


class Signer(Contract):
    competence: Annotated[str, StringConstraints(max_length=limits.MAX_SHORT_TEXT_CHARS)] = ""
    function: Annotated[str, StringConstraints(max_length=limits.MAX_SHORT_TEXT_CHARS)] = ""
    full_name: Name


class DocumentReference(Contract):
    """Points at an earlier document: the one a receipt, recall, update or reply is about."""

    id: WireUuid
    sender: AgencyId
    code: Annotated[str, StringConstraints(max_length=limits.MAX_NAME_CHARS)] | None = None
    promulgation_date: dt.date | None = None


class Business(Contract):
    kind: Annotated[BusinessKind, NotBoolean] = BusinessKind.NEW
    reference: DocumentReference | None = None
    reason: Description = ""

    @model_validator(mode="after")
    def _reference_matches_kind(self) -> Self:
        if self.kind is BusinessKind.NEW and self.reference is not None:
            raise ValueError("a new document has no business reference")
        if self.kind is not BusinessKind.NEW and self.reference is None:
            raise ValueError(f"business kind {self.kind.name} needs a reference to the original")
        return self


class OtherInfo(Contract):
    page_count: Annotated[int, Field(ge=1, le=limits.MAX_PAGES)] | None = None
    copies: Annotated[int, Field(ge=1, le=limits.MAX_COPIES)] | None = None
    appendixes: Annotated[int, Field(ge=0, le=limits.MAX_PAGES)] = 0


class Attachment(Contract):
    """A file of the package. Inline content is optional; size and sha256 always describe it."""

    name: FileName
    description: Description = ""
    media_type: MediaType
    size: Annotated[int, Field(ge=0, le=limits.MAX_ATTACHMENT_BYTES)]
    sha256: Sha256Hex
    content: (
        Annotated[
            bytes,
            Field(max_length=limits.MAX_INLINE_ATTACHMENT_BYTES),
            *base64url_bytes(0, limits.MAX_INLINE_ATTACHMENT_BYTES),
        ]
        | None
    ) = None

    @model_validator(mode="after")
    def _content_matches_digest(self) -> Self:
        if self.content is not None:
            if len(self.content) != self.size:
                raise ValueError(f"size {self.size} but {len(self.content)} bytes inline")
            if hashlib.sha256(self.content).hexdigest() != self.sha256:
                raise ValueError("sha256 does not match the inline content")
        return self

    @classmethod
    def inline(
        cls, name: str, media_type: str, content: bytes, description: str = ""
    ) -> "Attachment":
        return cls(
            name=name,
            description=description,
            media_type=media_type,
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            content=content,
        )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def required_on_the_wire(*names: str) -> Callable[[dict[str, Any]], None]:
    """A ``json_schema_extra`` that lists ``names`` as required in the exported JSON Schema: the
    model fills them in when a program builds one, but a signed payload must carry them
    (``schemas.signing.WIRE_REQUIRED``)."""

    def require(schema: dict[str, Any]) -> None:
        required = set(schema.get("required", [])) | set(names)
        schema["required"] = [name for name in schema["properties"] if name in required]

    return require


class Envelope(Contract):
    model_config = ConfigDict(json_schema_extra=required_on_the_wire("id", "sent_at"))

    schema_version: SchemaVersion = "2.0"
    id: WireUuid = Field(default_factory=uuid4)
    sender: Organ
    recipients: Annotated[list[Organ], Field(min_length=1, max_length=limits.MAX_RECIPIENTS)]
    code: DocumentCode
    document_type: DocumentType
    subject: Annotated[str, StringConstraints(min_length=1, max_length=limits.MAX_SUBJECT_CHARS)]
    content: Annotated[str, StringConstraints(max_length=limits.MAX_CONTENT_CHARS)] | None = None
    promulgation: PromulgationInfo
    signer: Signer
    urgency: Annotated[Urgency, NotBoolean] = Urgency.NORMAL
    due_date: dt.date | None = None
    business: Business = Field(default_factory=Business)
    response_for: DocumentReference | None = None
    other_info: OtherInfo | None = None
    attachments: list[Attachment] = Field(default_factory=list, max_length=limits.MAX_ATTACHMENTS)
    sent_at: Timestamp = Field(default_factory=_now)
    """When the sender sent it; the hub attributes its statistics by this date."""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        ids = [organ.id for organ in self.recipients]
        if len(set(ids)) != len(ids):
            raise ValueError("a recipient is listed more than once")
        if self.due_date is not None and self.due_date < self.promulgation.date:
            raise ValueError("the due date is before the promulgation date")
        if self.business.reference is not None and self.business.reference.id == self.id:
            raise ValueError("a document cannot recall, update or replace itself")
        return self

    @property
    def recipient_ids(self) -> list[str]:
        return [organ.id for organ in self.recipients]

    def reference(self) -> DocumentReference:
        return DocumentReference(
            id=self.id,
            sender=self.sender.id,
            code=str(self.code),
            promulgation_date=self.promulgation.date,
        )
