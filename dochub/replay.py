"""A replay of national traffic: a hub (embedded, or one already running), the simulated agencies
in a process of their own, and the figures read back from the hub's ledger."""

import asyncio
import datetime as dt
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import aio_pika
from aio_pika.exceptions import AMQPError

from hub.ledger import Ledger, Totals
from hub.ledger_url import open_ledger
from hub.periods import DayCounts, Period, by_period
from hub.registry import Registry
from hub.service import Hub
from hub.settings import HubSettings
from hub.sqlite_ledger import sqlite_path
from hub.topology import Topology
from schemas.urls import broker_user
from simulator.figures import FigureResult, check_scale, evaluate_figures
from simulator.fleet import FleetConfig, FleetProgress, FleetResult
from simulator.identities import SIMULATED_HUB, simulation_directory, simulation_key
from simulator.scaling import scale_months
from simulator.scenario import Scenario, ScenarioError, load_scenario

HubMode = Literal["embedded", "external"]
_SETTLE_TIMEOUT_S = 30.0


class ReplayError(Exception):
    """The replay could not run: a bad scale, a busy ledger, a fleet that died."""


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    scenario: str
    scale: int
    seed: int | None
    hub: HubMode
    amqp_url: str
    ledger_url: str
    namespace: str | None = None
    workers: int = 1
    stall_timeout_s: float = 60.0


@dataclass(frozen=True, slots=True)
class ReplayOutcome:
    scenario: Scenario
    options: ReplayOptions
    seed: int
    namespace: str
    fleet: FleetResult
    totals: Totals
    days: DayCounts
    figures: list[FigureResult]
    planned_months: dict[str, int]
    elapsed_s: float

    def _counted(self) -> list[tuple[int, int, int]]:
        """Planned, in the ledger, and as the agencies saw it: documents, deliveries, receipts."""
        fleet, totals = self.fleet, self.totals
        return [
            (fleet.documents_planned, totals.accepted, totals.accepted),
            (fleet.deliveries_expected, totals.deliveries, fleet.deliveries_received),
            (fleet.receipts_expected, totals.receipts, fleet.receipts_received),
        ]

    @property
    def lost(self) -> int:
        """Planned items missing from the ledger or never reaching their agency."""
        return sum(max(0, planned - min(ledger, seen)) for planned, ledger, seen in self._counted())

    @property
    def double_counted(self) -> int:
        """Items beyond the plan, in the ledger or as the agencies received them."""
        return sum(max(0, max(ledger, seen) - planned) for planned, ledger, seen in self._counted())

    def accounting_problems(self) -> list[str]:
        fleet, totals = self.fleet, self.totals
        problems = list(totals.imbalances())
        checks = [
            (not fleet.stalled, "the replay stalled: nothing moved for the stall timeout"),
            (totals.in_flight == 0, f"{totals.in_flight} documents still in flight"),
            (totals.rejected == 0, f"the hub refused {totals.rejected} inputs"),
            (
                totals.accepted == fleet.documents_planned,
                f"ledger has {totals.accepted} documents, the plan {fleet.documents_planned}",
            ),
            (
                totals.deliveries == fleet.deliveries_expected == fleet.deliveries_received,
                f"deliveries: ledger {totals.deliveries}, planned {fleet.deliveries_expected}, "
                f"received by agencies {fleet.deliveries_received}",
            ),
            (
                totals.receipts == fleet.receipts_expected == fleet.receipts_received,
                f"receipts: ledger {totals.receipts}, planned {fleet.receipts_expected}, "
                f"read by senders {fleet.receipts_received}",
            ),
            (
                totals.relayed == totals.receipt_messages,
                f"{totals.receipt_messages - totals.relayed} not relayed",
            ),
        ]
        problems += [message for holds, message in checks if not holds]
        measured = {row.period: row.documents for row in by_period(self.days, Period.MONTH)}
        off = [
            f"{month}: {measured.get(month, 0)} of {planned}"
            for month, planned in self.planned_months.items()
            if measured.get(month, 0) != planned
        ]
        off += [
            f"{month}: {count} outside the scenario"
            for month, count in measured.items()
            if month not in self.planned_months and count
        ]
        if off:
            problems.append("documents per month differ from the plan: " + ", ".join(off[:5]))
        return problems

    @property
    def ok(self) -> bool:
        return all(figure.matches for figure in self.figures) and not self.accounting_problems()


