"""Router throughput: the hub against a plain aio-pika relay, measured in the same run.

Both relays sit between a producer and a consumer of the same shape (aio-pika, publishes confirmed
in windows of 512, a consumer that only counts and acks), on the same broker, with quorum queues
and persistent messages, in this one process and on one event loop implementation:

- **plain**: ``runs.ceiling``'s relay: consume a queue, publish each message on with a publisher
  confirm, then ack it (messages of the signed documents' size);
- **hub**: the DocHub router, which also parses, checks the signature, writes the ledger and
  stamps its hop before it publishes and acks.

Documents are signed before the clock starts. Rounds alternate plain and hub so that the noise of
a shared machine falls on both; each round also reports this process's CPU and the broker's per
document. Run it with ``python bench/router_throughput.py --documents 5000 --rounds 3``.
"""

import argparse
import asyncio
import datetime as dt
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import aio_pika
import psutil
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dochub.logging import configure_logging
from hub.event_loop import install_uvloop
from hub.registry import Registry
from hub.service import Hub
from hub.settings import DEFAULT_AMQP_URL, HubSettings
from runs.ceiling import measure_ceiling
from schemas import (
    AgencyDirectory,
    AgencyEntry,
    AgencyKind,
    DocumentCode,
    DocumentType,
    Envelope,
    Organ,
    PromulgationInfo,
    Signer,
)
from schemas.directory import HubEntry
from schemas.keys import public_key_to_text
from schemas.naming import DOCUMENT_MESSAGE_TYPE, DOCUMENT_ROUTING_KEY
from schemas.signing import sign_document
from schemas.urls import DEFAULT_CONNECT_TIMEOUT_S, broker_user

SENDER = Organ(id="000.00.00.G12", name="Bộ Nội vụ")
RECIPIENT = Organ(id="000.00.00.H29", name="Ủy ban nhân dân thành phố Hà Nội")
WINDOW = 512
HUB_KEY = Ed25519PrivateKey.generate()
CONSUME_TIMEOUT_S = 300.0


@dataclass(frozen=True, slots=True)
class Round:
    docs_per_s: float
    cpu_ms: float
    """This process's CPU per document: producer, consumer and the relay under test."""
    broker_ms: float
    """The broker's CPU per document."""

    @classmethod
    def median_of(cls, rounds: list["Round"]) -> "Round":
        return cls(
            statistics.median(r.docs_per_s for r in rounds),
            statistics.median(r.cpu_ms for r in rounds),
            statistics.median(r.broker_ms for r in rounds),
        )


def _broker() -> psutil.Process | None:
    for process in psutil.process_iter(["name"]):
        if process.info["name"] == "beam.smp":
            return process
    return None


class Usage:
    """CPU seconds used, by this process and by the broker (RabbitMQ's ``beam.smp`` on this
    machine), over a ``with`` block."""

    def __init__(self) -> None:
        self._broker = _broker()
        self.cpu_s = self.broker_s = 0.0

    def _broker_s(self) -> float:
        if self._broker is None:
            return 0.0
        times = self._broker.cpu_times()
        return float(times.user + times.system)

    def __enter__(self) -> "Usage":
        self._began = (time.process_time(), self._broker_s())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.cpu_s = time.process_time() - self._began[0]
        self.broker_s = self._broker_s() - self._began[1]

    def cpu_ms_per(self, documents: int) -> float:
        return self.cpu_s * 1000 / documents

    def broker_ms_per(self, documents: int) -> float:
        return self.broker_s * 1000 / documents


def signed_bodies(count: int, key: Ed25519PrivateKey) -> list[tuple[str, bytes]]:
    bodies = []
    for number in range(count):
        envelope = Envelope(
            sender=SENDER,
            recipients=[RECIPIENT],
            code=DocumentCode(number=str(number + 1), notation="BNV-VP"),
            document_type=DocumentType.OFFICIAL_LETTER,
            subject="Về việc đo thông lượng của trục liên thông văn bản",
            promulgation=PromulgationInfo(place="Hà Nội", date=dt.date.today()),
            signer=Signer(function="Chánh Văn phòng", full_name="Nguyễn Văn A"),
        )
        bodies.append((str(envelope.id), sign_document(envelope, key).body))
    return bodies


async def produce(
    channel: AbstractChannel,
    exchange_name: str,
    routing_key: str,
    bodies: list[tuple[str, bytes]],
    user_id: str,
) -> None:
    exchange = (
        channel.default_exchange
        if not exchange_name
        else await channel.get_exchange(exchange_name, ensure=False)
    )
    for start in range(0, len(bodies), WINDOW):
        await asyncio.gather(
            *(
                exchange.publish(
                    aio_pika.Message(
                        body,
                        content_type="application/json",
                        message_id=message_id,
                        type=DOCUMENT_MESSAGE_TYPE,
                        app_id=SENDER.id,
                        user_id=user_id,
                        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    ),
                    routing_key,
                    mandatory=True,
                )
                for message_id, body in bodies[start : start + WINDOW]
            )
        )


