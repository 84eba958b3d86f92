"""A replay of national traffic: a hub (embedded, or one already running), the simulated agencies
in a process of their own, and the figures read back from the hub's ledger.

A replay leaves nothing behind: on its end, on a failure and on SIGINT or SIGTERM alike, it stops
the agencies' process and deletes the embedded hub's namespace. Only SIGKILL defeats that: the
agencies' process then stops by itself (see ``dochub.fleet_process``), and
``dochub namespace delete`` removes the namespace.
"""

import asyncio
import datetime as dt
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import structlog
from aio_pika.abc import AbstractRobustConnection
from aio_pika.exceptions import AMQPError, ChannelNotFoundEntity

from agency_client import errors as client_errors
from agency_client.connection import ConnectFailed, close_connection, open_connection, reply_text
from dochub.errors import CommandError
from dochub.exit_codes import ExitCode
from dochub.fleet_process import FleetError, parse
from hub.errors import BrokerError, BrokerRefused, ConfigurationError, HubError, LedgerError
from hub.ledger import Ledger, Totals
from hub.ledger_url import open_ledger
from hub.periods import DayCounts, Period, by_period
from hub.registry import Registry
from hub.service import Hub
from hub.settings import HubSettings, LogLevel
from hub.sqlite_ledger import sqlite_path
from hub.topology import Topology
from schemas.naming import Names
from schemas.urls import (
    DEFAULT_CONNECT_TIMEOUT_S,
    BrokerAddress,
    InvalidBrokerUrl,
    broker_user,
    parse_amqp_url,
)
from simulator.figures import FigureResult, check_scale, evaluate_figures
from simulator.fleet import FleetConfig, FleetProgress, FleetResult
from simulator.identities import SIMULATED_HUB, simulation_directory, simulation_key
from simulator.scaling import scale_months
from simulator.scenario import Scenario, ScenarioError, load_scenario

log = structlog.get_logger("dochub.replay")

HubMode = Literal["embedded", "external"]
_SETTLE_TIMEOUT_S = 30.0
SIMULATION_LEDGER_NAME: Final = "dochub-simulate.db"
"""The file name of a replay's own ledger, which the next embedded replay replaces."""
_DELETE_TIMEOUT_S: Final = 30.0
"""How long deleting the namespace may take (192 quorum queues take a few seconds)."""
_CHILD_STOP_S: Final = 10.0
"""How long the agencies' process may take to close its connections once told to stop."""
_STOP_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)


class ReplayError(CommandError):
    """The replay could not run to its end: the simulated agencies' process died."""

    def __init__(self, message: str, code: ExitCode = ExitCode.FAILED) -> None:
        super().__init__(message, code)


