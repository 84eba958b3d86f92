"""Nothing is counted twice: a client resend, the same bytes published again, a redelivery after
routing, a document the ledger recorded before the hub stopped, a document delivered twice to an
inbox, and a receipt sent twice."""

import asyncio
import datetime as dt

import pytest

from hub.inspection import DocumentInput, input_key
from hub.ledger import Disposition, Totals
from hub.service import Hub
from hub.settings import HubSettings
from hub.sqlite_ledger import SqliteLedger
from hub.topology import QueuePolicy, Topology
from schemas import Envelope, Signed, StatusCode, StatusReceipt, sign_document, sign_receipt
from schemas.naming import STATUS_ROUTING_KEY
from tests.factories import make_envelope, organ, payload_of
from tests.integration.conftest import BrokerProbe, ClientFactory, FakeAgency, HubFactory
from tests.integration.waiting import NOTHING_MORE_S, settled_totals, until


async def duplicates_seen(hub: Hub, count: int, within_s: float = 10) -> None:
    async def read() -> int:
        return hub.meter.total.duplicates

    await until(read, lambda seen: seen >= count, within_s)


def signed_document(sender: FakeAgency, recipient: FakeAgency) -> Signed[Envelope]:
    return sign_document(make_envelope(organ(sender.id), [organ(recipient.id)]), sender.key)


async def assert_once_in_inbox(
    hub: Hub, probe: BrokerProbe, agency: str, document: Envelope
) -> None:
    """The inbox holds exactly one copy of ``document``, and no second one comes."""
    message = await probe.get(hub.names.inbox_queue(agency))
    assert payload_of(message.body, Envelope).id == document.id
    await asyncio.sleep(NOTHING_MORE_S)
    extra = await probe.depth(hub.names.inbox_queue(agency))
    assert extra == 0, f"{extra} more cop(y/ies) of {document.id} in the inbox of {agency}"


def assert_counted_once(totals: Totals, sender: str, recipient: str) -> None:
    assert (totals.accepted, totals.routed, totals.in_flight) == (1, 1, 0)
    assert (totals.deliveries, totals.recipients_sum) == (1, 1)
    assert totals.documents_by_sender == {sender: 1}
    assert totals.deliveries_by_recipient == {recipient: 1}
    assert (totals.rejected, totals.received) == (0, 1)
    assert totals.imbalances() == []


async def test_a_client_resend_is_accepted_once(
    hub: Hub, agencies: list[FakeAgency], client_for: ClientFactory, probe: BrokerProbe
) -> None:
    a, b = agencies[0], agencies[1]
    sender = await client_for(a)
    envelope = make_envelope(sender.organ, [sender.organ_of(b.id)])

    first = await sender.send(envelope)
    second = await sender.send(envelope)  # no error
    assert first.body == second.body

    await duplicates_seen(hub, 1)
    await assert_once_in_inbox(hub, probe, b.id, first.model)
    assert_counted_once(await settled_totals(hub, lambda t: t.routed == 1), a.id, b.id)
    assert hub.meter.total.documents == 1
    assert hub.meter.total.duplicates == 1


async def test_the_same_bytes_published_twice_count_once(
    hub: Hub, agencies: list[FakeAgency], probe: BrokerProbe
) -> None:
    a, b = agencies[0], agencies[1]
    signed = signed_document(a, b)
    document, body = signed.model, signed.body

    await probe.publish_ingress(body)
    await probe.publish_ingress(body)

    await duplicates_seen(hub, 1)
    await assert_once_in_inbox(hub, probe, b.id, document)
    assert_counted_once(await settled_totals(hub, lambda t: t.routed == 1), a.id, b.id)
    assert (hub.meter.total.documents, hub.meter.total.duplicates) == (1, 1)


