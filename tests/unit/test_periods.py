"""Statistics by period: labels, the same period a year earlier, and folding days into periods."""

import datetime as dt

import pytest

from hub.periods import DayCounts, Period, PeriodRow, by_period, period_of, year_earlier


@pytest.mark.parametrize(
    ("day", "by", "label"),
    [
        (dt.date(2022, 6, 30), Period.DAY, "2022-06-30"),
        (dt.date(2022, 6, 30), Period.MONTH, "2022-06"),
        (dt.date(2022, 6, 30), Period.QUARTER, "2022-Q2"),
        (dt.date(2022, 6, 30), Period.HALF, "2022-H1"),
        (dt.date(2022, 6, 30), Period.YEAR, "2022"),
        (dt.date(2022, 7, 1), Period.MONTH, "2022-07"),
        (dt.date(2022, 7, 1), Period.QUARTER, "2022-Q3"),
        (dt.date(2022, 7, 1), Period.HALF, "2022-H2"),
        (dt.date(2019, 3, 12), Period.DAY, "2019-03-12"),
        (dt.date(2019, 3, 12), Period.QUARTER, "2019-Q1"),
        (dt.date(2019, 1, 1), Period.QUARTER, "2019-Q1"),
        (dt.date(2019, 4, 1), Period.QUARTER, "2019-Q2"),
        (dt.date(2019, 9, 30), Period.QUARTER, "2019-Q3"),
        (dt.date(2019, 10, 1), Period.QUARTER, "2019-Q4"),
        (dt.date(2021, 12, 31), Period.QUARTER, "2021-Q4"),
        (dt.date(2021, 12, 31), Period.HALF, "2021-H2"),
        (dt.date(2021, 1, 1), Period.HALF, "2021-H1"),
        (dt.date(999, 2, 3), Period.YEAR, "0999"),
        (dt.date(999, 2, 3), Period.MONTH, "0999-02"),
    ],
)
def test_period_of(day: dt.date, by: Period, label: str) -> None:
    assert period_of(day, by) == label


@pytest.mark.parametrize(
    ("label", "earlier"),
    [
        ("2022-06-30", "2021-06-30"),
        ("2022-06", "2021-06"),
        ("2022-Q2", "2021-Q2"),
        ("2022-H1", "2021-H1"),
        ("2022", "2021"),
        ("2024-02-29", "2023-02-28"),
        ("2024-02-28", "2023-02-28"),
        ("2024-02", "2023-02"),
        ("2020-03-01", "2019-03-01"),
        ("1000-H2", "0999-H2"),
    ],
)
def test_year_earlier(label: str, earlier: str) -> None:
    assert year_earlier(label) == earlier


@pytest.mark.parametrize("by", list(Period))
def test_year_earlier_of_every_period_is_a_period_of_the_year_before(by: Period) -> None:
    day = dt.date(2024, 2, 29)
    expected = period_of(dt.date(2023, 2, 28), by)
    assert year_earlier(period_of(day, by)) == expected


COUNTS = DayCounts(
    documents={"2021-06-30": 5, "2022-01-01": 1, "2022-06-30": 2, "2022-07-01": 3},
    deliveries={"2021-06-30": 10, "2022-06-30": 4, "2022-07-01": 9},
    receipts={"2022-01-15": 7, "2022-07-02": 1},
)


@pytest.mark.parametrize(
    ("by", "rows"),
    [
        (
            Period.YEAR,
            [PeriodRow("2021", 5, 10, 0), PeriodRow("2022", 6, 13, 8)],
        ),
        (
            Period.HALF,
            [
                PeriodRow("2021-H1", 5, 10, 0),
                PeriodRow("2022-H1", 3, 4, 7),
                PeriodRow("2022-H2", 3, 9, 1),
            ],
        ),
        (
            Period.QUARTER,
            [
                PeriodRow("2021-Q2", 5, 10, 0),
                PeriodRow("2022-Q1", 1, 0, 7),
                PeriodRow("2022-Q2", 2, 4, 0),
                PeriodRow("2022-Q3", 3, 9, 1),
            ],
        ),
        (
            Period.MONTH,
            [
                PeriodRow("2021-06", 5, 10, 0),
                PeriodRow("2022-01", 1, 0, 7),
                PeriodRow("2022-06", 2, 4, 0),
                PeriodRow("2022-07", 3, 9, 1),
            ],
        ),
        (
            Period.DAY,
            [
                PeriodRow("2021-06-30", 5, 10, 0),
                PeriodRow("2022-01-01", 1, 0, 0),
                PeriodRow("2022-01-15", 0, 0, 7),
                PeriodRow("2022-06-30", 2, 4, 0),
                PeriodRow("2022-07-01", 3, 9, 0),
                PeriodRow("2022-07-02", 0, 0, 1),
            ],
        ),
    ],
)
def test_by_period_folds_days(by: Period, rows: list[PeriodRow]) -> None:
    assert by_period(COUNTS, by) == rows


@pytest.mark.parametrize("by", list(Period))
def test_by_period_keeps_the_totals(by: Period) -> None:
    rows = by_period(COUNTS, by)
    assert sum(row.documents for row in rows) == sum(COUNTS.documents.values()) == 11
    assert sum(row.deliveries for row in rows) == sum(COUNTS.deliveries.values()) == 23
    assert sum(row.receipts for row in rows) == sum(COUNTS.receipts.values()) == 8
    assert [row.period for row in rows] == sorted({row.period for row in rows})


@pytest.mark.parametrize("by", list(Period))
def test_by_period_of_nothing_is_empty(by: Period) -> None:
    assert by_period(DayCounts(), by) == []
