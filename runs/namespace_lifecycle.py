"""What every whole-system run does with its namespace: check it before it starts (fresh for an
embedded hub, served for an external one), delete what it made when it ends, on a failure and on
SIGINT or SIGTERM too, and wait, bounded, for a ledger to settle.

Only SIGKILL defeats the clean-up: ``dochub namespace delete NS`` then removes what was left.
"""

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, Final, Literal

import structlog
from aio_pika.abc import AbstractRobustConnection
from aio_pika.exceptions import AMQPError, ChannelNotFoundEntity

from agency_client.connection import ConnectFailed, close_connection, open_connection, reply_text
from hub.errors import BrokerError, BrokerRefused, ConfigurationError, HubError
from hub.ledger import Ledger, Totals
from hub.topology import Topology
from runs.errors import RunInterrupted
from schemas.naming import Names
from schemas.urls import BrokerAddress, InvalidBrokerUrl, parse_amqp_url

log = structlog.get_logger("runs.namespace_lifecycle")

DELETE_TIMEOUT_S: Final = 30.0
"""How long deleting a namespace may take (192 quorum queues take a few seconds)."""
STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)
SETTLE_TIMEOUT_S: Final = 30.0
"""After the agencies are done, how long the ledger may take to record the last of it."""

HubMode = Literal["embedded", "external"]
"""embedded: the run starts a hub in its own process; external: it uses one already running."""


@asynccontextmanager
async def stopped_by_signals(namespace: str, run: str = "run") -> AsyncIterator[None]:
    """SIGINT and SIGTERM cancel the block, whose ``finally`` clauses then stop and delete what it
    started; :class:`RunInterrupted` is raised. Further signals are ignored meanwhile, the
    clean-up being bounded."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    received: list[int] = []

    def on_signal(signum: int) -> None:
        if not received:
            received.append(signum)
            log.info("run_stopping", signal=signal.Signals(signum).name)
            task.cancel()

    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        yield
    except asyncio.CancelledError:
        if not received:
            raise
        task.uncancel()
        raise RunInterrupted(received[0], namespace, run) from None
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)


async def unstoppable(clean_up: Coroutine[Any, Any, None]) -> None:
    """Run a (bounded) clean-up to its end even if a signal cancels the run meanwhile; the
    cancellation goes on afterwards."""
    task = asyncio.ensure_future(clean_up)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise


def broker_address(amqp_url: str) -> BrokerAddress:
    try:
        return parse_amqp_url(amqp_url)
    except InvalidBrokerUrl as exc:
        raise ConfigurationError(str(exc)) from exc


async def connect(amqp_url: str, timeout_s: float, name: str) -> AbstractRobustConnection:
    """A connection, or ``BrokerRefused``/``BrokerError`` within about ``timeout_s``."""
    address = broker_address(amqp_url)
    try:
        return await open_connection(
            address, name=name, timeout_s=timeout_s, reconnect_interval_s=timeout_s
        )
    except ConnectFailed as exc:
        raise (BrokerRefused if exc.refused else BrokerError)(str(exc)) from exc


async def ingress_consumers(amqp_url: str, names: Names, timeout_s: float) -> int | None:
    """Consumers of the namespace's ingress queue; None if there is no such queue."""
    connection = await connect(amqp_url, timeout_s, "dochub-run-check")
    try:
        async with asyncio.timeout(timeout_s):
            channel = await connection.channel()
            try:
                queue = await channel.declare_queue(names.ingress_queue, passive=True)
            except ChannelNotFoundEntity:
                return None
            return queue.declaration_result.consumer_count or 0
    except (AMQPError, OSError, TimeoutError) as exc:
        raise BrokerError(
            f"RabbitMQ at {broker_address(amqp_url).shown} did not answer a passive declare of "
            f"{names.ingress_queue}: {reply_text(exc)}"
        ) from exc
    finally:
        await close_connection(connection)


async def require_fresh_namespace(amqp_url: str, names: Names, timeout_s: float) -> None:
    """A run that deletes its namespace at the end must have made it: it must not exist yet."""
    if await ingress_consumers(amqp_url, names, timeout_s) is not None:
        raise ConfigurationError(
            f"namespace {names.namespace!r} already exists on the broker: an embedded hub makes "
            "a namespace of its own and deletes it at the end; give another --namespace, or none "
            f"(or remove that one with `dochub namespace delete {names.namespace}`)"
        )


async def require_running_hub(amqp_url: str, names: Names, timeout_s: float) -> None:
    """Fail in one line, before any agency connects, when no hub consumes the namespace's
    ingress queue."""
    consumers = await ingress_consumers(amqp_url, names, timeout_s)
    if consumers is None:
        raise ConfigurationError(
            f"no hub on namespace {names.namespace!r}: the broker has no queue "
            f"{names.ingress_queue}; start `dochub hub run` with that namespace first, or give "
            "--namespace of the running hub"
        )
    if not consumers:
        raise ConfigurationError(
            f"no hub is running on namespace {names.namespace!r}: nothing consumes "
            f"{names.ingress_queue}; start `dochub hub run` with that namespace first"
        )


async def delete_namespace(
    amqp_url: str, topology: Topology, agency_ids: list[str], timeout_s: float
) -> None:
    """Delete a namespace the run made; say so in the logs when it cannot be."""
    namespace = topology.names.namespace
    try:
        connection = await connect(amqp_url, timeout_s, "dochub-run-clean-up")
        try:
            async with asyncio.timeout(DELETE_TIMEOUT_S):
                await topology.delete(await connection.channel(), agency_ids)
        finally:
            await close_connection(connection)
    except (HubError, AMQPError, OSError, TimeoutError) as exc:
        log.warning(
            "namespace_left_behind",
            namespace=namespace,
            error=str(exc) or type(exc).__name__,
            fix=f"dochub namespace delete {namespace}",
        )


async def settled(ledger: Ledger, timeout_s: float) -> Totals:
    """The ledger's totals once nothing is in flight and every receipt is relayed (or, after
    ``timeout_s``, as they are)."""
    deadline = time.monotonic() + timeout_s
    totals = await ledger.totals()
    while (
        totals.in_flight or totals.relayed < totals.receipt_messages
    ) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        totals = await ledger.totals()
    return totals
