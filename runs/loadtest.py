"""A load test: a hub (embedded in this process, or one already running), the generator and the
agencies in a process of their own (``runs.load_agencies``), the plain-relay ceiling measured in
the same run, and a report checked against the hub's ledger.

An embedded hub runs here while the agencies run in their child process, so this process's CPU
time and peak RSS are the hub's. A load test leaves nothing behind: on its end, on a failure and
on SIGINT or SIGTERM alike, it stops the child and deletes every namespace it made (the embedded
hub's, the ceiling's). An external hub's namespace and ledger are only used and read.
"""

import asyncio
import datetime as dt
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

import psutil
import structlog

from agency_client import errors as client_errors
from hub.errors import ConfigurationError, LedgerError
from hub.ledger import Totals
from hub.ledger_url import open_ledger
from hub.registry import Registry
from hub.service import Hub
from hub.settings import HubSettings, LogLevel
from hub.sqlite_ledger import sqlite_path
from runs.ceiling import CeilingResult, measure_ceiling
from runs.child_process import ChildFailed, run_child
from runs.embedded_hub import embedded_hub
from runs.errors import RunError, RunUsageError
from runs.find_max import (
    FindMaxReport,
    StepFigures,
    Stepping,
    find_max_report,
    keep_stepping,
    rates,
)
from runs.ledger_files import holds_data, require_empty_ledger
from runs.load_agencies import LOAD_LINES, MODULE, LoadConfig, LoadLine, LoadProgress, LoadResult
from runs.load_identities import MAX_SIZE_BYTES, DocumentMaker, hub_key, load_directory
from runs.load_report import (
    Latency,
    LedgerCounts,
    Limits,
    LoadReport,
    Percentiles,
    decode,
    double_counted,
    limit_breaches,
    lost,
    percentile_curve,
    ratio,
)
from runs.load_schedule import LoadShape
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

log = structlog.get_logger("runs.loadtest")

_SAMPLE_INTERVAL_S: Final = 0.2
_MB: Final = 1024 * 1024


@dataclass(frozen=True, slots=True)
class LoadOptions:
    agencies: int
    rate: float
    duration_s: float
    amqp_url: str
    ramp_s: float = 0.0
    recipients: tuple[int, int] = (1, 1)
    size: int = 2048
    receipts: bool = True
    hub: HubMode = "embedded"
    namespace: str | None = None
    ledger_url: str | None = None
    """Embedded: a new ledger to write (a temporary one when None); external: the hub's own."""
    hub_pid: int | None = None
    """An external hub's process, whose CPU and memory the report then gives."""
    seed: int = 1
    drain_timeout_s: float = 60.0
    limits: Limits = field(default_factory=Limits)
    ceiling_messages: int = 2000
    """Messages the plain relay moves to measure the ceiling; 0 skips it."""
    workers: int = 1
    log_level: LogLevel = "warning"
    connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S

    def shape(self) -> LoadShape:
        return LoadShape(
            agencies=self.agencies,
            rate=self.rate,
            duration_s=self.duration_s,
            ramp_s=self.ramp_s,
            recipients=self.recipients,
            seed=self.seed,
        )

    def problems(self) -> list[str]:
        """Usage mistakes, each in the words of the command's options."""
        problems = self.shape().problems()
        if not 0 <= self.size <= MAX_SIZE_BYTES:
            problems.append(f"--size must be 0 to {MAX_SIZE_BYTES} bytes")
        if self.drain_timeout_s <= 0:
            problems.append("--drain-timeout must be more than 0 seconds")
        if self.ceiling_messages < 0:
            problems.append("--ceiling-messages must be 0 (no ceiling) or more")
        if self.hub == "external" and not (self.namespace and self.ledger_url):
            problems.append(
                "--hub external needs the --namespace and the --ledger-url of the running hub"
            )
        if self.hub == "embedded" and self.hub_pid is not None:
            problems.append("--hub-pid is for --hub external: an embedded hub runs in this process")
        if self.namespace is not None:
            try:
                Names(self.namespace)
            except ValueError:
                problems.append(
                    f"--namespace {self.namespace} is not a namespace: expected letters, digits, "
                    "'-' and '_', at most 64, e.g. dochub"
                )
        return problems


def check(options: LoadOptions, stepping: Stepping | None = None) -> None:
    problems = options.problems() + (stepping.problems() if stepping else [])
    if stepping is not None and options.namespace and len(options.namespace) > 60:
        problems.append("--find-max numbers its namespaces NS-1, NS-2...: at most 60 characters")
    if stepping is not None and options.ledger_url and options.hub == "embedded":
        problems.append("--find-max writes a ledger per step: leave --ledger-url out")
    if problems:
        raise RunUsageError(problems[0])


