"""What operators watch: cumulative counts of what the router did, and its route latency.

The router records each batch into the meter, which only ever adds. Every reader derives what it
shows from cumulative readings: ``report`` (the ``throughput`` log line) takes the difference from
the reading of its previous report, a metrics scrape or a dashboard tick reads the totals as they
are; no reader disturbs another.
"""

import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

_MAX_LATENCY_US = 3_600_000_000

RATE_FIELDS = ("documents", "deliveries", "receipts", "rejections")
"""The counts the ``throughput`` log gives per second."""
SCALAR_FIELDS = (*RATE_FIELDS, "duplicates")


@dataclass(slots=True)
class Counts:
    documents: int = 0
    """Documents accepted for the first time."""
    deliveries: int = 0
    receipts: int = 0
    rejections: int = 0
    duplicates: int = 0
    """Inputs the ledger had already recorded: resends and redeliveries."""
    rejections_by_reason: Counter[str] = field(default_factory=Counter)
    """Refusals (each dead-lettered by the hub) by their reason."""
    receipts_by_status: Counter[str] = field(default_factory=Counter)
    """Relayed status receipts by their code (``01``, ``03``...)."""
    documents_by_sender: Counter[str] = field(default_factory=Counter)
    documents_by_recipient: Counter[str] = field(default_factory=Counter)
    """Deliveries made to each recipient."""

    def add(self, other: "Counts") -> None:
        for name in SCALAR_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.rejections_by_reason.update(other.rejections_by_reason)
        self.receipts_by_status.update(other.receipts_by_status)
        self.documents_by_sender.update(other.documents_by_sender)
        self.documents_by_recipient.update(other.documents_by_recipient)

    def scalars(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in SCALAR_FIELDS}


@dataclass(frozen=True, slots=True)
class Reading:
    """The meter's cumulative totals at one moment (``at``: ``time.monotonic()``)."""

    at: float
    totals: Mapping[str, int]
    latency_counts: tuple[int, ...] = ()
    """The route-latency histogram's counts per bucket, when asked for."""

    def rates_since(self, earlier: "Reading") -> dict[str, float]:
        """Per-second rates of ``RATE_FIELDS`` between ``earlier`` and this reading."""
        elapsed = max(self.at - earlier.at, 1e-9)
        return {
            f"{name}_per_s": (self.totals[name] - earlier.totals.get(name, 0)) / elapsed
            for name in RATE_FIELDS
        }


def _histogram() -> HdrHistogram:
    return HdrHistogram(1, _MAX_LATENCY_US, 2)


class ThroughputMeter:
    def __init__(self) -> None:
        self._started = time.monotonic()
        self.total = Counts()
        self._latency = _histogram()
        self.latency_sum_s = 0.0
        """The sum of every route latency recorded, for the metrics' histogram."""
        self._reported = Reading(self._started, Counts().scalars(), self._latency_counts())

    @property
    def started(self) -> float:
        return self._started

    def record(self, counts: Counts, latencies_s: list[float]) -> None:
        self.total.add(counts)
        for latency in latencies_s:
            micros = min(max(int(latency * 1_000_000), 1), _MAX_LATENCY_US)
            self._latency.record_value(micros)
            self.latency_sum_s += micros / 1_000_000

    def reading(self, *, latency: bool = False) -> Reading:
        """The cumulative totals now; with ``latency``, the latency buckets too (a copy)."""
        counts = self._latency_counts() if latency else ()
        return Reading(time.monotonic(), self.total.scalars(), counts)

    def report(self) -> dict[str, float | int]:
        """The interval since the last report: per-second rates, totals and route latency. Only
        ``report`` moves the start of its interval; other readers do not."""
        now = self.reading(latency=True)
        previous, self._reported = self._reported, now
        elapsed = max(now.at - previous.at, 1e-9)
        interval = [
            later - earlier
            for later, earlier in zip(now.latency_counts, previous.latency_counts, strict=True)
        ]
        return {
            "interval_s": round(elapsed, 3),
            **{name: round(rate, 1) for name, rate in now.rates_since(previous).items()},
            **self._totals(),
            **self._percentiles_of(interval),
        }

    def summary(self) -> dict[str, float | int]:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        return {
            "elapsed_s": round(elapsed, 3),
            "documents_per_s": round(self.total.documents / elapsed, 1),
            **self._totals(),
            **self._percentiles_of(list(self._latency_counts())),
        }

    def latency_ms(self) -> dict[str, float]:
        """Route latency since the start: p50, p90, p99, p99.9 and the maximum, in ms."""
        histogram = self._latency
        if histogram.get_total_count() == 0:
            return {"p50": 0.0, "p90": 0.0, "p99": 0.0, "p999": 0.0, "max": 0.0}
        values = histogram.get_percentile_to_value_dict([50.0, 90.0, 99.0, 99.9])
        return {
            "p50": values[50.0] / 1000,
            "p90": values[90.0] / 1000,
            "p99": values[99.0] / 1000,
            "p999": values[99.9] / 1000,
            "max": histogram.get_max_value() / 1000,
        }

    def latency_buckets(self, bounds_s: tuple[float, ...]) -> Iterator[tuple[float, int]]:
        """Route latencies at most each bound (ascending, in seconds), cumulative, as Prometheus
        histograms count them; within the histogram's two significant digits."""
        histogram = self._latency
        bounds = iter(bounds_s)
        bound = next(bounds, None)
        cumulative = 0
        for index in range(histogram.counts_len):
            value_s = histogram.get_value_from_index(index) / 1_000_000
            while bound is not None and value_s > bound:
                yield bound, cumulative
                bound = next(bounds, None)
            if bound is None:
                return
            cumulative += histogram.get_count_at_index(index)
        while bound is not None:
            yield bound, cumulative
            bound = next(bounds, None)

    @property
    def latency_count(self) -> int:
        return int(self._latency.get_total_count())

    def _latency_counts(self) -> tuple[int, ...]:
        histogram = self._latency
        return tuple(histogram.get_count_at_index(i) for i in range(histogram.counts_len))

    def _percentiles_of(self, counts: list[int]) -> dict[str, float]:
        return {
            "route_p50_ms": self._value_at(counts, 50.0) / 1000,
            "route_p99_ms": self._value_at(counts, 99.0) / 1000,
        }

    def _value_at(self, counts: list[int], percentile: float) -> int:
        """The value at ``percentile`` of a histogram with these ``counts`` per bucket, as
        ``HdrHistogram.get_value_at_percentile`` reads it; 0 when empty."""
        total = sum(counts)
        if total == 0:
            return 0
        target = max(int(percentile * total / 100 + 0.5), 1)
        running = 0
        for index, count in enumerate(counts):
            running += count
            if running >= target:
                histogram = self._latency
                return int(
                    histogram.get_highest_equivalent_value(histogram.get_value_from_index(index))
                )
        return 0

    def _totals(self) -> dict[str, int]:
        return {f"{name}_total": value for name, value in self.total.scalars().items()}
