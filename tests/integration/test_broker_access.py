"""Broker-level identity against the real broker: users made by ``hub.provisioning`` on a namespace
of the test's own, its topology declared by the hub's ``Topology``, and real connections as
agency B. RabbitMQ itself must refuse B whatever is not B's to do.

What an agency user may do, as found here (RabbitMQ 3.10; configure ``^$``):
- passive declares need no permission at all: B may passively declare its own queues and the
  ingress exchange (which ``AgencyClient`` relies on), and also A's inbox, which tells B the
  queue exists and its message and consumer counts, nothing more;
- publishing to the ingress exchange needs write on it; the broker accepts a message with no
  ``user_id`` as well as one with B's own, and refuses one with anybody else's (406);
- consuming, getting and purging need read on the queue: B's own inbox and status queue only.
"""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractIncomingMessage
from aiormq.exceptions import ChannelAccessRefused, ChannelPreconditionFailed
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.management import ManagementClient, vhost_of
from hub.provisioning import CredentialsStore, apply, make_plan
from hub.topology import QueuePolicy, Topology, queue_depth
from schemas.naming import DOCUMENT_ROUTING_KEY, Names
from tests.integration.broker_users import management_url_for, remove_users, require_management

A, B = "000.00.00.G12", "000.00.00.H29"
TIMEOUT_S = 10.0
"""Bound on every connect and every broker step."""


@dataclass(frozen=True)
class Provisioned:
    names: Names
    store: CredentialsStore
    guest: AbstractChannel
    """A channel of the broker's administrator (the test URL's user), to look behind B's back."""

    def url(self, user: str) -> str:
        password = self.store.password(user)
        assert password is not None, user
        return self.store.url_for(user, password)

    def agency_url(self, agency_id: str) -> str:
        return self.url(self.names.agency_user(agency_id))

    async def depth(self, queue_name: str) -> int:
        return await queue_depth(self.guest, queue_name)


@pytest.fixture
async def provisioned(amqp_url: str, tmp_path: Path) -> AsyncIterator[Provisioned]:
    """Agencies A and B and the hub, each with its own user, on a fresh namespace; the users and
    the topology are removed afterwards, whatever the test did."""
    names = Names(f"t-{uuid.uuid4().hex[:8]}")
    management_url = management_url_for(amqp_url)
    await require_management(management_url)
    topology = Topology(names, QueuePolicy())
    connection = await aio_pika.connect(amqp_url, timeout=TIMEOUT_S)
    try:
        await topology.declare(await connection.channel(), [A, B])
        store = CredentialsStore(tmp_path / "credentials", amqp_url)
        async with ManagementClient(management_url) as management:
            existing = [user.name for user in await management.list_users()]
            plan = make_plan(names, [A, B], existing, vhost=vhost_of(amqp_url))
            await apply(plan, management, store)
        guest = await connection.channel(publisher_confirms=True)
        yield Provisioned(names, store, guest)
    finally:
        try:
            await remove_users(management_url, names)
        finally:
            async with connection:
                await topology.delete(await connection.channel(), [A, B])


@pytest.fixture
async def as_b(provisioned: Provisioned) -> AsyncIterator[AbstractConnection]:
    """A connection of agency B, with B's own user."""
    connection = await aio_pika.connect(provisioned.agency_url(B), timeout=TIMEOUT_S)
    async with connection:
        yield connection


T = TypeVar("T")


async def bounded(step: Awaitable[T]) -> T:
    return await asyncio.wait_for(step, TIMEOUT_S)


async def publish(
    channel: AbstractChannel, exchange: str, routing_key: str, user_id: str | None = None
) -> None:
    target = (
        channel.default_exchange
        if exchange == ""
        else await channel.get_exchange(exchange, ensure=False)
    )
    await bounded(
        target.publish(aio_pika.Message(b"{}", user_id=user_id), routing_key, mandatory=True)
    )


