"""A hub killed in the middle of a stream (SIGKILL: no clean shutdown, batches cut anywhere
between the ledger's commit and the ack) and started again: nothing lost, nothing counted twice."""

import asyncio
import os
import signal
import sqlite3
import sys
import time
from pathlib import Path
from uuid import UUID

from agency_client import AgencyClient
from hub.settings import HubSettings
from hub.sqlite_ledger import sqlite_path
from schemas import AgencyDirectory, Envelope
from tests.factories import make_envelope, write_hub_key
from tests.integration.conftest import ClientFactory, FakeAgency, HubFactory
from tests.integration.waiting import settled_totals

DOCUMENTS = 600


async def _start_hub_process(settings: HubSettings, registry: Path) -> asyncio.subprocess.Process:
    dochub = Path(sys.executable).parent / "dochub"
    process = await asyncio.create_subprocess_exec(
        str(dochub),
        "hub",
        "run",
        "--registry",
        str(registry),
        "--hub-key",
        str(write_hub_key(registry.with_name("hub.key"))),
        env={
            "DOCHUB_TRUSTED_USERS": ",".join(settings.trusted_users),
            **os.environ,
            "DOCHUB_AMQP_URL": settings.amqp_url,
            "DOCHUB_NAMESPACE": settings.namespace,
            "DOCHUB_LEDGER_URL": settings.ledger_url,
            "DOCHUB_LOG_FORMAT": "json",
            "DOCHUB_HTTP_PORT": str(settings.http_port),
        },
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    async with asyncio.timeout(30):
        while b'"hub_started"' not in await process.stderr.readline():
            pass
    return process


def _documents_in(settings: HubSettings) -> int:
    path = sqlite_path(settings.ledger_url)
    if not Path(path).exists():
        return 0
    with sqlite3.connect(path, timeout=10) as db:
        try:
            return int(db.execute("SELECT count(*) FROM documents").fetchone()[0])
        except sqlite3.OperationalError:  # the hub has not created its tables yet
            return 0


async def test_a_hub_killed_mid_stream_and_restarted_loses_nothing_and_counts_nothing_twice(
    agencies: list[FakeAgency],
    directory: AgencyDirectory,
    hub_settings: HubSettings,
    hub_factory: HubFactory,
    client_for: ClientFactory,
    tmp_path: Path,
) -> None:
    registry = tmp_path / "agencies.toml"
    registry.write_text(directory.to_toml(), encoding="utf-8")
    first_hub = await _start_hub_process(hub_settings, registry)
    try:
        senders = [await client_for(agency) for agency in agencies[:2]]
        recipients = agencies[2:]
        envelopes: list[Envelope] = [
            make_envelope(
                sender.organ,
                [sender.organ_of(agency.id) for agency in recipients[: 1 + index % 2]],
                subject=f"Văn bản số {index}",
            )
            for index in range(DOCUMENTS)
            for sender in [senders[index % 2]]
        ]
        sending = asyncio.create_task(_send_all(senders, envelopes))

        deadline = time.monotonic() + 60
        while _documents_in(hub_settings) < DOCUMENTS // 4:
            assert time.monotonic() < deadline, "the first hub routed too little to be killed"
            assert not sending.done() or sending.exception() is None
            await asyncio.sleep(0.02)
        first_hub.send_signal(signal.SIGKILL)
        assert await asyncio.wait_for(first_hub.wait(), 10) == -signal.SIGKILL
        killed_at = _documents_in(hub_settings)
        assert killed_at < DOCUMENTS, "the stream had ended before the kill"
    finally:
        if first_hub.returncode is None:
            first_hub.kill()
            await first_hub.wait()

    await asyncio.wait_for(sending, 60)
    second_hub = await hub_factory()
    totals = await settled_totals(
        second_hub, lambda t: t.accepted == DOCUMENTS and t.in_flight == 0, within_s=90
    )

    expected_deliveries = sum(len(envelope.recipients) for envelope in envelopes)
    assert totals.accepted == DOCUMENTS
    assert totals.routed == DOCUMENTS
    assert totals.deliveries == expected_deliveries
    assert totals.rejected == 0
    assert totals.imbalances() == []
    assert totals.documents_by_sender == {agency.id: DOCUMENTS // 2 for agency in agencies[:2]}
    assert second_hub.meter.total.documents == DOCUMENTS - killed_at, "the second hub's share"

    for agency in recipients:
        wanted = {e.id for e in envelopes if agency.id in e.recipient_ids}
        received = await _read_inbox(await client_for(agency), len(wanted))
        assert received == wanted, f"{agency.id} is missing {len(wanted - received)} documents"


async def _send_all(senders: list[AgencyClient], envelopes: list[Envelope]) -> None:
    by_id = {client.agency_id: client for client in senders}
    slots = asyncio.Semaphore(32)

    async def send(envelope: Envelope) -> None:
        async with slots:
            await by_id[envelope.sender.id].send(envelope)

    await asyncio.gather(*(send(envelope) for envelope in envelopes))


async def _read_inbox(client: AgencyClient, expected: int) -> set[UUID]:
    """Every distinct document the inbox yields; the client drops the copies a killed hub may
    have published twice."""
    received: set[UUID] = set()
    async with client.inbox() as inbox:
        while len(received) < expected:
            delivery = await asyncio.wait_for(anext(inbox), 30)
            assert delivery.envelope.id not in received, "the client yielded a copy"
            received.add(delivery.envelope.id)
            await delivery.ack()
    return received
