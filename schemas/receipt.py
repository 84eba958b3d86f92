"""The status receipt (edXML status message): what a recipient says back about a document, or
the hub's own refusal of an input."""

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal, Self
from uuid import uuid4

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from schemas import limits
from schemas.contract import Contract, SchemaVersion, Timestamp, WireUuid
from schemas.envelope import (
    Description,
    DocumentReference,
    Name,
    Organ,
    Sha256Hex,
    required_on_the_wire,
)
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


class RefusedInput(Contract):
    """Exactly what the hub refused: the message as it was published."""

    sha256: Sha256Hex
    """Hex SHA-256 of the refused message's body, byte for byte as published."""
    kind: Literal["document", "status"]
    """The routing key it was published with."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class StatusReceipt(Contract):
    model_config = ConfigDict(json_schema_extra=required_on_the_wire("id", "timestamp"))

    schema_version: SchemaVersion = "2.0"
    id: WireUuid = Field(default_factory=uuid4)
    document: DocumentReference | None
    """The document this is about; ``None`` only on a hub refusal of an input whose id could not
    be read."""
    responder: Organ | None
    """The organ that answers; ``None`` only on a refusal issued by the hub itself."""
    code: StatusCode
    description: Description = ""
    reason: RejectionReason | None = None
    """Why the hub refused the input; set only on the hub's own receipts."""
    refused: RefusedInput | None = None
    """Which input the hub refused; set only on the hub's own receipts."""
    timestamp: Timestamp = Field(default_factory=_now)
    staff: Staff | None = None

    @model_validator(mode="after")
    def _issuer_consistent(self) -> Self:
        if self.responder is None:
            if self.code is not StatusCode.REFUSED or self.reason is None or self.refused is None:
                raise ValueError(
                    "only the hub's refusals (code 02 with a reason and the refused input) "
                    "have no responder"
                )
        else:
            if self.reason is not None or self.refused is not None:
                raise ValueError("only the hub's own refusals carry a reason and a refused input")
            if self.document is None:
                raise ValueError("a receipt from an agency names its document")
        return self

    @property
    def issued_by_hub(self) -> bool:
        return self.responder is None
