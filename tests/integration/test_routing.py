"""Routing against a real RabbitMQ: one recipient, several recipients (one publish with the CC
header), receipts back to the sender only, and many documents at once, with the ledger's books
balanced after each."""

import asyncio
import json
from collections import Counter
from uuid import UUID

from agency_client import AgencyClient
from hub.service import Hub
from schemas import Envelope, StatusCode, StatusReceipt
from schemas.jws import b64url_decode, thumbprint
from tests.factories import make_envelope, payload_of
from tests.integration.conftest import BrokerProbe, ClientFactory, FakeAgency
from tests.integration.waiting import NOTHING_MORE_S, settled_totals


async def test_one_recipient_gets_the_verified_document_and_the_sender_its_receipts(
    hub: Hub, agencies: list[FakeAgency], client_for: ClientFactory
) -> None:
    sender_agency, recipient_agency = agencies[0], agencies[1]
    sender = await client_for(sender_agency)
    recipient = await client_for(recipient_agency)

    signed = await sender.send(make_envelope(sender.organ, [sender.organ_of(recipient_agency.id)]))
    sent = signed.model

    async with recipient.inbox() as inbox:
        delivery = await asyncio.wait_for(anext(inbox), 10)
        envelope = delivery.envelope
        assert envelope.id == sent.id
        assert envelope.sender.id == sender_agency.id
        assert envelope.subject == sent.subject
        assert delivery.signed.body == signed.body  # forwarded byte for byte
        assert delivery.signed.signer == sender_agency.id
        assert json.loads(b64url_decode(json.loads(signed.body)["protected"], "header")) == {
            "alg": "EdDSA",
            "kid": thumbprint(sender_agency.key.public_key()),
            "typ": "dochub-document+json",
        }
        assert delivery.stamp.node == f"hub:{hub.names.namespace}"
        assert delivery.stamp.to == [recipient_agency.id]
        assert sent.sent_at <= delivery.stamp.routed_at
        await recipient.send_status(envelope, StatusCode.ARRIVED)
        await recipient.send_status(envelope, StatusCode.ACCEPTED)
        await delivery.ack()

    async with sender.statuses() as statuses:
        codes = []
        for _ in range(2):
            update = await asyncio.wait_for(anext(statuses), 10)
            receipt = update.receipt
            assert receipt.document is not None
            assert receipt.document.id == sent.id
            assert receipt.document.sender == sender_agency.id
            assert receipt.responder is not None
            assert receipt.responder.id == recipient_agency.id
            assert receipt.reason is None
            codes.append(receipt.code)
            await update.ack()
    assert sorted(codes) == [StatusCode.ARRIVED, StatusCode.ACCEPTED]

    totals = await settled_totals(hub, lambda t: t.relayed == 2)
    assert totals.receipt_messages == 2
    assert (totals.accepted, totals.routed, totals.in_flight) == (1, 1, 0)
    assert (totals.deliveries, totals.recipients_sum) == (1, 1)
    assert (totals.receipts, totals.relayed) == (2, 2)
    assert (totals.rejected, totals.dead_lettered) == (0, 0)
    assert totals.documents_by_sender == {sender_agency.id: 1}
    assert totals.deliveries_by_recipient == {recipient_agency.id: 1}
    assert totals.receipts_by_responder == {recipient_agency.id: 2}
    assert totals.imbalances() == []


async def test_several_recipients_get_one_copy_each_from_a_single_cc_publish(
    hub: Hub, agencies: list[FakeAgency], client_for: ClientFactory, probe: BrokerProbe
) -> None:
    sender_agency, recipient_agencies = agencies[0], agencies[1:]
    recipient_ids = [agency.id for agency in recipient_agencies]
    sender = await client_for(sender_agency)
    recipients = {agency.id: await client_for(agency) for agency in recipient_agencies}

    signed = await sender.send(
        make_envelope(sender.organ, [sender.organ_of(agency) for agency in recipient_ids])
    )
    sent = signed.model

    for agency in recipient_ids:
        message = await probe.get(hub.names.inbox_queue(agency))
        # One publish to the first recipient's key, the others in CC: every copy carries it.
        assert message.headers.get("CC") == recipient_ids[1:]
        assert message.message_id == str(sent.id)
        assert message.body == signed.body
        envelope = payload_of(message.body, Envelope)
        assert envelope.id == sent.id
        assert envelope.recipient_ids == recipient_ids
        await recipients[agency].send_status(envelope, StatusCode.ARRIVED)

    async with sender.statuses() as statuses:
        responders = []
        for _ in recipient_ids:
            update = await asyncio.wait_for(anext(statuses), 10)
            assert update.receipt.document is not None
            assert update.receipt.document.id == sent.id
            assert update.receipt.code is StatusCode.ARRIVED
            assert update.receipt.responder is not None
            responders.append(update.receipt.responder.id)
            await update.ack()
    assert sorted(responders) == sorted(recipient_ids)

    await asyncio.sleep(NOTHING_MORE_S)
    for agency in recipient_ids:
        assert await probe.depth(hub.names.inbox_queue(agency)) == 0, agency

    totals = await settled_totals(hub, lambda t: t.relayed == 3)
    assert (totals.accepted, totals.routed) == (1, 1)
    assert (totals.deliveries, totals.recipients_sum) == (3, 3)
    assert totals.deliveries_by_recipient == dict.fromkeys(recipient_ids, 1)
    assert totals.documents_by_sender == {sender_agency.id: 1}
    assert totals.receipts_by_responder == dict.fromkeys(recipient_ids, 1)
    assert (totals.receipts, totals.relayed) == (3, 3)
    assert totals.imbalances() == []
    assert (hub.meter.total.documents, hub.meter.total.deliveries) == (1, 3)


