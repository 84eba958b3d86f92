"""``dochub loadtest``: offer a hub a Poisson load and report what came back, how fast and how
late; ``--find-max`` raises the rate until a limit fails."""

import asyncio
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from dochub.errors import CommandError, UsageError
from dochub.exit_codes import ExitCode
from dochub.logging import configure_logging
from dochub.run_options import AmqpUrlOption, HubOption, JsonOption, NamespaceOption, WorkersOption
from dochub.settings_io import settings_from
from hub.settings import HubSettings
from runs.find_max import FindMaxReport, Stepping
from runs.load_agencies import LoadProgress
from runs.load_report import Limits, LoadReport, write_json, write_report_dir
from runs.load_schedule import parse_recipients
from runs.loadtest import LoadOptions, export_registry, run_find_max, run_loadtest

out = Console(width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True)
_PLAIN_PROGRESS_S = 5.0
"""How often progress is printed as a line when stderr is not a terminal."""


def loadtest(
    agencies: Annotated[int, typer.Option(help="Agencies sending and receiving (2 or more)")] = 10,
    rate: Annotated[float, typer.Option(help="Documents per second offered (Poisson)")] = 100.0,
    duration: Annotated[float, typer.Option(help="Seconds of sending, ramp included")] = 30.0,
    ramp: Annotated[float, typer.Option(help="Seconds over which the rate rises from 0")] = 0.0,
    recipients: Annotated[
        str, typer.Option(help="Recipients per document: A-B (each count as likely) or N")
    ] = "1",
    size: Annotated[int, typer.Option(help="Bytes of a signed document, about")] = 2048,
    receipts: Annotated[
        bool, typer.Option(help="Recipients answer each delivery with a receipt")
    ] = True,
    hub: HubOption = "embedded",
    namespace: NamespaceOption = None,
    ledger_url: Annotated[
        str | None,
        typer.Option(
            help="The hub's ledger: read when external; embedded, a new file to write "
            "[default: a temporary one]"
        ),
    ] = None,
    amqp_url: AmqpUrlOption = None,
    hub_pid: Annotated[
        int | None, typer.Option(help="The external hub's process id, to report its CPU and RSS")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the schedule and of the agencies' keys")] = 1,
    drain_timeout: Annotated[
        float, typer.Option(help="Seconds to wait at the end for everything to come back")
    ] = 60.0,
    max_p99_ms: Annotated[
        float | None, typer.Option(help="Fail when p99 from send to delivery is above this")
    ] = None,
    max_lost: Annotated[
        int,
        typer.Option(
            "--max-lost",
            "--max-loss",
            min=0,
            help="Fail when more items (documents, deliveries, receipts) than this are lost",
        ),
    ] = 0,
    ceiling_messages: Annotated[
        int, typer.Option(help="Messages the plain aio-pika relay moves for the ceiling; 0: none")
    ] = 2000,
    workers: WorkersOption = 1,
    json_path: JsonOption = None,
    report: Annotated[
        Path | None,
        typer.Option(
            help="Write report.json, throughput.png and latency.png into this folder "
            "(--find-max: find-max.json, and each step's in step-N/)"
        ),
    ] = None,
    export_registry_path: Annotated[
        Path | None,
        typer.Option(
            "--export-registry",
            help="Only write the load test's agency directory here, and the hub's key beside it "
            "(for --hub external)",
        ),
    ] = None,
    find_max: Annotated[
        bool, typer.Option("--find-max", help="Raise the rate in steps until a limit fails")
    ] = False,
    start_rate: Annotated[
        float | None, typer.Option(help="--find-max: the first rate [default: --rate]")
    ] = None,
    step_factor: Annotated[
        float, typer.Option(help="--find-max: each rate is the last times this")
    ] = 1.5,
    step: Annotated[
        float | None, typer.Option(help="--find-max: each rate is the last plus this instead")
    ] = None,
    max_rate: Annotated[
        float | None, typer.Option(help="--find-max: the highest rate to try")
    ] = None,
    max_steps: Annotated[int, typer.Option(help="--find-max: the most steps to run")] = 10,
    log_level: Annotated[str, typer.Option(help="Log level of the hub and agencies")] = "warning",
) -> None:
    """Offer a hub an open-loop Poisson load and report what came back, checked against the
    hub's ledger, with latency percentiles from each document's scheduled send time.

    The generator and agencies run in a process of their own; a plain aio-pika relay is measured
    in the same run as the ceiling. Every namespace the load test makes is deleted at the end,
    on a failure and on SIGINT or SIGTERM too.

    Exit codes: 0 nothing lost, nothing counted twice, and the stated limits held; 1 not so (the
    reason on stderr); 2 a usage mistake; 5 a namespace or ledger that cannot be used; 6 RabbitMQ
    unreachable; 7 the ledger unavailable; 130 and 143 stopped by SIGINT and SIGTERM."""
    settings = settings_from(HubSettings, amqp_url=amqp_url, log_level=log_level)
    configure_logging(settings.log_format, settings.log_level)
    if export_registry_path is not None:
        key_path = export_registry(agencies, seed, export_registry_path)
        out.print(
            f"wrote {agencies} load-test agencies to {export_registry_path}, and the hub's key to "
            f"{key_path} (give the hub --registry {export_registry_path} --hub-key {key_path} "
            "--trusted-users with the load test's broker user)",
            highlight=False,
            soft_wrap=True,
        )
        return
    try:
        recipient_range = parse_recipients(recipients)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    options = LoadOptions(
        agencies=agencies,
        rate=start_rate if find_max and start_rate is not None else rate,
        duration_s=duration,
        amqp_url=settings.amqp_url,
        ramp_s=ramp,
        recipients=recipient_range,
        size=size,
        receipts=receipts,
        hub=hub,
        namespace=namespace,
        ledger_url=ledger_url,
        hub_pid=hub_pid,
        seed=seed,
        drain_timeout_s=drain_timeout,
        limits=Limits(max_p99_ms=max_p99_ms, max_lost=max_lost),
        ceiling_messages=ceiling_messages,
        workers=workers,
        log_level=settings.log_level,
        connect_timeout_s=settings.connect_timeout_s,
    )
    if find_max:
        stepping = Stepping(
            start_rate=options.rate,
            step_factor=step_factor,
            step=step,
            max_rate=max_rate,
            max_steps=max_steps,
        )

        def on_step(step_report: LoadReport) -> None:
            _print_step(step_report)
            if report is not None:  # each step's report and charts: DIR/step-N/
                write_report_dir(step_report, report / f"step-{len(written) + 1}")
                written.append(step_report)

        written: list[LoadReport] = []
        with _live_progress() as update:
            outcome = asyncio.run(run_find_max(options, stepping, update, on_step))
        _print_find_max(outcome)
        if json_path is not None:
            write_json(outcome, json_path)
        if report is not None:
            write_json(outcome, report / "find-max.json")
            out.print(f"wrote {report / 'find-max.json'}", highlight=False)
        if not outcome.ok:
            raise CommandError(f"FAILED: {outcome.reason}", ExitCode.FAILED)
        return
    with _live_progress() as update:
        result = asyncio.run(run_loadtest(options, update))
    _print_report(result)
    if json_path is not None:
        write_json(result, json_path)
    if report is not None:
        for path in write_report_dir(result, report):
            out.print(f"wrote {path}", highlight=False)
    if not result.ok:
        raise CommandError(f"FAILED: {result.reason}", ExitCode.FAILED)


@contextmanager
def _live_progress() -> Iterator[Callable[[LoadProgress], None]]:
    """One live line on stderr when it is a terminal; otherwise a plain line every few seconds."""
    last_printed = 0.0

    def line(progress: LoadProgress) -> str:
        receipts = (
            f", receipts {progress.receipts:,}/{progress.receipts_expected:,}"
            if progress.receipts_expected
            else ""
        )
        errors = f", {progress.send_errors} send errors" if progress.send_errors else ""
        return (
            f"{progress.phase} {progress.elapsed_s:6.1f} s: sent {progress.sent:,}, "
            f"delivered {progress.delivered:,}/{progress.deliveries_expected:,}{receipts}{errors}"
        )

    if not err.is_terminal:

        def plain(progress: LoadProgress) -> None:
            nonlocal last_printed
            if time.monotonic() - last_printed >= _PLAIN_PROGRESS_S:
                last_printed = time.monotonic()
                print(line(progress), file=sys.stderr, flush=True)

        yield plain
        return
    with Live(Text(""), console=err, transient=True, refresh_per_second=4) as live:
        yield lambda progress: live.update(Text(line(progress)))


def _print_step(report: LoadReport) -> None:
    latency = report.latency_ms.send_to_delivered
    verdict = "held" if report.ok else f"FAILED: {report.reason}"
    out.print(
        f"step {report.offered_rate:g} docs/s offered: {report.docs_per_s:g} docs/s, "
        f"p99 {latency.p99:g} ms, lost {report.lost}, double-counted {report.double_counted}: "
        f"{verdict}",
        highlight=False,
        soft_wrap=True,
    )


def _print_report(report: LoadReport) -> None:
    table = Table(title=f"load test, {report.hub} hub, namespace {report.namespace}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = [
        ("offered", f"{report.offered_rate:g} docs/s for {report.duration_s:g} s"),
        (
            "agencies, recipients",
            f"{report.agencies}, {report.recipients[0]}-{report.recipients[1]}",
        ),
        ("message size", f"{report.size_bytes:,} B"),
        ("sent / accepted", f"{report.sent:,} / {report.accepted:,}"),
        ("delivered", f"{report.delivered:,} of {report.deliveries_expected:,}"),
        ("receipts", f"{report.receipts:,} of {report.receipts_expected:,}"),
        ("lost / double-counted", f"{report.lost} / {report.double_counted}"),
        ("achieved", f"{report.docs_per_s:,.1f} docs/s"),
    ]
    for name, latency in (
        ("send to delivered", report.latency_ms.send_to_delivered),
        ("send to receipt", report.latency_ms.send_to_receipt),
    ):
        if latency is not None:
            rows.append(
                (
                    f"{name} (ms)",
                    f"p50 {latency.p50:g}, p95 {latency.p95:g}, p99 {latency.p99:g}, "
                    f"p99.9 {latency.p999:g}, max {latency.max:g}",
                )
            )
    if report.hub_cpu_s is not None:
        rows.append(("hub CPU, peak RSS", f"{report.hub_cpu_s:g} s, {report.hub_peak_rss_mb} MB"))
    elif report.hub_note:
        rows.append(("hub CPU, peak RSS", report.hub_note))
    rows.append(
        ("agencies CPU, peak RSS", f"{report.agencies_cpu_s:g} s, {report.agencies_peak_rss_mb} MB")
    )
    if report.ceiling_msgs_per_s is not None:
        rows.append(
            (
                "ceiling (plain relay)",
                f"{report.ceiling_msgs_per_s:,.0f} msgs/s, ratio {report.ratio_to_ceiling}",
            )
        )
    for name, value in rows:
        table.add_row(name, value)
    out.print(table)


def _print_find_max(outcome: FindMaxReport) -> None:
    table = Table(title="find-max")
    for column in ("offered", "achieved", "p99 ms", "p99.9 ms", "lost", "doubled", "held"):
        table.add_column(column, justify="right")
    for step in outcome.steps:
        table.add_row(
            f"{step.offered_rate:g}",
            f"{step.docs_per_s:g}",
            f"{step.p99_ms:g}",
            f"{step.p999_ms:g}",
            str(step.lost),
            str(step.double_counted),
            "yes" if step.held else "no",
        )
    out.print(table)
    sustained = outcome.highest_sustained_rate
    out.print(
        f"highest rate sustained: {sustained:g} docs/s"
        if sustained is not None
        else "no rate sustained",
        highlight=False,
    )
