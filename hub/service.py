"""The hub as one service: topology, ledger, router workers and throughput logging, started and
stopped together.

Nothing waits unbounded: connecting has the ``connect_timeout_s`` of the settings (the AMQP
handshake included), declaring the namespace a few times that, and ``serve`` gives up starting as
soon as it is told to stop.
"""

import asyncio
import datetime as dt
from contextlib import suppress
from types import TracebackType

import structlog
from aio_pika.abc import AbstractRobustConnection
from aio_pika.exceptions import AMQPError, ChannelPreconditionFailed
from aiormq.exceptions import ChannelAccessRefused
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agency_client.connection import ConnectFailed, close_connection, open_connection, reply_text
from hub.errors import BrokerError, BrokerRefused, ConfigurationError, HubError, LedgerError
from hub.inspection import Publishers
from hub.ledger import Ledger, Totals
from hub.ledger_url import open_ledger
from hub.registry import Registry
from hub.router import Router, RouterOptions
from hub.settings import HubSettings
from hub.throughput import ThroughputMeter
from hub.topology import QueuePolicy, Topology, queue_depth
from schemas.jws import thumbprint
from schemas.naming import Names
from schemas.urls import BrokerAddress, InvalidBrokerUrl, parse_amqp_url

log = structlog.get_logger("hub")

_STOP_GRACE_S = 10.0
_CLOSE_TIMEOUT_S = 5.0
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
        self._connection_name = connection_name
        self._connection: AbstractRobustConnection | None = None
        self._ledger: Ledger | None = None
        self._router: Router | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            raise RuntimeError("the hub has not started")
        return self._ledger

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
        """Open the ledger, connect, declare the namespace and start routing. Raises
        ``BrokerError`` (``BrokerRefused`` if RabbitMQ said no) within about
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
            self._ledger,
            self.meter,
            RouterOptions(
                batch_max=settings.batch_max,
                prefetch=settings.prefetch,
                max_message_bytes=settings.max_message_bytes,
                node=f"hub:{settings.namespace}",
                publishers=Publishers(self.names, frozenset(settings.trusted_users)),
            ),
            self._hub_key,
        )
        for worker in range(settings.workers):
            channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
            self._tasks.append(
                asyncio.create_task(self._router.work(channel), name=f"hub-worker-{worker}")
            )
        self._tasks.append(asyncio.create_task(self._log_throughput(), name="hub-throughput"))
        log.info(
            "hub_started",
            namespace=settings.namespace,
            agencies=len(self.registry),
            workers=settings.workers,
            ledger=settings.ledger_url,
        )

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
        workers = [task for task in self._tasks if task.get_name().startswith("hub-worker")]
        done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def stop(self, grace_s: float = _STOP_GRACE_S) -> None:
        """Stop consuming, let the workers finish the batches they hold for up to ``grace_s``
        (the broker may be away), then close. A batch cut short is redelivered to the next hub,
        whose ledger knows it."""
        if self._router is not None:
            self._router.stop()
        workers = [task for task in self._tasks if task.get_name().startswith("hub-worker")]
        if workers:
            _, unfinished = await asyncio.wait(workers, timeout=grace_s)
            if unfinished:
                log.warning("hub_workers_cut_short", workers=len(unfinished), grace_s=grace_s)
        for task in self._tasks:
            task.cancel()
        results = await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                log.error("hub_worker_failed", error=repr(result))
        if self._ledger is not None and self._router is not None:
            ledger: dict[str, object] = {}
            try:
                ledger.update(_ledger_fields(await self._ledger.totals()))
            except LedgerError as exc:  # the summary still says what the hub did
                ledger["ledger_error"] = str(exc)
            log.info("hub_summary", **self.meter.summary(), **ledger)
        self._router = None
        await self._close()

    async def _abandon(self) -> None:
        """Undo a start cut short: workers already running included."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        self._router = None
        await self._close()

    async def _close(self) -> None:
        if self._connection is not None:
            await close_connection(self._connection)
            self._connection = None
        if self._ledger is not None:
            await self._ledger.close()
            self._ledger = None

    async def _log_throughput(self) -> None:
        assert self._connection is not None
        channel = await self._connection.channel()
        while True:
            await asyncio.sleep(self.settings.throughput_interval_s)
            depth: int | None
            try:
                async with asyncio.timeout(_CLOSE_TIMEOUT_S):
                    depth = await queue_depth(channel, self.names.ingress_queue)
            except (AMQPError, OSError, TimeoutError):
                depth = None  # the broker is away: the log goes on, without the depth
            log.info("throughput", **self.meter.report(), ingress_depth=depth)


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
