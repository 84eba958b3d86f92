"""The load test's Poisson schedule: its rate, its reproducibility, its ramp, and who sends to
whom."""

import itertools
import statistics

import pytest

from runs.find_max import StepFigures, Stepping, highest_sustained, keep_stepping, rates
from runs.load_schedule import (
    LoadShape,
    agency_ids,
    expected_sends,
    parse_recipients,
    rate_at,
    schedule,
)
from schemas.agency_id import is_agency_id


def test_the_schedule_offers_the_rate_with_exponential_gaps() -> None:
    shape = LoadShape(agencies=5, rate=200.0, duration_s=50.0, seed=7)
    sends = list(schedule(shape))
    # 10,000 expected; a Poisson count's standard deviation is 100: 5 of them is far outside
    assert abs(len(sends) - expected_sends(shape)) < 500
    gaps = [later.at_s - earlier.at_s for earlier, later in itertools.pairwise(sends)]
    assert statistics.fmean(gaps) == pytest.approx(1 / 200, rel=0.05)
    # exponential: the standard deviation equals the mean
    assert statistics.stdev(gaps) == pytest.approx(statistics.fmean(gaps), rel=0.1)
    assert all(0 <= send.at_s < 50 for send in sends)
    assert [send.index for send in sends] == list(range(len(sends)))


def test_the_same_seed_gives_the_same_schedule_and_another_seed_another() -> None:
    shape = LoadShape(agencies=6, rate=50.0, duration_s=10.0, recipients=(1, 3), seed=3)
    assert list(schedule(shape)) == list(schedule(shape))
    other = LoadShape(agencies=6, rate=50.0, duration_s=10.0, recipients=(1, 3), seed=4)
    assert list(schedule(shape)) != list(schedule(other))


def test_the_ramp_rises_linearly_then_holds() -> None:
    shape = LoadShape(agencies=3, rate=400.0, duration_s=40.0, ramp_s=20.0, seed=11)
    assert rate_at(shape, 0.0) == 0
    assert rate_at(shape, 10.0) == pytest.approx(200.0)
    assert rate_at(shape, 30.0) == 400.0
    sends = [send.at_s for send in schedule(shape)]
    first_half_of_ramp = sum(1 for at in sends if at < 10)
    second_half_of_ramp = sum(1 for at in sends if 10 <= at < 20)
    flat = sum(1 for at in sends if 20 <= at < 30)
    # integrals of the rate: 1,000, 3,000 and 4,000 documents
    assert first_half_of_ramp == pytest.approx(1000, rel=0.1)
    assert second_half_of_ramp == pytest.approx(3000, rel=0.1)
    assert flat == pytest.approx(4000, rel=0.1)
    assert len(sends) == pytest.approx(expected_sends(shape), rel=0.05)


def test_recipients_are_others_within_the_range_each_count_as_likely() -> None:
    shape = LoadShape(agencies=5, rate=100.0, duration_s=40.0, recipients=(1, 3), seed=5)
    sends = list(schedule(shape))
    counts = [len(send.recipients) for send in sends]
    assert set(counts) == {1, 2, 3}
    for count in (1, 2, 3):
        assert counts.count(count) / len(counts) == pytest.approx(1 / 3, abs=0.05)
    for send in sends:
        assert send.sender not in send.recipients
        assert len(set(send.recipients)) == len(send.recipients)
        assert all(0 <= agency < 5 for agency in send.recipients)
    assert {send.sender for send in sends} == set(range(5))


def test_agency_ids_are_national_format_and_distinct() -> None:
    ids = agency_ids(12)
    assert len(set(ids)) == 12
    assert all(is_agency_id(agency_id) for agency_id in ids)


@pytest.mark.parametrize(
    ("text", "bounds"), [("2", (2, 2)), ("1-3", (1, 3)), (" 2-2 ", (2, 2)), ("3-1", (3, 1))]
)
def test_recipients_parse(text: str, bounds: tuple[int, int]) -> None:
    assert parse_recipients(text) == bounds


@pytest.mark.parametrize("text", ["", "a-b", "1-", "1-2-3", "x"])
def test_recipients_that_do_not_parse_say_the_form(text: str) -> None:
    with pytest.raises(ValueError, match="expected A-B"):
        parse_recipients(text)


@pytest.mark.parametrize(
    ("shape", "problem"),
    [
        (LoadShape(agencies=4, rate=0, duration_s=3), "--rate must be more than 0"),
        (LoadShape(agencies=4, rate=-1, duration_s=3), "--rate must be more than 0"),
        (LoadShape(agencies=1, rate=5, duration_s=3), "--agencies must be 2"),
        (LoadShape(agencies=4, rate=5, duration_s=0), "--duration must be more than 0"),
        (LoadShape(agencies=4, rate=5, duration_s=3, ramp_s=4), "--ramp must be 0 to"),
        (LoadShape(agencies=4, rate=5, duration_s=3, recipients=(3, 1)), "1 <= A <= B"),
        (LoadShape(agencies=4, rate=5, duration_s=3, recipients=(0, 1)), "1 <= A <= B"),
        (LoadShape(agencies=4, rate=5, duration_s=3, recipients=(1, 4)), "at most the 3 other"),
    ],
)
def test_shapes_that_make_no_load_test_are_named(shape: LoadShape, problem: str) -> None:
    assert any(problem in message for message in shape.problems())


def test_a_good_shape_has_no_problem() -> None:
    assert LoadShape(agencies=4, rate=50, duration_s=3, recipients=(1, 3)).problems() == []


def test_find_max_rates_rise_by_factor_or_step_up_to_the_limits() -> None:
    assert list(rates(Stepping(start_rate=100, step_factor=2, max_steps=4))) == [
        100,
        200,
        400,
        800,
    ]
    assert list(rates(Stepping(start_rate=100, step=50, max_rate=250))) == [100, 150, 200, 250]
    assert list(rates(Stepping(start_rate=10, step_factor=1.5, max_steps=1))) == [10]


@pytest.mark.parametrize(
    ("stepping", "problem"),
    [
        (Stepping(start_rate=0), "--start-rate"),
        (Stepping(start_rate=10, step_factor=1.0), "--step-factor"),
        (Stepping(start_rate=10, step=-5), "--step must be"),
        (Stepping(start_rate=10, max_rate=5), "--max-rate"),
        (Stepping(start_rate=10, max_steps=0), "--max-steps"),
    ],
)
def test_find_max_stepping_mistakes_are_named(stepping: Stepping, problem: str) -> None:
    assert any(problem in message for message in stepping.problems())


def _step(rate: float, *, held: bool) -> StepFigures:
    return StepFigures(
        offered_rate=rate,
        docs_per_s=rate,
        p50_ms=1,
        p99_ms=10.0 if held else 900.0,
        p999_ms=20.0,
        lost=0,
        double_counted=0,
        held=held,
        reason=None if held else "p99 over the limit",
        namespace="lt-x",
        hub_cpu_s=None,
        ratio_to_ceiling=None,
    )


def test_find_max_stops_at_the_first_step_that_fails_and_names_the_last_that_held() -> None:
    steps = [_step(100, held=True), _step(150, held=True)]
    assert keep_stepping(steps)
    assert highest_sustained(steps) == 150
    steps.append(_step(225, held=False))
    assert not keep_stepping(steps)
    assert highest_sustained(steps) == 150
    assert highest_sustained([_step(100, held=False)]) is None
    assert keep_stepping([])
