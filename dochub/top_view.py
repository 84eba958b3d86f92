"""What ``dochub top`` shows: one frame of a hub's snapshot (``GET /api/snapshot``) as rich
tables. Pure: a snapshot in, a renderable out, so that a frame can be checked without a hub.

The snapshot is the JSON the hub serves (``hub.snapshot.SnapshotMaker``); a field it lacks shows
as a dash rather than failing, so that ``top`` still shows a hub one version apart.
"""

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

TOTALS = ("documents", "deliveries", "receipts", "rejections", "duplicates")
LATENCIES = (("p50", "p50"), ("p90", "p90"), ("p99", "p99"), ("p999", "p99.9"), ("max", "max"))
QUEUE_ROWS = 12
"""Queues shown: the stalled ones first, then the deepest."""
AGENCY_ROWS = 5
SPARK = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 60
"""History points in the sparkline at most; fewer in a narrow terminal."""
WIDTH = 100
DASH = "-"


def sparkline(values: Sequence[float], width: int = SPARK_WIDTH) -> str:
    """The last ``width`` values as block characters, scaled to the largest (0 is the lowest)."""
    shown = [max(value, 0.0) for value in values[-width:]]
    if not shown:
        return ""
    top = max(shown)
    if top <= 0:
        return SPARK[0] * len(shown)
    return "".join(
        SPARK[min(int(value / top * (len(SPARK) - 1) + 0.5), len(SPARK) - 1)] for value in shown
    )


def is_stalled(queue: Mapping[str, Any]) -> bool:
    """Messages wait and nobody consumes them: the way messages silently stop on RabbitMQ. A
    dead-letter queue has no consumer by design, so it never counts as stalled."""
    depth, consumers = queue.get("depth"), queue.get("consumers")
    return (
        queue.get("role") != "dead_letter"
        and isinstance(depth, int)
        and depth > 0
        and consumers == 0
    )


def queues_to_show(
    queues: Sequence[Mapping[str, Any]], limit: int = QUEUE_ROWS
) -> list[Mapping[str, Any]]:
    """Stalled queues first, then the ingress and dead letters, then the deepest others."""
    roles = {"ingress": 0, "dead_letter": 1}

    def order(queue: Mapping[str, Any]) -> tuple[int, int, int, str]:
        depth = queue.get("depth")
        return (
            0 if is_stalled(queue) else 1,
            roles.get(str(queue.get("role")), 2),
            -(depth if isinstance(depth, int) else 0),
            str(queue.get("name", "")),
        )

    return sorted(queues, key=order)[:limit]


def duration(seconds: float) -> str:
    whole = int(seconds)
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes}m"
    if hours:
        return f"{hours}h {minutes}m {secs}s"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def number(value: object, digits: int = 0) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return DASH
    return f"{value:,.{digits}f}"


def frame(
    snapshot: Mapping[str, Any], *, url: str, problem: str | None = None, width: int = WIDTH
) -> RenderableType:
    """One screen of ``top``, for a terminal ``width`` columns wide. ``problem``: the hub stopped
    answering; the last snapshot is shown under that line."""
    spark_width = max(min(width - 45, SPARK_WIDTH), 8)
    parts: list[RenderableType] = [
        _header(snapshot, url, problem),
        _throughput(snapshot, spark_width),
    ]
    parts.append(_side_by_side(_latency(snapshot), _health(snapshot)))
    parts.append(_queues(snapshot))
    parts.append(
        _side_by_side(
            _agencies("Busiest senders", _records(snapshot, "top_senders")),
            _agencies("Busiest recipients", _records(snapshot, "top_recipients")),
        )
    )
    parts.append(
        _side_by_side(
            _counts("Refusals by reason", _mapping(snapshot, "refusals_by_reason")),
            _counts("Dead letters by reason", _mapping(snapshot, "dead_letters_by_reason")),
            _counts("Receipts by code", _mapping(snapshot, "receipts_by_status")),
        )
    )
    parts.append(_statistics(_mapping(snapshot, "statistics")))
    return Group(*parts)


def unreachable_frame(url: str, problem: str) -> RenderableType:
    """A screen for a hub that has not answered yet."""
    return Panel(Text(problem, style="bold red"), title=f"DocHub top · {url}", title_align="left")


def _header(snapshot: Mapping[str, Any], url: str, problem: str | None) -> RenderableType:
    health = _mapping(snapshot, "health")
    ready = health.get("ready")
    line = Text()
    line.append("DocHub ", style="bold")
    line.append(str(snapshot.get("namespace", DASH)), style="bold cyan")
    line.append(f"  node {snapshot.get('node', DASH)}")
    uptime = snapshot.get("uptime_s")
    line.append(f"  up {duration(uptime) if isinstance(uptime, int | float) else DASH}")
    line.append("  ")
    if ready is True:
        line.append(" READY ", style="bold white on green")
    elif ready is False:
        line.append(" NOT READY ", style="bold white on red")
    line.append(f"  {url}", style="dim")
    if problem is not None:
        line.append(f"\n{problem}", style="bold red")
    return line