async def next_message(
    channel: AbstractChannel, queue_name: str, *, consume: bool
) -> AbstractIncomingMessage:
    """The next message of a queue, by consuming (basic.consume) or by basic.get."""
    queue = await channel.get_queue(queue_name, ensure=False)
    async with asyncio.timeout(TIMEOUT_S):
        if consume:
            async with queue.iterator() as messages:
                async for message in messages:
                    await message.ack()
                    return message
        while True:
            got = await queue.get(fail=False)
            if got is not None:
                await got.ack()
                return got
            await asyncio.sleep(0.05)
    raise AssertionError("unreachable")  # pragma: no cover


# What B may do


async def test_b_publishes_to_the_ingress_with_its_own_user_id(
    provisioned: Provisioned, as_b: AbstractConnection
) -> None:
    names = provisioned.names
    channel = await as_b.channel(publisher_confirms=True, on_return_raises=True)
    await publish(channel, names.ingress_exchange, DOCUMENT_ROUTING_KEY, names.agency_user(B))
    message = await next_message(provisioned.guest, names.ingress_queue, consume=False)
    assert message.user_id == names.agency_user(B)


async def test_the_broker_accepts_a_message_without_user_id(
    provisioned: Provisioned, as_b: AbstractConnection
) -> None:
    """The broker checks user_id only when a message carries one: the hub must treat a message
    without it as from nobody."""
    names = provisioned.names
    channel = await as_b.channel(publisher_confirms=True, on_return_raises=True)
    await publish(channel, names.ingress_exchange, DOCUMENT_ROUTING_KEY)
    message = await next_message(provisioned.guest, names.ingress_queue, consume=False)
    assert message.user_id is None


@pytest.mark.parametrize("queue_of", ["inbox_queue", "status_queue"])
@pytest.mark.parametrize("consume", [True, False], ids=["consume", "get"])
async def test_b_reads_its_own_inbox_and_status_queue(
    provisioned: Provisioned, as_b: AbstractConnection, queue_of: str, consume: bool
) -> None:
    names = provisioned.names
    exchange = names.delivery_exchange if queue_of == "inbox_queue" else names.status_exchange
    await publish(provisioned.guest, exchange, B)
    channel = await as_b.channel()
    message = await next_message(channel, getattr(names, queue_of)(B), consume=consume)
    assert message.body == b"{}"


async def test_b_may_passively_declare_what_the_client_checks(
    provisioned: Provisioned, as_b: AbstractConnection
) -> None:
    """``AgencyClient`` checks the hub's topology with passive declares: they need no permission,
    so configure ``^$`` does not stop them."""
    names = provisioned.names
    channel = await as_b.channel()
    await bounded(channel.declare_exchange(names.ingress_exchange, passive=True))
    for queue_name in (names.inbox_queue(B), names.status_queue(B)):
        await bounded(channel.declare_queue(queue_name, passive=True))


async def test_b_may_passively_declare_a_inbox_which_shows_only_its_counts(
    provisioned: Provisioned, as_b: AbstractConnection
) -> None:
    """A RabbitMQ fact to know: a passive declare is not checked against permissions, so B
    learns that A's inbox exists and how many messages wait in it, but cannot read them."""
    names = provisioned.names
    await publish(provisioned.guest, names.delivery_exchange, A)
    channel = await as_b.channel()
    queue = await bounded(channel.declare_queue(names.inbox_queue(A), passive=True))
    assert queue.declaration_result.message_count == 1
    with pytest.raises(ChannelAccessRefused):
        await bounded(queue.get(fail=False))
    assert await provisioned.depth(names.inbox_queue(A)) == 1


# What the broker refuses B

Step = Callable[[AbstractChannel, Names], Awaitable[object]]


async def _ignore(message: AbstractIncomingMessage) -> None:
    pass


async def _consume(channel: AbstractChannel, queue_name: str) -> object:
    queue = await channel.get_queue(queue_name, ensure=False)
    return await bounded(queue.consume(_ignore))


async def _get(channel: AbstractChannel, queue_name: str) -> object:
    queue = await channel.get_queue(queue_name, ensure=False)
    return await bounded(queue.get(fail=False))


async def _purge(channel: AbstractChannel, queue_name: str) -> object:
    queue = await channel.get_queue(queue_name, ensure=False)
    return await bounded(queue.purge())


