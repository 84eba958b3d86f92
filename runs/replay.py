"""A replay of national traffic: a hub (embedded, or one already running), the simulated agencies
in a process of their own, and the figures read back from the hub's ledger.

A replay leaves nothing behind: on its end, on a failure and on SIGINT or SIGTERM alike, it stops
the agencies' process and deletes the embedded hub's namespace. Only SIGKILL defeats that: the
agencies' process then stops by itself (see ``runs.child_process``), and
``dochub namespace delete`` removes the namespace. It never deletes a ledger: it counts only in
one that holds nothing yet (see ``runs.ledger_files``).
"""

import datetime as dt
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from agency_client import errors as client_errors
from hub.errors import ConfigurationError, LedgerError
from hub.ledger import Totals
from hub.ledger_url import open_ledger
from hub.periods import DayCounts, Period, by_period
from hub.registry import Registry
from hub.service import Hub
from hub.settings import HubSettings, LogLevel
from hub.sqlite_ledger import sqlite_path
from runs.child_process import ChildFailed, run_child
from runs.embedded_hub import embedded_hub
from runs.errors import RunError, RunUsageError
from runs.fleet_process import FLEET_LINES, MODULE, FleetLine, FleetProgressLine, FleetResultLine
from runs.ledger_files import new_ledger_url, refuse_data, require_empty_ledger
from runs.namespace_lifecycle import (
    SETTLE_TIMEOUT_S,
    HubMode,
    require_fresh_namespace,
    require_running_hub,
    settled,
    stopped_by_signals,
)
from runs.registry_export import write_registry
from schemas.naming import Names
from schemas.urls import DEFAULT_CONNECT_TIMEOUT_S, broker_user
from simulator.figures import FigureResult, check_scale, evaluate_figures
from simulator.fleet import FleetConfig, FleetProgress, FleetResult
from simulator.identities import SIMULATED_HUB, simulation_directory, simulation_key
from simulator.scaling import scale_months
from simulator.scenario import Scenario, ScenarioError, load_scenario

_EMBEDDED_LEDGER_FIX: Final = (
    "an embedded replay counts only in an empty ledger, and never deletes one; give a "
    "--ledger-url that does not exist yet, or none (a new ledger under simulations/)"
)
_EXTERNAL_LEDGER_FIX: Final = (
    "start the external hub on a fresh ledger, so that its figures are this replay's alone"
)


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    scenario: str
    scale: int
    seed: int | None
    hub: HubMode
    amqp_url: str
    ledger_url: str | None
    """The hub's ledger; None for an embedded replay: a new file under ``simulations/``."""
    namespace: str | None = None
    workers: int = 1
    stall_timeout_s: float = 60.0
    log_level: LogLevel = "warning"
    """Of the simulated agencies' process, whose logs go to stderr."""
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S


@dataclass(frozen=True, slots=True)
class ReplayOutcome:
    scenario: Scenario
    options: ReplayOptions
    seed: int
    namespace: str
    ledger_url: str
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
    """Replay the scenario and read back the figures. On SIGINT or SIGTERM, stop everything it
    started and raise ``runs.errors.RunInterrupted``."""
    scenario = _load(options.scenario)
    seed = options.seed if options.seed is not None else scenario.seed
    unmeetable = check_scale(scenario, options.scale)
    if unmeetable:
        raise RunUsageError(f"scale {options.scale} is too coarse: {'; '.join(unmeetable)}")
    run_id = uuid.uuid4().hex[:10]
    if options.hub == "external" and not options.namespace:
        raise RunUsageError("--hub external needs the --namespace of the running hub")
    if options.hub == "external" and not options.ledger_url:
        raise RunUsageError("--hub external needs the --ledger-url of the running hub")
    namespace = options.namespace or f"sim-{run_id}"
    try:
        Names(namespace)
    except ValueError as exc:
        raise RunUsageError(
            f"--namespace {namespace} is not a namespace: expected letters, digits, '-' and '_', "
            "at most 64, e.g. dochub"
        ) from exc
    config = FleetConfig(
        amqp_url=options.amqp_url,
        namespace=namespace,
        scenario=options.scenario,
        scale=options.scale,
        seed=seed,
        run_id=run_id,
        stall_timeout_s=options.stall_timeout_s,
    )
    ledger_url = options.ledger_url or new_ledger_url(run_id, dt.datetime.now(dt.UTC))
    started = time.monotonic()
    async with stopped_by_signals(namespace, "replay"):
        if options.hub == "embedded":
            fleet, totals, days = await _with_embedded_hub(
                options, ledger_url, scenario, seed, config, on_progress
            )
        else:
            fleet, totals, days = await _with_external_hub(
                options, ledger_url, scenario, config, on_progress
            )
    return ReplayOutcome(
        scenario=scenario,
        options=options,
        seed=seed,
        namespace=namespace,
        ledger_url=ledger_url,
        fleet=fleet,
        totals=totals,
        days=days,
        figures=evaluate_figures(scenario, options.scale, days.documents),
        planned_months=scale_months(scenario, options.scale),
        elapsed_s=round(time.monotonic() - started, 3),
    )


