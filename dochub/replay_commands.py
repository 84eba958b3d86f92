"""``dochub simulate`` and ``dochub stats``: replay national traffic; read a ledger's figures."""

import asyncio
import datetime as dt
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dochub.logging import configure_logging
from dochub.run_options import AmqpUrlOption, HubOption, JsonOption, NamespaceOption, WorkersOption
from dochub.settings_io import settings_from
from hub.errors import LedgerError
from hub.ledger_url import open_ledger
from hub.periods import DayCounts, Period, by_period, year_earlier
from hub.settings import HubSettings
from hub.sqlite_ledger import sqlite_path
from runs.ledger_files import SIMULATIONS_FOLDER
from runs.replay import ReplayOptions, export_registry, run_replay
from runs.replay_report import figure_lines, periods_table, write_json, write_report_dir
from simulator.fleet import FleetProgress

out = Console(width=None if sys.stdout.isatty() else 120)
err = Console(stderr=True)

DEFAULT_SCALE = 2500


def simulate(
    scenario: Annotated[
        str, typer.Option(help="A built-in scenario name, or the path of a scenario TOML file")
    ] = "vdxp-2019-2022",
    scale: Annotated[
        int, typer.Option(min=1, help="Replay one document per SCALE real ones")
    ] = DEFAULT_SCALE,
    seed: Annotated[
        int | None, typer.Option(help="Random seed of the traffic [default: the scenario's]")
    ] = None,
    json_path: JsonOption = None,
    report: Annotated[
        Path | None,
        typer.Option(help="Write replay.json, replay.md and replay.png into this folder"),
    ] = None,
    hub: HubOption = "embedded",
    namespace: NamespaceOption = None,
    ledger_url: Annotated[
        str | None,
        typer.Option(
            help="The hub's ledger: an empty one, written when embedded, read when external; "
            "one that holds data is refused, never deleted [default embedded: a new file "
            f"./{SIMULATIONS_FOLDER}/<UTC time>-<run id>.db; external: env DOCHUB_LEDGER_URL]"
        ),
    ] = None,
    amqp_url: AmqpUrlOption = None,
    workers: WorkersOption = 1,
    stall_timeout: Annotated[
        float, typer.Option(help="Give up when nothing moves for this many seconds")
    ] = 60.0,
    export_registry: Annotated[
        Path | None,
        typer.Option(help="Only write the simulated agencies' directory here (for --hub external)"),
    ] = None,
    log_level: Annotated[str, typer.Option(help="Log level of the hub's own logs")] = "warning",
) -> None:
    """Replay a national-traffic scenario through a real hub and print its ledger's figures.

    The figures are printed beside the national ones. The embedded hub's namespace is deleted
    when the replay ends, on a failure and on SIGINT or SIGTERM too; its ledger is kept, a new
    file each run unless --ledger-url names an empty one.

    Exit codes: 0 every figure matches and the books balance (nothing lost, nothing counted
    twice); 1 they do not, or the replay stopped short; 2 a usage mistake; 5 a scenario, ledger or
    namespace that cannot be used (a ledger that holds data already, no hub running on the
    namespace for --hub external); 6 RabbitMQ
    unreachable; 7 the ledger unavailable; 130 and 143 stopped by SIGINT and SIGTERM."""
    settings = settings_from(HubSettings, amqp_url=amqp_url, log_level=log_level)
    configure_logging(settings.log_format, settings.log_level)
    if export_registry is not None:
        _export_registry(scenario, seed, export_registry)
        return
    options = ReplayOptions(
        scenario=scenario,
        scale=scale,
        seed=seed,
        hub=hub,
        amqp_url=settings.amqp_url,
        ledger_url=ledger_url or (None if hub == "embedded" else settings.ledger_url),
        namespace=namespace,
        workers=workers,
        stall_timeout_s=stall_timeout,
        log_level=settings.log_level,
        connect_timeout_s=settings.connect_timeout_s,
    )
    with _progress() as update:
        outcome = asyncio.run(run_replay(options, update))
    out.print(periods_table(outcome))
    for line in figure_lines(outcome):
        out.print(line, style="green" if line.startswith("ok") else "bold red", highlight=False)
    out.print(
        f"{outcome.totals.accepted:,} documents, {outcome.totals.deliveries:,} deliveries, "
        f"{outcome.totals.receipts:,} receipts in {outcome.elapsed_s:,.1f} s "
        f"({outcome.totals.accepted / outcome.elapsed_s:,.0f} documents/s); "
        f"ledger {outcome.ledger_url}",
        highlight=False,
        soft_wrap=True,
    )
    out.print(
        f"read it again with: dochub stats --ledger-url {outcome.ledger_url}",
        highlight=False,
        soft_wrap=True,
    )
    if json_path is not None:
        write_json(outcome, json_path)
    if report is not None:
        for path in write_report_dir(outcome, report):
            out.print(f"wrote {path}", highlight=False)
    raise typer.Exit(0 if outcome.ok else 1)