async def run_replay(
    options: ReplayOptions, on_progress: Callable[[FleetProgress], None]
) -> ReplayOutcome:
    scenario = _load(options.scenario)
    seed = options.seed if options.seed is not None else scenario.seed
    unmeetable = check_scale(scenario, options.scale)
    if unmeetable:
        raise ReplayError(f"scale {options.scale} is too coarse: {'; '.join(unmeetable)}")
    run_id = uuid.uuid4().hex[:10]
    if options.hub == "external" and not options.namespace:
        raise ReplayError("--hub external needs the --namespace of the running hub")
    namespace = options.namespace or f"sim-{run_id}"
    config = FleetConfig(
        amqp_url=options.amqp_url,
        namespace=namespace,
        scenario=options.scenario,
        scale=options.scale,
        seed=seed,
        run_id=run_id,
        stall_timeout_s=options.stall_timeout_s,
    )
    started = time.monotonic()
    if options.hub == "embedded":
        fleet, totals, days = await _with_embedded_hub(options, scenario, seed, config, on_progress)
    else:
        fleet, totals, days = await _with_external_hub(options, scenario, config, on_progress)
    return ReplayOutcome(
        scenario=scenario,
        options=options,
        seed=seed,
        namespace=namespace,
        fleet=fleet,
        totals=totals,
        days=days,
        figures=evaluate_figures(scenario, options.scale, days.documents),
        planned_months=scale_months(scenario, options.scale),
        elapsed_s=round(time.monotonic() - started, 3),
    )


def _load(name_or_path: str) -> Scenario:
    try:
        return load_scenario(name_or_path)
    except ScenarioError as exc:
        raise ReplayError(str(exc)) from exc


async def _with_embedded_hub(
    options: ReplayOptions,
    scenario: Scenario,
    seed: int,
    config: FleetConfig,
    on_progress: Callable[[FleetProgress], None],
) -> tuple[FleetResult, Totals, DayCounts]:
    _remove_sqlite_ledger(options.ledger_url)
    registry = Registry(simulation_directory(scenario, seed))
    settings = HubSettings(
        amqp_url=options.amqp_url,
        namespace=config.namespace,
        trusted_users=(broker_user(options.amqp_url),),
        ledger_url=options.ledger_url,
        workers=options.workers,
        stats_utc_offset_hours=scenario.utc_offset_hours,
        _env_file=None,
    )
    hub = Hub(
        settings,
        registry,
        simulation_key(seed, SIMULATED_HUB),
        connection_name=f"dochub-simulate {config.run_id} hub",
    )
    try:
        async with hub:
            fleet = await _run_fleet_process(config, on_progress)
            totals = await _settled(hub.ledger)
            days = await hub.ledger.day_counts()
    finally:
        await _delete_namespace(options.amqp_url, hub.topology, registry.agency_ids)
    return fleet, totals, days


async def _with_external_hub(
    options: ReplayOptions,
    scenario: Scenario,
    config: FleetConfig,
    on_progress: Callable[[FleetProgress], None],
) -> tuple[FleetResult, Totals, DayCounts]:
    """The external hub counts days in its own offset (``DOCHUB_STATS_UTC_OFFSET_HOURS``), which
    must be the scenario's; this only reads what it wrote."""
    ledger = await open_ledger(options.ledger_url, dt.timedelta(hours=scenario.utc_offset_hours))
    try:
        if (await ledger.totals()).received:
            raise ReplayError(
                f"the ledger {options.ledger_url} is not empty: start the external hub on a "
                "fresh ledger, so that its figures are this replay's alone"
            )
        fleet = await _run_fleet_process(config, on_progress)
        return fleet, await _settled(ledger), await ledger.day_counts()
    finally:
        await ledger.close()


async def _settled(ledger: Ledger) -> Totals:
    """The ledger's totals once nothing is in flight (or after a timeout, as they are)."""
    deadline = time.monotonic() + _SETTLE_TIMEOUT_S
    totals = await ledger.totals()
    while (
        totals.in_flight or totals.relayed < totals.receipt_messages
    ) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        totals = await ledger.totals()
    return totals


async def _run_fleet_process(
    config: FleetConfig, on_progress: Callable[[FleetProgress], None]
) -> FleetResult:
    from dochub.fleet_process import RESULT_PREFIX

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dochub.fleet_process",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=1 << 20,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.write(config.model_dump_json().encode())
    process.stdin.close()
    result: FleetResult | None = None
    try:
        async for line in process.stdout:
            text = line.decode().strip()
            if text.startswith(RESULT_PREFIX):
                result = FleetResult.model_validate_json(text[len(RESULT_PREFIX) : -1])
            elif text:
                on_progress(FleetProgress.model_validate_json(text))
        code = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    if result is None:
        raise ReplayError(f"the simulated agencies stopped without a result (exit code {code})")
    return result


def _remove_sqlite_ledger(ledger_url: str) -> None:
    """An embedded replay writes a ledger of its own, replacing the last replay's."""
    if not ledger_url.startswith("sqlite:"):
        raise ReplayError("an embedded replay keeps its ledger in SQLite: sqlite:///PATH")
    path = Path(sqlite_path(ledger_url))
    for suffix in ("", "-wal", "-shm"):
        with suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()


async def _delete_namespace(amqp_url: str, topology: Topology, agency_ids: list[str]) -> None:
    with suppress(AMQPError, OSError):
        connection = await aio_pika.connect(amqp_url)
        async with connection:
            await topology.delete(await connection.channel(), agency_ids)
