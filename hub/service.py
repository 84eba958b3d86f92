"""The hub as one service: topology, ledger, router workers and throughput logging, started and
stopped together."""

import asyncio
import datetime as dt
from contextlib import suppress
from types import TracebackType

import aio_pika
import structlog
from aio_pika.abc import AbstractRobustConnection
from aio_pika.exceptions import AMQPError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.errors import BrokerError, ConfigurationError
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
from schemas.urls import redact_url

log = structlog.get_logger("hub")

_STOP_GRACE_S = 10.0
_CLOSE_TIMEOUT_S = 5.0


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
        settings = self.settings
        self._ledger = await open_ledger(
            settings.ledger_url, dt.timedelta(hours=settings.stats_utc_offset_hours)
        )
        try:
            self._connection = await aio_pika.connect_robust(
                settings.amqp_url,
                client_properties={"connection_name": self._connection_name},
                reconnect_interval=settings.reconnect_interval_s,
            )
            channel = await self._connection.channel()
            await self.topology.declare(channel, self.registry.agency_ids)
            await channel.close()
        except (AMQPError, OSError) as exc:
            await self._close()
            raise BrokerError(
                f"cannot set up the hub on {redact_url(settings.amqp_url)}: {exc!r}"
            ) from exc
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
            totals = await self._ledger.totals()
            log.info("hub_summary", **self.meter.summary(), **_ledger_fields(totals))
        self._router = None
        await self._close()

    async def _close(self) -> None:
        if self._connection is not None:
            with suppress(AMQPError, OSError, TimeoutError):
                async with asyncio.timeout(_CLOSE_TIMEOUT_S):
                    await self._connection.close()
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
