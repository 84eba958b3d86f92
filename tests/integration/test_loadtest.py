"""``dochub loadtest`` end to end, as a user runs it: the real command line, a real hub (embedded,
or ``dochub hub run`` killed with SIGKILL mid-run and restarted), the agencies' own process and the
real broker. The figures asserted are exact counts and the report's shape, never speed.

Every namespace a test gives the load test (and the ``-ceiling`` and ``-N`` ones it derives) is
deleted after the test, whatever the load test itself deleted.
"""

import asyncio
import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from aio_pika.exceptions import ChannelNotFoundEntity

from hub.sqlite_ledger import SqliteLedger
from hub.topology import QueuePolicy, Topology
from runs.ceiling import relay_queues
from runs.load_schedule import agency_ids
from schemas import Names
from tests.integration.dochub_process import DOCHUB, STOP_S, hub_run, run_dochub
from tests.integration.waiting import until

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RUN_TIMEOUT_S = 90
AGENCIES = 4
PERCENTILES = ("p50", "p95", "p99", "p999", "max")
REPORT_FIELDS = {
    "sent",
    "accepted",
    "delivered",
    "receipts",
    "lost",
    "double_counted",
    "docs_per_s",
    "latency_ms",
    "hub_cpu_s",
    "hub_peak_rss_mb",
    "ceiling_msgs_per_s",
    "ratio_to_ceiling",
    "offered_rate",
    "duration_s",
    "agencies",
    "size_bytes",
    "limits",
    "limits_held",
}


class Namespaces:
    """The namespaces of one test, deleted (with their ceiling's queues) when it ends."""

    def __init__(self, amqp_url: str) -> None:
        self.amqp_url = amqp_url
        self.made: list[str] = []

    def new(self) -> str:
        namespace = f"t-{uuid.uuid4().hex[:12]}"
        self.made.append(namespace)
        return namespace

    async def exists(self, namespace: str) -> bool:
        connection = await aio_pika.connect(self.amqp_url)
        async with connection:
            channel = await connection.channel()
            try:
                await channel.declare_queue(Names(namespace).ingress_queue, passive=True)
            except ChannelNotFoundEntity:
                return False
            return True

    async def delete_all(self) -> None:
        connection = await aio_pika.connect(self.amqp_url)
        async with connection:
            channel = await connection.channel()
            for base in self.made:
                for namespace in (base, *(f"{base}-{step}" for step in range(1, 4))):
                    await Topology(Names(namespace), QueuePolicy()).delete(
                        channel, agency_ids(AGENCIES)
                    )
                for queue in relay_queues(f"{base}-ceiling"):
                    await channel.queue_delete(queue)


@pytest.fixture
def namespaces(amqp_url: str) -> Iterator[Namespaces]:
    made = Namespaces(amqp_url)
    try:
        yield made
    finally:
        asyncio.run(made.delete_all())


