"""``dochub dlq`` on real dead letters of a real hub, run as an operator runs it: a document refused
for a fixable reason is found, inspected, and replayed once the fix is in, and the ledger counts
it once; browsing loses and reorders nothing; a purge removes only what it selects, and only when
confirmed."""

import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.settings import HubSettings
from schemas import AgencyDirectory, sign_document
from schemas.rejection import REASON_HEADER
from tests.factories import make_envelope, organ
from tests.integration.conftest import BrokerProbe, FakeAgency, HubFactory
from tests.integration.test_cli import Cli
from tests.integration.waiting import settled_totals, until

UNREGISTERED = "000.00.00.H99"


def ids(listed: dict[str, object]) -> list[str]:
    rows = listed["dead_letters"]
    assert isinstance(rows, list)
    return [str(row["id"]) for row in rows]


def without(directory: AgencyDirectory, agency_id: str) -> AgencyDirectory:
    return AgencyDirectory(
        hub=directory.hub, agencies=[a for a in directory.agencies if a.id != agency_id]
    )


async def dead_letters(cli: Cli, *flags: str) -> dict[str, object]:
    listed = await cli.run("dlq", "list", "--json", *flags)
    assert listed.returncode == 0, listed.describe()
    result = json.loads(listed.stdout)
    assert isinstance(result, dict)
    return result


