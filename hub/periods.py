"""Statistics by period: fold the ledger's per-day counts into days, months, quarters, halves or
years, and find the same period a year earlier. Pure; the ledger supplies the days."""

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum


class Period(StrEnum):
    DAY = "day"
    MONTH = "month"
    QUARTER = "quarter"
    HALF = "half"
    YEAR = "year"


def period_of(day: dt.date, by: Period) -> str:
    match by:
        case Period.DAY:
            return day.isoformat()
        case Period.MONTH:
            return f"{day.year:04d}-{day.month:02d}"
        case Period.QUARTER:
            return f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}"
        case Period.HALF:
            return f"{day.year:04d}-H{1 if day.month <= 6 else 2}"
        case Period.YEAR:
            return f"{day.year:04d}"


def year_earlier(period: str) -> str:
    """The label of the same period one year earlier: ``2022-H1`` gives ``2021-H1``."""
    year, rest = period[:4], period[4:]
    if rest.endswith("-02-29"):
        rest = "-02-28"
    return f"{int(year) - 1:04d}{rest}"


@dataclass(frozen=True, slots=True)
class DayCounts:
    """Counts per ISO day: documents by send date, deliveries by their document's send date,
    status steps by the receipt's own date."""

    documents: dict[str, int] = field(default_factory=dict)
    deliveries: dict[str, int] = field(default_factory=dict)
    receipts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PeriodRow:
    period: str
    documents: int
    deliveries: int
    receipts: int


def by_period(counts: DayCounts, by: Period) -> list[PeriodRow]:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for column, per_day in enumerate((counts.documents, counts.deliveries, counts.receipts)):
        for day, count in per_day.items():
            totals[period_of(dt.date.fromisoformat(day), by)][column] += count
    return [PeriodRow(period, *values) for period, values in sorted(totals.items())]
