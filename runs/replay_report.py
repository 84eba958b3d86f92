"""What a replay prints and writes: the table of periods beside the national figures, the figure
checks, the JSON report, a Markdown table and a PNG chart. Every count comes from the hub's
ledger; the plan only supplies the targets."""

import datetime as dt
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from hub.periods import Period, by_period, year_earlier
from runs.replay import ReplayOutcome


@dataclass(frozen=True, slots=True)
class PeriodLine:
    period: str
    documents: int
    deliveries: int
    receipts: int
    change: float | None
    """Documents against the same period a year earlier, as a multiple."""
    national: str


def period_lines(outcome: ReplayOutcome) -> list[PeriodLine]:
    """Half-years, then the whole run: real numbers (replayed counts times the scale)."""
    scale = outcome.options.scale
    rows = by_period(outcome.days, Period.HALF)
    documents = {row.period: row.documents for row in rows}
    nationals = _national_by_half(outcome)
    lines = [
        PeriodLine(
            period=row.period,
            documents=row.documents * scale,
            deliveries=row.deliveries * scale,
            receipts=row.receipts * scale,
            change=(
                row.documents / documents[year_earlier(row.period)]
                if row.documents and documents.get(year_earlier(row.period))
                else None
            ),
            national=nationals.get(row.period, ""),
        )
        for row in rows
    ]
    cumulative = outcome.scenario.cumulative_target()
    lines.append(
        PeriodLine(
            period=f"all since {outcome.scenario.launch.isoformat()}",
            documents=sum(row.documents for row in rows) * scale,
            deliveries=sum(row.deliveries for row in rows) * scale,
            receipts=sum(row.receipts for row in rows) * scale,
            change=None,
            national=f"{cumulative.documents:,}" if cumulative else "",
        )
    )
    return lines


def _national_by_half(outcome: ReplayOutcome) -> dict[str, str]:
    scenario = outcome.scenario
    nationals: dict[str, str] = {}
    ratios = {ratio.numerator: ratio for ratio in scenario.ratios}
    for target in scenario.targets:
        half = f"{target.start.year:04d}-H{1 if target.start.month <= 6 else 2}"
        if target.start != _half_start(half) or target.end != _half_end(half):
            continue
        text = f"{target.documents:,}"
        if target.key in ratios:
            text += f" (×{ratios[target.key].value:g})"
        nationals[half] = text
    return nationals


def _half_start(half: str) -> dt.date:
    return dt.date(int(half[:4]), 1 if half.endswith("H1") else 7, 1)


def _half_end(half: str) -> dt.date:
    return dt.date(int(half[:4]), 6, 30) if half.endswith("H1") else dt.date(int(half[:4]), 12, 31)


def periods_table(outcome: ReplayOutcome) -> Table:
    table = Table(
        title=f"{outcome.scenario.name} replayed at 1:{outcome.options.scale:,} "
        "(from the hub's ledger, scaled back to real numbers)",
    )
    for column in ("Period", "Documents", "Deliveries", "Receipts", "vs year earlier", "National"):
        table.add_column(column, justify="left" if column == "Period" else "right")
    for line in period_lines(outcome):
        table.add_row(
            line.period,
            f"{line.documents:,}",
            f"{line.deliveries:,}",
            f"{line.receipts:,}",
            f"×{line.change:.2f}" if line.change is not None else "",
            line.national,
        )
    return table


def figure_lines(outcome: ReplayOutcome) -> list[str]:
    lines = []
    for figure in outcome.figures:
        mark = "ok " if figure.matches else "OFF"
        lines.append(
            f"{mark} {figure.label}: measured {_number(figure.measured)}, "
            f"national {_number(figure.target)}"
            + ("" if figure.measured == figure.target else f" ({figure.detail})")
        )
    problems = outcome.accounting_problems()
    lines.append(
        "ok  accounting balances: nothing lost, nothing counted twice"
        if not problems
        else "OFF accounting: " + "; ".join(problems)
    )
    return lines


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:g}"


