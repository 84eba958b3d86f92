"""The dashboard's data: one JSON snapshot of the hub, made once a second and shared by every
client (``GET /api/snapshot``, the ``snapshot`` events of ``GET /api/events``).

Rates come from the throughput meter's cumulative readings, one a second; the statistics table
from the ledger at most every ``STATISTICS_EVERY_S``, cached: no client makes the ledger count.
"""

import asyncio
import datetime as dt
import itertools
import time
from collections import deque
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

import structlog

from hub.errors import LedgerError
from hub.health import Readiness
from hub.ledger import Ledger
from hub.periods import DayCounts, Period, by_period
from hub.queue_watch import QueueWatch
from hub.registry import Registry
from hub.throughput import RATE_FIELDS, Reading, ThroughputMeter

log = structlog.get_logger("hub.snapshot")

HISTORY_POINTS = 300
RATE_WINDOW_S = 5
TOP = 10
STATISTICS_EVERY_S = 30.0
NATIONAL_SCENARIO = "vdxp-2019-2022"
STATISTICS_NOTE = (
    "Documents per half-year in this hub's ledger, beside the national figures published for "
    "the same half (article of July 2022); a replay at 1:SCALE holds 1/SCALE of them."
)


@dataclass(frozen=True, slots=True)
class HubIdentity:
    namespace: str
    node: str
    started_at: dt.datetime


class RateHistory:
    """One cumulative reading a second, the last ``HISTORY_POINTS`` + 1 of them."""

    def __init__(self) -> None:
        self._readings: deque[tuple[float, Reading]] = deque(maxlen=HISTORY_POINTS + 1)

    def add(self, wall_time: float, reading: Reading) -> None:
        self._readings.append((wall_time, reading))

    def rates(self) -> dict[str, float]:
        """Per-second rates over the last ``RATE_WINDOW_S`` seconds (fewer just after start)."""
        if len(self._readings) < 2:
            return {f"{name}_per_s": 0.0 for name in RATE_FIELDS}
        _, latest = self._readings[-1]
        _, earlier = self._readings[max(len(self._readings) - 1 - RATE_WINDOW_S, 0)]
        return _rounded(latest.rates_since(earlier))

    def history(self) -> list[dict[str, float]]:
        points = list(self._readings)
        return [
            {"t": round(wall, 3), **_rounded(later.rates_since(earlier))}
            for (_, earlier), (wall, later) in itertools.pairwise(points)
        ]


def _rounded(rates: Mapping[str, float]) -> dict[str, float]:
    return {name: round(rate, 2) for name, rate in rates.items()}


class Statistics:
    """Documents per half-year from the ledger beside the national figures, recomputed at most
    every ``STATISTICS_EVERY_S`` in the background; readers get the cached table."""

    def __init__(self, ledger: Ledger, national: Mapping[str, int]) -> None:
        self._ledger = ledger
        self._national = national
        self._computed: float | None = None
        self._refreshing: asyncio.Task[None] | None = None
        self.table: dict[str, Any] = {"computed_at": None, "rows": [], "note": STATISTICS_NOTE}

    def refresh_if_due(self) -> None:
        due = self._computed is None or time.monotonic() - self._computed >= STATISTICS_EVERY_S
        if due and (self._refreshing is None or self._refreshing.done()):
            self._refreshing = asyncio.create_task(self._refresh(), name="hub-statistics")

    async def close(self) -> None:
        if self._refreshing is not None:
            self._refreshing.cancel()
            with suppress(asyncio.CancelledError):
                await self._refreshing

    async def _refresh(self) -> None:
        self._computed = time.monotonic()
        try:
            days = await self._ledger.day_counts()
        except LedgerError as exc:
            log.warning("statistics_unavailable", error=str(exc))
            return
        self.table = statistics_table(days, self._national, dt.datetime.now(dt.UTC))


def statistics_table(
    days: DayCounts, national: Mapping[str, int], computed_at: dt.datetime
) -> dict[str, Any]:
    rows = by_period(days, Period.HALF)
    counted = {row.period: row.documents for row in rows}
    periods = sorted(set(counted) | set(national))
    return {
        "computed_at": computed_at.isoformat(),
        "rows": [
            {"period": p, "documents": counted.get(p, 0), "national": national.get(p)}
            for p in periods
        ],
        "note": STATISTICS_NOTE,
    }


def national_halves() -> dict[str, int]:
    """The published figures that cover exactly one half-year, by its label (``2022-H1``), from
    the built-in scenario that carries them; empty if it cannot be read."""
    from simulator.scenario import ScenarioError, load_scenario

    try:
        scenario = load_scenario(NATIONAL_SCENARIO)
    except ScenarioError:
        return {}
    halves = {}
    for target in scenario.targets:
        start, end = target.start, target.end
        half = 1 if start.month <= 6 else 2
        first_month, last_month = (1, 6) if half == 1 else (7, 12)
        if (
            start.year == end.year
            and (start.month, start.day) == (first_month, 1)
            and end.month == last_month
            and (end + dt.timedelta(days=1)).day == 1
        ):
            halves[f"{start.year:04d}-H{half}"] = target.documents
    return halves


class SnapshotMaker:
    """Makes the snapshot once a tick; ``latest`` is the JSON every client gets."""

    def __init__(
        self,
        identity: HubIdentity,
        meter: ThroughputMeter,
        registry: Registry,
        queues: Callable[[], QueueWatch | None],
        readiness: Callable[[], Readiness],
        statistics: Statistics,
    ) -> None:
        self._identity = identity
        self._meter = meter
        self._names = {entry.id: entry.name for entry in registry.directory.agencies}
        self._queues = queues
        self._readiness = readiness
        self._statistics = statistics
        self.history = RateHistory()

    def tick(self) -> dict[str, Any]:
        self.history.add(time.time(), self._meter.reading())
        self._statistics.refresh_if_due()
        return self.snapshot()

    def snapshot(self) -> dict[str, Any]:
        meter = self._meter
        total = meter.total
        ready = self._readiness()
        started_at = self._identity.started_at
        return {
            "namespace": self._identity.namespace,
            "node": self._identity.node,
            "started_at": started_at.isoformat(),
            "uptime_s": round(time.monotonic() - meter.started, 3),
            "totals": total.scalars(),
            "rates": self.history.rates(),
            "history": self.history.history(),
            "latency_ms": meter.latency_ms(),
            "queues": self._queue_rows(),
            "top_senders": self._top(total.documents_by_sender),
            "top_recipients": self._top(total.documents_by_recipient),
            "refusals_by_reason": dict(total.rejections_by_reason),
            "dead_letters_by_reason": dict(total.rejections_by_reason),
            "receipts_by_status": dict(sorted(total.receipts_by_status.items())),
            "statistics": self._statistics.table,
            "health": {"ready": ready.ready, "reasons": list(ready.reasons)},
        }

    def _queue_rows(self) -> list[dict[str, Any]]:
        watch = self._queues()
        if watch is None:
            return []
        return [
            {
                "name": reading.queue.name,
                "role": reading.queue.role,
                "agency": reading.queue.agency,
                "agency_name": self._names.get(reading.queue.agency or ""),
                "depth": reading.depth,
                "consumers": reading.consumers,
            }
            for reading in watch.readings
        ]

    def _top(self, counts: Mapping[str, int]) -> list[dict[str, Any]]:
        busiest = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP]
        return [
            {"agency": agency, "name": self._names.get(agency, agency), "documents": documents}
            for agency, documents in busiest
        ]
