"""The load test's report: lost and double-counted items from the ledger's totals and the
agencies' own counts, HdrHistogram percentiles, limits, find-max's summary, and the charts."""

from pathlib import Path

import pytest

from runs.find_max import StepFigures, find_max_report
from runs.load_report import (
    AgencyCounts,
    CurvePoint,
    Latency,
    LedgerCounts,
    Limits,
    LoadReport,
    Percentiles,
    Second,
    decode,
    double_counted,
    encode,
    limit_breaches,
    lost,
    new_histogram,
    percentile_curve,
    record_seconds,
    write_report_dir,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def agencies(**changes: int) -> AgencyCounts:
    counts = {
        "scheduled": 100,
        "sent": 100,
        "send_errors": 0,
        "deliveries_expected": 200,
        "delivered": 200,
        "duplicate_deliveries": 0,
        "unplanned": 0,
        "receipts_expected": 200,
        "receipts": 200,
        "duplicate_receipts": 0,
        "hub_refusals": 0,
    }
    return AgencyCounts(**{**counts, **changes})


def ledger(**changes: int) -> LedgerCounts:
    counts = {
        "accepted": 100,
        "deliveries": 200,
        "receipts": 200,
        "rejected": 0,
        "in_flight": 0,
        "unrelayed": 0,
    }
    return LedgerCounts(**{**counts, **changes})


def test_when_everything_agrees_nothing_is_lost_or_counted_twice() -> None:
    assert lost(agencies(), ledger()) == 0
    assert double_counted(agencies(), ledger()) == 0


@pytest.mark.parametrize(
    ("agency_changes", "ledger_changes", "expected"),
    [
        ({}, {"accepted": 97}, 3),  # sent, never in the ledger
        ({"delivered": 195}, {}, 5),  # in the ledger, never reached the recipients
        ({}, {"deliveries": 190}, 10),  # reached the recipients, missing from the ledger
        ({"receipts": 199}, {}, 1),  # a receipt its sender never read
        ({"delivered": 198}, {"accepted": 99}, 3),
    ],
)
def test_lost_counts_what_the_ledger_or_the_recipients_lack(
    agency_changes: dict[str, int], ledger_changes: dict[str, int], expected: int
) -> None:
    assert lost(agencies(**agency_changes), ledger(**ledger_changes)) == expected
    assert double_counted(agencies(**agency_changes), ledger(**ledger_changes)) == 0


@pytest.mark.parametrize(
    ("agency_changes", "ledger_changes", "expected"),
    [
        ({}, {"accepted": 101}, 1),
        ({}, {"deliveries": 202}, 2),
        ({"duplicate_deliveries": 4}, {}, 4),
        ({"duplicate_receipts": 1}, {"receipts": 201}, 2),
        ({"unplanned": 1}, {}, 1),
    ],
)
def test_double_counted_sees_the_ledger_and_the_agencies_both(
    agency_changes: dict[str, int], ledger_changes: dict[str, int], expected: int
) -> None:
    assert double_counted(agencies(**agency_changes), ledger(**ledger_changes)) == expected
    assert lost(agencies(**agency_changes), ledger(**ledger_changes)) == 0


def test_percentiles_come_from_the_histogram_in_milliseconds_and_in_order() -> None:
    histogram = new_histogram()
    for millisecond in range(1, 1001):  # 1 ms to 1 s, one sample each
        record_seconds(histogram, millisecond / 1000)
    shipped = decode(encode(histogram))  # as the agencies' process sends it
    percentiles = Percentiles.of(shipped)
    assert percentiles.count == 1000
    assert percentiles.p50 == pytest.approx(500, rel=0.01)
    assert percentiles.p95 == pytest.approx(950, rel=0.01)
    assert percentiles.p99 == pytest.approx(990, rel=0.01)
    assert percentiles.p999 == pytest.approx(999, rel=0.01)
    assert percentiles.max == pytest.approx(1000, rel=0.01)
    ordered = [percentiles.p50, percentiles.p95, percentiles.p99, percentiles.p999]
    assert ordered == sorted(ordered)
    assert ordered[-1] <= percentiles.max


def test_an_empty_histogram_gives_zeros_and_no_curve() -> None:
    assert Percentiles.of(decode("")) == Percentiles(count=0, p50=0, p95=0, p99=0, p999=0, max=0)
    assert percentile_curve(new_histogram()) == []


def test_the_percentile_curve_goes_as_far_as_the_samples_support() -> None:
    histogram = new_histogram()
    for microsecond in range(1, 10_001):
        histogram.record_value(microsecond * 10)
    curve = percentile_curve(histogram)
    percentiles = [point.percentile for point in curve]
    assert percentiles == sorted(percentiles)
    assert percentiles[0] == 0
    assert percentiles[-2] == pytest.approx(99.99)  # 10,000 samples: four nines
    assert percentiles[-1] == 100
    assert [point.ms for point in curve] == sorted(point.ms for point in curve)


def latency(p99: float) -> Latency:
    return Latency(
        send_to_delivered=Percentiles(count=10, p50=1, p95=2, p99=p99, p999=p99, max=p99),
        send_to_receipt=None,
    )


def test_limits_name_what_broke_them() -> None:
    assert limit_breaches(Limits(max_p99_ms=100), 0, latency(99)) == []
    assert limit_breaches(Limits(), 0, latency(5000)) == []  # no latency limit stated
    [breach] = limit_breaches(Limits(max_p99_ms=100), 0, latency(150))
    assert "p99" in breach
    assert "150" in breach
    [breach] = limit_breaches(Limits(max_lost=2), 3, latency(1))
    assert "3 lost" in breach


def synthetic_report() -> LoadReport:
    histogram = new_histogram()
    for index in range(2000):
        record_seconds(histogram, 0.005 + (index % 100) / 1000)
    curve = percentile_curve(histogram)
    return LoadReport(
        ok=True,
        reason=None,
        hub="embedded",
        namespace="lt-synthetic",
        agencies=4,
        offered_rate=50,
        duration_s=4,
        ramp_s=0,
        recipients=(1, 2),
        size_bytes=2048,
        receipts_enabled=True,
        seed=1,
        scheduled=100,
        sent=100,
        send_errors=0,
        accepted=100,
        deliveries_expected=200,
        delivered=200,
        receipts_expected=200,
        receipts=200,
        lost=0,
        double_counted=0,
        rejected=0,
        docs_per_s=49.5,
        elapsed_s=4.1,
        drain_s=0.1,
        drained=True,
        latency_ms=Latency(
            send_to_delivered=Percentiles.of(histogram), send_to_receipt=Percentiles.of(histogram)
        ),
        hub_cpu_s=1.0,
        hub_peak_rss_mb=80.0,
        hub_note=None,
        agencies_cpu_s=1.5,
        agencies_peak_rss_mb=70.0,
        ceiling_msgs_per_s=1500.0,
        ratio_to_ceiling=0.033,
        limits=Limits(),
        limits_held=True,
        problems=[],
        agency_counts=agencies(),
        ledger=ledger(),
        timeline=[Second(second=s, sent=25, delivered=50, receipts=50) for s in range(4)],
        latency_curves={"send_to_delivered": curve, "send_to_receipt": curve},
    )


def test_the_report_folder_holds_the_json_and_two_png_charts(tmp_path: Path) -> None:
    report = synthetic_report()
    paths = write_report_dir(report, tmp_path / "report")
    assert [path.name for path in paths] == ["report.json", "throughput.png", "latency.png"]
    for chart in paths[1:]:
        assert chart.read_bytes().startswith(PNG_SIGNATURE)
        assert chart.stat().st_size > 10_000
    assert LoadReport.model_validate_json(paths[0].read_text(encoding="utf-8")) == report


def test_charts_are_drawn_for_a_run_that_saw_nothing(tmp_path: Path) -> None:
    report = synthetic_report().model_copy(update={"timeline": [], "latency_curves": {}})
    paths = write_report_dir(report, tmp_path)
    assert all(path.exists() for path in paths)


def step(rate: float, *, held: bool, doubled: int = 0) -> StepFigures:
    return StepFigures(
        offered_rate=rate,
        docs_per_s=rate,
        p50_ms=1,
        p99_ms=5,
        p999_ms=6,
        lost=0,
        double_counted=doubled,
        held=held,
        reason=None if held else "p99 over the limit",
        namespace="lt-x",
        hub_cpu_s=None,
        ratio_to_ceiling=None,
    )


def test_find_max_report_names_the_highest_rate_sustained() -> None:
    outcome = find_max_report(
        [step(100, held=True), step(200, held=True), step(400, held=False)],
        Limits(max_p99_ms=50),
        1500.0,
    )
    assert outcome.ok
    assert outcome.highest_sustained_rate == 200
    assert len(outcome.steps) == 3


def test_find_max_fails_when_no_rate_held_or_anything_was_counted_twice() -> None:
    none_held = find_max_report([step(100, held=False)], Limits(), None)
    assert not none_held.ok
    assert none_held.reason is not None
    assert "no rate held" in none_held.reason
    doubled = find_max_report([step(100, held=True, doubled=1)], Limits(), None)
    assert not doubled.ok


def test_curve_points_are_plain_numbers() -> None:
    assert CurvePoint(percentile=99.9, ms=12.5).model_dump() == {"percentile": 99.9, "ms": 12.5}
