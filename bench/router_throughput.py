"""Router throughput: the hub against a plain aio-pika relay, measured in the same run.

Both relays sit between the same producer and consumer, on the same broker, with quorum queues:

- **plain**: consume a queue, publish each message on with a publisher confirm, then ack it;
- **hub**: the DocHub router, which also parses, checks the signature, writes the ledger and
  stamps its hop before it publishes and acks.

Documents are signed before the clock starts, so the producer's cost is the same for both; the
consumer only counts and acks. Rounds alternate plain and hub so that the noise of a shared machine
falls on both. Run it with ``python bench/router_throughput.py --documents 5000 --rounds 3``.
"""

import argparse
import asyncio
import datetime as dt
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage
from aiormq.abc import FieldTable
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dochub.logging import configure_logging
from hub.registry import Registry
from hub.service import Hub
from hub.settings import DEFAULT_AMQP_URL, HubSettings
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
from schemas.urls import broker_user

SENDER = Organ(id="000.00.00.G12", name="Bộ Nội vụ")
RECIPIENT = Organ(id="000.00.00.H29", name="Ủy ban nhân dân thành phố Hà Nội")
WINDOW = 512
HUB_KEY = Ed25519PrivateKey.generate()
CONSUME_TIMEOUT_S = 300.0


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


async def plain_round(amqp_url: str, bodies: list[tuple[str, bytes]]) -> float:
    name = f"bench-plain-{uuid.uuid4().hex[:8]}"
    arguments: FieldTable = {"x-queue-type": "quorum"}
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        setup = await connection.channel()
        source = await setup.declare_queue(f"{name}.in", durable=True, arguments=arguments)
        await setup.declare_queue(f"{name}.out", durable=True, arguments=arguments)
        relay = await connection.channel(publisher_confirms=True)
        await relay.set_qos(prefetch_count=256)

        async def forward(message: AbstractIncomingMessage) -> None:
            await relay.default_exchange.publish(
                aio_pika.Message(
                    message.body,
                    content_type=message.content_type,
                    message_id=message.message_id,
                    type=message.type,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                f"{name}.out",
                mandatory=True,
            )
            await message.ack()

        relay_queue = await relay.get_queue(source.name, ensure=False)
        tags: list[str] = []

        async def start(_: AbstractChannel) -> None:
            tags.append(await relay_queue.consume(forward))

        try:
            return await timed(
                connection, start, bodies, "", f"{name}.in", f"{name}.out", broker_user(amqp_url)
            )
        finally:
            for tag in tags:
                await relay_queue.cancel(tag)
            await setup.queue_delete(f"{name}.in")
            await setup.queue_delete(f"{name}.out")


async def hub_round(
    amqp_url: str,
    bodies: list[tuple[str, bytes]],
    directory: AgencyDirectory,
    folder: Path,
    workers: int,
) -> float:
    namespace = f"bench-hub-{uuid.uuid4().hex[:8]}"
    settings = HubSettings(
        amqp_url=amqp_url,
        namespace=namespace,
        ledger_url=f"sqlite:///{folder / namespace}.db",
        throughput_interval_s=3600,
        log_level="warning",
        workers=workers,
        trusted_users=(broker_user(amqp_url),),
        _env_file=None,
    )
    registry = Registry(directory)
    hub = Hub(settings, registry, HUB_KEY, connection_name="bench hub")
    connection = await aio_pika.connect(amqp_url)
    async with connection:

        async def start(_: AbstractChannel) -> None:
            await hub.start()

        try:
            return await timed(
                connection,
                start,
                bodies,
                hub.names.ingress_exchange,
                DOCUMENT_ROUTING_KEY,
                hub.names.inbox_queue(RECIPIENT.id),
                broker_user(amqp_url),
            )
        finally:
            await hub.stop()
            await hub.topology.delete(await connection.channel(), registry.agency_ids)


def directory_for(key: Ed25519PrivateKey) -> AgencyDirectory:
    return AgencyDirectory(
        hub=HubEntry(public_key=public_key_to_text(HUB_KEY.public_key())),
        agencies=[
            AgencyEntry.for_key(SENDER.id, SENDER.name, AgencyKind.MINISTRY, key.public_key()),
            AgencyEntry.for_key(
                RECIPIENT.id,
                RECIPIENT.name,
                AgencyKind.PROVINCE,
                Ed25519PrivateKey.generate().public_key(),
            ),
        ],
    )


async def main(documents: int, rounds: int, amqp_url: str, workers: int) -> None:
    configure_logging("console", "warning")
    key = Ed25519PrivateKey.generate()
    directory = directory_for(key)
    plain: list[float] = []
    routed: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        for number in range(1, rounds + 1):
            plain.append(await plain_round(amqp_url, signed_bodies(documents, key)))
            routed.append(
                await hub_round(
                    amqp_url, signed_bodies(documents, key), directory, Path(folder), workers
                )
            )
            print(
                f"round {number}: plain aio-pika relay {plain[-1]:,.0f} docs/s, "
                f"DocHub router {routed[-1]:,.0f} docs/s ({routed[-1] / plain[-1]:.2f}×)",
                flush=True,
            )
    best_plain, best_hub = statistics.median(plain), statistics.median(routed)
    print(
        f"median of {rounds} rounds of {documents:,} documents: plain {best_plain:,.0f} docs/s, "
        f"hub {best_hub:,.0f} docs/s, hub/plain = {best_hub / best_plain:.2f}"
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
    arguments = parser.parse_args()
    asyncio.run(main(arguments.documents, arguments.rounds, arguments.amqp_url, arguments.workers))