class ReplayUsageError(ReplayError):
    """Options that make no replay: a scale too coarse, ``--hub external`` without a namespace."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ExitCode.USAGE)


class ReplayInterrupted(ReplayError):
    """SIGINT or SIGTERM stopped the replay; what it had started is stopped and deleted."""

    def __init__(self, signum: int, namespace: str) -> None:
        self.signal = signal.Signals(signum)
        self.namespace = namespace
        super().__init__(f"interrupted by {self.signal.name}: the replay did not finish")


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
    log_level: LogLevel = "warning"
    """Of the simulated agencies' process, whose logs go to stderr."""
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S


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
    """Replay the scenario and read back the figures. On SIGINT or SIGTERM, stop everything it
    started and raise :class:`ReplayInterrupted`."""
    scenario = _load(options.scenario)
    seed = options.seed if options.seed is not None else scenario.seed
    unmeetable = check_scale(scenario, options.scale)
    if unmeetable:
        raise ReplayUsageError(f"scale {options.scale} is too coarse: {'; '.join(unmeetable)}")
    run_id = uuid.uuid4().hex[:10]
    if options.hub == "external" and not options.namespace:
        raise ReplayUsageError("--hub external needs the --namespace of the running hub")
    namespace = options.namespace or f"sim-{run_id}"
    try:
        Names(namespace)
    except ValueError as exc:
        raise ReplayUsageError(
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
    started = time.monotonic()
    async with _stopped_by_signals(namespace):
        if options.hub == "embedded":
            fleet, totals, days = await _with_embedded_hub(
                options, scenario, seed, config, on_progress
            )
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


@asynccontextmanager
async def _stopped_by_signals(namespace: str) -> AsyncIterator[None]:
    """SIGINT and SIGTERM cancel the replay, whose ``finally`` blocks then stop and delete what it
    started; further signals are ignored meanwhile, the clean-up being bounded."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    received: list[int] = []

    def on_signal(signum: int) -> None:
        if not received:
            received.append(signum)
            log.info("replay_stopping", signal=signal.Signals(signum).name)
            task.cancel()

    for signum in _STOP_SIGNALS:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        yield
    except asyncio.CancelledError:
        if not received:
            raise
        task.uncancel()
        raise ReplayInterrupted(received[0], namespace) from None
    finally:
        for signum in _STOP_SIGNALS:
            loop.remove_signal_handler(signum)


def _load(name_or_path: str) -> Scenario:
    try:
        return load_scenario(name_or_path)
    except ScenarioError as exc:
        raise ConfigurationError(str(exc)) from exc


async def _with_embedded_hub(
    options: ReplayOptions,
    scenario: Scenario,
    seed: int,
    config: FleetConfig,
    on_progress: Callable[[FleetProgress], None],
) -> tuple[FleetResult, Totals, DayCounts]:
    await _require_fresh_namespace(options, Names(config.namespace))
    _replace_sqlite_ledger(options.ledger_url)
    registry = Registry(simulation_directory(scenario, seed))
    settings = HubSettings(
        amqp_url=options.amqp_url,
        namespace=config.namespace,
        trusted_users=(broker_user(options.amqp_url),),
        ledger_url=options.ledger_url,
        workers=options.workers,
        connect_timeout_s=options.connect_timeout_s,
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
        await hub.start()
        fleet = await _run_fleet_process(config, options.log_level, on_progress)
        totals = await _settled(hub.ledger)
        days = await hub.ledger.day_counts()
    finally:

        async def clean_up() -> None:
            try:
                await hub.stop()
            finally:
                await _delete_namespace(options, hub.topology, registry.agency_ids)

        await _unstoppable(clean_up())
    return fleet, totals, days


async def _unstoppable(clean_up: Coroutine[Any, Any, None]) -> None:
    """Run a (bounded) clean-up to its end even if a signal cancels the replay meanwhile; the
    cancellation goes on afterwards."""
    task = asyncio.ensure_future(clean_up)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise


async def _with_external_hub(
    options: ReplayOptions,
    scenario: Scenario,
    config: FleetConfig,
    on_progress: Callable[[FleetProgress], None],
) -> tuple[FleetResult, Totals, DayCounts]:
    """The external hub counts days in its own offset (``DOCHUB_STATS_UTC_OFFSET_HOURS``), which
    must be the scenario's; this only reads what it wrote."""
    await _require_running_hub(options, Names(config.namespace))
    _require_sqlite_ledger(options.ledger_url, config.namespace)
    ledger = await open_ledger(
        options.ledger_url, dt.timedelta(hours=scenario.utc_offset_hours), read_only=True
    )
    try:
        if (await ledger.totals()).received:
            raise ConfigurationError(
                f"the ledger {options.ledger_url} is not empty: start the external hub on a "
                "fresh ledger, so that its figures are this replay's alone"
            )
        fleet = await _run_fleet_process(config, options.log_level, on_progress)
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


async def _require_running_hub(options: ReplayOptions, names: Names) -> None:
    """Fail in one line, before any agency connects, when no hub consumes the namespace's
    ingress queue."""
    consumers = await _ingress_consumers(options, names)
    if consumers is None:
        raise ConfigurationError(
            f"no hub on namespace {names.namespace!r}: the broker has no queue "
            f"{names.ingress_queue}; start `dochub hub run` with that namespace first, or give "
            "--namespace of the running hub"
        )
    if not consumers:
        raise ConfigurationError(
            f"no hub is running on namespace {names.namespace!r}: nothing consumes "
            f"{names.ingress_queue}; start `dochub hub run` with that namespace first"
        )


async def _require_fresh_namespace(options: ReplayOptions, names: Names) -> None:
    """An embedded replay deletes its namespace at the end: it must be one it made."""
    if await _ingress_consumers(options, names) is not None:
        raise ConfigurationError(
            f"namespace {names.namespace!r} already exists on the broker: an embedded replay "
            "makes a namespace of its own and deletes it at the end; give another --namespace, "
            f"or none (or remove that one with `dochub namespace delete {names.namespace}`)"
        )


async def _ingress_consumers(options: ReplayOptions, names: Names) -> int | None:
    """Consumers of the namespace's ingress queue; None if there is no such queue."""
    address = _address(options.amqp_url)
    connection = await _connect(address, options.connect_timeout_s)
    try:
        async with asyncio.timeout(options.connect_timeout_s):
            channel = await connection.channel()
            try:
                queue = await channel.declare_queue(names.ingress_queue, passive=True)
            except ChannelNotFoundEntity:
                return None
            return queue.declaration_result.consumer_count or 0
    except (AMQPError, OSError, TimeoutError) as exc:
        raise BrokerError(
            f"RabbitMQ at {address.shown} did not answer a passive declare of "
            f"{names.ingress_queue}: {reply_text(exc)}"
        ) from exc
    finally:
        await close_connection(connection)


def _address(amqp_url: str) -> BrokerAddress:
    try:
        return parse_amqp_url(amqp_url)
    except InvalidBrokerUrl as exc:
        raise ConfigurationError(str(exc)) from exc


async def _connect(address: BrokerAddress, timeout_s: float) -> AbstractRobustConnection:
    try:
        return await open_connection(
            address, name="dochub-simulate", timeout_s=timeout_s, reconnect_interval_s=timeout_s
        )
    except ConnectFailed as exc:
        raise (BrokerRefused if exc.refused else BrokerError)(str(exc)) from exc


async def _run_fleet_process(
    config: FleetConfig, log_level: LogLevel, on_progress: Callable[[FleetProgress], None]
) -> FleetResult:
    """Run the simulated agencies in a child process. It runs while its stdin is open: closing
    it (or dying) stops the child, which is waited for, bounded, then killed."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dochub.fleet_process",
        log_level,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=1 << 20,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    result: FleetResult | None = None
    error: FleetError | None = None
    try:
        process.stdin.write(config.model_dump_json().encode() + b"\n")
        await process.stdin.drain()
        async for line in process.stdout:
            if not line.strip():
                continue
            message = parse(line.decode())
            if message.progress is not None:
                on_progress(message.progress)
            result = message.result or result
            error = message.error or error
        code = await process.wait()
    finally:
        await _stop_child(process)
    if error is not None:
        raise _client_error(error)
    if result is None:
        raise ReplayError(f"the simulated agencies stopped without a result (exit code {code})")
    return result


async def _stop_child(process: asyncio.subprocess.Process) -> None:
    assert process.stdin is not None
    process.stdin.close()  # the child's signal to stop, if it still runs
    if process.returncode is None:
        try:
            await asyncio.wait_for(process.wait(), _CHILD_STOP_S)
        except TimeoutError:
            process.kill()
            await process.wait()


def _client_error(error: FleetError) -> client_errors.AgencyClientError:
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


def _replace_sqlite_ledger(ledger_url: str) -> None:
    """An embedded replay writes a ledger of its own. It replaces the last replay's (a file named
    ``dochub-simulate.db``); any other file is left alone, being perhaps a hub's ledger."""
    if not ledger_url.startswith("sqlite:"):
        raise ReplayUsageError("an embedded replay keeps its ledger in SQLite: sqlite:///PATH")
    path = Path(sqlite_path(ledger_url))
    if path.exists() and path.name != SIMULATION_LEDGER_NAME:
        raise ConfigurationError(
            f"--ledger-url {ledger_url}: the file exists, and an embedded replay writes a new "
            f"ledger (it replaces only a previous replay's {SIMULATION_LEDGER_NAME}); remove it, "
            "or give a path that does not exist yet"
        )
    for suffix in ("", "-wal", "-shm"):
        with suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()


async def _delete_namespace(
    options: ReplayOptions, topology: Topology, agency_ids: list[str]
) -> None:
    """Delete the replay's namespace; say so in the logs when it cannot be."""
    namespace = topology.names.namespace
    try:
        connection = await _connect(_address(options.amqp_url), options.connect_timeout_s)
        try:
            async with asyncio.timeout(_DELETE_TIMEOUT_S):
                await topology.delete(await connection.channel(), agency_ids)
        finally:
            await close_connection(connection)
    except (HubError, AMQPError, OSError, TimeoutError) as exc:
        log.warning(
            "namespace_left_behind",
            namespace=namespace,
            error=str(exc) or type(exc).__name__,
            fix=f"dochub namespace delete {namespace}",
        )
