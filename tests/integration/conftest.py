"""Fixtures for tests against a real RabbitMQ: agencies with keys, a running hub on a namespace of
its own, and connected clients. Everything a test declares is deleted after it."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agency_client import AgencyClient
from hub.registry import Registry
from hub.service import Hub
from hub.settings import HubSettings
from hub.topology import QueuePolicy, Topology, queue_depth
from schemas import AgencyDirectory, AgencyEntry, AgencyKind, Names
from schemas.naming import DOCUMENT_ROUTING_KEY, JWS_CONTENT_TYPE
from schemas.urls import broker_user
from tests.factories import HUB_KEY, hub_entry


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration/" in item.nodeid:
            item.add_marker(pytest.mark.integration)


@dataclass(frozen=True)
class FakeAgency:
    id: str
    name: str
    key: Ed25519PrivateKey


AGENCIES = [
    ("000.00.00.G01", "Văn phòng Chính phủ", AgencyKind.GOVERNMENT_AGENCY),
    ("000.00.00.G12", "Bộ Nội vụ", AgencyKind.MINISTRY),
    ("000.00.00.H29", "UBND thành phố Hà Nội", AgencyKind.PROVINCE),
    ("000.00.00.H58", "UBND Thành phố Hồ Chí Minh", AgencyKind.PROVINCE),
]


@pytest.fixture
def agencies() -> list[FakeAgency]:
    return [FakeAgency(id, name, Ed25519PrivateKey.generate()) for id, name, _ in AGENCIES]


@pytest.fixture
def directory(agencies: list[FakeAgency]) -> AgencyDirectory:
    kinds = {id: kind for id, _, kind in AGENCIES}
    return AgencyDirectory(
        hub=hub_entry(),
        agencies=[
            AgencyEntry.for_key(agency.id, agency.name, kinds[agency.id], agency.key.public_key())
            for agency in agencies
        ],
    )


@pytest.fixture
def namespace(request: pytest.FixtureRequest) -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def hub_settings(amqp_url: str, namespace: str, tmp_path: Path) -> HubSettings:
    return HubSettings(
        amqp_url=amqp_url,
        namespace=namespace,
        ledger_url=f"sqlite:///{tmp_path / 'ledger.db'}",
        throughput_interval_s=60.0,
        workers=2,  # competing consumers, so that the tests see them race
        trusted_users=(broker_user(amqp_url),),
        http_port=0,  # a free port: hubs of parallel runs and restarts never meet
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
async def broker_cleanup(
    amqp_url: str, namespace: str, directory: AgencyDirectory
) -> AsyncIterator[None]:
    """Delete the namespace's topology after the test, whatever declared it."""
    yield
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        await Topology(Names(namespace), QueuePolicy()).delete(
            channel, [entry.id for entry in directory.agencies]
        )


HubFactory = Callable[..., Awaitable[Hub]]


@pytest.fixture
async def hub_factory(
    hub_settings: HubSettings,
    directory: AgencyDirectory,
    broker_cleanup: None,
    request: pytest.FixtureRequest,
) -> AsyncIterator[HubFactory]:
    """Started hubs on the test's namespace and ledger, stopped after the test (if still running).
    Keyword arguments override settings: ``await hub_factory(workers=1)``; ``with_directory=``
    gives the hub another directory than the test's."""
    started: list[Hub] = []

    async def start(with_directory: AgencyDirectory | None = None, **overrides: object) -> Hub:
        settings = hub_settings.model_copy(update=overrides)
        running = Hub(
            settings,
            Registry(with_directory or directory),
            HUB_KEY,
            connection_name=f"hub {request.node.nodeid}",
        )
        await running.start()
        started.append(running)
        return running

    yield start
    for running in started:
        await running.stop()


@pytest.fixture
async def hub(hub_factory: HubFactory) -> Hub:
    return await hub_factory()


ClientFactory = Callable[[FakeAgency], Awaitable[AgencyClient]]


@pytest.fixture
async def client_for(
    amqp_url: str,
    namespace: str,
    directory: AgencyDirectory,
    request: pytest.FixtureRequest,
) -> AsyncIterator[ClientFactory]:
    """Connected clients, one per call, closed after the test."""
    opened: list[AgencyClient] = []

    async def connect(agency: FakeAgency) -> AgencyClient:
        client = AgencyClient(
            agency.id,
            agency.key,
            directory,
            amqp_url=amqp_url,
            namespace=namespace,
            connection_name=f"{agency.id} {request.node.nodeid}",
            send_timeout_s=10.0,
        )
        await client.connect()
        opened.append(client)
        return client

    yield connect
    for client in opened:
        await client.close()


class BrokerProbe:
    """Raw access to the test's namespace, beside the hub and the clients: publish any bytes to
    the ingress, read any queue."""

    def __init__(self, channel: AbstractChannel, names: Names, user: str) -> None:
        self.channel = channel
        self.names = names
        self.user = user

    async def publish_ingress(
        self,
        body: bytes,
        routing_key: str = DOCUMENT_ROUTING_KEY,
        headers: dict[str, object] | None = None,
    ) -> None:
        """Publish as the tests' broker user, which the tests' hubs trust for any agency."""
        exchange = await self.channel.get_exchange(self.names.ingress_exchange, ensure=False)
        await exchange.publish(
            aio_pika.Message(
                body, headers=headers, content_type=JWS_CONTENT_TYPE, user_id=self.user
            ),
            routing_key,
            mandatory=True,
        )

    async def publish_to_queue(
        self, queue_name: str, body: bytes, headers: dict[str, object] | None = None
    ) -> None:
        await self.channel.default_exchange.publish(
            aio_pika.Message(body, headers=headers, content_type=JWS_CONTENT_TYPE),
            queue_name,
            mandatory=True,
        )

    async def get(self, queue_name: str, within_s: float = 10.0) -> AbstractIncomingMessage:
        """The next message of a queue, acked; fails the test if none comes within ``within_s``."""
        messages = await self.get_many(queue_name, 1, within_s)
        return messages[0]

    async def get_many(
        self, queue_name: str, count: int, within_s: float = 10.0
    ) -> list[AbstractIncomingMessage]:
        queue = await self.channel.get_queue(queue_name, ensure=False)
        deadline = time.monotonic() + within_s
        messages: list[AbstractIncomingMessage] = []
        while len(messages) < count:
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"{queue_name}: {len(messages)} of {count} messages within {within_s}s"
                    )
                await asyncio.sleep(0.05)
                continue
            await message.ack()
            messages.append(message)
        return messages

    async def depth(self, queue_name: str) -> int:
        """Messages ready in the queue now."""
        return await queue_depth(self.channel, queue_name)


@pytest.fixture
async def probe(
    amqp_url: str, namespace: str, request: pytest.FixtureRequest
) -> AsyncIterator[BrokerProbe]:
    connection: AbstractRobustConnection = await aio_pika.connect_robust(
        amqp_url, client_properties={"connection_name": f"probe {request.node.nodeid}"}
    )
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        yield BrokerProbe(channel, Names(namespace), broker_user(amqp_url))
