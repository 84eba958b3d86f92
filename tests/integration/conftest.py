"""Fixtures for tests against a real RabbitMQ: agencies with keys, a running hub on a namespace of
its own, and connected clients. Everything a test declares is deleted after it."""

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aio_pika
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agency_client import AgencyClient
from hub.registry import Registry
from hub.service import Hub
from hub.settings import HubSettings
from hub.topology import QueuePolicy, Topology
from schemas import AgencyDirectory, AgencyEntry, AgencyKind, Names, public_key_to_text


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
        agencies=[
            AgencyEntry(
                id=agency.id,
                name=agency.name,
                kind=kinds[agency.id],
                public_key=public_key_to_text(agency.key.public_key()),
            )
            for agency in agencies
        ]
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


@pytest.fixture
async def hub(
    hub_settings: HubSettings,
    directory: AgencyDirectory,
    broker_cleanup: None,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Hub]:
    running = Hub(hub_settings, Registry(directory), connection_name=f"hub {request.node.nodeid}")
    await running.start()
    yield running
    await running.stop()


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