def loadtest(cwd: Path, amqp_url: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    """``dochub loadtest ARGUMENTS``, stopped with SIGTERM if it takes too long."""
    return run_dochub("loadtest", cwd, amqp_url, arguments, RUN_TIMEOUT_S)


def assert_exact(report: dict[str, Any], recipients: int) -> None:
    assert report["lost"] == 0
    assert report["double_counted"] == 0
    assert report["sent"] == report["scheduled"] == report["accepted"] > 0
    assert report["delivered"] == report["accepted"] * recipients
    assert report["receipts"] == report["delivered"]
    assert report["ledger"]["deliveries"] == report["delivered"]
    assert report["ledger"]["receipts"] == report["receipts"]


def assert_ordered(percentiles: dict[str, float]) -> None:
    values = [percentiles[name] for name in PERCENTILES]
    assert values == sorted(values), percentiles
    assert percentiles["count"] > 0


async def test_an_embedded_load_test_reports_exact_counts_latency_and_charts(
    amqp_url: str, tmp_path: Path, namespaces: Namespaces
) -> None:
    namespace = namespaces.new()
    done = await asyncio.to_thread(
        loadtest,
        tmp_path,
        amqp_url,
        *("--agencies", str(AGENCIES), "--rate", "50", "--duration", "3", "--recipients", "2"),
        *("--namespace", namespace, "--ceiling-messages", "300"),
        *("--json", "out.json", "--report", "report"),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert report.keys() >= REPORT_FIELDS
    assert report["ok"] is True
    assert report["hub"] == "embedded"
    assert_exact(report, recipients=2)
    assert_ordered(report["latency_ms"]["send_to_delivered"])
    assert_ordered(report["latency_ms"]["send_to_receipt"])
    assert report["hub_cpu_s"] > 0
    assert report["hub_peak_rss_mb"] > 0
    assert report["ceiling_msgs_per_s"] > 0
    assert report["ratio_to_ceiling"] == pytest.approx(
        report["docs_per_s"] / report["ceiling_msgs_per_s"], abs=0.0005
    )  # to three decimals
    assert sum(second["sent"] for second in report["timeline"]) == report["sent"]
    folder = tmp_path / "report"
    assert json.loads((folder / "report.json").read_text(encoding="utf-8")) == report
    for chart in ("throughput.png", "latency.png"):
        assert (folder / chart).read_bytes().startswith(PNG_SIGNATURE)
    assert not await namespaces.exists(namespace), "the load test must delete its namespace"


async def test_sigterm_stops_a_load_test_and_deletes_its_namespaces(
    amqp_url: str, tmp_path: Path, namespaces: Namespaces
) -> None:
    namespace = namespaces.new()
    process = await asyncio.create_subprocess_exec(
        *(DOCHUB, "loadtest", "--agencies", "3", "--rate", "20", "--duration", "60"),
        *("--namespace", namespace, "--ceiling-messages", "0"),
        cwd=tmp_path,
        env={**os.environ, "DOCHUB_AMQP_URL": amqp_url},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    assert process.stderr is not None
    try:
        async with asyncio.timeout(30):  # until the first progress line: the agencies send
            while not (line := await process.stderr.readline()).startswith(b"sending"):
                assert line, "the load test ended before it sent anything"
        assert await namespaces.exists(namespace)
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), STOP_S + 10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert stderr.decode().strip().splitlines()[-1] == (
        "error: interrupted by SIGTERM: the load test did not finish"
    )
    assert not await namespaces.exists(namespace)


@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        (("--recipients", "2-5"), "--recipients 2-5"),
        (("--rate", "0"), "--rate must be more than 0"),
        (("--hub", "external"), "--hub external needs the --namespace"),
    ],
)
def test_usage_mistakes_exit_2_with_one_line(
    amqp_url: str, tmp_path: Path, arguments: tuple[str, ...], named: str
) -> None:
    done = loadtest(tmp_path, amqp_url, "--agencies", str(AGENCIES), *arguments)
    assert done.returncode == 2, done.stdout + done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("error: ")
    assert named in line