async def consume(channel: AbstractChannel, queue_name: str, expected: int) -> None:
    queue = await channel.get_queue(queue_name, ensure=False)
    done = asyncio.Event()
    seen = 0

    async def on_message(message: AbstractIncomingMessage) -> None:
        nonlocal seen
        await message.ack()
        seen += 1
        if seen >= expected:
            done.set()

    tag = await queue.consume(on_message)
    try:
        await asyncio.wait_for(done.wait(), CONSUME_TIMEOUT_S)
    except TimeoutError:
        raise SystemExit(
            f"{queue_name}: {seen} of {expected} documents within {CONSUME_TIMEOUT_S:.0f} s; "
            "the others were refused (see the dead-letter queue) or are stuck"
        ) from None
    finally:
        await queue.cancel(tag)


async def timed(
    connection: aio_pika.abc.AbstractConnection,
    start: Callable[[AbstractChannel], Awaitable[None]],
    bodies: list[tuple[str, bytes]],
    exchange: str,
    routing_key: str,
    out_queue: str,
    user_id: str,
) -> float:
    """Documents per second from the first publish to the last document consumed."""
    producer = await connection.channel(publisher_confirms=True)
    consumer = await connection.channel()
    await consumer.set_qos(prefetch_count=WINDOW)
    await start(producer)
    began = time.perf_counter()
    consuming = asyncio.create_task(consume(consumer, out_queue, len(bodies)))
    await produce(producer, exchange, routing_key, bodies, user_id)
    await consuming
    elapsed = time.perf_counter() - began
    await producer.close()
    await consumer.close()
    return len(bodies) / elapsed


async def plain_round(amqp_url: str, size: int, documents: int) -> Round:
    """The plain relay of ``runs.ceiling``, on messages of ``size`` bytes."""
    namespace = f"bench-plain-{uuid.uuid4().hex[:8]}"
    with Usage() as usage:
        result = await measure_ceiling(
            amqp_url, size, documents, DEFAULT_CONNECT_TIMEOUT_S, namespace=namespace
        )
    return Round(result.msgs_per_s, usage.cpu_ms_per(documents), usage.broker_ms_per(documents))


def hub_settings(amqp_url: str, folder: Path, workers: int) -> HubSettings:
    namespace = f"bench-hub-{uuid.uuid4().hex[:8]}"
    return HubSettings(
        amqp_url=amqp_url,
        namespace=namespace,
        ledger_url=f"sqlite:///{folder / namespace}.db",
        throughput_interval_s=3600,
        log_level="warning",
        workers=workers,
        trusted_users=(broker_user(amqp_url),),
        http_port=0,
        _env_file=None,
    )


async def hub_round(
    amqp_url: str,
    bodies: list[tuple[str, bytes]],
    directory: AgencyDirectory,
    folder: Path,
    workers: int,
) -> Round:
    hub = bench_hub(amqp_url, directory, folder, workers)
    connection = await aio_pika.connect(amqp_url)
    async with connection:

        async def start(_: AbstractChannel) -> None:
            await hub.start()

        try:
            with Usage() as usage:
                rate = await timed(
                    connection,
                    start,
                    bodies,
                    hub.names.ingress_exchange,
                    DOCUMENT_ROUTING_KEY,
                    hub.names.inbox_queue(RECIPIENT.id),
                    broker_user(amqp_url),
                )
            count = len(bodies)
            return Round(rate, usage.cpu_ms_per(count), usage.broker_ms_per(count))
        finally:
            await hub.stop()
            await delete_namespace(amqp_url, hub)


async def hub_alone_round(
    amqp_url: str,
    bodies: list[tuple[str, bytes]],
    directory: AgencyDirectory,
    folder: Path,
    workers: int,
) -> Round:
    hub = bench_hub(amqp_url, directory, folder, workers)
    try:
        return await hub_drain(hub, bodies)
    finally:
        await hub.stop()
        await delete_namespace(amqp_url, hub)


def bench_hub(amqp_url: str, directory: AgencyDirectory, folder: Path, workers: int) -> Hub:
    """A hub on a namespace and ledger of its own, not started."""
    settings = hub_settings(amqp_url, folder, workers)
    return Hub(settings, Registry(directory), HUB_KEY, connection_name="bench hub")


