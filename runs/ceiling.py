"""The ceiling: how many messages per second a plain aio-pika relay moves on this broker and this
machine, measured beside a load test so that the hub's figure has something to be read against.

The relay is the naive one a user could write in 30 lines: consume from one quorum queue, publish
each message on, persistent and with a publisher confirm, to another, then ack it. A producer
fills the first queue (confirmed, in windows) while the relay runs, and a consumer empties the
second; the rate is messages over the time from the first publish to the last message consumed.
Its queues live on a namespace of their own (``NS.relay.in``, ``NS.relay.out``), deleted however
the measure ends.
"""

import asyncio
import os
import time
from dataclasses import dataclass
from typing import Final

import aio_pika
import structlog
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from aio_pika.exceptions import AMQPError
from aiormq.abc import FieldTable

from agency_client.connection import close_connection
from hub.errors import BrokerError
from runs.namespace_lifecycle import DELETE_TIMEOUT_S, connect

log = structlog.get_logger("runs.ceiling")

WINDOW: Final = 512
"""Publishes in flight at once, from the producer."""
RELAY_PREFETCH: Final = 256
_QUORUM: Final[FieldTable] = {"x-queue-type": "quorum"}


@dataclass(frozen=True, slots=True)
class CeilingResult:
    msgs_per_s: float
    messages: int
    size_bytes: int
    elapsed_s: float


def relay_queues(namespace: str) -> tuple[str, str]:
    return f"{namespace}.relay.in", f"{namespace}.relay.out"


async def measure_ceiling(
    amqp_url: str,
    size: int,
    messages: int,
    connect_timeout_s: float,
    *,
    namespace: str,
    timeout_s: float = 120.0,
) -> CeilingResult:
    """Relay ``messages`` messages of ``size`` bytes through a plain aio-pika relay on
    ``namespace`` (which must not hold queues of anyone else's); its queues are deleted at the
    end. Raises ``BrokerError`` when the broker fails or the relay does not finish within
    ``timeout_s``."""
    source, target = relay_queues(namespace)
    body = os.urandom(size)
    connection = await connect(amqp_url, connect_timeout_s, f"dochub-ceiling {namespace}")
    try:
        setup = await connection.channel()
        try:
            async with asyncio.timeout(timeout_s):
                await setup.declare_queue(source, durable=True, arguments=_QUORUM)
                await setup.declare_queue(target, durable=True, arguments=_QUORUM)
                elapsed = await _relay(connection, source, target, body, messages)
        except (AMQPError, OSError) as exc:
            raise BrokerError(f"the plain relay (the ceiling) failed: {exc!r}") from exc
        except TimeoutError as exc:
            raise BrokerError(
                f"the plain relay (the ceiling) did not move {messages} messages within "
                f"{timeout_s:g} s"
            ) from exc
        finally:
            await _delete(setup, (source, target))
    finally:
        await close_connection(connection)
    return CeilingResult(
        msgs_per_s=round(messages / elapsed, 1),
        messages=messages,
        size_bytes=size,
        elapsed_s=round(elapsed, 3),
    )


async def _relay(
    connection: aio_pika.abc.AbstractRobustConnection,
    source: str,
    target: str,
    body: bytes,
    messages: int,
) -> float:
    relay = await connection.channel(publisher_confirms=True)
    await relay.set_qos(prefetch_count=RELAY_PREFETCH)
    producer = await connection.channel(publisher_confirms=True)
    consumer = await connection.channel()
    await consumer.set_qos(prefetch_count=WINDOW)

    async def forward(message: AbstractIncomingMessage) -> None:
        await relay.default_exchange.publish(
            aio_pika.Message(
                message.body,
                message_id=message.message_id,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            ),
            target,
            mandatory=True,
        )
        await message.ack()

    done = asyncio.Event()
    consumed = 0

    async def count(message: AbstractIncomingMessage) -> None:
        nonlocal consumed
        await message.ack()
        consumed += 1
        if consumed >= messages:
            done.set()

    relay_queue = await relay.get_queue(source, ensure=False)
    target_queue = await consumer.get_queue(target, ensure=False)
    relaying = await relay_queue.consume(forward)
    counting = await target_queue.consume(count)
    began = time.perf_counter()
    try:
        await _produce(producer, source, body, messages)
        await done.wait()
        return time.perf_counter() - began
    finally:
        await relay_queue.cancel(relaying)
        await target_queue.cancel(counting)
        for channel in (relay, producer, consumer):
            await channel.close()


async def _produce(channel: AbstractChannel, queue: str, body: bytes, messages: int) -> None:
    for start in range(0, messages, WINDOW):
        await asyncio.gather(
            *(
                channel.default_exchange.publish(
                    aio_pika.Message(
                        body,
                        message_id=str(number),
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    ),
                    queue,
                    mandatory=True,
                )
                for number in range(start, min(start + WINDOW, messages))
            )
        )


async def _delete(channel: AbstractChannel, queues: tuple[str, ...]) -> None:
    """Delete the relay's queues, bounded, even when the measure was cancelled."""
    try:
        async with asyncio.timeout(DELETE_TIMEOUT_S):
            for queue in queues:
                await channel.queue_delete(queue)
    except (AMQPError, OSError, TimeoutError) as exc:
        log.warning(
            "ceiling_queues_left_behind",
            queues=list(queues),
            error=str(exc) or type(exc).__name__,
            fix="rabbitmqctl delete_queue " + " ".join(queues),
        )