@contextlib.asynccontextmanager
async def hub_process(
    amqp_url: str, namespace: str, registry: Path, ledger: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``dochub hub run`` as a user starts it, once it has started, its logs read meanwhile;
    killed at the end if it still runs."""
    async with hub_run(amqp_url, namespace, registry, ledger) as process:
        assert process.stderr is not None
        drain = asyncio.create_task(_drain(process.stderr))
        yield process
        drain.cancel()


async def _drain(stream: asyncio.StreamReader) -> None:
    """Read the hub's logs, so that a full pipe never stalls it."""
    while await stream.readline():
        pass


async def until_accepted(ledger_url: str, documents: int) -> None:
    """Until the hub's ledger holds ``documents`` documents (read-only, as the load test reads
    it); fails the test after 30 s."""
    ledger = await SqliteLedger.open_read_only(ledger_url, dt.timedelta(0))
    try:
        await until(ledger.totals, lambda totals: totals.accepted >= documents, 30)
    finally:
        await ledger.close()


async def exported_registry(tmp_path: Path, amqp_url: str) -> Path:
    """The load test's agency directory (and the hub's key beside it), for ``dochub hub run``."""
    registry = tmp_path / "load-agencies.toml"
    exported = await asyncio.to_thread(
        loadtest,
        tmp_path,
        amqp_url,
        *("--agencies", str(AGENCIES), "--export-registry", str(registry)),
    )
    assert exported.returncode == 0, exported.stderr
    return registry


async def test_an_external_hub_killed_and_restarted_mid_run_still_gives_an_exact_report(
    amqp_url: str, tmp_path: Path, namespaces: Namespaces
) -> None:
    namespace = namespaces.new()
    registry = await exported_registry(tmp_path, amqp_url)
    ledger = f"sqlite:///{tmp_path / 'hub.db'}"
    async with hub_process(amqp_url, namespace, registry, ledger) as first:
        running = asyncio.create_task(
            asyncio.to_thread(
                loadtest,
                tmp_path,
                amqp_url,
                *("--agencies", str(AGENCIES), "--rate", "40", "--duration", "6"),
                *("--recipients", "2", "--hub", "external", "--namespace", namespace),
                *("--ledger-url", ledger, "--ceiling-messages", "0", "--json", "out.json"),
            )
        )
        await until_accepted(ledger, 30)  # mid-run: the hub has routed some, more are coming
        assert not running.done()
        first.kill()  # SIGKILL: no clean stop, batches cut short
        await first.wait()
        await asyncio.sleep(1.0)  # documents wait in the ingress queue meanwhile
        async with hub_process(amqp_url, namespace, registry, ledger) as second:
            done = await running
            second.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(second.wait(), 30) == 0
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    assert report["hub"] == "external"
    assert_exact(report, recipients=2)
    assert report["hub_cpu_s"] is None
    assert "--hub-pid" in report["hub_note"]


async def test_find_max_runs_each_step_on_a_fresh_namespace_and_reports_each(
    amqp_url: str, tmp_path: Path, namespaces: Namespaces
) -> None:
    namespace = namespaces.new()
    done = await asyncio.to_thread(
        loadtest,
        tmp_path,
        amqp_url,
        *("--agencies", str(AGENCIES), "--duration", "2", "--namespace", namespace),
        *("--find-max", "--start-rate", "20", "--step", "20", "--max-steps", "2"),
        *("--ceiling-messages", "200", "--max-p99-ms", "60000", "--json", "max.json"),
        *("--report", "max"),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    outcome = json.loads((tmp_path / "max.json").read_text(encoding="utf-8"))
    assert [step["offered_rate"] for step in outcome["steps"]] == [20, 40]
    assert [step["namespace"] for step in outcome["steps"]] == [f"{namespace}-1", f"{namespace}-2"]
    for step in outcome["steps"]:
        assert step["held"] is True
        assert step["lost"] == 0
        assert step["double_counted"] == 0
        assert 0 < step["p99_ms"] <= step["p999_ms"]
    assert outcome["highest_sustained_rate"] == 40
    assert json.loads((tmp_path / "max" / "find-max.json").read_text(encoding="utf-8")) == outcome
    for number in (1, 2):
        step_folder = tmp_path / "max" / f"step-{number}"
        assert (step_folder / "latency.png").read_bytes().startswith(PNG_SIGNATURE)
        step_report = json.loads((step_folder / "report.json").read_text(encoding="utf-8"))
        assert step_report["offered_rate"] == 20 * number
    assert outcome["limits"]["max_p99_ms"] == 60000
    for step in (1, 2):
        assert not await namespaces.exists(f"{namespace}-{step}")


async def test_find_max_against_an_external_hub_steps_on_its_namespace_and_counts_each_step(
    amqp_url: str, tmp_path: Path, namespaces: Namespaces
) -> None:
    namespace = namespaces.new()
    registry = await exported_registry(tmp_path, amqp_url)
    ledger = f"sqlite:///{tmp_path / 'hub.db'}"
    async with hub_process(amqp_url, namespace, registry, ledger) as hub:
        done = await asyncio.to_thread(
            loadtest,
            tmp_path,
            amqp_url,
            *("--agencies", str(AGENCIES), "--duration", "2", "--recipients", "2"),
            *("--hub", "external", "--namespace", namespace, "--ledger-url", ledger),
            *("--find-max", "--start-rate", "20", "--step", "20", "--max-steps", "2"),
            *("--ceiling-messages", "0", "--max-p99-ms", "60000", "--report", "max"),
        )
        assert hub.returncode is None  # the load test leaves the hub running
        hub.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(hub.wait(), 30) == 0
    assert done.returncode == 0, done.stdout + done.stderr
    outcome = json.loads((tmp_path / "max" / "find-max.json").read_text(encoding="utf-8"))
    assert [step["offered_rate"] for step in outcome["steps"]] == [20, 40]
    assert [step["namespace"] for step in outcome["steps"]] == [namespace, namespace]
    assert all(
        step["held"] and not step["lost"] and not step["double_counted"]
        for step in outcome["steps"]
    )
    assert outcome["highest_sustained_rate"] == 40
    # Each step counts only what it sent, read from the growth of the hub's one ledger.
    reports = [
        json.loads((tmp_path / "max" / f"step-{n}" / "report.json").read_text(encoding="utf-8"))
        for n in (1, 2)
    ]
    for report in reports:
        assert report["hub"] == "external"
        assert_exact(report, recipients=2)
    hub_ledger = await SqliteLedger.open_read_only(ledger, dt.timedelta(0))
    try:
        totals = await hub_ledger.totals()
    finally:
        await hub_ledger.close()
    assert totals.accepted == totals.routed == sum(report["accepted"] for report in reports)
    assert totals.deliveries == sum(report["delivered"] for report in reports)
    assert await namespaces.exists(namespace)  # the hub's namespace is the hub's, never deleted
