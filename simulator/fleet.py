"""The simulated agencies of a replay, built on ``agency_client`` only.

Every agency of the scenario connects as its own client. Senders send the planned documents in
send-date order; recipients answer each delivery with the planned receipts (arrived, then accepted
or refused, and for some the whole lifecycle), stamped with simulated times; senders read the
receipts back. The fleet counts what it sent and what came back, never what the hub recorded: the
two are compared afterwards.

A replay runs it in a process of its own (``runs.fleet_process``), so that the agencies and
an embedded hub use both cores.
"""

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import structlog
from pydantic import BaseModel, ConfigDict

from agency_client import AgencyClient, AgencyClientError, Delivery, StatusUpdate
from schemas.envelope import (
    Attachment,
    DocumentCode,
    Envelope,
    PromulgationInfo,
    Signer,
)
from simulator.identities import document_id, simulation_directory, simulation_key
from simulator.scaling import scale_months
from simulator.scenario import load_scenario
from simulator.traffic import PlannedDocument, plan_traffic, receipt_codes

log = structlog.get_logger("simulator.fleet")

_KEPT_ERRORS = 20
_CANCEL_GRACE_S = 2.0


class FleetConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    amqp_url: str
    namespace: str
    scenario: str
    scale: int
    seed: int
    run_id: str
    max_in_flight: int = 256
    prefetch: int = 64
    stall_timeout_s: float = 60.0
    progress_interval_s: float = 0.25


class FleetProgress(BaseModel):
    documents_planned: int
    documents_sent: int
    deliveries_expected: int
    deliveries_received: int
    receipts_expected: int
    receipts_received: int
    hub_refusals: int


class FleetResult(FleetProgress):
    elapsed_s: float
    stalled: bool
    errors: list[str]


@dataclass
class _Tally:
    documents_planned: int
    documents_sent: int = 0
    deliveries_expected: int = 0
    deliveries_received: int = 0
    receipts_expected: int = 0
    receipts_received: int = 0
    hub_refusals: int = 0
    planning_done: bool = False
    errors: list[str] = field(default_factory=list)

    def error(self, message: str) -> None:
        """Keep the first errors for the result; a flood of them is not kept whole."""
        if len(self.errors) < _KEPT_ERRORS:
            self.errors.append(message)

    def progress(self) -> FleetProgress:
        return FleetProgress(
            documents_planned=self.documents_planned,
            documents_sent=self.documents_sent,
            deliveries_expected=self.deliveries_expected,
            deliveries_received=self.deliveries_received,
            receipts_expected=self.receipts_expected,
            receipts_received=self.receipts_received,
            hub_refusals=self.hub_refusals,
        )

    def finished(self) -> bool:
        return (
            self.planning_done
            and self.documents_sent == self.documents_planned
            and self.deliveries_received >= self.deliveries_expected
            and self.receipts_received >= self.receipts_expected
        )