async def delete_namespace(amqp_url: str, hub: Hub) -> None:
    """The bench hub's namespace, deleted once the hub has stopped."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        await hub.topology.delete(await connection.channel(), hub.registry.agency_ids)


async def hub_drain(hub: Hub, bodies: list[tuple[str, bytes]]) -> Round:
    """The hub alone: the documents wait in its ingress queue before it starts, and the clock
    runs from its start until its recipient's inbox holds them all (polled, not consumed), so
    that the CPU of this process is the hub's. The hub is left running, its namespace declared."""
    amqp_url = hub.settings.amqp_url
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        setup = await connection.channel()
        await hub.topology.declare(setup, hub.registry.agency_ids)
        producer = await connection.channel(publisher_confirms=True)
        await produce(
            producer,
            hub.names.ingress_exchange,
            DOCUMENT_ROUTING_KEY,
            bodies,
            broker_user(amqp_url),
        )
        await producer.close()
        with Usage() as usage:
            began = time.perf_counter()
            await hub.start()
            async with asyncio.timeout(CONSUME_TIMEOUT_S):
                await _filled(setup, hub.names.inbox_queue(RECIPIENT.id), len(bodies))
            elapsed = time.perf_counter() - began
    count = len(bodies)
    return Round(count / elapsed, usage.cpu_ms_per(count), usage.broker_ms_per(count))


async def _filled(channel: AbstractChannel, queue: str, count: int) -> None:
    """Return once ``queue`` holds ``count`` messages (polled: the broker tells nobody)."""
    while True:
        declared = await channel.declare_queue(queue, passive=True)
        if (declared.declaration_result.message_count or 0) >= count:
            return
        await asyncio.sleep(0.02)


def directory_for(
    key: Ed25519PrivateKey, recipient_key: Ed25519PrivateKey | None = None
) -> AgencyDirectory:
    return AgencyDirectory(
        hub=HubEntry(public_key=public_key_to_text(HUB_KEY.public_key())),
        agencies=[
            AgencyEntry.for_key(SENDER.id, SENDER.name, AgencyKind.MINISTRY, key.public_key()),
            AgencyEntry.for_key(
                RECIPIENT.id,
                RECIPIENT.name,
                AgencyKind.PROVINCE,
                (recipient_key or Ed25519PrivateKey.generate()).public_key(),
            ),
        ],
    )


async def main(documents: int, rounds: int, amqp_url: str, workers: int) -> None:
    configure_logging("console", "warning")
    key = Ed25519PrivateKey.generate()
    directory = directory_for(key)
    size = len(signed_bodies(1, key)[0][1])
    plain: list[Round] = []
    routed: list[Round] = []
    alone: list[Round] = []
    with tempfile.TemporaryDirectory() as folder:
        for number in range(1, rounds + 1):
            plain.append(await plain_round(amqp_url, size, documents))
            routed.append(
                await hub_round(
                    amqp_url, signed_bodies(documents, key), directory, Path(folder), workers
                )
            )
            alone.append(
                await hub_alone_round(
                    amqp_url, signed_bodies(documents, key), directory, Path(folder), workers
                )
            )
            print(
                f"round {number}: plain relay {_shown(plain[-1])}, DocHub router "
                f"{_shown(routed[-1])}, {routed[-1].docs_per_s / plain[-1].docs_per_s:.2f}×; "
                f"the hub alone, draining its ingress queue: {_shown(alone[-1])}",
                flush=True,
            )
    ratios = [hub.docs_per_s / relay.docs_per_s for relay, hub in zip(plain, routed, strict=True)]
    print(
        f"median of {rounds} rounds of {documents:,} documents of {size} bytes "
        f"({asyncio.get_running_loop().__class__.__module__} loop, {workers} worker(s)): "
        f"plain relay {_shown(Round.median_of(plain))}; "
        f"DocHub router {_shown(Round.median_of(routed))}; "
        f"hub/plain {statistics.median(ratios):.2f}× (per round: "
        f"{', '.join(f'{ratio:.2f}' for ratio in ratios)}); "
        f"the hub alone, draining its ingress queue: {_shown(Round.median_of(alone))}"
    )


def _shown(figures: Round) -> str:
    return (
        f"{figures.docs_per_s:,.0f} docs/s (CPU per document: {figures.cpu_ms:.2f} ms here, "
        f"{figures.broker_ms:.2f} ms broker)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--amqp-url", default=DEFAULT_AMQP_URL)
    parser.add_argument(
        "--workers",
        type=int,
        default=HubSettings.model_fields["workers"].default,
        help="hub workers",
    )
    parser.add_argument(
        "--loop",
        choices=("uvloop", "asyncio"),
        default="uvloop",
        help="the event loop of both relays (uvloop: as the hub runs)",
    )
    arguments = parser.parse_args()
    if arguments.loop == "uvloop":
        install_uvloop()
    asyncio.run(main(arguments.documents, arguments.rounds, arguments.amqp_url, arguments.workers))