async def run_loadtest(
    options: LoadOptions, on_progress: Callable[[LoadProgress], None]
) -> LoadReport:
    """One load test. On SIGINT or SIGTERM, stop everything it started and raise
    ``runs.errors.RunInterrupted``."""
    check(options)
    run_id = uuid.uuid4().hex[:10]
    namespace = options.namespace or f"lt-{run_id}"
    async with stopped_by_signals(namespace, "load test"):
        ceiling = await _ceiling(options, namespace)
        return await _one_run(options, run_id, namespace, ceiling, on_progress, first=True)


async def run_find_max(
    options: LoadOptions,
    stepping: Stepping,
    on_progress: Callable[[LoadProgress], None],
    on_step: Callable[[LoadReport], None],
) -> FindMaxReport:
    """Load tests at rising rates until one breaks a limit. Embedded, each step has a hub, a
    namespace and a ledger of its own; external, each reads the ledger's growth over the step."""
    check(options, stepping)
    run_id = uuid.uuid4().hex[:10]
    steps: list[StepFigures] = []
    namespace = options.namespace or f"lt-{run_id}"
    async with stopped_by_signals(namespace, "load test"):
        ceiling = await _ceiling(options, namespace)
        for number, rate in enumerate(rates(stepping), start=1):
            report = await _one_run(
                replace(options, rate=rate),
                f"{run_id}-{number}",
                namespace if options.hub == "external" else f"{namespace}-{number}",
                ceiling,
                on_progress,
                first=not steps,
            )
            on_step(report)
            steps.append(StepFigures.of(report))
            if not keep_stepping(steps):
                break
    return find_max_report(steps, options.limits, ceiling.msgs_per_s if ceiling else None)


async def _ceiling(options: LoadOptions, namespace: str) -> CeilingResult | None:
    """The plain relay's rate, on a namespace of its own: ``NAMESPACE-ceiling``."""
    if not options.ceiling_messages:
        return None
    size = DocumentMaker.for_size(options.size).body_bytes()
    return await measure_ceiling(
        options.amqp_url,
        size,
        options.ceiling_messages,
        options.connect_timeout_s,
        namespace=f"{namespace}-ceiling",
    )


@dataclass(slots=True)
class _Usage:
    """CPU seconds and peak RSS of a process over a span, sampled; None when not measurable."""

    cpu_s: float | None = None
    peak_rss_mb: float | None = None
    note: str | None = None


@asynccontextmanager
async def _measured(pid: int | None, usage: _Usage) -> AsyncIterator[None]:
    try:
        process = psutil.Process(pid)
        start = process.cpu_times()
        peak = process.memory_info().rss
    except psutil.Error as exc:
        usage.note = f"the hub's process {pid} could not be measured: {exc}"
        yield
        return

    async def sample() -> None:
        nonlocal peak
        while True:
            await asyncio.sleep(_SAMPLE_INTERVAL_S)
            peak = max(peak, process.memory_info().rss)

    sampler = asyncio.create_task(sample())
    try:
        yield
    finally:
        sampler.cancel()
        with suppress(asyncio.CancelledError, psutil.Error):
            await sampler
        try:
            end = process.cpu_times()
            peak = max(peak, process.memory_info().rss)
            usage.cpu_s = round(end.user + end.system - start.user - start.system, 3)
            usage.peak_rss_mb = round(peak / _MB, 1)
        except psutil.Error as exc:
            usage.note = (
                f"the hub's process {pid} went away during the run ({exc}): its CPU and memory "
                "are not known"
            )


async def _one_run(
    options: LoadOptions,
    run_id: str,
    namespace: str,
    ceiling: CeilingResult | None,
    on_progress: Callable[[LoadProgress], None],
    *,
    first: bool,
) -> LoadReport:
    if options.hub == "embedded":
        return await _embedded(options, run_id, namespace, ceiling, on_progress)
    return await _external(options, run_id, ceiling, on_progress, require_empty=first)


def _config(options: LoadOptions, run_id: str, namespace: str) -> LoadConfig:
    return LoadConfig(
        amqp_url=options.amqp_url,
        namespace=namespace,
        run_id=run_id,
        shape=options.shape(),
        size=options.size,
        receipts=options.receipts,
        drain_timeout_s=options.drain_timeout_s,
        connect_timeout_s=options.connect_timeout_s,
    )


