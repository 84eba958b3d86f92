"""The ledger: the hub's durable record of documents, deliveries, status steps and refusals.

It is idempotent: the same document id with the same content is recorded once, however often it
arrives. ``admit`` records a batch in one transaction and says, for each input, whether it is new,
was recorded before but never completed (the hub stopped between commit and confirm), or is done.
``complete`` marks what the broker has confirmed, so that a redelivery after that is only acked.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol
from uuid import UUID

from hub.inspection import Verdict
from hub.periods import DayCounts


class Disposition(Enum):
    NEW = "new"
    """Recorded now: publish it, then complete it."""
    PENDING = "pending"
    """Recorded earlier, never completed: publish it again, then complete it."""
    DONE = "done"
    """Recorded and completed earlier, or repeated within this batch: only ack it."""


@dataclass(frozen=True, slots=True)
class Admitted:
    verdict: Verdict
    """The inspection's verdict, or the ledger's own refusal (an id reused, an unknown document)."""
    disposition: Disposition
    relay_to: str | None = None
    """For a status receipt: the sender of the document, who is told of it."""


StepKey = tuple[str, str, str]
"""A lifecycle step: document id, responding agency, status code. Each is counted once."""


@dataclass(frozen=True, slots=True)
class Completion:
    documents: Sequence[UUID] = ()
    receipts: Sequence[str] = ()
    """Ids of the receipts relayed."""
    refusals: Sequence[str] = ()

    def __bool__(self) -> bool:
        return bool(self.documents or self.receipts or self.refusals)


@dataclass(frozen=True, slots=True)
class Totals:
    accepted: int
    routed: int
    recipients_sum: int
    deliveries: int
    receipts: int
    """Lifecycle steps: one per (document, responder, code)."""
    receipt_messages: int
    """Distinct receipts (by id), each relayed once; at least one per step."""
    relayed: int
    rejected: int
    dead_lettered: int
    documents_by_sender: dict[str, int] = field(default_factory=dict)
    deliveries_by_recipient: dict[str, int] = field(default_factory=dict)
    receipts_by_responder: dict[str, int] = field(default_factory=dict)
    rejected_by_reason: dict[str, int] = field(default_factory=dict)

    @property
    def received(self) -> int:
        return self.accepted + self.rejected

    @property
    def in_flight(self) -> int:
        return self.accepted - self.routed

    def imbalances(self) -> list[str]:
        """What breaks the accounting invariants; empty when the books balance."""
        checks = [
            ("routed exceeds accepted", self.routed <= self.accepted),
            (
                "deliveries differ from the sum of recipients",
                self.deliveries == self.recipients_sum,
            ),
            (
                "per-sender documents differ from the total",
                sum(self.documents_by_sender.values()) == self.accepted,
            ),
            (
                "per-recipient deliveries differ from the total",
                sum(self.deliveries_by_recipient.values()) == self.deliveries,
            ),
            (
                "per-responder receipts differ from the total",
                sum(self.receipts_by_responder.values()) == self.receipts,
            ),
            (
                "per-reason refusals differ from the total",
                sum(self.rejected_by_reason.values()) == self.rejected,
            ),
            ("steps exceed receipts", self.receipts <= self.receipt_messages),
            ("relayed exceeds receipts", self.relayed <= self.receipt_messages),
            ("dead-lettered exceeds refusals", self.dead_lettered <= self.rejected),
        ]
        return [name for name, holds in checks if not holds]


class Ledger(Protocol):
    async def admit(self, verdicts: Sequence[Verdict]) -> list[Admitted]: ...

    async def complete(self, completion: Completion) -> None: ...

    async def totals(self) -> Totals: ...

    async def day_counts(self, agency_id: str | None = None) -> DayCounts: ...

    async def close(self) -> None: ...


def stats_day(moment: dt.datetime, utc_offset: dt.timedelta) -> str:
    """The day a moment is counted on, in the hub's statistics offset."""
    return moment.astimezone(dt.timezone(utc_offset)).date().isoformat()
