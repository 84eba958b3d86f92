"""The first hour with the ledger: every path mistake gives one line and its exit code, from the
real ``dochub stats`` and ``dochub hub run``, and leaves the file as it was; a ledger that is
unavailable for a while (locked by another process, made immutable) holds the hub's messages
unacked until it comes back, and then each is routed once."""

import asyncio
import datetime as dt
import json
import random
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from agency_client import AgencyClient, load_signing_key
from hub.ledger import Totals
from hub.management import ManagementClient, vhost_of
from hub.service import Hub
from hub.sqlite_ledger import SqliteLedger
from schemas import AgencyDirectory, Names
from tests.factories import make_envelope
from tests.integration.broker_users import management_url_for, require_management
from tests.integration.conftest import BrokerProbe, ClientFactory, FakeAgency, HubFactory
from tests.integration.test_cli import (
    RECIPIENT,
    SENDER,
    STEP_S,
    Cli,
    Running,
    make_keys,
    write_directory,
)
from tests.integration.waiting import NOTHING_MORE_S, settled_totals, until
from tests.ledger_files import Fingerprint, locked, unwritable

DOCUMENTS = 5
BUSY_TIMEOUT_S = 0.5
"""The hub's ledger busy timeout in these tests: a lock held longer makes the ledger
unavailable."""
LEDGER_EXIT = 7
CONFIGURATION_EXIT = 5


@pytest.fixture
async def cli(
    amqp_url: str, namespace: str, tmp_path: Path, broker_cleanup: None
) -> AsyncIterator[Cli]:
    """``dochub`` in the test's folder, on the test's namespace, which is deleted afterwards."""
    runner = Cli(amqp_url, namespace, tmp_path)
    try:
        yield runner
    finally:
        for running in runner.started:
            await running.kill()


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    """The directory of SENDER and RECIPIENT, and the hub's key, in the test's folder."""
    make_keys(tmp_path, SENDER, RECIPIENT)
    return write_directory(tmp_path / "agencies.toml", [SENDER, RECIPIENT])


def url_of(path: Path) -> str:
    return f"sqlite:///{path}"


def assert_one_line(running: Running, code: int, message: str) -> None:
    """The command exited with ``code``, printing one line on stderr, which says ``message``."""
    assert running.returncode == code, running.describe()
    assert "Traceback" not in running.stderr, running.describe()
    assert len(running.stderr_lines) == 1, running.describe()
    assert message in running.stderr, running.describe()


# Files that are not a ledger, as `dochub stats` and `dochub hub run` meet them


def text_file(path: Path) -> str:
    path.write_text("not a ledger: a text file\n", encoding="utf-8")
    return f"{path} is not a DocHub ledger (not an SQLite database)"


def random_bytes(path: Path) -> str:
    path.write_bytes(random.Random(7).randbytes(16384))
    return f"{path} is not a DocHub ledger (not an SQLite database)"


def another_applications_database(path: Path) -> str:
    db = sqlite3.connect(path)
    with db:
        db.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total INTEGER)")
        db.execute("INSERT INTO invoices (total) VALUES (125)")
    db.close()
    return str(path)


def a_folder(path: Path) -> str:
    path.mkdir()
    return str(path)


NOT_LEDGERS: dict[str, Callable[[Path], str]] = {
    "text": text_file,
    "random bytes": random_bytes,
    "another application's database": another_applications_database,
    "a folder": a_folder,
}


@pytest.mark.parametrize("make", NOT_LEDGERS.values(), ids=NOT_LEDGERS.keys())
async def test_stats_on_a_file_that_is_no_ledger(
    cli: Cli, make: Callable[[Path], str], tmp_path: Path
) -> None:
    path = tmp_path / "ledger.db"
    message = make(path)
    before = Fingerprint.of(path) if path.is_file() else None
    stats = await cli.run("stats", "--ledger-url", url_of(path))
    if make is another_applications_database:
        message = f"{path} holds no DocHub ledger (no documents table)"
    elif make is a_folder:
        message = f"no ledger at {url_of(path)}"
    assert_one_line(stats, LEDGER_EXIT, message)
    if before is not None:
        assert Fingerprint.of(path) == before


def empty_file_with_wal(path: Path) -> Path:
    path.touch()
    wal = Path(f"{path}-wal")
    wal.write_bytes(random.Random(3).randbytes(4096))
    return wal


async def test_stats_on_an_empty_file_leaves_the_wal_beside_it(cli: Cli, tmp_path: Path) -> None:
    """SQLite, even read-only, takes an empty file for a new database and drops its -wal."""
    path = tmp_path / "ledger.db"
    wal = empty_file_with_wal(path)
    before = Fingerprint.of(wal)
    stats = await cli.run("stats", "--ledger-url", url_of(path))
    assert_one_line(stats, LEDGER_EXIT, f"{path} holds no DocHub ledger (it is empty)")
    assert Fingerprint.of(wal) == before
    assert path.stat().st_size == 0