async def _bind(channel: AbstractChannel, queue_name: str, exchange: str, key: str) -> object:
    queue = await channel.get_queue(queue_name, ensure=False)
    return await bounded(queue.bind(exchange, key))


REFUSED: dict[str, Step] = {
    "consume A's inbox": lambda ch, n: _consume(ch, n.inbox_queue(A)),
    "get from A's inbox": lambda ch, n: _get(ch, n.inbox_queue(A)),
    "consume A's status queue": lambda ch, n: _consume(ch, n.status_queue(A)),
    "consume the ingress queue": lambda ch, n: _consume(ch, n.ingress_queue),
    "consume the dead-letter queue": lambda ch, n: _consume(ch, n.dead_letter_queue),
    "purge A's inbox": lambda ch, n: _purge(ch, n.inbox_queue(A)),
    "publish to the delivery exchange": lambda ch, n: publish(ch, n.delivery_exchange, A),
    "publish to the status exchange": lambda ch, n: publish(ch, n.status_exchange, A),
    "publish to the dead-letter exchange": lambda ch, n: publish(ch, n.dead_letter_exchange, ""),
    "publish to A's inbox by the default exchange": lambda ch, n: publish(ch, "", n.inbox_queue(A)),
    "declare a queue in the namespace": lambda ch, n: bounded(
        ch.declare_queue(f"{n.namespace}.intruder", durable=True)
    ),
    "declare a queue outside it": lambda ch, n: bounded(ch.declare_queue("intruder")),
    "declare a server-named queue": lambda ch, n: bounded(ch.declare_queue(exclusive=True)),
    "declare an exchange": lambda ch, n: bounded(ch.declare_exchange(f"{n.namespace}.intruder")),
    "re-declare its own inbox": lambda ch, n: bounded(
        ch.declare_queue(n.inbox_queue(B), durable=True, arguments={"x-queue-type": "quorum"})
    ),
    "bind its inbox to A's deliveries": lambda ch, n: _bind(
        ch, n.inbox_queue(B), n.delivery_exchange, A
    ),
    "bind the ingress queue": lambda ch, n: _bind(ch, n.ingress_queue, "amq.fanout", ""),
    "delete A's inbox": lambda ch, n: bounded(ch.queue_delete(n.inbox_queue(A))),
    "delete its own inbox": lambda ch, n: bounded(ch.queue_delete(n.inbox_queue(B))),
    "delete the ingress queue": lambda ch, n: bounded(ch.queue_delete(n.ingress_queue)),
    "delete the ingress exchange": lambda ch, n: bounded(ch.exchange_delete(n.ingress_exchange)),
}


@pytest.mark.parametrize("step", list(REFUSED.values()), ids=list(REFUSED))
async def test_the_broker_refuses_b(
    provisioned: Provisioned, as_b: AbstractConnection, step: Step
) -> None:
    names = provisioned.names
    await publish(provisioned.guest, names.delivery_exchange, A)  # something for B to steal
    channel = await as_b.channel(publisher_confirms=True, on_return_raises=True)
    with pytest.raises(ChannelAccessRefused, match="ACCESS_REFUSED"):
        await step(channel, names)
    assert not as_b.is_closed  # only the channel is closed: a refusal is not a failure
    assert await provisioned.depth(names.inbox_queue(A)) == 1  # A's document is still there
    for queue_name in (names.inbox_queue(B), names.ingress_queue):
        assert await provisioned.depth(queue_name) == 0
    guest = provisioned.guest
    await bounded(guest.declare_exchange(names.ingress_exchange, passive=True))
    await bounded(guest.declare_queue(names.inbox_queue(B), passive=True))


@pytest.mark.parametrize("who", ["agency A", "the hub"])
async def test_the_broker_refuses_b_publishing_as_another_user(
    provisioned: Provisioned, as_b: AbstractConnection, who: str
) -> None:
    names = provisioned.names
    forged = names.agency_user(A) if who == "agency A" else names.hub_user
    channel = await as_b.channel(publisher_confirms=True, on_return_raises=True)
    with pytest.raises(ChannelPreconditionFailed, match="PRECONDITION_FAILED - user_id"):
        await publish(channel, names.ingress_exchange, DOCUMENT_ROUTING_KEY, forged)
    assert await provisioned.depth(names.ingress_queue) == 0