async def test_a_redelivered_copy_after_routing_is_only_acked(
    hub: Hub, agencies: list[FakeAgency], probe: BrokerProbe
) -> None:
    a, b = agencies[0], agencies[1]
    signed = signed_document(a, b)
    body = signed.body

    await probe.publish_ingress(body)
    message = await probe.get(hub.names.inbox_queue(b.id))
    assert message.body == body  # forwarded byte for byte
    await settled_totals(hub, lambda t: t.routed == 1)

    await probe.publish_ingress(body)  # the broker hands the hub the same message again

    await duplicates_seen(hub, 1)
    await asyncio.sleep(NOTHING_MORE_S)
    assert await probe.depth(hub.names.inbox_queue(b.id)) == 0
    assert await probe.depth(hub.names.ingress_queue) == 0
    assert_counted_once(await hub.ledger.totals(), a.id, b.id)
    assert (hub.meter.total.documents, hub.meter.total.duplicates) == (1, 1)


async def test_a_document_recorded_before_the_hub_stopped_is_routed_once(
    hub_factory: HubFactory,
    hub_settings: HubSettings,
    agencies: list[FakeAgency],
    probe: BrokerProbe,
) -> None:
    a, b = agencies[0], agencies[1]
    signed = signed_document(a, b)
    document, body = signed.model, signed.body
    offset = dt.timedelta(hours=hub_settings.stats_utc_offset_hours)

    # The hub of an earlier run committed the document, then stopped before publishing it.
    ledger = await SqliteLedger.open(hub_settings.ledger_url, offset)
    try:
        verdict = DocumentInput(input_key(body), document, signed.payload_sha256, body)
        [admitted] = await ledger.admit([verdict])
        assert admitted.disposition is Disposition.NEW
        before = await ledger.totals()
        assert (before.accepted, before.routed, before.deliveries) == (1, 0, 1)
    finally:
        await ledger.close()

    # Its ingress message is still in the queue, unacked then redelivered, when the hub returns.
    policy = QueuePolicy(
        hub_settings.delivery_limit,
        hub_settings.ingress_max_length,
        hub_settings.agency_queue_max_length,
    )
    await Topology(probe.names, policy).declare(probe.channel, [agency.id for agency in agencies])
    await probe.publish_ingress(body)
    hub = await hub_factory()

    await assert_once_in_inbox(hub, probe, b.id, document)
    assert_counted_once(await settled_totals(hub, lambda t: t.routed == 1), a.id, b.id)
    # Republished as PENDING: not a new document for the meter.
    assert (hub.meter.total.documents, hub.meter.total.duplicates) == (0, 1)


async def test_the_client_drops_a_document_delivered_twice(
    hub: Hub, agencies: list[FakeAgency], client_for: ClientFactory, probe: BrokerProbe
) -> None:
    a, b = agencies[0], agencies[1]
    sender = await client_for(a)
    recipient = await client_for(b)
    sent = await sender.send(make_envelope(sender.organ, [sender.organ_of(b.id)]))
    inbox_queue = hub.names.inbox_queue(b.id)
    routed = await probe.get(inbox_queue)  # the hub-routed body, with the hub's stamp
    headers = dict(routed.headers)

    await probe.publish_to_queue(inbox_queue, routed.body, headers)
    await probe.publish_to_queue(inbox_queue, routed.body, headers)

    async with recipient.inbox() as inbox:
        delivery = await asyncio.wait_for(anext(inbox), 10)
        assert delivery.envelope.id == sent.model.id
        await delivery.ack()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(anext(inbox), NOTHING_MORE_S)
    # The copy was taken and acked (dropped), not left in the queue or dead-lettered.
    assert await probe.depth(inbox_queue) == 0
    assert await probe.depth(hub.names.dead_letter_queue) == 0