class Fleet:
    def __init__(self, config: FleetConfig) -> None:
        self.config = config
        self.scenario = load_scenario(config.scenario)
        directory = simulation_directory(self.scenario, config.seed)
        self.clients = {
            agency.id: AgencyClient(
                agency.id,
                simulation_key(config.seed, agency.id),
                directory,
                amqp_url=config.amqp_url,
                namespace=config.namespace,
                connection_name=f"dochub-simulate {config.run_id} {agency.id}",
                prefetch=config.prefetch,
            )
            for agency in self.scenario.agencies
        }
        self.tally = _Tally(
            documents_planned=sum(scale_months(self.scenario, config.scale).values())
        )
        self._plans: dict[UUID, PlannedDocument] = {}
        self._unanswered: dict[UUID, int] = {}
        """Recipients of each planned document that have not answered it yet."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False

    async def run(self, report: Callable[[FleetProgress], None]) -> FleetResult:
        """Run the replay's traffic to the end, or until the stall timeout. Every connection is
        closed on the way out, when cancelled too; a failed connect raises that one error."""
        started = time.monotonic()
        try:
            await self._connect_all()
            listeners = [
                asyncio.create_task(listen(client))
                for client in self.clients.values()
                for listen in (self._answer_deliveries, self._read_statuses)
            ]
            sender = asyncio.create_task(self._send_all())
            try:
                stalled = await self._watch(report)
            finally:
                self._stopping = True
                await _cancel([sender, *listeners, *self._tasks])
        finally:
            await self._close_all()
        report(self.tally.progress())
        return FleetResult(
            **self.tally.progress().model_dump(),
            elapsed_s=round(time.monotonic() - started, 3),
            stalled=stalled,
            errors=self.tally.errors,
        )

    async def _connect_all(self) -> None:
        """Connect every agency; if any fails, raise the first error once the others are done,
        rather than leave their errors unretrieved (a traceback each)."""
        outcomes = await asyncio.gather(
            *(client.connect() for client in self.clients.values()), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _close_all(self) -> None:
        await asyncio.gather(
            *(client.close() for client in self.clients.values()), return_exceptions=True
        )

    async def _watch(self, report: Callable[[FleetProgress], None]) -> bool:
        """Report progress until everything came back (False) or nothing moved for the stall
        timeout (True)."""
        last = self.tally.progress()
        last_change = time.monotonic()
        while not self.tally.finished():
            await asyncio.sleep(self.config.progress_interval_s)
            progress = self.tally.progress()
            report(progress)
            if progress != last:
                last, last_change = progress, time.monotonic()
            elif time.monotonic() - last_change > self.config.stall_timeout_s:
                log.error("fleet_stalled", **progress.model_dump())
                return True
        return False

    async def _send_all(self) -> None:
        slots = asyncio.Semaphore(self.config.max_in_flight)
        for planned in plan_traffic(self.scenario, self.config.scale, self.config.seed):
            envelope = self._envelope(planned)
            self._plans[envelope.id] = planned
            self._unanswered[envelope.id] = len(planned.deliveries)
            self.tally.deliveries_expected += len(planned.deliveries)
            self.tally.receipts_expected += _receipt_count(planned)
            await slots.acquire()
            self._spawn(self._send(envelope, slots))
        self.tally.planning_done = True

    async def _send(self, envelope: Envelope, slots: asyncio.Semaphore) -> None:
        try:
            await self.clients[envelope.sender.id].send(envelope)
            self.tally.documents_sent += 1
        except AgencyClientError as exc:
            self.tally.error(f"send {envelope.id}: {exc}")
        finally:
            slots.release()

    async def _answer_deliveries(self, client: AgencyClient) -> None:
        async with client.inbox() as inbox:
            async for delivery in inbox:
                self._spawn(self._answer(client, delivery))

    async def _answer(self, client: AgencyClient, delivery: Delivery) -> None:
        envelope = delivery.envelope
        planned = self._plans.get(envelope.id)
        behaviour = (
            next((d for d in planned.deliveries if d.recipient == client.agency_id), None)
            if planned is not None
            else None
        )
        if behaviour is None:
            self.tally.error(f"{client.agency_id} got unplanned document {envelope.id}")
            await delivery.ack()
            return
        try:
            for code, at in zip(receipt_codes(behaviour), behaviour.receipt_times, strict=True):
                await client.send_status(envelope, code, timestamp=at)
        except AgencyClientError as exc:
            self.tally.error(f"receipt {envelope.id} from {client.agency_id}: {exc}")
            await delivery.release()  # answered again when it comes back; the hub dedupes
            return
        await delivery.ack()
        self.tally.deliveries_received += 1
        self._unanswered[envelope.id] -= 1
        if not self._unanswered[envelope.id]:  # the plan is needed no more: free it
            del self._plans[envelope.id], self._unanswered[envelope.id]

    async def _read_statuses(self, client: AgencyClient) -> None:
        async with client.statuses() as statuses:
            async for update in statuses:
                self._count_status(update)
                await update.ack()

    def _count_status(self, update: StatusUpdate) -> None:
        receipt = update.receipt
        if not receipt.issued_by_hub:
            self.tally.receipts_received += 1
            return
        self.tally.hub_refusals += 1
        refused = receipt.document.id if receipt.document else receipt.refused
        self.tally.error(f"hub refused {refused}: {receipt.description}")
        planned = self._plans.get(receipt.document.id) if receipt.document else None
        if planned is not None:  # nothing of it will come back: stop waiting for it
            self.tally.deliveries_expected -= len(planned.deliveries)
            self.tally.receipts_expected -= _receipt_count(planned)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        if self._stopping:  # a delivery that came in while stopping: it goes back unanswered
            work.close()
            return
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _envelope(self, planned: PlannedDocument) -> Envelope:
        sender = self.clients[planned.sender]
        return Envelope(
            id=document_id(self.config.run_id, planned.index),
            sender=sender.organ,
            recipients=[sender.organ_of(agency) for agency in planned.recipients],
            code=DocumentCode(number=planned.number, notation=planned.notation),
            document_type=planned.document_type,
            subject=planned.subject,
            promulgation=PromulgationInfo(place="Việt Nam", date=planned.sent_at.date()),
            signer=Signer(function="Thủ trưởng cơ quan", full_name=f"Lãnh đạo {sender.organ.name}"),
            urgency=planned.urgency,
            attachments=[
                Attachment(
                    name=attachment.name,
                    media_type=attachment.media_type,
                    size=attachment.size,
                    sha256=attachment.sha256,
                    content=attachment.content,
                )
                for attachment in planned.attachments
            ],
            sent_at=planned.sent_at,
        )


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel the tasks and give them a moment to put back what they hold; a consumer whose
    cancellation the broker is slow to confirm is cut short by closing its connection next."""
    for task in tasks:
        task.cancel()
        task.add_done_callback(_retrieve)
    await asyncio.wait(tasks, timeout=_CANCEL_GRACE_S)


def _retrieve(task: asyncio.Task[None]) -> None:
    """Their errors were recorded where they arose (or are the cancellation's): not reported."""
    if not task.cancelled():
        task.exception()


def _receipt_count(planned: PlannedDocument) -> int:
    return sum(len(receipt_codes(delivery)) for delivery in planned.deliveries)


async def run_fleet(config: FleetConfig, report: Callable[[FleetProgress], None]) -> FleetResult:
    return await Fleet(config).run(report)
