"""The built-in scenario vdxp-2019-2022 meets the national figures of July 2022 exactly, and so
does a replay of its plan at every usable scale."""

import datetime as dt
import re
from collections import Counter
from functools import cache

import pytest

from schemas.agency_id import AgencyKind, is_agency_id, level_one_letter
from simulator.figures import FigureResult, check_scale, documents_between, evaluate_figures
from simulator.scaling import scale_months
from simulator.scenario import Scenario, load_scenario, months_between
from simulator.traffic import plan_traffic

NAME = "vdxp-2019-2022"
VIETNAM = dt.timezone(dt.timedelta(hours=7))


@cache
def scenario() -> Scenario:
    return load_scenario(NAME)


@cache
def planned_days(scale: int) -> dict[str, int]:
    """Documents per day (UTC+7) of the plan at this scale."""
    plan = plan_traffic(scenario(), scale, scenario().seed)
    return dict(
        Counter(document.sent_at.astimezone(VIETNAM).date().isoformat() for document in plan)
    )


def months_sum(start: dt.date, end: dt.date) -> int:
    monthly = scenario().monthly()
    return sum(monthly[month] for month in months_between(start, end))


def test_cumulative_to_30_june_2022_is_12_8_million() -> None:
    target = scenario().target("cumulative_2022_06_30")
    assert (target.start, target.end, target.documents) == (
        dt.date(2019, 3, 12),
        dt.date(2022, 6, 30),
        12_800_000,
    )
    assert scenario().total_documents == 12_800_000
    assert months_sum(dt.date(2019, 3, 12), dt.date(2022, 6, 30)) == 12_800_000


def test_first_half_of_2022_is_3_7_million() -> None:
    target = scenario().target("h1_2022")
    assert (target.start, target.end, target.documents) == (
        dt.date(2022, 1, 1),
        dt.date(2022, 6, 30),
        3_700_000,
    )
    assert months_sum(target.start, target.end) == 3_700_000


def test_first_half_of_2022_is_3_8_times_the_first_half_of_2021() -> None:
    h1_2021 = scenario().target("h1_2021")
    assert (h1_2021.start, h1_2021.end) == (dt.date(2021, 1, 1), dt.date(2021, 6, 30))
    assert months_sum(h1_2021.start, h1_2021.end) == h1_2021.documents
    assert round(3_700_000 / h1_2021.documents, 1) == 3.8
    assert abs(h1_2021.documents - 3_700_000 / 3.8) < 1
    [ratio] = scenario().ratios
    assert (ratio.numerator, ratio.denominator, ratio.value, ratio.decimals) == (
        "h1_2022",
        "h1_2021",
        3.8,
        1,
    )


def test_launched_on_12_march_2019_and_runs_to_30_june_2022() -> None:
    assert (scenario().launch, scenario().end) == (dt.date(2019, 3, 12), dt.date(2022, 6, 30))
    assert scenario().utc_offset_hours == 7


def test_every_month_from_the_launch_has_a_basis() -> None:
    months = scenario().months
    assert [month.month for month in months] == months_between(
        dt.date(2019, 3, 12), dt.date(2022, 6, 30)
    )
    assert all(month.basis in {"interpolated", "calibrated"} for month in months)
    assert all(month.documents > 0 for month in months)
    assert any(month.basis == "calibrated" for month in months)


@pytest.mark.parametrize(
    ("letter", "kinds", "count"),
    [
        ("G", {AgencyKind.MINISTRY}, 22),
        ("G", {AgencyKind.GOVERNMENT_AGENCY}, 8),
        ("H", {AgencyKind.PROVINCE}, 63),
        ("ABC", {AgencyKind.CENTRAL_BODY}, 3),
    ],
    ids=["ministries", "government-agencies", "provinces", "central-bodies"],
)
def test_the_population(letter: str, kinds: set[AgencyKind], count: int) -> None:
    chosen = [agency for agency in scenario().agencies if agency.kind in kinds]
    assert len(chosen) == count
    assert all(level_one_letter(agency.id) in letter for agency in chosen)