def report_json(outcome: ReplayOutcome) -> dict[str, Any]:
    totals, fleet = outcome.totals, outcome.fleet
    monthly = by_period(outcome.days, Period.MONTH)
    measured_months = {row.period: row.documents for row in monthly}
    return {
        "scenario": outcome.scenario.name,
        "scale": outcome.options.scale,
        "seed": outcome.seed,
        "hub": outcome.options.hub,
        "namespace": outcome.namespace,
        "ledger": outcome.ledger_url,
        "ok": outcome.ok,
        "figures": {
            figure.key: {
                "label": figure.label,
                "measured": figure.measured,
                "target": figure.target,
                "matches": figure.matches,
                "detail": figure.detail,
            }
            for figure in outcome.figures
        },
        "lost": outcome.lost,
        "double_counted": outcome.double_counted,
        "documents": totals.accepted,
        "deliveries": totals.deliveries,
        "receipts": totals.receipts,
        "rejected": totals.rejected,
        "accounting_problems": outcome.accounting_problems(),
        "fleet": fleet.model_dump(),
        "elapsed_s": outcome.elapsed_s,
        "docs_per_s": round(totals.accepted / outcome.elapsed_s, 1) if outcome.elapsed_s else 0.0,
        "periods": [
            asdict(line) | {"scale_back": outcome.options.scale} for line in period_lines(outcome)
        ],
        "monthly": [
            {"month": month, "planned": planned, "measured": measured_months.get(month, 0)}
            for month, planned in outcome.planned_months.items()
        ],
    }


def write_json(outcome: ReplayOutcome, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(report_json(outcome), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )


def markdown(outcome: ReplayOutcome) -> str:
    lines = [
        f"# Replay of `{outcome.scenario.name}` at 1:{outcome.options.scale:,}",
        "",
        f"Seed {outcome.seed}; {outcome.totals.accepted:,} documents replayed in "
        f"{outcome.elapsed_s:,.1f} s. Counts from the hub's ledger, multiplied back by the scale.",
        "",
        "| Period | Documents | Deliveries | Receipts | vs year earlier | National |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for line in period_lines(outcome):
        change = f"×{line.change:.2f}" if line.change is not None else ""
        lines.append(
            f"| {line.period} | {line.documents:,} | {line.deliveries:,} | {line.receipts:,} "
            f"| {change} | {line.national} |"
        )
    lines += ["", "## Figures", ""]
    lines += [f"- {text}" for text in figure_lines(outcome)]
    return "\n".join(lines) + "\n"


def write_chart(outcome: ReplayOutcome, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import StrMethodFormatter

    scale = outcome.options.scale
    measured = {row.period: row.documents for row in by_period(outcome.days, Period.MONTH)}
    months = list(outcome.planned_months)
    positions = range(len(months))
    figure, axes = plt.subplots(figsize=(12, 5.5))
    axes.bar(
        positions,
        [measured.get(month, 0) * scale for month in months],
        color="#4C72B0",
        label="measured (hub ledger × scale)",
    )
    axes.plot(
        positions,
        [outcome.scenario.monthly()[month] for month in months],
        color="#DD8452",
        marker=".",
        label="scenario (real monthly volume)",
    )
    axes.set_ylim(top=axes.get_ylim()[1] * 1.2)  # room for the labels above the bars
    national = outcome.scenario.cumulative_target()
    for target in outcome.scenario.targets:
        if target is national:
            continue
        first = months.index(target.start.strftime("%Y-%m"))
        last = months.index(target.end.strftime("%Y-%m"))
        axes.axvspan(first - 0.5, last + 0.5, color="#55A868", alpha=0.12)
        axes.text(
            (first + last) / 2,
            axes.get_ylim()[1] * 0.97,
            f"{target.label}\nnational {target.documents:,}",
            ha="center",
            va="top",
            fontsize=8,
        )
    cumulative = sum(measured.values()) * scale
    axes.set_title(
        f"{outcome.scenario.name} at 1:{scale:,}: monthly documents "
        f"(cumulative measured {cumulative:,}"
        + (f", national {national.documents:,})" if national is not None else ")")
    )
    axes.set_xticks(list(positions)[::3], months[::3], rotation=45, ha="right", fontsize=8)
    axes.set_ylabel("documents per month")
    axes.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    axes.legend(loc="upper left")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_report_dir(outcome: ReplayOutcome, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "replay.json", folder / "replay.md", folder / "replay.png"]
    write_json(outcome, paths[0])
    paths[1].write_text(markdown(outcome), encoding="utf-8")
    write_chart(outcome, paths[2])
    return paths