def _throughput(snapshot: Mapping[str, Any], spark_width: int) -> RenderableType:
    totals, rates = _mapping(snapshot, "totals"), _mapping(snapshot, "rates")
    history = _records(snapshot, "history")
    table = _table("Throughput")
    table.add_column("")
    table.add_column("total", justify="right")
    table.add_column("per s", justify="right")
    table.add_column(f"last {min(len(history), spark_width)} s", no_wrap=True)
    for name in TOTALS:
        rate_key = f"{name}_per_s"
        values = [point.get(rate_key) for point in history]
        table.add_row(
            name,
            number(totals.get(name)),
            number(rates.get(rate_key), 1) if rate_key in rates else "",
            sparkline([float(v) for v in values if isinstance(v, int | float)], spark_width)
            if rate_key in rates
            else "",
        )
    return table


def _latency(snapshot: Mapping[str, Any]) -> RenderableType:
    latency = _mapping(snapshot, "latency_ms")
    table = _table("Route latency (ms)")
    for _, label in LATENCIES:
        table.add_column(label, justify="right")
    table.add_row(*(number(latency.get(key), 2) for key, _ in LATENCIES))
    return table


def _health(snapshot: Mapping[str, Any]) -> RenderableType:
    health = _mapping(snapshot, "health")
    reasons = [str(reason) for reason in health.get("reasons") or []]
    if health.get("ready") is True:
        body = Text("ready", style="green")
    elif reasons:
        body = Text("\n".join(reasons), style="red")
    else:
        body = Text("not ready" if health.get("ready") is False else DASH, style="red")
    return Panel(body, title="Health", title_align="left", expand=False)


def _queues(snapshot: Mapping[str, Any]) -> RenderableType:
    queues = _records(snapshot, "queues")
    shown = queues_to_show(queues)
    stalled = sum(1 for queue in queues if is_stalled(queue))
    title = f"Queues ({len(shown)} of {len(queues)}"
    title += f"; {stalled} with messages and no consumer, marked !)" if stalled else ")"
    table = _table(title)
    table.add_column("queue", no_wrap=True)
    table.add_column("role")
    table.add_column("agency")
    table.add_column("depth", justify="right")
    table.add_column("consumers", justify="right")
    for queue in shown:
        warn = is_stalled(queue)
        consumers = number(queue.get("consumers"))
        table.add_row(
            str(queue.get("name", DASH)),
            str(queue.get("role", DASH)),
            str(queue.get("agency_name") or queue.get("agency") or ""),
            number(queue.get("depth")),
            f"{consumers} !" if warn else consumers,
            style="bold red" if warn else None,
        )
    return table


def _agencies(title: str, rows: Sequence[Mapping[str, Any]]) -> RenderableType:
    table = _table(title)
    table.add_column("agency")
    table.add_column("documents", justify="right")
    for row in rows[:AGENCY_ROWS]:
        name = Text(str(row.get("name") or row.get("agency") or DASH))
        name.append(f" {row.get('agency', '')}", style="dim")
        table.add_row(name, number(row.get("documents")))
    return table


def _counts(title: str, counts: Mapping[str, Any]) -> RenderableType:
    table = _table(title)
    table.add_column("")
    table.add_column("count", justify="right")
    ordered = sorted(counts.items(), key=lambda item: (-_int(item[1]), item[0]))
    for key, count in ordered:
        table.add_row(str(key), number(count))
    return table


def _statistics(statistics: Mapping[str, Any]) -> RenderableType:
    computed_at = statistics.get("computed_at")
    title = "Statistics against the national figures"
    if isinstance(computed_at, str):
        title += f" (computed {_time(computed_at)})"
    table = _table(title)
    table.add_column("period")
    table.add_column("documents", justify="right")
    table.add_column("national", justify="right")
    table.add_column("ratio", justify="right")
    for row in _records(statistics, "rows"):
        documents, national = row.get("documents"), row.get("national")
        ratio = (
            f"{documents / national:.1%}"
            if isinstance(documents, int) and isinstance(national, int) and national > 0
            else DASH
        )
        table.add_row(str(row.get("period", DASH)), number(documents), number(national), ratio)
    note = statistics.get("note")
    return Group(table, Text(note, style="dim")) if isinstance(note, str) and note else table


def _table(title: str) -> Table:
    return Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD)


def _side_by_side(*parts: RenderableType) -> RenderableType:
    grid = Table.grid(padding=(0, 3))
    for _ in parts:
        grid.add_column(vertical="top")
    grid.add_row(*parts)
    return grid


def _time(text: str) -> str:
    try:
        return dt.datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    except ValueError:
        return text


def _mapping(parent: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = parent.get(key)
    return value if isinstance(value, Mapping) else {}


def _records(parent: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = parent.get(key)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0
