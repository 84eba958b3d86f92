"""The depth and consumers of every queue of the namespace, read every few seconds with passive
declares on a channel of its own (no management API needed).

An inbox that holds messages while nobody consumes it is the most common way documents silently
stop flowing on RabbitMQ: the watch logs ``queue_without_consumer`` when an inbox has stayed there
for a grace period (agencies connecting after the first documents arrive are not an alarm), and
``queue_consumer_back`` when a consumer returns, once per change.
"""

import asyncio
import time
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import dataclass
from typing import Literal

import structlog
from aio_pika.abc import AbstractChannel, AbstractRobustConnection
from aio_pika.exceptions import AMQPError, ChannelInvalidStateError
from aiormq.exceptions import ChannelNotFoundEntity

from schemas.naming import Names

log = structlog.get_logger("hub.queue_watch")

_BROKER_AWAY: tuple[type[Exception], ...] = (
    AMQPError,
    ChannelInvalidStateError,
    OSError,  # ConnectionError and TimeoutError included
    RuntimeError,  # aio-pika's "connection was not opened", while it reconnects
)

QueueRole = Literal["ingress", "dead_letter", "inbox", "status"]


@dataclass(frozen=True, slots=True)
class WatchedQueue:
    name: str
    role: QueueRole
    agency: str | None = None


@dataclass(frozen=True, slots=True)
class QueueReading:
    queue: WatchedQueue
    depth: int | None
    """Messages ready in the queue; ``None`` when it could not be read."""
    consumers: int | None


@dataclass(frozen=True, slots=True)
class ConsumerChange:
    event: Literal["queue_without_consumer", "queue_consumer_back"]
    reading: QueueReading


def queues_of(names: Names, agency_ids: Iterable[str]) -> list[WatchedQueue]:
    queues = [
        WatchedQueue(names.ingress_queue, "ingress"),
        WatchedQueue(names.dead_letter_queue, "dead_letter"),
    ]
    for agency in agency_ids:
        queues.append(WatchedQueue(names.inbox_queue(agency), "inbox", agency))
        queues.append(WatchedQueue(names.status_queue(agency), "status", agency))
    return queues


class ConsumerAlarm:
    """Which inboxes have held messages with nobody consuming them for ``grace_s`` or more; each
    change reported once."""

    def __init__(self, grace_s: float) -> None:
        self._grace_s = grace_s
        self._stuck_since: dict[str, float] = {}
        self._silent: set[str] = set()

    @property
    def silent(self) -> frozenset[str]:
        return frozenset(self._silent)

    def update(self, readings: Iterable[QueueReading], now: float) -> list[ConsumerChange]:
        changes = []
        for reading in readings:
            name = reading.queue.name
            if reading.queue.role != "inbox" or reading.consumers is None:
                continue
            if reading.consumers == 0 and (reading.depth or 0) > 0:
                since = self._stuck_since.setdefault(name, now)
                if name not in self._silent and now - since >= self._grace_s:
                    self._silent.add(name)
                    changes.append(ConsumerChange("queue_without_consumer", reading))
                continue
            self._stuck_since.pop(name, None)
            if name in self._silent and reading.consumers > 0:
                self._silent.discard(name)
                changes.append(ConsumerChange("queue_consumer_back", reading))
        return changes


class QueueWatch:
    def __init__(
        self,
        queues: list[WatchedQueue],
        connection: AbstractRobustConnection,
        interval_s: float,
        timeout_s: float,
        alarm_after_s: float,
    ) -> None:
        self._queues = queues
        self._connection = connection
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        self._channel: AbstractChannel | None = None
        self.alarm = ConsumerAlarm(alarm_after_s)
        self.readings: list[QueueReading] = [QueueReading(queue, None, None) for queue in queues]
        self.read_at: float | None = None
        """``time.monotonic()`` of the last complete reading; ``None`` before the first."""
        self.problem: str | None = "the queues have not been read yet"
        self._failing = False

    def reading_of(self, role: QueueRole) -> QueueReading:
        """The first queue of ``role``: for the ingress and dead-letter queues, the only one."""
        return next(reading for reading in self.readings if reading.queue.role == role)

    def deepest_inbox(self) -> QueueReading | None:
        inboxes = [r for r in self.readings if r.queue.role == "inbox" and r.depth is not None]
        return max(inboxes, key=lambda reading: reading.depth or 0, default=None)

    async def run(self) -> None:
        """Read every queue every ``interval_s`` until cancelled; a broker that is away leaves
        the readings unknown (``None``) until it is back."""
        try:
            while True:
                await self.read_once()
                await asyncio.sleep(self._interval_s)
        finally:
            await self._drop_channel()

    async def read_once(self) -> None:
        try:
            async with asyncio.timeout(self._timeout_s):
                readings = await self._read()
        except _BROKER_AWAY as e:
            if not self._failing:
                log.warning("queue_watch_failed", error=repr(e))
            self._failing = True
            self.problem = f"the queues cannot be read: {e!r}"
            self.readings = [QueueReading(queue, None, None) for queue in self._queues]
            await self._drop_channel()
            return
        if self._failing:
            log.info("queue_watch_recovered")
        self._failing = False
        self.readings, self.read_at, self.problem = readings, time.monotonic(), None
        for change in self.alarm.update(readings, time.monotonic()):
            queue = change.reading.queue
            fields = {"queue": queue.name, "agency_id": queue.agency, "depth": change.reading.depth}
            if change.event == "queue_without_consumer":
                log.warning(change.event, **fields)
            else:
                log.info(change.event, consumers=change.reading.consumers, **fields)

    async def _read(self) -> list[QueueReading]:
        readings = []
        for queue in self._queues:
            if self._channel is None or self._channel.is_closed:
                self._channel = await self._connection.channel()
            channel = await self._channel.get_underlay_channel()
            try:
                declared = await channel.queue_declare(queue.name, passive=True)
            except ChannelNotFoundEntity:
                await self._drop_channel()  # the broker closed it: the queue is gone
                readings.append(QueueReading(queue, None, None))
                continue
            readings.append(
                QueueReading(queue, declared.message_count or 0, declared.consumer_count or 0)
            )
        return readings

    async def _drop_channel(self) -> None:
        channel, self._channel = self._channel, None
        if channel is not None and not channel.is_closed:
            with suppress(*_BROKER_AWAY):
                async with asyncio.timeout(self._timeout_s):
                    await channel.close()