async def test_b_cannot_log_in_with_a_password_it_guessed(provisioned: Provisioned) -> None:
    names = provisioned.names
    url = provisioned.store.url_for(names.agency_user(A), "guessed")
    with pytest.raises(aio_pika.exceptions.ProbableAuthenticationError):
        await aio_pika.connect(url, timeout=TIMEOUT_S)


# The hub's own user


async def test_the_hub_user_runs_the_topology_of_its_namespace_only(
    provisioned: Provisioned,
) -> None:
    names = provisioned.names
    connection = await aio_pika.connect(provisioned.url(names.hub_user), timeout=TIMEOUT_S)
    async with connection:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        await bounded(Topology(names, QueuePolicy()).declare(channel, [A, B]))
        await publish(channel, names.delivery_exchange, A)
        await publish(channel, names.status_exchange, B)
        assert (await next_message(channel, names.inbox_queue(A), consume=True)).body == b"{}"
        assert (await next_message(channel, names.status_queue(B), consume=False)).body == b"{}"
        other = Names(f"{names.namespace}x")
        steps: list[Callable[[AbstractChannel], Awaitable[object]]] = [
            lambda ch: ch.declare_queue(other.ingress_queue, durable=True),
            lambda ch: ch.declare_exchange(other.ingress_exchange),
        ]
        for step in steps:
            with pytest.raises(ChannelAccessRefused):
                await bounded(step(await connection.channel()))


# Through AgencyClient (needs the client's ``user_id`` and ``AccessRefused``)


@pytest.fixture
def keys() -> dict[str, Ed25519PrivateKey]:
    return {agency_id: Ed25519PrivateKey.generate() for agency_id in (A, B)}


async def test_agency_client_sends_as_its_own_user(
    provisioned: Provisioned, keys: dict[str, Ed25519PrivateKey]
) -> None:
    from agency_client import AgencyClient
    from tests.factories import directory_of, make_envelope

    names = provisioned.names
    client = AgencyClient(
        B,
        keys[B],
        directory_of(keys),
        amqp_url=provisioned.agency_url(B),
        namespace=names.namespace,
    )
    async with asyncio.timeout(TIMEOUT_S * 2), client:
        await client.send(make_envelope(client.organ, [client.organ_of(A)]))
    message = await next_message(provisioned.guest, names.ingress_queue, consume=False)
    assert message.user_id == names.agency_user(B)


async def test_agency_client_with_a_forged_user_id_is_refused(
    provisioned: Provisioned, keys: dict[str, Ed25519PrivateKey]
) -> None:
    from agency_client import AgencyClient
    from agency_client.errors import AccessRefused
    from tests.factories import directory_of, make_envelope

    names = provisioned.names
    client = AgencyClient(
        B,
        keys[B],
        directory_of(keys),
        amqp_url=provisioned.agency_url(B),
        namespace=names.namespace,
        user_id=names.agency_user(A),
    )
    async with asyncio.timeout(TIMEOUT_S * 2), client:
        with pytest.raises(AccessRefused):
            await client.send(make_envelope(client.organ, [client.organ_of(A)]))
    assert await provisioned.depth(names.ingress_queue) == 0


async def test_agency_client_cannot_read_another_agency_inbox(
    provisioned: Provisioned, keys: dict[str, Ed25519PrivateKey]
) -> None:
    """B's user, posing as agency A in the client: the broker refuses A's inbox."""
    from agency_client import AgencyClient
    from agency_client.errors import AccessRefused
    from tests.factories import directory_of

    names = provisioned.names
    client = AgencyClient(
        A,
        keys[A],
        directory_of(keys),
        amqp_url=provisioned.agency_url(B),
        namespace=names.namespace,
        user_id=names.agency_user(B),
    )
    async with asyncio.timeout(TIMEOUT_S * 2), client:
        with pytest.raises(AccessRefused):
            await anext(aiter(client.inbox()))
