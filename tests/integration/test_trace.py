"""``dochub trace`` and ``dochub documents`` against the ledger of a real hub that routed real
documents and receipts, run as an operator runs them: the installed ``dochub`` script."""

import json
from pathlib import Path

from hub.settings import HubSettings
from hub.sqlite_ledger import sqlite_path
from schemas import StatusCode, sign_document
from tests.factories import make_envelope, organ
from tests.integration.conftest import BrokerProbe, ClientFactory, FakeAgency, HubFactory
from tests.integration.test_cli import Cli
from tests.integration.waiting import settled_totals
from tests.ledger_files import Fingerprint

UNREGISTERED = "000.00.00.H99"


async def test_trace_shows_acceptance_deliveries_receipts_and_reads_only(
    hub_factory: HubFactory,
    agencies: list[FakeAgency],
    client_for: ClientFactory,
    hub_settings: HubSettings,
    amqp_url: str,
    tmp_path: Path,
) -> None:
    hub = await hub_factory()
    a, b, c = agencies[0], agencies[1], agencies[2]
    sender, first, second = await client_for(a), await client_for(b), await client_for(c)
    sent = await sender.send(
        make_envelope(sender.organ, [sender.organ_of(b.id), sender.organ_of(c.id)])
    )
    envelope = sent.model
    await first.send_status(envelope, StatusCode.ARRIVED)
    await first.send_status(envelope, StatusCode.ACCEPTED)
    await second.send_status(envelope, StatusCode.ARRIVED)
    await settled_totals(hub, lambda t: t.routed == 1 and t.relayed == 3)
    await hub.stop()
    ledger = Path(sqlite_path(hub_settings.ledger_url))
    before = Fingerprint.of(ledger)
    cli = Cli(amqp_url, hub.names.namespace, tmp_path)
    flags = ("--ledger-url", hub_settings.ledger_url)

    as_json = await cli.run("trace", str(envelope.id), *flags, "--json")
    shown = await cli.run("trace", str(envelope.id).upper(), *flags)

    assert as_json.returncode == 0, as_json.describe()
    story = json.loads(as_json.stdout)
    assert story["document_id"] == str(envelope.id)
    assert story["sender"] == a.id
    assert story["accepted_at"] is not None
    assert story["routed_at"] is not None
    assert [(d["recipient"], d["latest_code"]) for d in story["deliveries"]] == sorted(
        [(b.id, "03"), (c.id, "01")]
    )
    assert sorted((r["responder"], r["code"]) for r in story["receipts"]) == [
        (b.id, "01"),
        (b.id, "03"),
        (c.id, "01"),
    ]
    assert all(r["relayed_at"] is not None for r in story["receipts"])
    assert story["refusals"] == []
    assert [e["event"] for e in story["timeline"]].count("receipt") == 3
    assert shown.returncode == 0, shown.describe()
    for step in ("accepted", "delivered", "receipt", b.id, c.id, "arrived"):
        assert step in shown.stdout, shown.describe()
    assert Fingerprint.of(ledger) == before

    unknown = await cli.run("trace", "3f2d3c1e-0000-4000-8000-000000000000", *flags)
    assert unknown.returncode == 1, unknown.describe()
    assert len(unknown.stderr_lines) == 1
    assert "no document" in unknown.stderr
    malformed = await cli.run("trace", "not-an-id", *flags)
    assert malformed.returncode == 2, malformed.describe()
    assert malformed.stderr_lines == [malformed.stderr_lines[0]]
    assert Fingerprint.of(ledger) == before


async def test_documents_finds_by_sender_status_and_time_and_shows_refusals(
    hub_factory: HubFactory,
    agencies: list[FakeAgency],
    client_for: ClientFactory,
    probe: BrokerProbe,
    hub_settings: HubSettings,
    amqp_url: str,
    tmp_path: Path,
) -> None:
    hub = await hub_factory()
    a, b, c = agencies[0], agencies[1], agencies[2]
    from_a, from_b = await client_for(a), await client_for(b)
    answered = await from_a.send(make_envelope(from_a.organ, [from_a.organ_of(c.id)]))
    unanswered = await from_b.send(make_envelope(from_b.organ, [from_b.organ_of(c.id)]))
    await (await client_for(c)).send_status(answered.model, StatusCode.ACCEPTED)
    refused = make_envelope(organ(a.id), [organ(b.id), organ(UNREGISTERED)])
    await probe.publish_ingress(sign_document(refused, a.key).body)
    await settled_totals(hub, lambda t: t.routed == 2 and t.relayed == 1 and t.dead_lettered == 1)
    cli = Cli(amqp_url, hub.names.namespace, tmp_path)
    flags = ("--ledger-url", hub_settings.ledger_url, "--json")

    every = await cli.run("documents", *flags)
    of_a = await cli.run("documents", "--sender", a.id, *flags)
    accepted = await cli.run("documents", "--status", "03", "--since", "2020-01-01", *flags)
    routed = await cli.run("documents", "--status", "routed", *flags)
    story = await cli.run("trace", str(refused.id), *flags)

    for run in (every, of_a, accepted, routed, story):
        assert run.returncode == 0, run.describe()
    statuses = {row["document_id"]: row["status"] for row in json.loads(every.stdout)}
    assert statuses == {
        str(answered.model.id): "03",
        str(unanswered.model.id): "routed",
        str(refused.id): "refused",
    }
    assert {row["document_id"] for row in json.loads(of_a.stdout)} == {
        str(answered.model.id),
        str(refused.id),
    }
    assert [row["document_id"] for row in json.loads(accepted.stdout)] == [str(answered.model.id)]
    assert [row["document_id"] for row in json.loads(routed.stdout)] == [str(unanswered.model.id)]
    refusal = json.loads(story.stdout)
    assert refusal["status"] == "refused"
    assert [r["reason"] for r in refusal["refusals"]] == ["unknown_recipient"]
    assert refusal["refusals"][0]["told"] == a.id

    bad_status = await cli.run("documents", "--status", "7", *flags)
    bad_date = await cli.run("documents", "--since", "yesterday", *flags)
    for run in (bad_status, bad_date):
        assert run.returncode == 2, run.describe()
        assert len(run.stderr_lines) == 1, run.describe()