async def test_a_receipt_goes_only_to_the_sender_of_the_document(
    hub: Hub, agencies: list[FakeAgency], client_for: ClientFactory, probe: BrokerProbe
) -> None:
    a, b, c, d = agencies
    sender = await client_for(a)
    other_sender = await client_for(c)
    recipient = await client_for(b)

    sent = (await sender.send(make_envelope(sender.organ, [sender.organ_of(b.id)]))).model
    other = (
        await other_sender.send(make_envelope(other_sender.organ, [other_sender.organ_of(b.id)]))
    ).model

    async with recipient.inbox() as inbox:
        received: set[UUID] = set()
        for _ in range(2):
            delivery = await asyncio.wait_for(anext(inbox), 10)
            received.add(delivery.envelope.id)
            if delivery.envelope.id == sent.id:
                await recipient.send_status(delivery.envelope, StatusCode.ARRIVED)
            await delivery.ack()
    assert received == {sent.id, other.id}

    message = await probe.get(hub.names.status_queue(a.id))
    receipt = payload_of(message.body, StatusReceipt)
    assert receipt.document is not None
    assert receipt.document.id == sent.id
    assert receipt.responder is not None
    assert receipt.responder.id == b.id
    await settled_totals(hub, lambda t: t.relayed == 1)
    await asyncio.sleep(NOTHING_MORE_S)
    for agency in (a, b, c, d):
        assert await probe.depth(hub.names.status_queue(agency.id)) == 0, agency.id
    totals = await hub.ledger.totals()
    assert totals.receipts_by_responder == {b.id: 1}
    assert totals.imbalances() == []


async def test_many_concurrent_documents_each_arrive_once_per_recipient(
    hub: Hub, agencies: list[FakeAgency], client_for: ClientFactory, probe: BrokerProbe
) -> None:
    count = 200
    clients: dict[str, AgencyClient] = {agency.id: await client_for(agency) for agency in agencies}
    ids = [agency.id for agency in agencies]
    envelopes: list[Envelope] = []
    for i in range(count):
        sender = clients[ids[i % len(ids)]]
        recipients = [ids[(i + 1) % len(ids)]]
        if i % 3 == 0:
            recipients.append(ids[(i + 2) % len(ids)])
        envelopes.append(
            make_envelope(
                sender.organ,
                [sender.organ_of(agency) for agency in recipients],
                subject=f"Văn bản số {i}",
            )
        )

    await asyncio.wait_for(
        asyncio.gather(*(clients[env.sender.id].send(env) for env in envelopes)), 30
    )

    expected: dict[str, set[UUID]] = {agency: set() for agency in ids}
    for env in envelopes:
        for agency in env.recipient_ids:
            expected[agency].add(env.id)
    for agency in ids:
        messages = await probe.get_many(
            hub.names.inbox_queue(agency), len(expected[agency]), within_s=30
        )
        got = Counter(payload_of(m.body, Envelope).id for m in messages)
        assert set(got) == expected[agency], agency
        assert max(got.values()) == 1, agency

    totals = await settled_totals(hub, lambda t: t.routed == count)
    await asyncio.sleep(NOTHING_MORE_S)
    for agency in ids:
        assert await probe.depth(hub.names.inbox_queue(agency)) == 0, agency
        assert await probe.depth(hub.names.status_queue(agency)) == 0, agency
    assert await probe.depth(hub.names.dead_letter_queue) == 0
    assert await probe.depth(hub.names.ingress_queue) == 0

    totals = await hub.ledger.totals()
    deliveries = sum(len(recipients) for recipients in expected.values())
    assert (totals.accepted, totals.routed, totals.in_flight) == (count, count, 0)
    assert (totals.deliveries, totals.recipients_sum) == (deliveries, deliveries)
    assert totals.deliveries_by_recipient == {agency: len(expected[agency]) for agency in ids}
    assert totals.documents_by_sender == dict.fromkeys(ids, count // len(ids))
    assert (totals.rejected, totals.received) == (0, count)
    assert totals.imbalances() == []
    assert hub.meter.total.documents == count
    assert hub.meter.total.deliveries == deliveries
