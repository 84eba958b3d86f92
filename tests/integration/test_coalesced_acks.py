"""The client's coalesced acks (``agency_client.acks``): one frame for many handled deliveries,
never an ack for one not handled, none lost."""

import asyncio

from agency_client.acks import ACK_BATCH, ACK_DELAY_S
from agency_client.incoming import Delivery
from agency_client.subscription import Subscription
from hub.service import Hub
from tests.factories import make_envelope
from tests.integration.conftest import BrokerProbe, ClientFactory, FakeAgency
from tests.integration.waiting import NOTHING_MORE_S

DOCUMENTS = ACK_BATCH + 8


async def nothing_more(inbox: Subscription[Delivery]) -> bool:
    waiting: asyncio.Task[Delivery] = asyncio.create_task(anext(inbox))
    done, _ = await asyncio.wait({waiting}, timeout=NOTHING_MORE_S)
    waiting.cancel()
    return not done


async def test_deliveries_handled_out_of_order_are_each_acked_once(
    hub: Hub, agencies: list[FakeAgency], client_for: ClientFactory, probe: BrokerProbe
) -> None:
    """The first delivery is held while every later one is acked, then released: it alone comes
    back; once it is acked too, nothing comes back, to this client or to the next."""
    sender, recipient = await client_for(agencies[0]), await client_for(agencies[1])
    organ = sender.organ_of(recipient.agency_id)
    sent = [(await sender.send(make_envelope(sender.organ, [organ]))).model.id for _ in range(5)]
    async with recipient.inbox() as inbox:
        held = await asyncio.wait_for(anext(inbox), 10)
        sent += [
            (await sender.send(make_envelope(sender.organ, [organ]))).model.id
            for _ in range(DOCUMENTS - 5)
        ]
        others = [await asyncio.wait_for(anext(inbox), 10) for _ in range(DOCUMENTS - 1)]
        for delivery in others:
            await delivery.ack()
        await held.release()
        again = await asyncio.wait_for(anext(inbox), 10)
        assert (again.envelope.id, again.redelivered) == (held.envelope.id, True)
        await again.ack()
        assert await nothing_more(inbox), "an acked delivery came back"
    received = sorted(str(d.envelope.id) for d in [held, *others])
    assert received == sorted(str(document) for document in sent)

    inbox_queue = hub.names.inbox_queue(recipient.agency_id)
    assert await probe.depth(inbox_queue) == 0
    async with (await client_for(agencies[1])).inbox() as later:
        assert await nothing_more(later), "a delivery acked by the first client came back"


async def test_an_ack_goes_out_without_waiting_for_a_delivery_still_handled(
    hub: Hub, agencies: list[FakeAgency], client_for: ClientFactory, probe: BrokerProbe
) -> None:
    """Of two deliveries, the second is acked and the first held: the second's ack goes out by
    itself, within moments, and the first is not acked with it. The connection then drops
    without the subscription closing: only the first comes back."""
    sender, recipient = await client_for(agencies[0]), await client_for(agencies[1])
    organ = sender.organ_of(recipient.agency_id)
    for _ in range(2):
        await sender.send(make_envelope(sender.organ, [organ]))
    inbox = recipient.inbox()
    held = await asyncio.wait_for(anext(inbox), 10)
    acked = await asyncio.wait_for(anext(inbox), 10)
    await acked.ack()
    await asyncio.sleep(ACK_DELAY_S * 4)
    assert recipient._connection is not None
    await recipient._connection.close()  # no flush on the way: the subscription is not closed

    inbox_queue = hub.names.inbox_queue(recipient.agency_id)
    (back,) = await probe.get_many(inbox_queue, 1)
    assert back.message_id == str(held.envelope.id)
    assert await probe.depth(inbox_queue) == 0, "the acked delivery came back"
    await inbox.aclose()