async def test_a_receipt_sent_twice_is_recorded_and_relayed_once(
    hub: Hub, agencies: list[FakeAgency], client_for: ClientFactory, probe: BrokerProbe
) -> None:
    a, b = agencies[0], agencies[1]
    sender = await client_for(a)
    recipient = await client_for(b)
    sent = await sender.send(make_envelope(sender.organ, [sender.organ_of(b.id)]))
    async with recipient.inbox() as inbox:
        delivery = await asyncio.wait_for(anext(inbox), 10)
        assert delivery.envelope.id == sent.model.id
        await delivery.ack()

    receipt = sign_receipt(
        StatusReceipt(
            document=sent.model.reference(), responder=recipient.organ, code=StatusCode.ARRIVED
        ),
        b.key,
    )
    body = receipt.body
    await probe.publish_ingress(body, STATUS_ROUTING_KEY)
    await probe.publish_ingress(body, STATUS_ROUTING_KEY)

    await duplicates_seen(hub, 1)
    message = await probe.get(hub.names.status_queue(a.id))
    assert message.body == body
    await asyncio.sleep(NOTHING_MORE_S)
    extra = await probe.depth(hub.names.status_queue(a.id))
    assert extra == 0, f"the receipt was relayed {1 + extra} times"

    totals = await settled_totals(hub, lambda t: t.relayed == 1)
    assert (totals.receipts, totals.receipt_messages, totals.relayed) == (1, 1, 1)
    assert totals.receipts_by_responder == {b.id: 1}
    assert totals.rejected == 0
    assert totals.imbalances() == []
    assert (hub.meter.total.receipts, hub.meter.total.duplicates) == (1, 1)


async def test_the_same_refused_bytes_twice_are_one_refusal(
    hub: Hub, agencies: list[FakeAgency], client_for: ClientFactory, probe: BrokerProbe
) -> None:
    a = agencies[0]
    misaddressed = sign_document(make_envelope(organ(a.id), [organ("000.00.00.H98")]), a.key)
    body = misaddressed.body

    await probe.publish_ingress(body)
    await probe.publish_ingress(body)

    await duplicates_seen(hub, 1)
    dead = await probe.get(hub.names.dead_letter_queue)
    assert dead.body == body
    refusal = await probe.get(hub.names.status_queue(a.id))
    receipt = payload_of(refusal.body, StatusReceipt)
    assert receipt.refused is not None
    assert receipt.refused.sha256 == misaddressed.sha256
    await asyncio.sleep(NOTHING_MORE_S)
    extra_dead = await probe.depth(hub.names.dead_letter_queue)
    extra_refusals = await probe.depth(hub.names.status_queue(a.id))
    assert (extra_dead, extra_refusals) == (0, 0), "dead-lettered or notified more than once"

    totals = await settled_totals(hub, lambda t: t.dead_lettered == 1)
    assert (totals.rejected, totals.dead_lettered) == (1, 1)
    assert totals.rejected_by_reason == {"unknown_recipient": 1}
    assert (hub.meter.total.rejections, hub.meter.total.duplicates) == (1, 1)


async def test_two_receipts_of_one_step_are_both_relayed_and_counted_once(
    hub: Hub, agencies: list[FakeAgency], client_for: ClientFactory, probe: BrokerProbe
) -> None:
    """Two progress notes (05) with their own ids: the sender hears both, the step counts once."""
    a, b = agencies[0], agencies[1]
    sender = await client_for(a)
    recipient = await client_for(b)
    sent = await sender.send(make_envelope(sender.organ, [sender.organ_of(b.id)]))
    await settled_totals(hub, lambda t: t.routed == 1)

    first = await recipient.send_status(sent.model, StatusCode.PROCESSING, "đang xử lý")
    second = await recipient.send_status(sent.model, StatusCode.PROCESSING, "đã trình lãnh đạo")

    async with sender.statuses() as statuses:
        seen = [await asyncio.wait_for(anext(statuses), 10) for _ in range(2)]
        for update in seen:
            await update.ack()
    assert {update.receipt.id for update in seen} == {first.model.id, second.model.id}
    totals = await settled_totals(hub, lambda t: t.relayed == 2)
    assert (totals.receipts, totals.receipt_messages, totals.relayed) == (1, 2, 2)
    assert totals.imbalances() == []
