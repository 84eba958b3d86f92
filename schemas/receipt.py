"""The status receipt (edXML status message): what a recipient says back about a document."""

import datetime as dt
from enum import StrEnum
from typing import Annotated, Self
from uuid import UUID, uuid4

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from schemas import limits
from schemas.contract import Contract, SchemaVersion
from schemas.envelope import Description, DocumentReference, Name, Organ, Signature
from schemas.rejection import RejectionReason


class StatusCode(StrEnum):
    ARRIVED = "01"
    REFUSED = "02"
    ACCEPTED = "03"
    ASSIGNED = "04"
    PROCESSING = "05"
    COMPLETED = "06"
    RECALL_REQUESTED = "13"
    RECALL_AGREED = "15"
    RECALL_REFUSED = "16"


class Staff(Contract):
    full_name: Name
    department: Annotated[str, StringConstraints(max_length=limits.MAX_NAME_CHARS)] = ""
    email: Annotated[str, StringConstraints(max_length=254)] = ""
    phone: Annotated[str, StringConstraints(max_length=32)] = ""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class StatusReceipt(Contract):
    schema_version: SchemaVersion = "1.0"
    id: UUID = Field(default_factory=uuid4)
    document: DocumentReference
    responder: Organ | None
    """The organ that answers; ``None`` only on a refusal issued by the hub itself."""
    code: StatusCode
    description: Description = ""
    reason: RejectionReason | None = None
    """Why the hub refused the document; set only on the hub's own receipts."""
    timestamp: AwareDatetime = Field(default_factory=_now)
    staff: Staff | None = None
    signature: Signature | None = None

    @model_validator(mode="after")
    def _issuer_consistent(self) -> Self:
        if self.responder is None:
            if self.code is not StatusCode.REFUSED or self.reason is None:
                raise ValueError(
                    "only the hub's refusals (code 02 with a reason) have no responder"
                )
            if self.signature is not None:
                raise ValueError("the hub's own receipts are not signed")
        elif self.reason is not None:
            raise ValueError("only the hub's own refusals carry a rejection reason")
        return self

    @property
    def issued_by_hub(self) -> bool:
        return self.responder is None