async def _embedded(
    options: LoadOptions,
    run_id: str,
    namespace: str,
    ceiling: CeilingResult | None,
    on_progress: Callable[[LoadProgress], None],
) -> LoadReport:
    names = Names(namespace)
    await require_fresh_namespace(options.amqp_url, names, options.connect_timeout_s)
    with tempfile.TemporaryDirectory(prefix="dochub-loadtest-") as folder:
        ledger_url = options.ledger_url or f"sqlite:///{Path(folder) / 'ledger.db'}"
        if options.ledger_url:
            await require_empty_ledger(
                ledger_url, dt.timedelta(0), "give a --ledger-url that does not exist yet"
            )
        directory = load_directory(options.agencies, options.seed)
        registry = Registry(directory)
        settings = HubSettings(
            amqp_url=options.amqp_url,
            namespace=namespace,
            trusted_users=(broker_user(options.amqp_url),),
            ledger_url=ledger_url,
            workers=options.workers,
            connect_timeout_s=options.connect_timeout_s,
            throughput_interval_s=60.0,
            http_port=0,  # a free port: a hub may already serve the default one
            _env_file=None,
        )
        hub = Hub(
            settings,
            registry,
            hub_key(options.seed),
            connection_name=f"dochub-loadtest {run_id} hub",
        )
        usage = _Usage()
        async with embedded_hub(hub), _measured(None, usage):
            result = await _run_agencies(_config(options, run_id, namespace), options, on_progress)
            totals = await settled(hub.ledger, SETTLE_TIMEOUT_S)
    return build_report(options, namespace, result, _ledger_counts(totals), ceiling, usage)


async def _external(
    options: LoadOptions,
    run_id: str,
    ceiling: CeilingResult | None,
    on_progress: Callable[[LoadProgress], None],
    *,
    require_empty: bool,
) -> LoadReport:
    """Read-only on the hub's ledger: each run counts what the ledger gained while it ran."""
    assert options.namespace is not None
    assert options.ledger_url is not None
    names = Names(options.namespace)
    await require_running_hub(options.amqp_url, names, options.connect_timeout_s)
    _require_ledger_file(options.ledger_url, names.namespace)
    ledger = await open_ledger(options.ledger_url, dt.timedelta(0), read_only=True)
    usage = _Usage()
    try:
        before = await ledger.totals()
        if require_empty and holds_data(before):
            raise ConfigurationError(
                f"the ledger {options.ledger_url} is not empty: start the external hub on a "
                "fresh ledger, so that its figures are this load test's alone"
            )
        if options.hub_pid is None:
            usage.note = "an external hub: give --hub-pid for its CPU time and peak memory"
            result = await _run_agencies(
                _config(options, run_id, names.namespace), options, on_progress
            )
            after = await settled(ledger, SETTLE_TIMEOUT_S)
        else:
            async with _measured(options.hub_pid, usage):
                result = await _run_agencies(
                    _config(options, run_id, names.namespace), options, on_progress
                )
                after = await settled(ledger, SETTLE_TIMEOUT_S)
    finally:
        await ledger.close()
    return build_report(
        options, names.namespace, result, _ledger_counts(after, before), ceiling, usage
    )


def _require_ledger_file(ledger_url: str, namespace: str) -> None:
    """An external hub's ledger is only read: a missing file is not created."""
    if ledger_url.startswith("sqlite:") and not Path(sqlite_path(ledger_url)).exists():
        raise LedgerError(
            f"no ledger at {ledger_url}: give --ledger-url the ledger of the hub running on "
            f"namespace {namespace!r}"
        )


async def _run_agencies(
    config: LoadConfig, options: LoadOptions, on_progress: Callable[[LoadProgress], None]
) -> LoadResult:
    """Run the generator and agencies in their child process; it runs while its stdin is open,
    and is stopped (then killed, bounded) however this ends."""
    result: LoadResult | None = None
    failure: ChildFailed | None = None

    def on_line(line: LoadLine) -> None:
        nonlocal result, failure
        if isinstance(line, LoadProgress):
            on_progress(line)
        elif isinstance(line, LoadResult):
            result = line
        else:
            failure = line

    code = await run_child(MODULE, [options.log_level], config, LOAD_LINES, on_line)
    if failure is not None:
        kind = getattr(client_errors, failure.type, None)
        if isinstance(kind, type) and issubclass(kind, client_errors.AgencyClientError):
            raise kind(failure.message)
        raise client_errors.AgencyClientError(failure.message)
    if result is None:
        raise RunError(f"the load test's agencies stopped without a result (exit code {code})")
    return result


