"""The hub's routing stamp: what the hub signs about each message it routes, beside (never inside)
the signed bytes of the sender.

It travels as a compact JWS (``typ`` ``dochub-stamp+json``) in the AMQP header ``x-dochub-stamp``.
A recipient accepts a document or receipt only with a stamp that the hub's key signed, whose
``sha256`` is that of the message body, and whose ``to`` names the recipient: only what the hub
checked, counted and routed.
"""

import datetime as dt
from typing import Annotated, Final, Literal
from uuid import UUID

from pydantic import Field

from schemas import limits
from schemas.agency_id import AgencyId
from schemas.contract import Contract, SchemaVersion, Timestamp, WireUuid
from schemas.envelope import Sha256Hex, ShortText

STAMP_HEADER: Final = "x-dochub-stamp"


class Stamp(Contract):
    schema_version: SchemaVersion = "2.0"
    kind: Literal["document", "status"]
    """A document delivered to its recipients, or a status receipt relayed to a sender."""
    id: WireUuid
    """The document's id, or the receipt's."""
    sha256: Sha256Hex
    """Hex SHA-256 of the message body the stamp travels with."""
    to: Annotated[list[AgencyId], Field(min_length=1, max_length=limits.MAX_RECIPIENTS)]
    routed_at: Timestamp
    node: ShortText
    """The hub that routed it, as ``hub:<namespace>``."""

    @classmethod
    def now(
        cls, kind: Literal["document", "status"], id: UUID, sha256: str, to: list[str], node: str
    ) -> "Stamp":
        return cls(
            kind=kind, id=id, sha256=sha256, to=to, routed_at=dt.datetime.now(dt.UTC), node=node
        )