@pytest.mark.parametrize("make", NOT_LEDGERS.values(), ids=NOT_LEDGERS.keys())
async def test_hub_run_on_a_file_that_is_no_ledger(
    cli: Cli, registry: Path, make: Callable[[Path], str], tmp_path: Path
) -> None:
    path = tmp_path / "ledger.db"
    message = make(path)
    before = Fingerprint.of(path) if path.is_file() else None
    hub = await cli.run(*hub_run(cli, registry, path))
    if make is another_applications_database:
        message = f"{path} is another application's SQLite database (tables invoices)"
    elif make is a_folder:
        message = f"{path} is a folder, not a ledger file"
    assert_one_line(hub, LEDGER_EXIT, message)
    assert hub.events("hub_failed"), hub.describe()
    if before is not None:
        assert Fingerprint.of(path) == before


@pytest.mark.parametrize("command", ["stats", "hub"])
async def test_a_ledger_whose_folder_is_a_file(cli: Cli, registry: Path, command: str) -> None:
    blocking = cli.cwd / "ledgers"
    blocking.write_text("a file where the ledger's folder should be\n", encoding="utf-8")
    path = blocking / "dochub.db"
    if command == "stats":
        ran = await cli.run("stats", "--ledger-url", url_of(path))
        assert_one_line(ran, LEDGER_EXIT, f"no ledger at {url_of(path)}")
    else:
        ran = await cli.run(*hub_run(cli, registry, path))
        assert_one_line(ran, LEDGER_EXIT, f"{blocking} is a file, not a folder")
    assert blocking.read_text(encoding="utf-8").startswith("a file where")


@pytest.mark.parametrize(
    ("url", "code", "message"),
    [
        ("sqlite:///{tmp}/missing.db", LEDGER_EXIT, "no ledger at sqlite:///{tmp}/missing.db"),
        ("sqlite:dochub.db", CONFIGURATION_EXIT, "not a SQLite ledger URL: 'sqlite:dochub.db'"),
        ("postgresql://db/dochub", CONFIGURATION_EXIT, "PostgreSQL ledger is not built yet"),
    ],
)
async def test_stats_on_a_ledger_url_that_names_none(
    cli: Cli, url: str, code: int, message: str
) -> None:
    stats = await cli.run("stats", "--ledger-url", url.format(tmp=cli.cwd))
    assert_one_line(stats, code, message.format(tmp=cli.cwd))
    assert not (cli.cwd / "missing.db").exists()


async def test_stats_reads_a_ledger_and_changes_nothing_in_it_or_beside_it(
    cli: Cli, hub_factory: HubFactory, client_for: ClientFactory, agencies: list[FakeAgency]
) -> None:
    hub = await hub_factory()
    await send_documents(client_for, agencies, 2)
    await settled_totals(hub, lambda t: t.routed == 2 and t.in_flight == 0)
    await hub.stop()
    path = Path(hub.settings.ledger_url.removeprefix("sqlite:///"))
    before = Fingerprint.of(path)
    assert before.companions == ()
    stats = await cli.run("stats", "--by", "year", "--json", "--ledger-url", url_of(path))
    assert stats.returncode == 0, stats.describe()
    printed = json.loads(stats.stdout)
    assert sum(row["documents"] for row in printed["periods"]) == 2
    assert Fingerprint.of(path) == before


async def test_hub_run_refuses_a_ledger_it_cannot_write(cli: Cli, registry: Path) -> None:
    path = cli.cwd / "dochub.db"
    ledger = await SqliteLedger.open(url_of(path), dt.timedelta(0))
    await ledger.close()
    before = Fingerprint.of(path)
    with unwritable(path):
        hub = await cli.run(*hub_run(cli, registry, path))
    assert_one_line(hub, LEDGER_EXIT, f"the ledger file {path} cannot be written")
    assert Fingerprint.of(path) == before


# The ledger unavailable for a while


