"""``dochub simulate`` end to end, as a user runs it: simulated agencies on ``agency_client``, a
real hub on the real broker, and figures read back from the hub's ledger.

Every replay runs on a namespace of the test's own, deleted by the ``launched`` fixture's teardown
with the processes the test started: it runs even when pytest-timeout interrupts the test.
"""

import asyncio
import contextlib
import datetime as dt
import json
import signal
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from hub.management import ManagementClient
from hub.namespaces import delete_namespace, read_namespace
from hub.periods import Period, by_period
from hub.sqlite_ledger import SqliteLedger, sqlite_path
from schemas import AgencyDirectory
from tests.integration.broker_users import management_url_for, require_management
from tests.integration.dochub_process import hub_run, run_dochub, stop_group

SMALL_SCENARIO = Path(__file__).parent.parent / "data" / "small-scenario.toml"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SIMULATE_TIMEOUT_S = 100
"""Less than pytest's timeout: a replay that hangs is stopped by the test, which says so."""


class Launched:
    """The namespaces and processes of one test: the processes are stopped (SIGTERM, then
    SIGKILL), then the namespaces deleted, when the test ends, however it ends."""

    def __init__(self, management_url: str) -> None:
        self.management_url = management_url
        self.namespaces: list[str] = []
        self.pids: list[int] = []

    def namespace(self) -> str:
        namespace = f"t-{uuid.uuid4().hex[:12]}"
        self.namespaces.append(namespace)
        return namespace

    def close(self) -> None:
        for pid in self.pids:
            stop_group(pid)
        asyncio.run(self._delete())

    async def _delete(self) -> None:
        async with ManagementClient(self.management_url) as api:
            for namespace in self.namespaces:
                await delete_namespace(api, "/", await read_namespace(api, "/", namespace))


@pytest.fixture
def launched(amqp_url: str) -> Iterator[Launched]:
    management_url = management_url_for(amqp_url)
    asyncio.run(require_management(management_url))
    tracked = Launched(management_url)
    try:
        yield tracked
    finally:
        tracked.close()


def simulate(
    launched: Launched, cwd: Path, amqp_url: str, *arguments: str
) -> subprocess.CompletedProcess[str]:
    """``dochub simulate ARGUMENTS``; stopped with SIGTERM (so that it deletes its namespace)
    if it takes too long or the test is interrupted meanwhile."""
    return run_dochub(
        "simulate", cwd, amqp_url, arguments, SIMULATE_TIMEOUT_S, started=launched.pids.append
    )


async def ledger_of(url: str) -> tuple[dict[str, int], dict[str, int], int]:
    """Documents per month and per sender, and all deliveries, as the ledger holds them."""
    ledger = await SqliteLedger.open(url, dt.timedelta(hours=7))
    try:
        totals = await ledger.totals()
        days = await ledger.day_counts()
    finally:
        await ledger.close()
    months = {row.period: row.documents for row in by_period(days, Period.MONTH) if row.documents}
    return months, totals.documents_by_sender, totals.deliveries