def _ledger_counts(after: Totals, before: Totals | None = None) -> LedgerCounts:
    def grown(name: str) -> int:
        value: int = getattr(after, name)
        return value - (getattr(before, name) if before is not None else 0)

    return LedgerCounts(
        accepted=grown("accepted"),
        deliveries=grown("deliveries"),
        receipts=grown("receipts"),
        rejected=grown("rejected"),
        in_flight=after.in_flight,
        unrelayed=max(0, after.receipt_messages - after.relayed),
    )


def build_report(
    options: LoadOptions,
    namespace: str,
    result: LoadResult,
    ledger: LedgerCounts,
    ceiling: CeilingResult | None,
    usage: _Usage,
) -> LoadReport:
    counts = result.counts
    histograms = {name: decode(text) for name, text in result.histograms.items()}
    latency = Latency(
        send_to_delivered=Percentiles.of(histograms["send_to_delivered"]),
        send_to_receipt=(
            Percentiles.of(histograms["send_to_receipt"])
            if "send_to_receipt" in histograms
            else None
        ),
    )
    lost_items = lost(counts, ledger)
    doubled = double_counted(counts, ledger)
    breaches = limit_breaches(options.limits, lost_items, latency)
    checks = [
        (doubled == 0, f"{doubled} counted twice"),
        (not breaches, "; ".join(breaches)),
        (counts.send_errors == 0, f"{counts.send_errors} sends failed: {result.errors[:1]}"),
        (
            result.drained,
            f"not everything came back within the drain timeout ({options.drain_timeout_s:g} s)",
        ),
        (ledger.rejected == 0, f"the hub refused {ledger.rejected} inputs"),
        (counts.hub_refusals == 0, f"{counts.hub_refusals} refusals from the hub"),
        (ledger.in_flight == 0, f"{ledger.in_flight} documents still in flight in the ledger"),
        (ledger.unrelayed == 0, f"{ledger.unrelayed} receipts not relayed"),
    ]
    problems = [message for holds, message in checks if not holds]
    docs_per_s = round(ledger.accepted / result.active_s, 1) if result.active_s else 0.0
    return LoadReport(
        ok=not problems,
        reason=problems[0] if problems else None,
        hub=options.hub,
        namespace=namespace,
        agencies=options.agencies,
        offered_rate=options.rate,
        duration_s=options.duration_s,
        ramp_s=options.ramp_s,
        recipients=options.recipients,
        size_bytes=DocumentMaker.for_size(options.size).body_bytes(),
        receipts_enabled=options.receipts,
        seed=options.seed,
        scheduled=counts.scheduled,
        sent=counts.sent,
        send_errors=counts.send_errors,
        accepted=ledger.accepted,
        deliveries_expected=counts.deliveries_expected,
        delivered=counts.delivered,
        receipts_expected=counts.receipts_expected,
        receipts=counts.receipts,
        lost=lost_items,
        double_counted=doubled,
        rejected=ledger.rejected,
        docs_per_s=docs_per_s,
        elapsed_s=result.active_s,
        drain_s=result.drain_s,
        drained=result.drained,
        latency_ms=latency,
        hub_cpu_s=usage.cpu_s,
        hub_peak_rss_mb=usage.peak_rss_mb,
        hub_note=usage.note,
        agencies_cpu_s=result.cpu_s,
        agencies_peak_rss_mb=result.peak_rss_mb,
        ceiling_msgs_per_s=ceiling.msgs_per_s if ceiling else None,
        ratio_to_ceiling=ratio(docs_per_s, ceiling.msgs_per_s if ceiling else None),
        limits=options.limits,
        limits_held=not breaches,
        problems=problems,
        agency_counts=counts,
        ledger=ledger,
        timeline=result.timeline,
        latency_curves={
            name: percentile_curve(histogram) for name, histogram in histograms.items()
        },
    )


def export_registry(agencies: int, seed: int, path: Path) -> Path:
    """Write the load test's agency directory to ``path`` and the hub's key beside it
    (``PATH.hub.key``), both or neither, for an external hub; return the key's path."""
    return write_registry(load_directory(agencies, seed), hub_key(seed), path)


__all__ = [
    "LoadOptions",
    "check",
    "export_registry",
    "run_find_max",
    "run_loadtest",
]