def test_about_95_agencies_with_valid_distinct_ids() -> None:
    ids = [agency.id for agency in scenario().agencies]
    assert len(ids) == 22 + 8 + 63 + 3
    assert len(set(ids)) == len(ids)
    assert all(is_agency_id(agency_id) for agency_id in ids)
    assert all(re.fullmatch(r"\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}", agency_id) for agency_id in ids)
    assert len({agency.short for agency in scenario().agencies}) == len(ids)


def test_the_government_office_receives_most() -> None:
    heaviest = max(scenario().agencies, key=lambda agency: agency.receive_weight)
    assert heaviest.id == "000.00.00.G01"


@pytest.mark.parametrize("scale", [1, 100, 1000, 2500, 10_000])
def test_usable_scales_meet_every_figure(scale: int) -> None:
    assert check_scale(scenario(), scale) == []


@pytest.mark.parametrize("scale", [100, 1000, 2500, 10_000])
def test_the_plan_meets_every_figure(scale: int) -> None:
    days = planned_days(scale)
    assert sum(days.values()) == sum(scale_months(scenario(), scale).values())
    figures = evaluate_figures(scenario(), scale, days)
    assert [figure.key for figure in figures] == [
        "cumulative_2022_06_30",
        "h1_2022",
        "h1_2021",
        "h1_2022_vs_h1_2021",
    ]
    assert [figure for figure in figures if not figure.matches] == []
    by_key = {figure.key: figure for figure in figures}
    assert by_key["cumulative_2022_06_30"].measured == 12_800_000
    assert by_key["h1_2022"].measured == 3_700_000
    assert by_key["h1_2022_vs_h1_2021"].measured == 3.8


def test_figures_are_scaled_back_to_real_numbers() -> None:
    figures = {
        figure.key: figure for figure in evaluate_figures(scenario(), 10_000, planned_days(10_000))
    }
    assert figures["h1_2021"] == FigureResult(
        key="h1_2021",
        label="First half of 2021",
        measured=970_000,
        target=973_684,
        matches=True,
        detail="replayed 97; at 1:10,000 the figure is 97",
    )
    assert figures["h1_2022_vs_h1_2021"].detail == "370 / 97 replayed documents"


def test_a_missing_document_fails_its_figures() -> None:
    days = dict(planned_days(10_000))
    day = min(day for day in days if day.startswith("2022-03"))
    days[day] -= 1
    failing = {
        figure.key for figure in evaluate_figures(scenario(), 10_000, days) if not figure.matches
    }
    assert failing == {"cumulative_2022_06_30", "h1_2022"}


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (dt.date(2022, 1, 1), dt.date(2022, 1, 31), 5),
        (dt.date(2022, 1, 2), dt.date(2022, 1, 31), 3),
        (dt.date(2021, 12, 31), dt.date(2022, 1, 1), 3),
        (dt.date(2022, 2, 1), dt.date(2022, 3, 1), 0),
    ],
)
def test_documents_between_includes_both_ends(start: dt.date, end: dt.date, expected: int) -> None:
    days = {"2021-12-31": 1, "2022-01-01": 2, "2022-01-15": 1, "2022-01-31": 2}
    assert documents_between(days, start, end) == expected


@pytest.mark.parametrize("scale", [50_000, 100_000])
def test_a_scale_too_coarse_for_the_ratio_is_reported(scale: int) -> None:
    problems = check_scale(scenario(), scale)
    assert len(problems) == 1
    assert re.fullmatch(
        r"H1 2022 against H1 2021 would come out at 3\.\d instead of 3\.8", problems[0]
    )


def test_the_plan_at_a_too_coarse_scale_misses_only_the_ratio() -> None:
    figures = evaluate_figures(scenario(), 50_000, planned_days(50_000))
    assert {figure.key for figure in figures if not figure.matches} == {"h1_2022_vs_h1_2021"}


@pytest.mark.parametrize(
    ("scale", "message"),
    [
        (0, "scale must be 1 or more, not 0"),
        (-1, "scale must be 1 or more, not -1"),
        (20_000_000, "First half of 2021 scales to no documents at all"),
        (30_000_000, "Cumulative to 30 June 2022 scales to no documents at all"),
    ],
)
def test_check_scale_refuses_impossible_scales(scale: int, message: str) -> None:
    assert message in check_scale(scenario(), scale)
