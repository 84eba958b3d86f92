"""The hub as one service: topology, ledger, router workers, and what operators watch (the
throughput log, the queue watch, the ledger probe, the HTTP server of metrics, health and the
dashboard), started and stopped together. Once started, they run as one ``asyncio.TaskGroup``: a
worker that fails ends the hub.

Nothing waits unbounded: connecting has the ``connect_timeout_s`` of the settings (the AMQP
handshake included), declaring the namespace a few times that, and ``serve`` gives up starting as
soon as it is told to stop.
"""

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from contextlib import suppress
from types import TracebackType
from typing import Any

import structlog
from aio_pika.abc import AbstractChannel, AbstractRobustConnection
from aio_pika.exceptions import AMQPError, ChannelPreconditionFailed
from aiormq.exceptions import ChannelAccessRefused
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agency_client.connection import ConnectFailed, close_connection, open_connection, reply_text
from hub.errors import BrokerError, BrokerRefused, ConfigurationError, HubError, LedgerError
from hub.health import HubState, LedgerProbe, Readiness, readiness
from hub.http_api import HttpServer, HttpSources, SnapshotFeed
from hub.inspection import Publishers
from hub.ledger import Ledger, Totals
from hub.ledger_url import open_ledger
from hub.metrics import HubMetrics, InstrumentedLedger
from hub.queue_watch import QueueWatch, queues_of
from hub.registry import Registry
from hub.router import Router, RouterOptions
from hub.settings import HubSettings
from hub.snapshot import HubIdentity, SnapshotMaker, Statistics, national_halves
from hub.story import document_story
from hub.throughput import ThroughputMeter
from hub.topology import QueuePolicy, Topology
from schemas.jws import thumbprint
from schemas.naming import Names
from schemas.urls import BrokerAddress, InvalidBrokerUrl, parse_amqp_url

log = structlog.get_logger("hub")

_STOP_GRACE_S = 10.0
_RESTART_S = 1.0
_DECLARE_TIMEOUTS = 6
"""Declaring a namespace may take this many connect timeouts: 190 quorum queues (the built-in
scenario's 95 agencies) take about 3 s on a 2-core machine."""


