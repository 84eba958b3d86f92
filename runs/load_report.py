"""A load test's report: what was sent and what came back, checked against the hub's ledger, the
latency percentiles, and the charts.

Latency runs from each document's *scheduled* send time, so a stall of the sender counts against
the hub as a user would see it (no coordinated omission). Percentiles come from HdrHistograms of
microseconds (3 significant digits), which the agencies' process records and sends encoded.
"""

import math
from pathlib import Path
from typing import Final

from hdrh.histogram import HdrHistogram
from pydantic import BaseModel, ConfigDict

from runs.namespace_lifecycle import HubMode

LOWEST_US: Final = 1
HIGHEST_US: Final = 3_600_000_000
"""An hour: a latency beyond it is recorded as an hour."""
SIGNIFICANT_DIGITS: Final = 3
CURVE_NINES: Final = 5
"""The percentile plot goes to 99.999 % (five nines), or the largest value when fewer samples."""


def new_histogram() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def record_seconds(histogram: HdrHistogram, seconds: float) -> None:
    histogram.record_value(min(HIGHEST_US, max(LOWEST_US, round(seconds * 1_000_000))))


def encode(histogram: HdrHistogram) -> str:
    encoded: bytes = histogram.encode()
    return encoded.decode("ascii")


def decode(text: str) -> HdrHistogram:
    if not text:
        return new_histogram()
    histogram: HdrHistogram = HdrHistogram.decode(text.encode("ascii"))
    return histogram


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Percentiles(_Model):
    """Milliseconds; zeros when there are no samples (``count`` 0)."""

    count: int
    p50: float
    p95: float
    p99: float
    p999: float
    max: float

    @classmethod
    def of(cls, histogram: HdrHistogram) -> "Percentiles":
        def ms(percentile: float) -> float:
            value: int = histogram.get_value_at_percentile(percentile)
            return round(value / 1000, 3)

        count = int(histogram.get_total_count())
        if not count:
            return cls(count=0, p50=0, p95=0, p99=0, p999=0, max=0)
        return cls(
            count=count,
            p50=ms(50),
            p95=ms(95),
            p99=ms(99),
            p999=ms(99.9),
            max=round(histogram.get_max_value() / 1000, 3),
        )


class CurvePoint(_Model):
    percentile: float
    ms: float


def percentile_curve(histogram: HdrHistogram) -> list[CurvePoint]:
    """Points of an HdrHistogram percentile plot: ten per decade of 1/(1-p), up to the nines the
    sample count supports, then the maximum."""
    count = int(histogram.get_total_count())
    if not count:
        return []
    nines = min(CURVE_NINES, math.log10(count)) if count > 1 else 0
    points = [
        CurvePoint(
            percentile=round(100 * (1 - 10 ** (-step / 10)), 6),
            ms=histogram.get_value_at_percentile(100 * (1 - 10 ** (-step / 10))) / 1000,
        )
        for step in range(round(nines * 10) + 1)
    ]
    return [*points, CurvePoint(percentile=100.0, ms=histogram.get_max_value() / 1000)]


class Latency(_Model):
    send_to_delivered: Percentiles
    send_to_receipt: Percentiles | None
    """None when the recipients send no receipts (``--no-receipts``)."""


class Second(_Model):
    """What happened in one second of the run (counted by when it happened)."""

    second: int
    sent: int
    delivered: int
    receipts: int


class AgencyCounts(_Model):
    """What the agencies did and saw, by their own count."""

    scheduled: int
    sent: int
    """Documents the broker confirmed."""
    send_errors: int
    deliveries_expected: int
    """The recipients of every document sent."""
    delivered: int
    """Distinct (document, recipient) pairs that reached their recipient."""
    duplicate_deliveries: int
    """A document handed to the same recipient twice (past the client's dedupe)."""
    unplanned: int
    """Deliveries or receipts of documents this run never sent."""
    receipts_expected: int
    receipts: int
    """Distinct receipts their senders read."""
    duplicate_receipts: int
    hub_refusals: int


class LedgerCounts(_Model):
    """The hub's ledger, for this run alone."""

    accepted: int
    deliveries: int
    receipts: int
    """Status steps recorded."""
    rejected: int
    in_flight: int
    unrelayed: int


def lost(agencies: AgencyCounts, ledger: LedgerCounts) -> int:
    """Documents, deliveries and receipts sent or due that the ledger or their reader lacks."""
    return (
        max(0, agencies.sent - ledger.accepted)
        + max(0, agencies.deliveries_expected - min(ledger.deliveries, agencies.delivered))
        + max(0, agencies.receipts_expected - min(ledger.receipts, agencies.receipts))
    )


def double_counted(agencies: AgencyCounts, ledger: LedgerCounts) -> int:
    """Items beyond what was sent or due, in the ledger or as the agencies received them."""
    return (
        max(0, ledger.accepted - agencies.sent)
        + max(0, ledger.deliveries - agencies.deliveries_expected)
        + max(0, agencies.delivered - agencies.deliveries_expected)
        + agencies.duplicate_deliveries
        + max(0, ledger.receipts - agencies.receipts_expected)
        + max(0, agencies.receipts - agencies.receipts_expected)
        + agencies.duplicate_receipts
        + agencies.unplanned
    )


