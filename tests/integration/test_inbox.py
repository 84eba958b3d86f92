"""An agency's inbox: what it hands over, what it keeps back, and how a delivery is settled."""

import asyncio

from hub.service import Hub
from schemas import sign
from tests.factories import make_envelope
from tests.integration.conftest import BrokerProbe, ClientFactory, FakeAgency
from tests.integration.waiting import NOTHING_MORE_S


async def test_a_released_delivery_comes_back_and_an_acked_one_does_not(
    hub: Hub, agencies: list[FakeAgency], client_for: ClientFactory
) -> None:
    sender, recipient = await client_for(agencies[0]), await client_for(agencies[1])
    sent = await sender.send(make_envelope(sender.organ, [sender.organ_of(recipient.agency_id)]))
    async with recipient.inbox() as inbox:
        first = await asyncio.wait_for(anext(inbox), 10)
        assert (first.envelope.id, first.redelivered) == (sent.id, False)
        await first.release()

        again = await asyncio.wait_for(anext(inbox), 10)
        assert (again.envelope.id, again.redelivered) == (sent.id, True)
        await again.ack()
        nothing: asyncio.Task[object] = asyncio.create_task(anext(inbox))
        done, _ = await asyncio.wait({nothing}, timeout=NOTHING_MORE_S)
        nothing.cancel()
        assert not done, "an acked delivery came back"


async def test_a_rejected_delivery_goes_to_the_dead_letter_queue(
    hub: Hub, agencies: list[FakeAgency], client_for: ClientFactory, probe: BrokerProbe
) -> None:
    sender, recipient = await client_for(agencies[0]), await client_for(agencies[1])
    sent = await sender.send(make_envelope(sender.organ, [sender.organ_of(recipient.agency_id)]))
    async with recipient.inbox() as inbox:
        delivery = await asyncio.wait_for(anext(inbox), 10)
        await delivery.reject()
    dead = await probe.get(hub.names.dead_letter_queue)
    assert dead.message_id == str(sent.id)


async def test_the_inbox_keeps_back_what_does_not_verify_and_hands_over_what_does(
    hub: Hub, agencies: list[FakeAgency], client_for: ClientFactory, probe: BrokerProbe
) -> None:
    """Only the hub writes to an inbox, but the client trusts signatures, not queues."""
    sender, recipient = await client_for(agencies[0]), await client_for(agencies[1])
    organ = sender.organ_of(recipient.agency_id)
    inbox_queue = hub.names.inbox_queue(recipient.agency_id)
    forged = sign(make_envelope(sender.organ, [organ]), agencies[2].key)  # another agency's key
    tampered = sign(make_envelope(sender.organ, [organ]), agencies[0].key).model_copy(
        update={"subject": "Nội dung đã bị sửa"}
    )
    not_ours = [sender.organ_of(agencies[3].id)]
    elsewhere = sign(make_envelope(sender.organ, not_ours), agencies[0].key)
    for envelope in (forged, tampered, elsewhere):
        await probe.publish_to_queue(inbox_queue, envelope.model_dump_json().encode())
    await probe.publish_to_queue(inbox_queue, b"not json at all")
    genuine = await sender.send(make_envelope(sender.organ, [organ]))

    async with recipient.inbox() as inbox:
        delivery = await asyncio.wait_for(anext(inbox), 10)
        assert delivery.envelope.id == genuine.id
        await delivery.ack()
    dead = await probe.get_many(hub.names.dead_letter_queue, 4)
    assert len(dead) == 4
