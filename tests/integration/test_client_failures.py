"""What an agency sees when things go wrong between it and the hub: typed errors, never raw
AMQP ones, and reconnection by itself when the network comes back."""

import asyncio
import socket

import aio_pika
import pytest

from agency_client import (
    AgencyClient,
    BrokerUnavailable,
    DocumentRefused,
    DocumentUnroutable,
    NotProvisioned,
)
from hub.topology import QueuePolicy, Topology
from schemas import AgencyDirectory, Names
from tests.factories import make_envelope
from tests.integration.conftest import BrokerProbe, ClientFactory, FakeAgency, HubFactory
from tests.integration.tcp_proxy import TcpProxy


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"amqp://guest:guest@127.0.0.1:{port}/"


def _client(
    agency: FakeAgency, directory: AgencyDirectory, url: str, namespace: str, **options: float
) -> AgencyClient:
    return AgencyClient(
        agency.id, agency.key, directory, amqp_url=url, namespace=namespace, **options
    )


async def test_connect_without_a_broker_raises_broker_unavailable(
    agencies: list[FakeAgency], directory: AgencyDirectory, namespace: str
) -> None:
    client = _client(agencies[0], directory, _closed_port_url(), namespace)
    with pytest.raises(BrokerUnavailable, match="cannot reach RabbitMQ") as raised:
        await asyncio.wait_for(client.connect(), 30)
    assert raised.value.agency_id == agencies[0].id
    assert "guest:guest" not in str(raised.value), "the password must not be printed"


async def test_connect_to_a_namespace_without_a_hub_raises_not_provisioned(
    agencies: list[FakeAgency], directory: AgencyDirectory, amqp_url: str, namespace: str
) -> None:
    client = _client(agencies[0], directory, amqp_url, namespace)
    with pytest.raises(NotProvisioned, match=f"is a hub running on namespace '{namespace}'"):
        await client.connect()


async def test_sending_where_no_queue_is_bound_raises_document_unroutable(
    agencies: list[FakeAgency],
    directory: AgencyDirectory,
    amqp_url: str,
    namespace: str,
    broker_cleanup: None,
    probe: BrokerProbe,
) -> None:
    await probe.channel.declare_exchange(
        Names(namespace).ingress_exchange, aio_pika.ExchangeType.DIRECT, durable=True
    )
    async with _client(agencies[0], directory, amqp_url, namespace) as client:
        envelope = make_envelope(client.organ, [client.organ_of(agencies[1].id)])
        with pytest.raises(DocumentUnroutable, match="could not route") as raised:
            await client.send(envelope)
    assert raised.value.document_id == str(envelope.id)


async def test_a_full_ingress_queue_refuses_the_document(
    agencies: list[FakeAgency],
    directory: AgencyDirectory,
    amqp_url: str,
    namespace: str,
    broker_cleanup: None,
    probe: BrokerProbe,
) -> None:
    topology = Topology(Names(namespace), QueuePolicy(ingress_max_length=1))
    await topology.declare(probe.channel, [agency.id for agency in agencies])
    async with _client(agencies[0], directory, amqp_url, namespace) as client:
        recipients = [client.organ_of(agencies[1].id)]
        accepted = 0

        async def send_five() -> None:
            nonlocal accepted
            for _ in range(5):
                await client.send(make_envelope(client.organ, recipients))
                accepted += 1

        with pytest.raises(DocumentRefused, match="ingress queue is full") as raised:
            await send_five()
    assert raised.value.agency_id == agencies[0].id
    assert 1 <= accepted <= 2  # a quorum queue takes one message over its limit, then refuses
    waiting = await probe.get_many(Names(namespace).ingress_queue, accepted)
    assert len({message.message_id for message in waiting}) == accepted


async def test_send_gives_up_with_broker_unavailable_when_the_broker_stays_away(
    agencies: list[FakeAgency], directory: AgencyDirectory, amqp_url: str, hub_factory: HubFactory
) -> None:
    hub = await hub_factory()
    async with TcpProxy(amqp_url) as proxy:
        client = _client(agencies[0], directory, proxy.url, hub.names.namespace, send_timeout_s=2.0)
        async with client:
            envelope = make_envelope(client.organ, [client.organ_of(agencies[1].id)])
            proxy.refusing = True
            await proxy.sever()
            with pytest.raises(BrokerUnavailable, match=r"did not confirm within 2\.0s"):
                await asyncio.wait_for(client.send(envelope), 20)


async def test_the_client_reconnects_and_its_inbox_goes_on(
    agencies: list[FakeAgency],
    directory: AgencyDirectory,
    amqp_url: str,
    hub_factory: HubFactory,
    client_for: ClientFactory,
) -> None:
    hub = await hub_factory()
    sender = await client_for(agencies[0])
    async with TcpProxy(amqp_url) as proxy:
        recipient = _client(
            agencies[1], directory, proxy.url, hub.names.namespace, reconnect_interval_s=0.5
        )
        async with recipient, recipient.inbox() as inbox:
            organ = sender.organ_of(agencies[1].id)
            first = await sender.send(make_envelope(sender.organ, [organ]))
            delivery = await asyncio.wait_for(anext(inbox), 10)
            assert delivery.envelope.id == first.model.id
            await delivery.ack()

            await proxy.sever()
            second = await sender.send(make_envelope(sender.organ, [organ]))
            delivery = await asyncio.wait_for(anext(inbox), 30)
            assert delivery.envelope.id == second.model.id
            await delivery.ack()

            await proxy.sever()
            third = await recipient.send(
                make_envelope(recipient.organ, [recipient.organ_of(agencies[0].id)])
            )
    async with sender.inbox() as inbox:
        delivery = await asyncio.wait_for(anext(inbox), 10)
        assert delivery.envelope.id == third.model.id
        await delivery.ack()
    totals = await hub.ledger.totals()
    assert (totals.accepted, totals.routed, totals.deliveries) == (3, 3, 3)


async def test_the_hub_reconnects_and_routes_what_came_while_it_was_away(
    agencies: list[FakeAgency], amqp_url: str, hub_factory: HubFactory, client_for: ClientFactory
) -> None:
    async with TcpProxy(amqp_url) as proxy:
        hub = await hub_factory(amqp_url=proxy.url, reconnect_interval_s=0.5)
        sender = await client_for(agencies[0])
        recipient = await client_for(agencies[1])
        organ = sender.organ_of(agencies[1].id)
        before = await sender.send(make_envelope(sender.organ, [organ]))

        proxy.refusing = True
        await proxy.sever()
        during = [await sender.send(make_envelope(sender.organ, [organ])) for _ in range(5)]
        proxy.refusing = False

        expected = {before.model.id, *(sent.model.id for sent in during)}
        received = set()
        async with recipient.inbox() as inbox:
            while received != expected:
                delivery = await asyncio.wait_for(anext(inbox), 30)
                received.add(delivery.envelope.id)
                await delivery.ack()
        totals = await hub.ledger.totals()
        assert (totals.accepted, totals.deliveries) == (6, 6)
        assert not totals.imbalances()
        await hub.stop()
