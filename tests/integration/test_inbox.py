"""An agency's inbox: what it hands over, what it keeps back, and how a delivery is settled."""

import asyncio
from pathlib import Path

from agency_client import AgencyClient
from hub.service import Hub
from schemas import sign_document
from schemas.stamp import STAMP_HEADER
from tests.factories import make_envelope, payload_of
from tests.integration.conftest import BrokerProbe, ClientFactory, FakeAgency
from tests.integration.waiting import NOTHING_MORE_S


async def test_a_released_delivery_comes_back_and_an_acked_one_does_not(
    hub: Hub, agencies: list[FakeAgency], client_for: ClientFactory
) -> None:
    sender, recipient = await client_for(agencies[0]), await client_for(agencies[1])
    sent = (
        await sender.send(make_envelope(sender.organ, [sender.organ_of(recipient.agency_id)]))
    ).model
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
    sent = (
        await sender.send(make_envelope(sender.organ, [sender.organ_of(recipient.agency_id)]))
    ).model
    async with recipient.inbox() as inbox:
        delivery = await asyncio.wait_for(anext(inbox), 10)
        await delivery.reject()
    dead = await probe.get(hub.names.dead_letter_queue)
    assert dead.message_id == str(sent.id)


async def test_the_inbox_keeps_back_what_does_not_verify_and_hands_over_what_does(
    hub: Hub, agencies: list[FakeAgency], client_for: ClientFactory, probe: BrokerProbe
) -> None:
    """The client trusts the hub's stamp and the sender's signature, not the queue: a document
    the hub never routed, or one whose stamp or signature does not check out, is rejected."""
    sender, recipient = await client_for(agencies[0]), await client_for(agencies[1])
    organ = sender.organ_of(recipient.agency_id)
    inbox_queue = hub.names.inbox_queue(recipient.agency_id)

    # A genuine delivery, captured from the inbox with its stamp: the material to forge from.
    captured = await sender.send(make_envelope(sender.organ, [organ]))
    routed = await probe.get(inbox_queue)
    stamp = dict(routed.headers)
    assert STAMP_HEADER in stamp

    other = sign_document(make_envelope(sender.organ, [organ]), agencies[0].key)
    forged = sign_document(make_envelope(sender.organ, [organ]), agencies[2].key)
    not_ours = sign_document(
        make_envelope(sender.organ, [sender.organ_of(agencies[3].id)]), agencies[0].key
    )
    tampered = routed.body.replace(b'"payload":"', b'"payload":"e30', 1)
    for body, headers in (
        (other.body, None),  # validly signed, but never routed by the hub: no stamp
        (other.body, stamp),  # a stamp about other bytes
        (forged.body, None),
        (not_ours.body, None),
        (tampered, stamp),
        (b"not json at all", stamp),
    ):
        await probe.publish_to_queue(inbox_queue, body, headers)
    genuine = await sender.send(make_envelope(sender.organ, [organ]))

    async with recipient.inbox() as inbox:
        delivery = await asyncio.wait_for(anext(inbox), 10)
        assert delivery.envelope.id == genuine.model.id
        await delivery.ack()
    dead = await probe.get_many(hub.names.dead_letter_queue, 6)
    assert len(dead) == 6
    assert payload_of(routed.body, type(captured.model)).id == captured.model.id


async def test_a_document_acked_before_a_restart_is_not_accepted_after_it(
    hub: Hub,
    agencies: list[FakeAgency],
    client_for: ClientFactory,
    probe: BrokerProbe,
    tmp_path: Path,
    amqp_url: str,
) -> None:
    """A captured delivery, stamp and all, put back in the inbox after the client restarted, is
    dropped: the client keeps the ids it handled in its state file."""
    sender = await client_for(agencies[0])
    organ = sender.organ_of(agencies[1].id)
    state = tmp_path / "state.sqlite"

    def recipient_client() -> AgencyClient:
        return AgencyClient(
            agencies[1].id,
            agencies[1].key,
            sender.directory,
            amqp_url=amqp_url,
            namespace=hub.names.namespace,
            state_path=state,
        )

    sent = await sender.send(make_envelope(sender.organ, [organ]))
    inbox_queue = hub.names.inbox_queue(agencies[1].id)
    async with recipient_client() as first_run, first_run.inbox() as inbox:
        delivery = await asyncio.wait_for(anext(inbox), 10)
        assert delivery.envelope.id == sent.model.id
        await delivery.ack()
    captured_body, captured_headers = delivery.signed.body, delivery.headers
    assert STAMP_HEADER in captured_headers

    await probe.publish_to_queue(inbox_queue, captured_body, captured_headers)
    later = await sender.send(make_envelope(sender.organ, [organ]))
    async with recipient_client() as second_run, second_run.inbox() as inbox:
        delivery = await asyncio.wait_for(anext(inbox), 10)
        assert delivery.envelope.id == later.model.id  # the replayed capture was dropped
        await delivery.ack()
    await asyncio.sleep(NOTHING_MORE_S)
    assert await probe.depth(inbox_queue) == 0
