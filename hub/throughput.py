"""What operators watch: counts and rates of what the router did, and its route latency.

The router records each batch; ``report`` closes an interval and returns its rates and totals,
which the hub logs as a ``throughput`` event every few seconds and as ``hub_summary`` at the end.
"""

import time
from dataclasses import dataclass, fields

from hdrh.histogram import HdrHistogram

_MAX_LATENCY_US = 3_600_000_000


@dataclass(slots=True)
class Counts:
    documents: int = 0
    """Documents accepted for the first time."""
    deliveries: int = 0
    receipts: int = 0
    rejections: int = 0
    duplicates: int = 0
    """Inputs the ledger had already recorded: resends and redeliveries."""

    def add(self, other: "Counts") -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def _histogram() -> HdrHistogram:
    return HdrHistogram(1, _MAX_LATENCY_US, 2)


class ThroughputMeter:
    def __init__(self) -> None:
        self._started = time.monotonic()
        self._interval_started = self._started
        self.total = Counts()
        self._interval = Counts()
        self._interval_latency = _histogram()
        self._total_latency = _histogram()

    def record(self, counts: Counts, latencies_s: list[float]) -> None:
        self.total.add(counts)
        self._interval.add(counts)
        for latency in latencies_s:
            micros = min(max(int(latency * 1_000_000), 1), _MAX_LATENCY_US)
            self._interval_latency.record_value(micros)
            self._total_latency.record_value(micros)

    def report(self) -> dict[str, float | int]:
        """The interval since the last report: per-second rates, totals and route latency."""
        now = time.monotonic()
        elapsed = max(now - self._interval_started, 1e-9)
        interval, latency = self._interval, self._interval_latency
        fields_out: dict[str, float | int] = {
            "interval_s": round(elapsed, 3),
            "documents_per_s": round(interval.documents / elapsed, 1),
            "deliveries_per_s": round(interval.deliveries / elapsed, 1),
            "receipts_per_s": round(interval.receipts / elapsed, 1),
            "rejections_per_s": round(interval.rejections / elapsed, 1),
            **self._totals(),
            **_percentiles(latency),
        }
        self._interval = Counts()
        self._interval_latency = _histogram()
        self._interval_started = now
        return fields_out

    def summary(self) -> dict[str, float | int]:
        elapsed = max(time.monotonic() - self._started, 1e-9)
        return {
            "elapsed_s": round(elapsed, 3),
            "documents_per_s": round(self.total.documents / elapsed, 1),
            **self._totals(),
            **_percentiles(self._total_latency),
        }

    def _totals(self) -> dict[str, int]:
        return {f"{f.name}_total": getattr(self.total, f.name) for f in fields(self.total)}


def _percentiles(histogram: HdrHistogram) -> dict[str, float]:
    if histogram.get_total_count() == 0:
        return {"route_p50_ms": 0.0, "route_p99_ms": 0.0}
    return {
        "route_p50_ms": histogram.get_value_at_percentile(50) / 1000,
        "route_p99_ms": histogram.get_value_at_percentile(99) / 1000,
    }
