"""A load test's generator and agencies in a process of their own: ``python -m runs.load_agencies
LOG_LEVEL``, spoken to in typed JSON lines (``runs.child_process``).

The generator sends on a Poisson schedule (``runs.load_schedule``) and never waits for an answer:
each send is a task of its own, started at its scheduled time. Every agency reads its inbox and
(with receipts) answers each delivery with a receipt ``01``; senders read the receipts back. The
generator and the recipients share one table of scheduled send times, so latency runs from the
scheduled time with nothing added to the wire. At the end the process waits, up to the drain
timeout, for every document sent to be delivered and every receipt read back.

It writes a ``LoadProgress`` line per progress interval, then a ``LoadResult`` or a
``ChildFailed``; it stops, closing its connections, on SIGTERM, SIGINT and the end of stdin.
"""

import asyncio
import resource
import time
from collections import defaultdict
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Final, Literal
from uuid import UUID

import structlog
from hdrh.histogram import HdrHistogram
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from agency_client import AgencyClient, AgencyClientError, Delivery, StatusUpdate
from runs.child_process import ChildFailed, child_main, write_line
from runs.load_identities import DocumentMaker, load_directory, load_key
from runs.load_report import AgencyCounts, Second, encode, new_histogram, record_seconds
from runs.load_schedule import LoadShape, PlannedSend, agency_ids, schedule
from schemas.receipt import StatusCode
from simulator.identities import document_id

MODULE: Final = "runs.load_agencies"
DELIVERED: Final = "send_to_delivered"
RECEIPT: Final = "send_to_receipt"
_KEPT_ERRORS: Final = 20
_CANCEL_GRACE_S: Final = 2.0

log = structlog.get_logger("runs.load_agencies")


class LoadConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    amqp_url: str
    namespace: str
    run_id: str
    shape: LoadShape
    size: int
    receipts: bool
    drain_timeout_s: float
    connect_timeout_s: float
    send_timeout_s: float = 60.0
    """A send waits this long for the broker's confirm (retrying meanwhile) before it fails."""
    prefetch: int = 64
    progress_interval_s: float = 0.5