class Limits(_Model):
    max_p99_ms: float | None = None
    max_lost: int = 0
    """Items (documents, deliveries, receipts) that may be lost."""


def limit_breaches(limits: Limits, lost_items: int, latency: Latency) -> list[str]:
    """Which stated limits did not hold, in words."""
    breaches = []
    if lost_items > limits.max_lost:
        breaches.append(f"{lost_items} lost, more than the limit of {limits.max_lost}")
    p99 = latency.send_to_delivered.p99
    if limits.max_p99_ms is not None and p99 > limits.max_p99_ms:
        breaches.append(
            f"p99 send to delivered {p99:g} ms, over the limit of {limits.max_p99_ms:g}"
        )
    return breaches


class LoadReport(_Model):
    ok: bool
    reason: str | None
    """Why the run failed, in one line; None when it passed."""
    hub: HubMode
    namespace: str
    agencies: int
    offered_rate: float
    duration_s: float
    ramp_s: float
    recipients: tuple[int, int]
    size_bytes: int
    """Of a signed document as published (one recipient)."""
    receipts_enabled: bool
    seed: int
    scheduled: int
    sent: int
    send_errors: int
    accepted: int
    """Documents in the hub's ledger."""
    deliveries_expected: int
    delivered: int
    receipts_expected: int
    receipts: int
    lost: int
    double_counted: int
    rejected: int
    docs_per_s: float
    """Documents accepted over the time from the first scheduled send to the last delivery."""
    elapsed_s: float
    drain_s: float
    drained: bool
    latency_ms: Latency
    hub_cpu_s: float | None
    hub_peak_rss_mb: float | None
    hub_note: str | None
    agencies_cpu_s: float
    agencies_peak_rss_mb: float
    ceiling_msgs_per_s: float | None
    ratio_to_ceiling: float | None
    """``docs_per_s`` over the plain relay's messages per second."""
    limits: Limits
    limits_held: bool
    problems: list[str]
    agency_counts: AgencyCounts
    ledger: LedgerCounts
    timeline: list[Second]
    latency_curves: dict[str, list[CurvePoint]]


def ratio(docs_per_s: float, ceiling_msgs_per_s: float | None) -> float | None:
    if not ceiling_msgs_per_s:
        return None
    return round(docs_per_s / ceiling_msgs_per_s, 3)


def write_json(report: BaseModel, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")


def write_charts(report: LoadReport, folder: Path) -> list[Path]:
    """throughput.png (sent, delivered, receipts per second) and latency.png (percentile plot)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, NullFormatter

    folder.mkdir(parents=True, exist_ok=True)
    title = (
        f"{report.hub} hub, {report.agencies} agencies, {report.offered_rate:g} docs/s offered, "
        f"{report.size_bytes:,} B"
    )
    throughput = folder / "throughput.png"
    figure, axes = plt.subplots(figsize=(10, 4.5))
    # steps-post draws each second's count over the whole second, the last one included
    seconds = [point.second for point in report.timeline]
    seconds.append(seconds[-1] + 1 if seconds else 1)
    for field, colour in (("sent", "#4C72B0"), ("delivered", "#55A868"), ("receipts", "#DD8452")):
        counts = [getattr(point, field) for point in report.timeline]
        axes.plot(
            seconds,
            [*counts, counts[-1] if counts else 0],
            label=field,
            color=colour,
            drawstyle="steps-post",
        )
    axes.axhline(report.offered_rate, color="grey", linestyle="--", label="offered rate")
    axes.set_xlabel("seconds since the first scheduled send")
    axes.set_ylabel("per second")
    axes.set_title(f"Throughput: {title}", fontsize=10)
    axes.legend(loc="upper right")
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(throughput, dpi=100)
    plt.close(figure)

    latency = folder / "latency.png"
    figure, axes = plt.subplots(figsize=(10, 4.5))
    for name, points in report.latency_curves.items():
        shown = [point for point in points if point.percentile < 100]
        axes.plot(
            [1 / (1 - point.percentile / 100) for point in shown],
            [point.ms for point in shown],
            label=name.replace("_", " "),
        )
    axes.set_xscale("log")
    widest = max(
        (1 / (1 - p.percentile / 100) for c in report.latency_curves.values() for p in c[:-1]),
        default=10.0,
    )
    nines = min(CURVE_NINES, max(1, math.ceil(math.log10(widest))))
    ticks = [10**k for k in range(nines + 1)]
    labels = ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"][: nines + 1]
    axes.xaxis.set_major_locator(FixedLocator(ticks))
    axes.set_xticks(ticks, labels)
    axes.set_xlim(1, ticks[-1])
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.set_xlabel("percentile")
    axes.set_ylabel("latency from the scheduled send (ms)")
    axes.set_title(f"Latency by percentile: {title}", fontsize=10)
    if report.latency_curves:
        axes.legend(loc="upper left")
    axes.grid(alpha=0.3, which="both")
    figure.tight_layout()
    figure.savefig(latency, dpi=100)
    plt.close(figure)
    return [throughput, latency]


def write_report_dir(report: LoadReport, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    json_path = folder / "report.json"
    write_json(report, json_path)
    return [json_path, *write_charts(report, folder)]
