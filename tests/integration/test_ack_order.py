"""Invariant 4: the hub acks an ingress message only after the ledger's commit and the broker's
confirm. The ledger is gated here, so the test can look at the broker in between."""

import asyncio
import datetime as dt
from collections.abc import Sequence

import pytest
from aio_pika.abc import AbstractIncomingMessage

import hub.service
from hub.inspection import Verdict
from hub.ledger import Admitted, Completion, Ledger, Totals
from hub.periods import DayCounts
from tests.factories import make_envelope
from tests.integration.conftest import BrokerProbe, ClientFactory, FakeAgency, HubFactory
from tests.integration.waiting import settled_totals, until


class GatedLedger:
    """The real ledger, with each admit and complete held until the test opens its gate."""

    def __init__(self, inner: Ledger) -> None:
        self.inner = inner
        self.admitting, self.admit_gate = asyncio.Event(), asyncio.Event()
        self.completing, self.complete_gate = asyncio.Event(), asyncio.Event()

    async def admit(self, verdicts: Sequence[Verdict]) -> list[Admitted]:
        self.admitting.set()
        await self.admit_gate.wait()
        return await self.inner.admit(verdicts)

    async def complete(self, completion: Completion) -> None:
        self.completing.set()
        await self.complete_gate.wait()
        await self.inner.complete(completion)

    async def totals(self) -> Totals:
        return await self.inner.totals()

    async def day_counts(self, agency_id: str | None = None) -> DayCounts:
        return await self.inner.day_counts(agency_id)

    async def close(self) -> None:
        await self.inner.close()


async def peek(probe: BrokerProbe, queue_name: str) -> AbstractIncomingMessage | None:
    """A ready message of the queue, put back; None when none is ready."""
    queue = await probe.channel.get_queue(queue_name, ensure=False)
    for _ in range(20):
        message = await queue.get(no_ack=False, fail=False)
        if message is not None:
            await message.nack(requeue=True)
            return message
        await asyncio.sleep(0.05)
    return None


async def test_the_ingress_message_is_acked_only_after_commit_and_confirm(
    agencies: list[FakeAgency],
    hub_factory: HubFactory,
    client_for: ClientFactory,
    probe: BrokerProbe,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gated: list[GatedLedger] = []
    open_ledger = hub.service.open_ledger

    async def open_gated(url: str, utc_offset: dt.timedelta, *, busy_timeout_s: float) -> Ledger:
        gated.append(GatedLedger(await open_ledger(url, utc_offset, busy_timeout_s=busy_timeout_s)))
        return gated[-1]

    monkeypatch.setattr(hub.service, "open_ledger", open_gated)
    running = await hub_factory(workers=1)
    ledger = gated[0]
    sender = await client_for(agencies[0])
    sent = await sender.send(make_envelope(sender.organ, [sender.organ_of(agencies[1].id)]))
    names = running.names
    inbox = names.inbox_queue(agencies[1].id)

    await asyncio.wait_for(ledger.admitting.wait(), 10)
    assert await peek(probe, inbox) is None, "published before the ledger recorded it"
    ledger.admit_gate.set()

    await asyncio.wait_for(ledger.completing.wait(), 10)
    delivered = await peek(probe, inbox)
    assert delivered is not None, "the broker had not confirmed the delivery"
    assert delivered.message_id == str(sent.model.id)
    assert await peek(probe, names.ingress_queue) is None, "the hub holds it, unacked or acked"

    # The hub's connection drops while the ledger is still marking the batch: had the message
    # been acked, it would be gone; it is back in the ingress queue instead.
    assert running._connection is not None
    await running._connection.close()
    requeued = await peek(probe, names.ingress_queue)
    assert requeued is not None, "the ingress message was acked before the ledger's completion"
    assert requeued.message_id == str(sent.model.id)
    ledger.complete_gate.set()
    await running.stop()

    monkeypatch.setattr(hub.service, "open_ledger", open_ledger)
    restarted = await hub_factory(workers=1)
    # The first hub's ledger says routed already: wait for the restarted hub to take the
    # requeued copy, which its ledger knows, and to ack it without publishing it again.
    await until(lambda: asyncio.sleep(0, restarted.meter.total.duplicates), lambda n: n == 1, 10)
    totals = await settled_totals(restarted, lambda t: t.routed == 1 and t.in_flight == 0)
    assert (totals.accepted, totals.routed, totals.deliveries) == (1, 1, 1)
    await until(lambda: probe.depth(names.ingress_queue), lambda depth: depth == 0, 10)
    assert await peek(probe, names.ingress_queue) is None