async def test_a_refused_document_is_found_shown_and_replayed_after_the_fix_counted_once(
    hub_factory: HubFactory,
    directory: AgencyDirectory,
    agencies: list[FakeAgency],
    probe: BrokerProbe,
    hub_settings: HubSettings,
    amqp_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    a, b, c, d = agencies
    # D is not in the hub's registry yet: A's document to B and D is refused, unknown_recipient.
    before_fix = await hub_factory(with_directory=without(directory, d.id))
    envelope = make_envelope(organ(a.id), [organ(b.id), organ(d.id)])
    body = sign_document(envelope, a.key).body
    await probe.publish_ingress(body)
    refused = await settled_totals(before_fix, lambda t: t.dead_lettered == 1)
    assert refused.accepted == 0
    names = before_fix.names
    cli = Cli(amqp_url, namespace, tmp_path)

    first, again = await dead_letters(cli), await dead_letters(cli)
    assert first == again | {"dead_letters": first["dead_letters"]}
    assert [row["id"] for row in first["dead_letters"]] == [  # type: ignore[attr-defined]
        row["id"]
        for row in again["dead_letters"]  # type: ignore[attr-defined]
    ]
    assert first["depth"] == 1
    (row,) = first["dead_letters"]  # type: ignore[misc]
    assert row["reason"] == "unknown_recipient"
    assert row["sender"] == a.id
    assert row["document_id"] == str(envelope.id)
    assert row["routing_key"] == "document"
    assert row["size"] == len(body)
    shown = await cli.run("dlq", "show", row["id"])
    assert shown.returncode == 0, shown.describe()
    for fact in (REASON_HEADER, "unknown_recipient", d.id, f"{len(body):,} bytes", a.id):
        assert fact in shown.stdout, shown.describe()
    assert await probe.depth(names.dead_letter_queue) == 1

    # Replayed before the fix, refused again: the hub drops the copy (that refusal is counted
    # already), and the dead letter stays, since the ledger never shows the document accepted.
    ledger = ("--ledger-url", hub_settings.ledger_url)
    too_soon = await cli.run("dlq", "replay", "--yes", "--wait", "2", *ledger)
    assert too_soon.returncode == 1, too_soon.describe()
    assert "kept: " in too_soon.stdout, too_soon.describe()
    assert await probe.depth(names.dead_letter_queue) == 1
    unchanged = await before_fix.ledger.totals()
    assert (unchanged.accepted, unchanged.rejected) == (0, 1)

    # The fix: D is registered, and the hub restarted with it.
    await before_fix.stop()
    after_fix = await hub_factory(workers=1)
    replayed = await cli.run("dlq", "replay", "--reason", "unknown_recipient", "--yes", *ledger)
    assert replayed.returncode == 0, replayed.describe()
    assert "replayed 1 dead letters" in replayed.stdout, replayed.describe()

    for recipient in (b, d):
        delivered = await probe.get(names.inbox_queue(recipient.id))
        assert delivered.body == body
    totals = await settled_totals(after_fix, lambda t: t.routed == 1)
    assert (totals.accepted, totals.rejected, totals.dead_lettered) == (1, 1, 1)
    assert totals.documents_by_sender == {a.id: 1}
    assert totals.imbalances() == []
    assert await probe.depth(names.dead_letter_queue) == 0

    # The same dead letter replayed a second time (a copy put back): acked, counted once.
    await probe.publish_to_queue(
        names.dead_letter_queue,
        body,
        {REASON_HEADER: "unknown_recipient", "x-dochub-kind": "document"},
    )
    twice = await cli.run("dlq", "replay", "--yes", *ledger)
    assert twice.returncode == 0, twice.describe()
    assert "replayed 1 dead letters" in twice.stdout, twice.describe()
    marker = make_envelope(organ(a.id), [organ(c.id)])  # behind the replay, one worker: in order
    await probe.publish_ingress(sign_document(marker, a.key).body)
    await probe.get(names.inbox_queue(c.id))
    totals = await settled_totals(after_fix, lambda t: t.routed == 2)
    assert totals.accepted == 2
    assert totals.documents_by_sender == {a.id: 2}
    assert totals.deliveries == 3
    assert totals.rejected == 1
    assert await probe.depth(names.inbox_queue(b.id)) == 0
    assert await probe.depth(names.dead_letter_queue) == 0

    # Its story: refused, then accepted and delivered to both recipients.
    traced = await cli.run("trace", str(envelope.id), "--json", *ledger)
    assert traced.returncode == 0, traced.describe()
    story = json.loads(traced.stdout)
    assert story["status"] == "routed"
    assert [r["reason"] for r in story["refusals"]] == ["unknown_recipient"]
    assert [d["recipient"] for d in story["deliveries"]] == sorted([b.id, d.id])
    assert [e["event"] for e in story["timeline"]][:2] == ["refused", "accepted"]


async def test_purge_asks_removes_only_the_selected_and_list_filters(
    hub_factory: HubFactory,
    probe: BrokerProbe,
    hub_settings: HubSettings,
    amqp_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    hub = await hub_factory()
    stranger = make_envelope(organ(UNREGISTERED), [organ("000.00.00.G12")])
    unknown_sender = sign_document(stranger, Ed25519PrivateKey.generate()).body
    for body in (b"\xff not json", unknown_sender, b"\xfe neither"):
        await probe.publish_ingress(body)
    await settled_totals(hub, lambda t: t.dead_lettered == 3)
    queue = hub.names.dead_letter_queue
    cli = Cli(amqp_url, namespace, tmp_path)

    first = await dead_letters(cli)
    unconfirmed = await cli.run("dlq", "purge", "--reason", "malformed")
    assert unconfirmed.returncode == 2, unconfirmed.describe()
    assert "--yes" in unconfirmed.stderr
    assert await probe.depth(queue) == 3

    not_fixable = await cli.run("dlq", "replay", "--reason", "malformed", "--yes")
    assert not_fixable.returncode == 0, not_fixable.describe()
    assert "left alone: 2 malformed" in not_fixable.stdout, not_fixable.describe()
    assert await probe.depth(queue) == 3

    ledger = ("--ledger-url", hub_settings.ledger_url)
    recent = await dead_letters(cli, "--older-than", "1h", *ledger)
    assert recent["dead_letters"] == []
    aged = await dead_letters(cli, "--older-than", "0s", *ledger)
    # Read four times, still all there, in the same order.
    assert ids(aged) == ids(first)
    assert len(ids(first)) == 3
    by_sender = await dead_letters(cli, "--sender", UNREGISTERED)
    assert [row["reason"] for row in by_sender["dead_letters"]] == [  # type: ignore[attr-defined]
        "unknown_sender"
    ]

    purged = await cli.run("dlq", "purge", "--reason", "malformed", "--yes")
    assert purged.returncode == 0, purged.describe()
    assert "purged 2 dead letters" in purged.stdout, purged.describe()
    left = await dead_letters(cli)
    assert [row["reason"] for row in left["dead_letters"]] == [  # type: ignore[attr-defined]
        "unknown_sender"
    ]
    assert await probe.depth(queue) == 1

    missing = await cli.run("dlq", "list", "--namespace", f"{namespace}-none")
    assert missing.returncode == 5, missing.describe()
    assert len(missing.stderr_lines) == 1


async def test_a_message_the_broker_dead_lettered_goes_back_into_its_queue(
    hub_factory: HubFactory,
    agencies: list[FakeAgency],
    probe: BrokerProbe,
    amqp_url: str,
    namespace: str,
    tmp_path: Path,
) -> None:
    hub = await hub_factory(delivery_limit=1)
    a, b = agencies[0], agencies[1]
    body = sign_document(make_envelope(organ(a.id), [organ(b.id)]), a.key).body
    await probe.publish_ingress(body)
    await settled_totals(hub, lambda t: t.routed == 1)
    inbox = hub.names.inbox_queue(b.id)
    # B's consumer gives the document back until the broker dead-letters it.
    underlay = await probe.channel.get_underlay_channel()
    for _ in range(10):
        got = await underlay.basic_get(inbox, no_ack=False)
        if got.delivery_tag is None:
            break
        await underlay.basic_reject(got.delivery_tag, requeue=True)
    # Dead-lettering at least once, the broker moves it in the background.
    await until(lambda: probe.depth(hub.names.dead_letter_queue), lambda n: n == 1, 10)
    cli = Cli(amqp_url, namespace, tmp_path)

    (row,) = (await dead_letters(cli))["dead_letters"]  # type: ignore[misc]
    replayed = await cli.run("dlq", "replay", row["id"], "--yes")

    assert row["reason"] == "delivery_limit"
    assert row["died_in"] == inbox
    assert row["sender"] == a.id
    assert row["age_s"] is not None
    assert replayed.returncode == 0, replayed.describe()
    back = await probe.get(inbox)
    assert back.body == body
    assert back.headers is not None
    assert "x-dochub-stamp" in back.headers
    assert "x-death" not in back.headers
    assert await probe.depth(hub.names.dead_letter_queue) == 0
    totals = await hub.ledger.totals()
    assert (totals.accepted, totals.deliveries) == (1, 1)