def export_registry(scenario_name: str, seed: int | None, path: Path) -> tuple[int, Path]:
    """Write the simulated agencies' directory to ``path`` and the simulated hub's key beside it
    (``PATH.hub.key``), both or neither, for an external hub; return how many agencies it holds
    and the key's path."""
    scenario = _load(scenario_name)
    seed = seed if seed is not None else scenario.seed
    directory = simulation_directory(scenario, seed)
    return len(directory.agencies), write_registry(
        directory, simulation_key(seed, SIMULATED_HUB), path
    )


def _load(name_or_path: str) -> Scenario:
    try:
        return load_scenario(name_or_path)
    except ScenarioError as exc:
        raise ConfigurationError(str(exc)) from exc


async def _with_embedded_hub(
    options: ReplayOptions,
    ledger_url: str,
    scenario: Scenario,
    seed: int,
    config: FleetConfig,
    on_progress: Callable[[FleetProgress], None],
) -> tuple[FleetResult, Totals, DayCounts]:
    await require_fresh_namespace(
        options.amqp_url, Names(config.namespace), options.connect_timeout_s
    )
    if not ledger_url.startswith("sqlite:"):
        raise RunUsageError("an embedded replay keeps its ledger in SQLite: sqlite:///PATH")
    utc_offset = dt.timedelta(hours=scenario.utc_offset_hours)
    await require_empty_ledger(ledger_url, utc_offset, _EMBEDDED_LEDGER_FIX)
    registry = Registry(simulation_directory(scenario, seed))
    settings = HubSettings(
        amqp_url=options.amqp_url,
        namespace=config.namespace,
        trusted_users=(broker_user(options.amqp_url),),
        ledger_url=ledger_url,
        workers=options.workers,
        connect_timeout_s=options.connect_timeout_s,
        stats_utc_offset_hours=scenario.utc_offset_hours,
        http_port=0,  # any free port: a hub already running, or another replay, has the default
        _env_file=None,
    )
    hub = Hub(
        settings,
        registry,
        simulation_key(seed, SIMULATED_HUB),
        connection_name=f"dochub-simulate {config.run_id} hub",
    )
    async with embedded_hub(hub):
        fleet = await _run_fleet(config, options.log_level, on_progress)
        totals = await settled(hub.ledger, SETTLE_TIMEOUT_S)
        days = await hub.ledger.day_counts()
    return fleet, totals, days


async def _with_external_hub(
    options: ReplayOptions,
    ledger_url: str,
    scenario: Scenario,
    config: FleetConfig,
    on_progress: Callable[[FleetProgress], None],
) -> tuple[FleetResult, Totals, DayCounts]:
    """The external hub counts days in its own offset (``DOCHUB_STATS_UTC_OFFSET_HOURS``), which
    must be the scenario's; this only reads what it wrote."""
    await require_running_hub(options.amqp_url, Names(config.namespace), options.connect_timeout_s)
    _require_sqlite_ledger(ledger_url, config.namespace)
    ledger = await open_ledger(
        ledger_url, dt.timedelta(hours=scenario.utc_offset_hours), read_only=True
    )
    try:
        refuse_data(ledger_url, await ledger.totals(), _EXTERNAL_LEDGER_FIX)
        fleet = await _run_fleet(config, options.log_level, on_progress)
        return fleet, await settled(ledger, SETTLE_TIMEOUT_S), await ledger.day_counts()
    finally:
        await ledger.close()


async def _run_fleet(
    config: FleetConfig, log_level: LogLevel, on_progress: Callable[[FleetProgress], None]
) -> FleetResult:
    """Run the simulated agencies in a child process (``runs.fleet_process``), which is stopped,
    bounded, however this ends."""
    result: FleetResult | None = None
    failed: ChildFailed | None = None

    def on_line(line: FleetLine) -> None:
        nonlocal result, failed
        if isinstance(line, FleetProgressLine):
            on_progress(line.progress)
        elif isinstance(line, FleetResultLine):
            result = line.result
        else:
            failed = line

    code = await run_child(MODULE, [log_level], config, FLEET_LINES, on_line)
    if failed is not None:
        raise _client_error(failed)
    if result is None:
        raise RunError(f"the simulated agencies stopped without a result (exit code {code})")
    return result


def _client_error(error: ChildFailed) -> client_errors.AgencyClientError:
    """The agencies' error, raised again in this process as the client library's own type."""
    kind = getattr(client_errors, error.type, None)
    if isinstance(kind, type) and issubclass(kind, client_errors.AgencyClientError):
        return kind(error.message)
    return client_errors.AgencyClientError(error.message)


def _require_sqlite_ledger(ledger_url: str, namespace: str) -> None:
    """An external hub's ledger is only read: a missing file is not created."""
    if ledger_url.startswith("sqlite:") and not Path(sqlite_path(ledger_url)).exists():
        raise LedgerError(
            f"no ledger at {ledger_url}: give --ledger-url the ledger of the hub running on "
            f"namespace {namespace!r}"
        )