class LoadProgress(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["progress"] = "progress"
    phase: Literal["sending", "draining"]
    elapsed_s: float
    sent: int
    deliveries_expected: int
    delivered: int
    receipts_expected: int
    receipts: int
    send_errors: int


class LoadResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["result"] = "result"
    counts: AgencyCounts
    histograms: dict[str, str]
    """Encoded HdrHistograms of microseconds, by latency name."""
    timeline: list[Second]
    active_s: float
    """From the first scheduled send to the last delivery or receipt read."""
    drain_s: float
    drained: bool
    cpu_s: float
    peak_rss_mb: float
    errors: list[str]


LoadLine = Annotated[LoadProgress | LoadResult | ChildFailed, Field(discriminator="kind")]
LOAD_LINES: Final[TypeAdapter[LoadLine]] = TypeAdapter(LoadLine)


class _Timeline:
    """Counts per whole second since the start of the schedule."""

    def __init__(self) -> None:
        self.buckets: defaultdict[int, list[int]] = defaultdict(lambda: [0, 0, 0])

    def count(self, elapsed_s: float, column: int) -> None:
        self.buckets[max(0, int(elapsed_s))][column] += 1

    def seconds(self) -> list[Second]:
        if not self.buckets:
            return []
        return [
            Second(second=second, sent=row[0], delivered=row[1], receipts=row[2])
            for second in range(max(self.buckets) + 1)
            for row in (self.buckets.get(second, [0, 0, 0]),)
        ]


class LoadAgencies:
    def __init__(self, config: LoadConfig) -> None:
        self.config = config
        self.ids = agency_ids(config.shape.agencies)
        directory = load_directory(config.shape.agencies, config.shape.seed)
        self.clients = [
            AgencyClient(
                agency_id,
                load_key(config.shape.seed, agency_id),
                directory,
                amqp_url=config.amqp_url,
                namespace=config.namespace,
                connection_name=f"dochub-loadtest {config.run_id} {agency_id}",
                prefetch=config.prefetch,
                connect_timeout_s=config.connect_timeout_s,
                send_timeout_s=config.send_timeout_s,
            )
            for agency_id in self.ids
        ]
        self.index_of = {agency_id: index for index, agency_id in enumerate(self.ids)}
        self.maker = DocumentMaker.for_size(config.size)
        self.scheduled_at: dict[UUID, float] = {}
        """Monotonic time each document was scheduled for: what latency runs from."""
        self.recipient_count: dict[UUID, int] = {}
        """Of each document sent, so that one the hub refuses is waited for no more."""
        self.answered: set[tuple[UUID, int]] = set()
        self.answering: set[tuple[UUID, int]] = set()
        self.receipts_read: set[tuple[UUID, str]] = set()
        self.histograms: dict[str, HdrHistogram] = {DELIVERED: new_histogram()}
        if config.receipts:
            self.histograms[RECEIPT] = new_histogram()
        self.timeline = _Timeline()
        self.scheduled = self.sent = self.send_errors = self.sending = 0
        self.deliveries_expected = self.delivered = self.duplicate_deliveries = 0
        self.receipts_expected = self.receipts = self.duplicate_receipts = 0
        self.unplanned = self.hub_refusals = 0
        self.errors: list[str] = []
        self.started = 0.0
        self.last_arrival = 0.0
        self.schedule_done = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False

    def error(self, message: str) -> None:
        if len(self.errors) < _KEPT_ERRORS:
            self.errors.append(message)

    async def run(self, report: Callable[[LoadProgress], None]) -> LoadResult:
        try:
            await self._connect_all()
            listeners = [
                asyncio.create_task(listen(index, client))
                for index, client in enumerate(self.clients)
                for listen in (self._answer_deliveries, self._read_receipts)
            ]
            self.started = self.last_arrival = time.monotonic()
            generator = asyncio.create_task(self._generate())
            try:
                drained, drain_s = await self._watch(report, generator)
            finally:
                self._stopping = True
                await _cancel([generator, *listeners, *self._tasks])
        finally:
            await asyncio.gather(
                *(client.close() for client in self.clients), return_exceptions=True
            )
        report(self._progress("draining"))
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return LoadResult(
            counts=self.counts(),
            histograms={name: encode(histogram) for name, histogram in self.histograms.items()},
            timeline=self.timeline.seconds(),
            active_s=round(max(self.last_arrival - self.started, 0.001), 3),
            drain_s=round(drain_s, 3),
            drained=drained,
            cpu_s=round(usage.ru_utime + usage.ru_stime, 3),
            peak_rss_mb=round(usage.ru_maxrss / 1024, 1),
            errors=self.errors,
        )

    def counts(self) -> AgencyCounts:
        return AgencyCounts(
            scheduled=self.scheduled,
            sent=self.sent,
            send_errors=self.send_errors,
            deliveries_expected=self.deliveries_expected,
            delivered=self.delivered,
            duplicate_deliveries=self.duplicate_deliveries,
            unplanned=self.unplanned,
            receipts_expected=self.receipts_expected,
            receipts=self.receipts,
            duplicate_receipts=self.duplicate_receipts,
            hub_refusals=self.hub_refusals,
        )

    def _progress(self, phase: Literal["sending", "draining"]) -> LoadProgress:
        return LoadProgress(
            phase=phase,
            elapsed_s=round(time.monotonic() - self.started, 3),
            sent=self.sent,
            deliveries_expected=self.deliveries_expected,
            delivered=self.delivered,
            receipts_expected=self.receipts_expected,
            receipts=self.receipts,
            send_errors=self.send_errors,
        )

    def _all_back(self) -> bool:
        return (
            self.schedule_done
            and not self.sending
            and self.delivered >= self.deliveries_expected
            and self.receipts >= self.receipts_expected
        )

    async def _watch(
        self, report: Callable[[LoadProgress], None], generator: asyncio.Task[None]
    ) -> tuple[bool, float]:
        """Report progress while sending, then until everything is back or the drain timeout;
        whether it all came back, and how long the drain took."""
        interval = self.config.progress_interval_s
        while not generator.done():
            await asyncio.wait({generator}, timeout=interval)
            report(self._progress("sending"))
        generator.result()
        drain_started = time.monotonic()
        deadline = drain_started + self.config.drain_timeout_s
        while not self._all_back() and time.monotonic() < deadline:
            await asyncio.sleep(min(interval, 0.05))
            report(self._progress("draining"))
        return self._all_back(), time.monotonic() - drain_started

    async def _connect_all(self) -> None:
        outcomes = await asyncio.gather(
            *(client.connect() for client in self.clients), return_exceptions=True
        )
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome

    async def _generate(self) -> None:
        """Start each send at its scheduled time; never wait for one to finish."""
        for planned in schedule(self.config.shape):
            due = self.started + planned.at_s
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            self.scheduled += 1
            self._spawn(self._send(planned, due))
        self.schedule_done = True

    async def _send(self, planned: PlannedSend, due: float) -> None:
        client = self.clients[planned.sender]
        envelope = self.maker.envelope(
            document_id(self.config.run_id, planned.index),
            client.organ,
            [client.organ_of(self.ids[recipient]) for recipient in planned.recipients],
        )
        self.scheduled_at[envelope.id] = due
        self.sending += 1
        try:
            await client.send(envelope)
        except AgencyClientError as exc:
            self.send_errors += 1
            self.error(f"send {envelope.id}: {exc}")
            return
        finally:
            self.sending -= 1
        self.sent += 1
        self.timeline.count(time.monotonic() - self.started, 0)
        recipients = len(planned.recipients)
        self.recipient_count[envelope.id] = recipients
        self.deliveries_expected += recipients
        if self.config.receipts:
            self.receipts_expected += recipients

    async def _answer_deliveries(self, index: int, client: AgencyClient) -> None:
        async with client.inbox() as inbox:
            async for delivery in inbox:
                self._spawn(self._answer(index, client, delivery))

    async def _answer(self, index: int, client: AgencyClient, delivery: Delivery) -> None:
        now = time.monotonic()
        document = delivery.envelope.id
        key = (document, index)
        scheduled_at = self.scheduled_at.get(document)
        if scheduled_at is None:
            self.unplanned += 1
            self.error(f"{client.agency_id} got a document this run did not send: {document}")
            await delivery.ack()
            return
        if key in self.answered:
            self.duplicate_deliveries += 1
            await delivery.ack()
            return
        first = key not in self.answering
        if first:
            self.answering.add(key)
            record_seconds(self.histograms[DELIVERED], now - scheduled_at)
        if self.config.receipts:
            try:
                await client.send_status(delivery.envelope, StatusCode.ARRIVED)
            except AgencyClientError as exc:
                self.error(f"receipt {document} from {client.agency_id}: {exc}")
                await delivery.release()  # answered again when it comes back; the hub dedupes
                return
        await delivery.ack()
        self.answering.discard(key)
        self.answered.add(key)
        self.delivered += 1
        self.last_arrival = time.monotonic()
        self.timeline.count(self.last_arrival - self.started, 1)

    async def _read_receipts(self, index: int, client: AgencyClient) -> None:
        async with client.statuses() as statuses:
            async for update in statuses:
                self._count_receipt(update)
                await update.ack()

    def _count_receipt(self, update: StatusUpdate) -> None:
        now = time.monotonic()
        receipt = update.receipt
        if receipt.issued_by_hub:
            self.hub_refusals += 1
            self.error(
                f"the hub refused {receipt.document.id if receipt.document else '?'}: "
                f"{receipt.description}"
            )
            refused = self.recipient_count.pop(receipt.document.id, 0) if receipt.document else 0
            self.deliveries_expected -= refused  # nothing of it will come: stop waiting for it
            if self.config.receipts:
                self.receipts_expected -= refused
            return
        assert receipt.document is not None
        assert receipt.responder is not None  # not the hub's: a responder's
        document = receipt.document.id
        scheduled_at = self.scheduled_at.get(document)
        if scheduled_at is None:
            self.unplanned += 1
            return
        key = (document, receipt.responder.id)
        if key in self.receipts_read:
            self.duplicate_receipts += 1
            return
        self.receipts_read.add(key)
        self.receipts += 1
        if RECEIPT in self.histograms:
            record_seconds(self.histograms[RECEIPT], now - scheduled_at)
        self.last_arrival = now
        self.timeline.count(now - self.started, 2)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        if self._stopping:
            work.close()
            return
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
        task.add_done_callback(_retrieve)
    if tasks:
        await asyncio.wait(tasks, timeout=_CANCEL_GRACE_S)


def _retrieve(task: asyncio.Task[None]) -> None:
    if not task.cancelled():
        task.exception()


def main() -> None:
    async def work(config: LoadConfig, stop: Callable[[], None]) -> LoadResult:
        def report(progress: LoadProgress) -> None:
            if not write_line(progress):
                stop()  # nobody reads any more: the parent is gone

        return await LoadAgencies(config).run(report)

    child_main(LoadConfig, work)


if __name__ == "__main__":
    main()
