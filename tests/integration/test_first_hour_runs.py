"""Runs and what they leave behind, as a new user meets them: ``dochub namespace list|delete``,
``dochub simulate`` stopped by a signal or killed, its agencies' process, and a replay pointed at
no hub. Everything runs as the installed ``dochub`` in subprocesses, against the real broker.

Every test deletes its namespaces in a fixture's teardown, which runs even when pytest-timeout
interrupts the test; processes it started are stopped there first.
"""

import asyncio
import contextlib
import gc
import json
import logging
import os
import pty
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import aio_pika
import pytest
from aio_pika.abc import AbstractIncomingMessage

from agency_client import NotProvisioned
from hub.management import ManagementClient
from hub.namespaces import Namespace, delete_namespace, read_namespace
from hub.topology import QueuePolicy, Topology
from schemas import Names
from simulator.fleet import FleetConfig, run_fleet
from tests.integration.broker_users import management_url_for, require_management
from tests.ledger_files import Fingerprint

DOCHUB = str(Path(sys.executable).parent / "dochub")
SMALL_SCENARIO = Path(__file__).parent.parent / "data" / "small-scenario.toml"
AGENCIES = ["000.00.00.G12", "000.00.00.H29"]
STEP_S = 60.0
"""The longest a command may take before the test calls it a hang."""
STOP_S = 20.0
"""How long a signalled replay may take to stop and delete its namespace."""


def fresh_namespace() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


def read(management_url: str, namespace: str) -> Namespace:
    async def go() -> Namespace:
        async with ManagementClient(management_url) as api:
            return await read_namespace(api, "/", namespace)

    return asyncio.run(go())


def remove(management_url: str, namespace: str) -> None:
    async def go() -> None:
        async with ManagementClient(management_url) as api:
            found = await read_namespace(api, "/", namespace)
            await delete_namespace(api, "/", found)

    asyncio.run(go())


def until(holds: Callable[[], bool], within_s: float, what: str) -> None:
    deadline = time.monotonic() + within_s
    while not holds():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {within_s} s: {what}")
        time.sleep(0.2)


def declare(amqp_url: str, namespace: str) -> None:
    async def go() -> None:
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            channel = await connection.channel()
            await Topology(Names(namespace), QueuePolicy()).declare(channel, AGENCIES)
            await channel.default_exchange.publish(
                aio_pika.Message(b"left over"), Names(namespace).inbox_queue(AGENCIES[0])
            )

    asyncio.run(go())