async def test_a_locked_ledger_holds_the_messages_unacked_until_it_is_free(
    amqp_url: str,
    hub_factory: HubFactory,
    client_for: ClientFactory,
    agencies: list[FakeAgency],
    probe: BrokerProbe,
) -> None:
    """Another process holds the ledger's write lock for longer than the hub's busy timeout:
    the hub logs ``ledger_unavailable``, acks nothing, and once the lock is released routes every
    document once, by itself."""
    management_url = management_url_for(amqp_url)
    await require_management(management_url)
    with capture_logs() as logs:
        hub = await hub_factory(ledger_busy_timeout_s=BUSY_TIMEOUT_S)
        ingress = hub.names.ingress_queue
        async with locked(ledger_path(hub)) as release:
            sent = await send_documents(client_for, agencies, DOCUMENTS)
            await until_logged(logs, "ledger_unavailable")
            # Not one acked: none ready in the ingress queue, all of them in it (held by the
            # hub), none delivered, none recorded.
            async with ManagementClient(management_url) as management:
                await until(
                    lambda: queue_messages(management, vhost_of(amqp_url), ingress),
                    lambda held: held == DOCUMENTS,
                    STEP_S,
                )
            assert await probe.depth(ingress) == 0
            for agency in agencies[1:3]:
                assert await probe.depth(hub.names.inbox_queue(agency.id)) == 0
            assert (await hub.ledger.totals()).received == 0
            await until_logged(logs, "ledger_unavailable", retry_in_s=2.0)  # waiting longer
            await release()
        totals = await settled_totals(
            hub, lambda t: t.routed == DOCUMENTS and t.in_flight == 0, STEP_S
        )
    assert_routed_once(totals, sent)
    for agency in agencies[1:3]:
        inbox = hub.names.inbox_queue(agency.id)
        delivered = await probe.get_many(inbox, DOCUMENTS)
        assert sorted(str(message.message_id) for message in delivered) == sorted(sent)
    await until(lambda: probe.depth(ingress), lambda depth: depth == 0, NOTHING_MORE_S * 5)
    for agency in agencies[1:3]:
        assert await probe.depth(hub.names.inbox_queue(agency.id)) == 0  # each once
    unavailable = events_of(logs, "ledger_unavailable")
    assert {event["operation"] for event in unavailable} == {"admit"}
    assert all("locked by another process" in event["error"] for event in unavailable)
    assert all(event["log_level"] == "warning" for event in unavailable)
    assert {event["retry_in_s"] for event in unavailable} <= {0.5, 1.0, 2.0, 4.0, 5.0}
    recovered = events_of(logs, "ledger_recovered")  # by each worker that waited
    assert recovered
    assert all(event["unavailable_s"] > 0 for event in recovered)


async def test_the_hub_stops_while_its_ledger_is_locked_and_leaves_the_messages_queued(
    hub_factory: HubFactory,
    client_for: ClientFactory,
    agencies: list[FakeAgency],
    probe: BrokerProbe,
) -> None:
    with capture_logs() as logs:
        hub = await hub_factory(ledger_busy_timeout_s=BUSY_TIMEOUT_S)
        ingress = hub.names.ingress_queue
        async with locked(ledger_path(hub)) as release:
            sent = await send_documents(client_for, agencies, DOCUMENTS)
            await until_logged(logs, "ledger_unavailable")
            await until_done(hub.stop(), STEP_S)
            # Given back unacked, for the next hub.
            await until(lambda: probe.depth(ingress), lambda depth: depth == DOCUMENTS, STEP_S)
            await release()
        (summary,) = events_of(logs, "hub_summary")
        assert summary["ledger_accepted"] == 0
        assert events_of(logs, "ledger_wait_stopped")
        assert not events_of(logs, "hub_worker_failed")
        restarted = await hub_factory(ledger_busy_timeout_s=BUSY_TIMEOUT_S)
        totals = await settled_totals(
            restarted, lambda t: t.routed == DOCUMENTS and t.in_flight == 0, STEP_S
        )
    assert_routed_once(totals, sent)
    inbox = hub.names.inbox_queue(agencies[1].id)
    assert sorted(str(m.message_id) for m in await probe.get_many(inbox, DOCUMENTS)) == sorted(sent)
    assert await probe.depth(inbox) == 0


async def test_hub_run_ends_on_sigterm_while_its_ledger_is_locked(
    cli: Cli, registry: Path, probe: BrokerProbe
) -> None:
    cli.env["DOCHUB_LEDGER_BUSY_TIMEOUT_S"] = str(BUSY_TIMEOUT_S)
    hub = await cli.hub(registry)
    async with locked(cli.cwd / "dochub.db"):
        sent = await send_as_sender(cli, registry, DOCUMENTS)
        await hub.wait_for_event("ledger_unavailable")
        assert await hub.terminate() == 0, hub.describe()
        (summary,) = hub.events("hub_summary")
        assert summary["ledger_accepted"] == 0, hub.describe()
        assert "Traceback" not in hub.stderr
        ingress = Names(cli.namespace).ingress_queue
        await until(lambda: probe.depth(ingress), lambda depth: depth == len(sent), STEP_S)