class Hub:
    """``async with Hub(settings, registry, hub_key) as hub:`` routes until the block ends."""

    def __init__(
        self,
        settings: HubSettings,
        registry: Registry,
        hub_key: Ed25519PrivateKey,
        *,
        connection_name: str = "dochub-hub",
    ) -> None:
        hub_entry = registry.directory.hub
        if hub_entry is None:
            raise ConfigurationError(
                "the agency registry has no [hub] table with the hub's public key: "
                "run `dochub hub keygen` to make the hub's key and add it"
            )
        if thumbprint(hub_key.public_key()) != hub_entry.key_id:
            raise ConfigurationError(
                "the hub's key is not the one the registry's [hub] table lists: agencies would "
                "refuse everything it stamps"
            )
        try:
            self.broker: BrokerAddress = parse_amqp_url(settings.amqp_url)
        except InvalidBrokerUrl as exc:
            raise ConfigurationError(f"{exc} (--amqp-url or DOCHUB_AMQP_URL)") from exc
        self.settings = settings
        self.registry = registry
        self._hub_key = hub_key
        self.names = Names(settings.namespace)
        self.topology = Topology(
            self.names,
            QueuePolicy(
                settings.delivery_limit,
                settings.ingress_max_length,
                settings.agency_queue_max_length,
            ),
        )
        self.meter = ThroughputMeter()
        self.started_at = dt.datetime.now(dt.UTC)
        self._connection_name = connection_name
        self._connection: AbstractRobustConnection | None = None
        self._ledger: Ledger | None = None
        self._router: Router | None = None
        self._watch: QueueWatch | None = None
        self._probe: LedgerProbe | None = None
        self._http: HttpServer | None = None
        self._statistics: Statistics | None = None
        self._workers: list[asyncio.Task[None]] = []
        self._running: asyncio.Task[None] | None = None
        self.metrics = HubMetrics(self.meter, lambda: self._watch, lambda: self.readiness().ready)

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            raise RuntimeError("the hub has not started")
        return self._ledger

    @property
    def http_port(self) -> int | None:
        """The port the HTTP server listens on (the one picked when ``http_port`` is 0)."""
        return self._http.port if self._http is not None else None

    def readiness(self) -> Readiness:
        watch, probe, connection = self._watch, self._probe, self._connection
        return readiness(
            HubState(
                started=self._running is not None and not self._running.done(),
                broker_connected=connection is not None and _connected(connection),
                workers=self.settings.workers,
                workers_running=sum(not worker.done() for worker in self._workers),
                ingress_consumers=watch.reading_of("ingress").consumers if watch else None,
                queues_problem=watch.problem if watch else "the queues are not watched",
                ledger_problem=probe.problem if probe else None,
            )
        )

    async def __aenter__(self) -> "Hub":
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Open the ledger, listen on HTTP, connect, declare the namespace and start routing.
        Raises ``BrokerError`` (``BrokerRefused`` if RabbitMQ said no) within about
        ``connect_timeout_s`` of a broker that does not answer; cancelled, it closes what it
        opened."""
        try:
            await self._start()
        except BaseException:
            await self._abandon()
            raise

    async def _start(self) -> None:
        settings = self.settings
        self._ledger = await open_ledger(
            settings.ledger_url,
            dt.timedelta(hours=settings.stats_utc_offset_hours),
            busy_timeout_s=settings.ledger_busy_timeout_s,
        )
        self._probe = LedgerProbe(self._ledger, timeout_s=settings.ledger_busy_timeout_s + 5.0)
        self._statistics = Statistics(self._ledger, national_halves())
        maker = SnapshotMaker(
            HubIdentity(settings.namespace, self._node, self.started_at),
            self.meter,
            self.registry,
            lambda: self._watch,
            self.readiness,
            self._statistics,
        )
        self._http = HttpServer(
            HttpSources(self.metrics.render, self.readiness, SnapshotFeed(maker), self._trace),
            settings.http_host,
            settings.http_port,
        )
        await self._http.start()
        try:
            self._connection = await open_connection(
                self.broker,
                name=self._connection_name,
                timeout_s=settings.connect_timeout_s,
                reconnect_interval_s=settings.reconnect_interval_s,
            )
        except ConnectFailed as exc:
            failure = BrokerRefused if exc.refused else BrokerError
            raise failure(f"{exc} (--amqp-url or DOCHUB_AMQP_URL)") from exc
        await self._declare()
        self._router = Router(
            self.topology,
            self.registry,
            InstrumentedLedger(self._ledger, self.metrics.ledger_batch),
            self.meter,
            RouterOptions(
                batch_max=settings.batch_max,
                prefetch=settings.prefetch,
                max_message_bytes=settings.max_message_bytes,
                node=self._node,
                publishers=Publishers(self.names, frozenset(settings.trusted_users)),
            ),
            self._hub_key,
        )
        channels = [
            await self._connection.channel(publisher_confirms=True, on_return_raises=True)
            for _ in range(settings.workers)
        ]
        self._watch = QueueWatch(
            queues_of(self.names, self.registry.agency_ids),
            self._connection,
            interval_s=settings.queue_watch_interval_s,
            timeout_s=settings.connect_timeout_s * _DECLARE_TIMEOUTS,
            alarm_after_s=settings.queue_without_consumer_after_s,
        )
        started = asyncio.Event()
        self._running = asyncio.create_task(self._run(channels, started), name="hub-running")
        await started.wait()
        log.info(
            "hub_started",
            namespace=settings.namespace,
            agencies=len(self.registry),
            workers=settings.workers,
            ledger=settings.ledger_url,
            http_port=self.http_port,
        )

    @property
    def _node(self) -> str:
        return f"hub:{self.settings.namespace}"

    async def _run(self, channels: Sequence[AbstractChannel], started: asyncio.Event) -> None:
        """Every part of the running hub, as one task group."""
        router, watch, probe, http = self._router, self._watch, self._probe, self._http
        assert router is not None
        assert watch is not None
        assert probe is not None
        assert http is not None
        async with asyncio.TaskGroup() as group:
            self._workers = [
                group.create_task(router.work(channel), name=f"hub-worker-{index}")
                for index, channel in enumerate(channels)
            ]
            for name, part in (
                ("hub-throughput", self._log_throughput),
                ("hub-queue-watch", watch.run),
                ("hub-ledger-probe", probe.run),
                ("hub-http", http.serve),
            ):
                group.create_task(_kept_running(name, part), name=name)
            started.set()

    async def _declare(self) -> None:
        assert self._connection is not None
        settings = self.settings
        timeout_s = settings.connect_timeout_s * _DECLARE_TIMEOUTS
        namespace = settings.namespace
        try:
            async with asyncio.timeout(timeout_s):
                channel = await self._connection.channel()
                await self.topology.declare(channel, self.registry.agency_ids)
                await channel.close()
        except ChannelPreconditionFailed as exc:
            raise BrokerRefused(
                f"RabbitMQ refused namespace {namespace!r} as this hub declares it "
                f"({reply_text(exc)}): it was declared before with other arguments, by an older "
                f"hub or with another delivery limit or queue length. Delete it with `dochub "
                f"namespace delete {namespace}` (its messages are lost), or run with the settings "
                "it was declared with"
            ) from exc
        except ChannelAccessRefused as exc:
            raise BrokerRefused(
                f"RabbitMQ refused user {self.broker.user!r} the namespace {namespace!r} "
                f"({reply_text(exc)}): the hub's user needs configure, write and read "
                f"permissions on ^{namespace}\\. (`dochub provision` gives them to "
                f"{namespace}.hub)"
            ) from exc
        except TimeoutError as exc:
            raise BrokerError(
                f"RabbitMQ at {self.broker.shown} did not finish declaring namespace "
                f"{namespace!r} within {timeout_s:g} s"
            ) from exc
        except (AMQPError, OSError) as exc:
            raise BrokerError(
                f"RabbitMQ at {self.broker.shown} went away while the hub declared namespace "
                f"{namespace!r}: {reply_text(exc)}"
            ) from exc

    async def serve(self, stop: asyncio.Event) -> None:
        """Start, then route until ``stop`` is set or a worker fails (its error is raised), then
        stop. Set while starting (a broker that does not answer, a ledger that waits), it ends the
        start at once, and nothing is left open."""
        stopping = asyncio.create_task(stop.wait(), name="hub-stop-signal")
        try:
            starting = asyncio.create_task(self.start(), name="hub-start")
            await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not starting.done():
                starting.cancel()
                with suppress(asyncio.CancelledError):
                    await starting
                log.info("hub_stopped_while_starting", namespace=self.settings.namespace)
                return
            starting.result()
            try:
                failing = asyncio.create_task(self.wait(), name="hub-wait")
                await asyncio.wait({failing, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if failing.done():
                    failure = failing.exception()
                    if failure is not None and not isinstance(failure, HubError):
                        raise HubError(f"a router worker failed: {failure!r}") from failure
                    failing.result()
                else:
                    failing.cancel()
                    log.info("hub_stopping")
            finally:
                await self.stop()
        finally:
            stopping.cancel()

    async def wait(self) -> None:
        """Until a worker fails (its error is raised) or the hub is stopped."""
        running = self._running
        if running is None:
            return
        try:
            await asyncio.shield(running)
        except asyncio.CancelledError:
            if running.cancelled():
                return  # stopped
            raise
        except BaseExceptionGroup as group:
            raise _first_failure(group) from group

    async def stop(self, grace_s: float = _STOP_GRACE_S) -> None:
        """Stop consuming, let the workers finish the batches they hold for up to ``grace_s``
        (the broker may be away), then close. A batch cut short is redelivered to the next hub,
        whose ledger knows it."""
        if self._router is not None:
            self._router.stop()
        if self._workers:
            _, unfinished = await asyncio.wait(self._workers, timeout=grace_s)
            if unfinished:
                log.warning("hub_workers_cut_short", workers=len(unfinished), grace_s=grace_s)
        failure = await self._end_running()
        if failure is not None:
            log.error("hub_worker_failed", error=repr(failure))
        if self._ledger is not None and self._router is not None:
            ledger: dict[str, object] = {}
            try:
                ledger.update(_ledger_fields(await self._ledger.totals()))
            except LedgerError as exc:  # the summary still says what the hub did
                ledger["ledger_error"] = str(exc)
            log.info("hub_summary", **self.meter.summary(), **ledger)
        self._router = None
        await self._close()

    async def _end_running(self) -> BaseException | None:
        """Cancel what still runs; the first failure of a part that failed, if any."""
        running, self._running = self._running, None
        self._workers = []
        if running is None:
            return None
        running.cancel()
        try:
            await running
        except asyncio.CancelledError:
            return None
        except BaseExceptionGroup as group:
            return _first_failure(group)
        return None

    async def _abandon(self) -> None:
        """Undo a start cut short: workers already running included."""
        await self._end_running()
        self._router = None
        await self._close()

    async def _close(self) -> None:
        self._watch = None
        if self._http is not None:
            await self._http.stop()
            self._http = None
        if self._statistics is not None:
            await self._statistics.close()
            self._statistics = None
        if self._connection is not None:
            await close_connection(self._connection)
            self._connection = None
        if self._ledger is not None:
            await self._ledger.close()
            self._ledger = None
        self._probe = None

    async def _log_throughput(self) -> None:
        while True:
            await asyncio.sleep(self.settings.throughput_interval_s)
            watch = self._watch
            # None while the broker is away: the log goes on, without the depth.
            depth = watch.reading_of("ingress").depth if watch is not None else None
            log.info("throughput", **self.meter.report(), ingress_depth=depth)

    async def _trace(self, document_id: str) -> dict[str, Any] | None:
        settings = self.settings
        story = await document_story(
            settings.ledger_url, document_id, settings.stats_utc_offset_hours
        )
        return story.model_dump(mode="json") if story is not None else None


async def _kept_running(name: str, part: Callable[[], Awaitable[None]]) -> None:
    """Run ``part`` until cancelled, starting it again after a failure: what operators watch
    must not end the routing."""
    while True:
        try:
            await part()
        except Exception as exc:
            log.error("hub_part_failed", part=name, error=repr(exc), restart_in_s=_RESTART_S)
            await asyncio.sleep(_RESTART_S)


def _connected(connection: AbstractRobustConnection) -> bool:
    transport = getattr(connection, "transport", None)
    return not connection.is_closed and transport is not None and not transport.connection.is_closed


def _first_failure(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first error in ``group`` (nested groups included) that is not a cancellation."""
    for error in group.exceptions:
        if isinstance(error, BaseExceptionGroup):
            return _first_failure(error)
        if not isinstance(error, asyncio.CancelledError):
            return error
    return group


def _ledger_fields(totals: Totals) -> dict[str, int | list[str]]:
    return {
        "ledger_accepted": totals.accepted,
        "ledger_routed": totals.routed,
        "ledger_in_flight": totals.in_flight,
        "ledger_deliveries": totals.deliveries,
        "ledger_receipts": totals.receipts,
        "ledger_receipt_messages": totals.receipt_messages,
        "ledger_rejected": totals.rejected,
        "ledger_imbalances": totals.imbalances(),
    }