@contextmanager
def _progress() -> Iterator[Callable[[FleetProgress], None]]:
    """A progress bar of the replay, on stderr when it is a terminal: documents sent, deliveries
    and receipts back."""
    progress = Progress(
        TextColumn("{task.description:<20}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        disable=not err.is_terminal,
    )
    bars = {
        name: progress.add_task(name, total=None)
        for name in ("documents sent", "deliveries answered", "receipts read")
    }

    def update(fleet: FleetProgress) -> None:
        for name, done, total in (
            ("documents sent", fleet.documents_sent, fleet.documents_planned),
            ("deliveries answered", fleet.deliveries_received, fleet.deliveries_expected),
            ("receipts read", fleet.receipts_received, fleet.receipts_expected),
        ):
            progress.update(bars[name], completed=done, total=total)

    with progress:
        yield update


def _export_registry(scenario_name: str, seed: int | None, path: Path) -> None:
    agencies, key_path = export_registry(scenario_name, seed, path)
    out.print(
        f"wrote {agencies} simulated agencies to {path}, and the simulated hub's "
        f"key to {key_path} (give the hub --registry {path} --hub-key {key_path} "
        "--trusted-users with the replay's broker user)",
        highlight=False,
        soft_wrap=True,
    )


def stats(
    by: Annotated[Period, typer.Option(help="Group by day, month, quarter, half or year")] = (
        Period.MONTH
    ),
    agency: Annotated[
        str | None,
        typer.Option(help="Only this agency: documents it sent, deliveries to it, its receipts"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
    ledger_url: Annotated[
        str | None, typer.Option(help="The hub's ledger [env DOCHUB_LEDGER_URL]")
    ] = None,
) -> None:
    """Documents, deliveries and receipts per period, from the ledger of a hub that has run.

    It only reads: the ledger is opened read-only, and nothing in it or beside it changes. Exit
    codes: 0 done; 2 a usage mistake; 5 a ledger URL that is not sqlite:///PATH; 7 no ledger
    there, or not one that can be read."""
    settings = settings_from(HubSettings, ledger_url=ledger_url)
    configure_logging(settings.log_format, "warning")
    if (
        settings.ledger_url.startswith("sqlite:")
        and not Path(sqlite_path(settings.ledger_url)).exists()
    ):
        hint = (
            f"; a replay keeps its ledgers in ./{SIMULATIONS_FOLDER}/ (pass one as --ledger-url)"
            if f"/{SIMULATIONS_FOLDER}/" not in settings.ledger_url
            else ""
        )
        raise LedgerError(f"no ledger at {settings.ledger_url}{hint}")
    days = asyncio.run(_day_counts(settings.ledger_url, settings.stats_utc_offset_hours, agency))
    rows = by_period(days, by)
    documents = {row.period: row.documents for row in rows}
    earlier = [documents.get(year_earlier(row.period)) for row in rows]
    if as_json:
        periods = [
            {**asdict(row), "documents_year_earlier": before}
            for row, before in zip(rows, earlier, strict=True)
        ]
        print(json.dumps({"by": by.value, "agency": agency, "periods": periods}, indent=2))
        return
    if not rows:
        out.print(
            f"no documents in {settings.ledger_url}" + (f" for agency {agency}" if agency else ""),
            highlight=False,
        )
        return
    table = Table(title=settings.ledger_url + (f", agency {agency}" if agency else ""))
    for column in ("period", "documents", "deliveries", "receipts", "vs year earlier"):
        table.add_column(column, justify="left" if column == "period" else "right")
    for row, before in zip(rows, earlier, strict=True):
        table.add_row(
            row.period,
            f"{row.documents:,}",
            f"{row.deliveries:,}",
            f"{row.receipts:,}",
            f"×{row.documents / before:.2f}" if before else "",
        )
    out.print(table)


async def _day_counts(url: str, offset_hours: int, agency: str | None) -> DayCounts:
    ledger = await open_ledger(url, dt.timedelta(hours=offset_hours), read_only=True)
    try:
        return await ledger.day_counts(agency)
    finally:
        await ledger.close()
