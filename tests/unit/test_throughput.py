"""The throughput meter: rates, totals and route latency, per interval and overall."""

import pytest

from hub.throughput import Counts, ThroughputMeter
from tests.unit.fake_clock import Clock

MAX_LATENCY_MS = 3_600_000  # one hour, the histogram's ceiling


def close_to(value: float, expected: float, relative: float = 0.01) -> bool:
    """The histogram keeps two significant digits."""
    return abs(value - expected) <= expected * relative


def test_counts_add() -> None:
    total = Counts(documents=1, deliveries=2)
    total.add(Counts(documents=3, receipts=4, rejections=5, duplicates=6))
    assert total == Counts(documents=4, deliveries=2, receipts=4, rejections=5, duplicates=6)


def test_report_gives_rates_totals_and_latency(clock: Clock) -> None:
    meter = ThroughputMeter()
    meter.record(Counts(documents=10, deliveries=30, receipts=5, rejections=2, duplicates=1), [])
    meter.record(Counts(documents=10, deliveries=10), [0.010] * 98 + [0.500] * 2)
    clock.now += 4.0
    report = meter.report()
    assert report["interval_s"] == 4.0
    assert report["documents_per_s"] == 5.0
    assert report["deliveries_per_s"] == 10.0
    assert report["receipts_per_s"] == 1.2  # 5 / 4 = 1.25, rounded to one decimal
    assert report["rejections_per_s"] == 0.5
    assert report["documents_total"] == 20
    assert report["deliveries_total"] == 40
    assert report["receipts_total"] == 5
    assert report["rejections_total"] == 2
    assert report["duplicates_total"] == 1
    assert close_to(report["route_p50_ms"], 10.0)
    assert close_to(report["route_p99_ms"], 500.0)


def test_report_starts_a_new_interval(clock: Clock) -> None:
    meter = ThroughputMeter()
    meter.record(Counts(documents=100), [2.0])
    clock.now += 10.0
    first = meter.report()
    assert first["documents_per_s"] == 10.0
    assert close_to(first["route_p50_ms"], 2000.0)

    clock.now += 2.0
    meter.record(Counts(documents=3), [0.004])
    second = meter.report()
    assert second["interval_s"] == 2.0
    assert second["documents_per_s"] == 1.5
    assert second["documents_total"] == 103
    assert close_to(second["route_p50_ms"], 4.0)  # the 2 s of the first interval are gone
    assert close_to(second["route_p99_ms"], 4.0)

    clock.now += 1.0
    empty = meter.report()
    assert empty["documents_per_s"] == 0.0
    assert empty["documents_total"] == 103
    assert empty["route_p50_ms"] == 0.0
    assert empty["route_p99_ms"] == 0.0


def test_summary_covers_the_whole_run(clock: Clock) -> None:
    meter = ThroughputMeter()
    meter.record(Counts(documents=30, deliveries=60), [0.001] * 50)
    clock.now += 5.0
    meter.report()
    meter.record(Counts(documents=30, rejections=4), [1.0] * 50)
    clock.now += 5.0
    meter.report()
    summary = meter.summary()
    assert summary["elapsed_s"] == 10.0
    assert summary["documents_per_s"] == 6.0
    assert summary["documents_total"] == 60
    assert summary["deliveries_total"] == 60
    assert summary["rejections_total"] == 4
    assert close_to(summary["route_p50_ms"], 1.0)
    assert close_to(summary["route_p99_ms"], 1000.0)


def test_summary_without_latencies(clock: Clock) -> None:
    summary = ThroughputMeter().summary()
    assert summary["documents_per_s"] == 0.0
    assert summary["documents_total"] == 0
    assert summary["route_p50_ms"] == 0.0
    assert summary["route_p99_ms"] == 0.0


def test_zero_elapsed_time_does_not_divide_by_zero(clock: Clock) -> None:
    meter = ThroughputMeter()
    meter.record(Counts(documents=1), [])
    report = meter.report()
    assert report["interval_s"] == 0.0
    assert report["documents_per_s"] > 0


@pytest.mark.parametrize("latency_s", [0.0, -1.0, 1e-9])
def test_tiny_latency_is_clamped_to_a_microsecond(clock: Clock, latency_s: float) -> None:
    meter = ThroughputMeter()
    meter.record(Counts(), [latency_s])
    report = meter.report()
    assert report["route_p50_ms"] == 0.001
    assert report["route_p99_ms"] == 0.001


@pytest.mark.parametrize("latency_s", [3_600.0, 10_000.0, 1e12])
def test_huge_latency_is_clamped_to_an_hour(clock: Clock, latency_s: float) -> None:
    meter = ThroughputMeter()
    meter.record(Counts(), [latency_s, 0.002])
    report = meter.report()
    assert close_to(report["route_p99_ms"], MAX_LATENCY_MS)
    assert close_to(meter.summary()["route_p99_ms"], MAX_LATENCY_MS)
