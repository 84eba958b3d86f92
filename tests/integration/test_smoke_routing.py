import asyncio

from hub.service import Hub
from schemas import StatusCode
from tests.factories import make_envelope
from tests.integration.conftest import ClientFactory, FakeAgency


async def test_one_document_reaches_its_recipient_and_the_receipt_comes_back(
    hub: Hub, agencies: list[FakeAgency], client_for: ClientFactory
) -> None:
    sender_agency, recipient_agency = agencies[1], agencies[2]
    sender = await client_for(sender_agency)
    recipient = await client_for(recipient_agency)

    sent = await sender.send(make_envelope(sender.organ, [sender.organ_of(recipient_agency.id)]))

    async with recipient.inbox() as inbox:
        delivery = await asyncio.wait_for(anext(inbox), 10)
        assert delivery.envelope.id == sent.id
        assert [hop.node for hop in delivery.envelope.trace] == [
            sender_agency.id,
            f"hub:{hub.names.namespace}",
        ]
        await recipient.send_status(delivery.envelope, StatusCode.ARRIVED)
        await delivery.ack()

    async with sender.statuses() as statuses:
        update = await asyncio.wait_for(anext(statuses), 10)
        assert update.receipt.document.id == sent.id
        assert update.receipt.code is StatusCode.ARRIVED
        assert update.receipt.responder is not None
        assert update.receipt.responder.id == recipient_agency.id
        await update.ack()