async def test_the_national_replay_meets_every_figure_from_the_ledger(
    amqp_url: str, tmp_path: Path, launched: Launched
) -> None:
    done = simulate(
        launched,
        tmp_path,
        amqp_url,
        *("--scale", "10000", "--namespace", launched.namespace()),
        *("--json", "r.json", "--report", "report"),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok  accounting balances: nothing lost, nothing counted twice" in done.stdout
    assert "12,800,000" in done.stdout

    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    figures = report["figures"]
    assert figures["cumulative_2022_06_30"].items() >= {
        ("measured", 12_800_000),
        ("target", 12_800_000),
    }
    assert figures["h1_2022"].items() >= {("measured", 3_700_000), ("target", 3_700_000)}
    assert figures["h1_2021"]["target"] == 973_684
    assert abs(figures["h1_2021"]["measured"] - 973_684) <= 10_000  # one replayed document
    assert figures["h1_2022_vs_h1_2021"].items() >= {("measured", 3.8), ("target", 3.8)}
    assert all(figure["matches"] for figure in figures.values())
    assert (report["lost"], report["double_counted"]) == (0, 0)
    assert report["documents"] == 1_280
    assert report["elapsed_s"] > 0
    assert report["docs_per_s"] == pytest.approx(1_280 / report["elapsed_s"], rel=0.01)

    ledger = tmp_path / sqlite_path(report["ledger"])
    assert ledger.parent == tmp_path / "simulations", "a replay keeps a new ledger there"
    months, _, deliveries = await ledger_of(f"sqlite:///{ledger}")
    assert sum(months.values()) == 1_280
    assert deliveries == report["deliveries"]
    assert {row["month"]: row["measured"] for row in report["monthly"] if row["measured"]} == months
    assert sum(count for month, count in months.items() if month.startswith("2022-0")) == 370

    assert (tmp_path / "report" / "replay.png").read_bytes().startswith(PNG_SIGNATURE)
    assert "3,700,000" in (tmp_path / "report" / "replay.md").read_text(encoding="utf-8")
    assert json.loads((tmp_path / "report" / "replay.json").read_text())["ok"] is True


async def test_another_seed_gives_other_traffic_but_the_same_totals(
    amqp_url: str, tmp_path: Path, launched: Launched
) -> None:
    outcomes = []
    for seed in ("1", "2"):
        ledger = f"sqlite:///{tmp_path / f'seed-{seed}.db'}"
        done = simulate(
            launched,
            tmp_path,
            amqp_url,
            *("--scenario", str(SMALL_SCENARIO), "--scale", "1", "--seed", seed),
            *("--namespace", launched.namespace()),
            *("--ledger-url", ledger, "--json", f"seed-{seed}.json"),
        )
        assert done.returncode == 0, done.stdout + done.stderr
        outcomes.append(await ledger_of(ledger))
    (months_1, senders_1, _), (months_2, senders_2, _) = outcomes
    assert months_1 == months_2
    assert sum(months_1.values()) == 144
    assert sum(senders_1.values()) == sum(senders_2.values()) == 144
    assert senders_1 != senders_2, "another seed must change who sends"


@pytest.fixture
def external_namespace(launched: Launched) -> str:
    return launched.namespace()


@contextlib.asynccontextmanager
async def running_hub(
    launched: Launched, amqp_url: str, namespace: str, registry: Path, ledger: str
) -> AsyncIterator[None]:
    """``dochub hub run`` as a user starts it; stopped with SIGTERM, which must end it cleanly."""
    async with hub_run(amqp_url, namespace, registry, ledger, launched.pids.append) as process:
        yield
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0


def exported_registry(
    launched: Launched, tmp_path: Path, amqp_url: str, *, leave_out: str | None = None
) -> Path:
    registry = tmp_path / "sim-agencies.toml"
    exported = simulate(
        launched,
        tmp_path,
        amqp_url,
        *("--scenario", str(SMALL_SCENARIO), "--export-registry", str(registry)),
    )
    assert exported.returncode == 0, exported.stderr
    if leave_out is not None:
        directory = AgencyDirectory.from_toml(registry.read_text(encoding="utf-8"))
        kept = [entry for entry in directory.agencies if entry.id != leave_out]
        assert len(kept) == len(directory.agencies) - 1
        trimmed = AgencyDirectory(hub=directory.hub, agencies=kept)
        registry.write_text(trimmed.to_toml(), encoding="utf-8")
    return registry


async def test_a_replay_through_an_external_hub_reads_that_hubs_ledger(
    amqp_url: str, tmp_path: Path, launched: Launched, external_namespace: str
) -> None:
    ledger = f"sqlite:///{tmp_path / 'external.db'}"
    arguments = (
        *("--scenario", str(SMALL_SCENARIO), "--scale", "1", "--hub", "external"),
        *("--namespace", external_namespace, "--ledger-url", ledger),
    )
    registry = exported_registry(launched, tmp_path, amqp_url)
    async with running_hub(launched, amqp_url, external_namespace, registry, ledger):
        done = await asyncio.to_thread(
            simulate, launched, tmp_path, amqp_url, *arguments, "--json", "x.json"
        )
        assert done.returncode == 0, done.stdout + done.stderr
        report = json.loads((tmp_path / "x.json").read_text(encoding="utf-8"))
        assert report["hub"] == "external"
        assert report["documents"] == 144
        months, _, _ = await ledger_of(ledger)
        assert sum(months.values()) == 144

        again = await asyncio.to_thread(simulate, launched, tmp_path, amqp_url, *arguments)
        assert again.returncode == 5
        assert "is not empty" in again.stderr


async def test_a_replay_whose_figures_are_off_exits_1_and_says_which(
    amqp_url: str, tmp_path: Path, launched: Launched, external_namespace: str
) -> None:
    """The hub does not know one of the simulated agencies: it refuses that agency's documents,
    so the ledger falls short of the plan."""
    ledger = f"sqlite:///{tmp_path / 'external.db'}"
    registry = exported_registry(launched, tmp_path, amqp_url, leave_out="000.00.00.H58")
    async with running_hub(launched, amqp_url, external_namespace, registry, ledger):
        done = await asyncio.to_thread(
            simulate,
            launched,
            tmp_path,
            amqp_url,
            *("--scenario", str(SMALL_SCENARIO), "--scale", "1", "--hub", "external"),
            *("--namespace", external_namespace, "--ledger-url", ledger),
            *("--stall-timeout", "3", "--json", "off.json"),
        )
    assert done.returncode == 1, done.stdout + done.stderr
    output = " ".join(done.stdout.split())
    assert "OFF Cumulative to 30 June 2022: measured" in output
    assert "the plan 144" in output
    assert "the hub refused" in output
    report = json.loads((tmp_path / "off.json").read_text(encoding="utf-8"))
    assert report["ok"] is False
    assert report["figures"]["cumulative_2022_06_30"]["matches"] is False
    assert report["lost"] > 0