class Runs:
    """Processes and namespaces of one test, stopped and deleted at its end whatever happens."""

    def __init__(self, amqp_url: str, management_url: str) -> None:
        self.amqp_url = amqp_url
        self.management_url = management_url
        self.processes: list[subprocess.Popen[str]] = []
        self.namespaces: list[str] = []

    def namespace(self) -> str:
        namespace = fresh_namespace()
        self.namespaces.append(namespace)
        return namespace

    def start(self, *arguments: str, cwd: Path) -> subprocess.Popen[str]:
        """``dochub ARGUMENTS`` in a session of its own (so that its whole group can be
        signalled, as a terminal's Ctrl-C does)."""
        process = subprocess.Popen(  # noqa: S603 - our own console script
            [DOCHUB, *arguments],
            cwd=cwd,
            env=self.env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def run(self, *arguments: str, cwd: Path, stdin: int | None = None) -> "Done":
        process = subprocess.Popen(  # noqa: S603 - our own console script
            [DOCHUB, *arguments],
            cwd=cwd,
            env=self.env(),
            stdin=subprocess.DEVNULL if stdin is None else stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        self.processes.append(process)
        stdout, stderr = process.communicate(timeout=STEP_S)
        return Done(arguments, process.returncode, stdout, stderr)

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "DOCHUB_AMQP_URL": self.amqp_url,
            "DOCHUB_MANAGEMENT_URL": self.management_url,
            "COLUMNS": "80",
        }

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                with_group(process, signal.SIGTERM)
                try:
                    process.wait(STOP_S)
                except subprocess.TimeoutExpired:
                    with_group(process, signal.SIGKILL)
                    process.wait()
        for process in self.processes:
            for stream in (process.stdout, process.stderr):
                if stream is not None:
                    stream.close()
        for namespace in self.namespaces:
            remove(self.management_url, namespace)


def with_group(process: subprocess.Popen[str], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


class Done:
    def __init__(self, arguments: tuple[str, ...], code: int, stdout: str, stderr: str) -> None:
        self.arguments, self.code, self.stdout, self.stderr = arguments, code, stdout, stderr

    def fails_in_one_line(self, code: int, *fragments: str) -> None:
        described = f"dochub {' '.join(self.arguments)} (exit {self.code})\n{self.stderr}"
        assert self.code == code, described
        lines = self.stderr.strip().splitlines()
        assert len(lines) == 1, described
        assert lines[0].startswith("error: "), described
        for fragment in fragments:
            assert fragment in lines[0], described


@pytest.fixture
def runs(amqp_url: str) -> Iterator[Runs]:
    management_url = management_url_for(amqp_url)
    asyncio.run(require_management(management_url))
    tracked = Runs(amqp_url, management_url)
    try:
        yield tracked
    finally:
        tracked.close()


def fleet_children(pid: int) -> list[int]:
    """The agencies' processes whose parent is ``pid``, from /proc (Linux)."""
    if not Path("/proc").is_dir():
        pytest.fail("these tests find child processes in /proc, which this system lacks")
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid and b"runs.fleet_process" in command:
            children.append(int(entry.name))
    return children


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# dochub namespace list | delete


def test_namespace_list_counts_and_delete_removes_exactly_that_namespace(
    runs: Runs, tmp_path: Path
) -> None:
    namespace = runs.namespace()
    neighbour = namespace + "2"  # shares the prefix without the dot: must not be touched
    runs.namespaces.append(neighbour)
    declare(runs.amqp_url, namespace)
    declare(runs.amqp_url, neighbour)
    queues = 2 + 2 * len(AGENCIES)
    until(lambda: len(read(runs.management_url, namespace).queues) == queues, 10, "listed")

    listed = runs.run("namespace", "list", "--json", cwd=tmp_path)
    assert listed.code == 0, listed.stderr
    rows = {row["namespace"]: row for row in json.loads(listed.stdout)["namespaces"]}
    assert rows[namespace]["queues"] == queues
    assert rows[namespace]["exchanges"] == len(read(runs.management_url, namespace).exchanges)
    assert rows[namespace]["exchanges"] >= 4
    assert rows[neighbour]["queues"] == queues
    table = runs.run("namespace", "list", cwd=tmp_path)
    assert table.code == 0, table.stderr
    assert namespace in table.stdout
    assert "file handles in use" in table.stdout

    unconfirmed = runs.run("namespace", "delete", namespace, cwd=tmp_path)
    unconfirmed.fails_in_one_line(2, "--yes", namespace)
    assert len(read(runs.management_url, namespace).queues) == queues

    deleted = runs.run("namespace", "delete", namespace, "--yes", cwd=tmp_path)
    assert deleted.code == 0, deleted.stderr
    assert f"deleted {queues} queues" in deleted.stdout
    assert f"deleted queue {Names(namespace).ingress_queue}" in deleted.stdout
    until(lambda: read(runs.management_url, namespace).empty, 10, "the namespace deleted")
    assert len(read(runs.management_url, neighbour).queues) == queues

    again = runs.run("namespace", "delete", namespace, "--yes", cwd=tmp_path)
    again.fails_in_one_line(1, f"{namespace}.", "namespace list")


def test_namespace_delete_asks_on_a_terminal(runs: Runs, tmp_path: Path) -> None:
    namespace = runs.namespace()
    declare(runs.amqp_url, namespace)
    until(lambda: not read(runs.management_url, namespace).empty, 10, "listed")
    for answer, code in ((b"n\n", 1), (b"y\n", 0)):
        controller, terminal = pty.openpty()
        try:
            os.write(controller, answer)
            done = runs.run("namespace", "delete", namespace, cwd=tmp_path, stdin=terminal)
        finally:
            os.close(terminal)
            os.close(controller)
        assert done.code == code, done.stdout + done.stderr
        assert "Delete 6 queues" in done.stdout
        deleted = code == 0
        until(
            lambda: read(runs.management_url, namespace).empty == deleted,  # noqa: B023
            10,
            "the answer taken",
        )


def test_namespace_delete_keeps_a_namespace_in_use_unless_forced(
    runs: Runs, tmp_path: Path
) -> None:
    namespace = runs.namespace()
    declare(runs.amqp_url, namespace)

    async def settle(message: AbstractIncomingMessage) -> None:
        await message.ack()

    async def consume_while(check: Callable[[], None]) -> None:
        connection = await aio_pika.connect(runs.amqp_url)
        async with connection:
            channel = await connection.channel()
            queue = await channel.get_queue(Names(namespace).ingress_queue, ensure=False)
            await queue.consume(settle, no_ack=False)
            await asyncio.to_thread(check)

    def check() -> None:
        until(lambda: read(runs.management_url, namespace).consumers == 1, 15, "a consumer")
        kept = runs.run("namespace", "delete", namespace, "--yes", cwd=tmp_path)
        kept.fails_in_one_line(2, "consumers", "--force")
        assert not read(runs.management_url, namespace).empty
        forced = runs.run("namespace", "delete", namespace, "--yes", "--force", cwd=tmp_path)
        assert forced.code == 0, forced.stderr

    asyncio.run(consume_while(check))
    until(lambda: read(runs.management_url, namespace).empty, 10, "the namespace deleted")


def test_namespace_mistakes_are_one_line_each(runs: Runs, tmp_path: Path) -> None:
    runs.run("namespace", "delete", "a.b", cwd=tmp_path).fails_in_one_line(
        2, "'a.b' is not a namespace"
    )
    runs.run(
        "namespace", "list", "--management-url", "http://guest:guest@127.0.0.1:1/", cwd=tmp_path
    ).fails_in_one_line(6, "127.0.0.1:1", "--management-url")
    runs.run(
        "namespace", "list", "--management-url", "amqp://127.0.0.1:15672/", cwd=tmp_path
    ).fails_in_one_line(5, "not http(s)")


# dochub simulate: a hub that is not there, a broker that does not answer


def test_simulate_against_no_hub_says_so_in_one_line(runs: Runs, tmp_path: Path) -> None:
    ledger = tmp_path / "hub.db"
    external = ("--hub", "external", "--ledger-url", f"sqlite:///{ledger}", "--scale", "10000")
    missing = runs.namespace()
    runs.run("simulate", *external, "--namespace", missing, cwd=tmp_path).fails_in_one_line(
        5, f"no hub on namespace '{missing}'", "dochub hub run"
    )
    declared = runs.namespace()
    declare(runs.amqp_url, declared)
    runs.run("simulate", *external, "--namespace", declared, cwd=tmp_path).fails_in_one_line(
        5, f"no hub is running on namespace '{declared}'"
    )
    assert not ledger.exists(), "a replay must not create the ledger it only reads"
    runs.run(
        "simulate", *external, "--namespace", declared,
        "--amqp-url", "amqp://guest:guest@127.0.0.1:1/", cwd=tmp_path,
    ).fails_in_one_line(6, "127.0.0.1:1")  # fmt: skip


def test_simulate_refuses_a_namespace_it_did_not_make(runs: Runs, tmp_path: Path) -> None:
    """An embedded replay deletes its namespace at the end: never someone else's."""
    taken = runs.namespace()
    declare(runs.amqp_url, taken)
    done = runs.run(
        "simulate", "--scenario", str(SMALL_SCENARIO), "--scale", "1", "--namespace", taken,
        cwd=tmp_path,
    )  # fmt: skip
    done.fails_in_one_line(5, f"namespace '{taken}' already exists")
    assert len(read(runs.management_url, taken).queues) == 2 + 2 * len(AGENCIES)


def test_simulate_leaves_a_ledger_it_did_not_write_alone(runs: Runs, tmp_path: Path) -> None:
    other = tmp_path / "hub.db"
    other.write_bytes(b"somebody's data")
    done = runs.run(
        "simulate", "--scenario", str(SMALL_SCENARIO), "--scale", "1",
        "--namespace", runs.namespace(), "--ledger-url", f"sqlite:///{other}", cwd=tmp_path,
    )  # fmt: skip
    done.fails_in_one_line(5, "the file exists")
    assert other.read_bytes() == b"somebody's data"


def test_simulate_against_a_broker_that_never_answers_fails_in_bounded_time(
    runs: Runs, tmp_path: Path
) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)  # TCP connects; nothing ever answers the AMQP handshake
        port = silent.getsockname()[1]
        done = runs.run(
            "simulate", "--scale", "10000", "--namespace", runs.namespace(),
            "--amqp-url", f"amqp://guest:guest@127.0.0.1:{port}/", cwd=tmp_path,
        )  # fmt: skip
    done.fails_in_one_line(6, f"127.0.0.1:{port}", "does not answer")


def test_export_registry_into_a_missing_folder_writes_nothing(runs: Runs, tmp_path: Path) -> None:
    done = runs.run("simulate", "--export-registry", "nodir/agencies.toml", cwd=tmp_path)
    done.fails_in_one_line(5, "nodir", "does not exist")
    assert list(tmp_path.iterdir()) == []


def test_the_agencies_fail_once_when_the_hub_is_not_there(
    amqp_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """One error out of the fleet, not one unretrieved task error per agency."""
    config = FleetConfig(
        amqp_url=amqp_url,
        namespace=fresh_namespace(),
        scenario="vdxp-2019-2022",
        scale=10000,
        seed=1,
        run_id=uuid.uuid4().hex[:10],
    )
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        with pytest.raises(NotProvisioned, match="is a hub running"):
            asyncio.run(asyncio.wait_for(run_fleet(config, lambda _: None), STEP_S))
        gc.collect()
    assert not [record for record in caplog.records if record.name == "asyncio"]


# dochub simulate and its ledgers: a new one each run, none ever deleted or changed


def small_replay(runs: Runs, *arguments: str) -> tuple[str, ...]:
    return (
        *("simulate", "--scenario", str(SMALL_SCENARIO), "--scale", "1"),
        *("--namespace", runs.namespace(), *arguments),
    )


def test_each_default_replay_keeps_a_new_ledger_of_its_own(runs: Runs, tmp_path: Path) -> None:
    for run in (1, 2):
        done = runs.run(*small_replay(runs), cwd=tmp_path)
        assert done.code == 0, done.stdout + done.stderr
        ledgers = sorted((tmp_path / "simulations").glob("*.db"))
        assert len(ledgers) == run, "each replay writes a ledger of its own, and keeps the last"
        named = [ledger for ledger in ledgers if ledger.name in done.stdout]
        assert len(named) == 1, done.stdout
        url = f"sqlite:///./simulations/{named[0].name}"
        assert f"read it again with: dochub stats --ledger-url {url}" in done.stdout
    for ledger in ledgers:
        url = f"sqlite:///./simulations/{ledger.name}"
        stats = runs.run("stats", "--json", "--ledger-url", url, cwd=tmp_path)
        assert stats.code == 0, stats.stderr
        periods = json.loads(stats.stdout)["periods"]
        assert sum(period["documents"] for period in periods) == 144


def test_a_replay_refuses_a_ledger_that_holds_data_and_leaves_it_as_it_was(
    runs: Runs, tmp_path: Path
) -> None:
    ledger = tmp_path / "hub.db"
    url = f"sqlite:///{ledger}"
    made = runs.run(*small_replay(runs, "--ledger-url", url), cwd=tmp_path)
    assert made.code == 0, made.stdout + made.stderr
    before = Fingerprint.of(ledger)

    embedded = runs.run(*small_replay(runs, "--ledger-url", url), cwd=tmp_path)
    embedded.fails_in_one_line(5, f"the ledger {url} is not empty (144 documents", "never deletes")
    assert Fingerprint.of(ledger) == before

    namespace = runs.namespace()
    declare(runs.amqp_url, namespace)
    external = (
        *("simulate", "--scenario", str(SMALL_SCENARIO), "--scale", "1", "--hub", "external"),
        *("--namespace", namespace, "--ledger-url", url),
    )

    async def settle(message: AbstractIncomingMessage) -> None:
        await message.ack()

    async def with_a_consumer() -> Done:
        """Something consumes the namespace's ingress queue, as a running hub would."""
        connection = await aio_pika.connect(runs.amqp_url)
        async with connection:
            channel = await connection.channel()
            queue = await channel.get_queue(Names(namespace).ingress_queue, ensure=False)
            await queue.consume(settle, no_ack=False)
            return await asyncio.to_thread(runs.run, *external, cwd=tmp_path)

    asyncio.run(with_a_consumer()).fails_in_one_line(
        5, f"the ledger {url} is not empty (144 documents", "fresh ledger"
    )
    assert Fingerprint.of(ledger) == before


# dochub simulate stopped: nothing left running, nothing left on the broker


def start_replay(runs: Runs, tmp_path: Path) -> tuple[subprocess.Popen[str], str, int]:
    """The built-in scenario, running: its namespace declared, its agencies' process started."""
    namespace = runs.namespace()
    process = runs.start("simulate", "--scale", "10000", "--namespace", namespace, cwd=tmp_path)
    until(
        lambda: process.poll() is not None or len(fleet_children(process.pid)) == 1,
        STEP_S,
        "the agencies' process started",
    )
    assert process.poll() is None, process.communicate()
    until(lambda: len(read(runs.management_url, namespace).queues) > 2, STEP_S, "the namespace")
    time.sleep(2)  # the agencies are sending
    return process, namespace, fleet_children(process.pid)[0]


@pytest.mark.parametrize(
    ("signum", "whole_group"),
    [
        pytest.param(signal.SIGTERM, False, id="SIGTERM to the replay, as `kill` sends it"),
        pytest.param(signal.SIGINT, True, id="SIGINT to its group, as Ctrl-C sends it"),
    ],
)
def test_a_signalled_simulate_stops_its_agencies_and_deletes_its_namespace(
    runs: Runs, tmp_path: Path, signum: signal.Signals, whole_group: bool
) -> None:
    process, namespace, child = start_replay(runs, tmp_path)
    if whole_group:
        os.killpg(process.pid, signum)
    else:
        process.send_signal(signum)
    try:
        _, stderr = process.communicate(timeout=STOP_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"dochub simulate did not stop within {STOP_S} s of {signum.name}")
    assert process.returncode == 128 + signum, stderr
    assert stderr.strip() == f"error: interrupted by {signum.name}: the replay did not finish"
    assert not alive(child), "the agencies' process outlived the replay"
    until(lambda: read(runs.management_url, namespace).empty, 10, "the namespace deleted")


def test_a_killed_simulate_leaves_no_agencies_running(runs: Runs, tmp_path: Path) -> None:
    """SIGKILL leaves no chance to clean up: the agencies notice and stop by themselves, and
    `dochub namespace delete` removes what is left."""
    process, namespace, child = start_replay(runs, tmp_path)
    process.kill()
    process.wait()
    until(lambda: not alive(child), STOP_S, "the agencies' process stopped")
    assert not read(runs.management_url, namespace).empty
    done = runs.run("namespace", "delete", namespace, "--yes", "--force", cwd=tmp_path)
    assert done.code == 0, done.stderr
    until(lambda: read(runs.management_url, namespace).empty, 10, "the namespace deleted")