async def test_hub_run_outlives_a_ledger_made_immutable_and_recovers(
    cli: Cli, registry: Path, probe: BrokerProbe
) -> None:
    """Immutable, its -shm file too: SQLite's next write to that memory-mapped file would be
    answered by SIGBUS, and the hub would die without a word. It logs instead, waits, and
    routes everything once the files are writable again."""
    hub = await cli.hub(registry)
    path = cli.cwd / "dochub.db"
    files = [path, *(Path(f"{path}{suffix}") for suffix in ("-wal", "-shm"))]
    assert all(file.exists() for file in files), [file.name for file in cli.cwd.iterdir()]
    with unwritable(*files):
        sent = await send_as_sender(cli, registry, DOCUMENTS)
        await hub.wait_for_event("ledger_unavailable", lambda event: event["attempts"] >= 2)
        assert hub.returncode is None, hub.describe()
    recovered = await hub.wait_for_event("ledger_recovered")
    assert recovered["operation"] == "admit"
    inbox = Names(cli.namespace).inbox_queue(RECIPIENT)
    delivered = await probe.get_many(inbox, len(sent), STEP_S)
    assert sorted(str(message.message_id) for message in delivered) == sorted(sent)
    assert await hub.terminate() == 0, hub.describe()
    (summary,) = hub.events("hub_summary")
    assert (summary["ledger_accepted"], summary["ledger_routed"]) == (DOCUMENTS, DOCUMENTS)
    assert summary["ledger_imbalances"] == []
    assert await probe.depth(inbox) == 0
    for event in hub.events("ledger_unavailable"):
        assert "cannot be written (read-only or immutable)" in event["error"], event


# Helpers


def hub_run(cli: Cli, registry: Path, ledger: Path) -> list[str | Path]:
    return [
        "hub", "run", "--registry", registry, "--hub-key", cli.cwd / "keys" / "hub.key",
        "--ledger-url", url_of(ledger),
    ]  # fmt: skip


def ledger_path(hub: Hub) -> Path:
    return Path(hub.settings.ledger_url.removeprefix("sqlite:///"))


def events_of(logs: Sequence[Mapping[str, Any]], name: str) -> list[Mapping[str, Any]]:
    return [event for event in logs if event["event"] == name]


async def until_logged(logs: Sequence[Mapping[str, Any]], name: str, **fields: object) -> None:
    """Until an event ``name`` with these ``fields`` is logged."""

    async def count() -> int:
        return sum(
            all(event.get(key) == value for key, value in fields.items())
            for event in events_of(logs, name)
        )

    await until(count, bool, STEP_S)


async def until_done(awaitable: Awaitable[None], within_s: float) -> None:
    try:
        await asyncio.wait_for(awaitable, within_s)
    except TimeoutError:
        pytest.fail(f"not done within {within_s}s")


async def queue_messages(management: ManagementClient, vhost: str, name: str) -> int:
    """Ready and unacked messages of a queue, as the management API last counted them."""
    for queue in await management.list_queues(vhost):
        if queue.name == name:
            return queue.messages
    return -1


async def send_documents(
    client_for: ClientFactory, agencies: list[FakeAgency], count: int
) -> list[str]:
    """``count`` documents from the first agency to the second and third; their ids."""
    sender = await client_for(agencies[0])
    recipients = [sender.organ_of(agency.id) for agency in agencies[1:3]]
    sent = []
    for _ in range(count):
        receipt = await sender.send(make_envelope(sender.organ, recipients))
        sent.append(str(receipt.model.id))
    return sent


async def send_as_sender(cli: Cli, registry: Path, count: int) -> list[str]:
    """``count`` documents from SENDER to RECIPIENT, sent with the client library; their ids."""
    async with sender_client(cli, registry) as client:
        sent = []
        for _ in range(count):
            envelope = make_envelope(client.organ, [client.organ_of(RECIPIENT)])
            sent.append(str((await client.send(envelope)).model.id))
    return sent


def sender_client(cli: Cli, registry: Path) -> AgencyClient:
    return AgencyClient(
        SENDER,
        load_signing_key(cli.cwd / "keys" / f"{SENDER}.key"),
        AgencyDirectory.from_toml(registry.read_text(encoding="utf-8")),
        amqp_url=cli.env["DOCHUB_AMQP_URL"],
        namespace=cli.namespace,
        connection_name=f"sender {uuid.uuid4().hex[:6]}",
        send_timeout_s=10.0,
    )


def assert_routed_once(totals: Totals, sent: list[str]) -> None:
    """Each of ``sent`` (to two recipients each) recorded and routed once."""
    assert (totals.accepted, totals.routed, totals.in_flight) == (len(sent), len(sent), 0)
    assert totals.deliveries == 2 * len(sent)
    assert totals.rejected == 0
    assert totals.imbalances() == []
