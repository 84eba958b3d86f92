"""The pure parts of what operators watch: which inboxes have lost their consumer, when the hub
is ready, the dashboard's rates and statistics table, and the metrics' latency buckets."""

import datetime as dt
from collections import Counter

import pytest

from hub.health import HubState, readiness
from hub.periods import DayCounts
from hub.queue_watch import ConsumerAlarm, QueueReading, WatchedQueue, queues_of
from hub.snapshot import RateHistory, national_halves, statistics_table
from hub.throughput import Counts, Reading, ThroughputMeter
from schemas.naming import Names
from tests.unit.fake_clock import Clock

INBOX = WatchedQueue("ns.inbox.000.00.00.G12", "inbox", "000.00.00.G12")
STATUS = WatchedQueue("ns.status.000.00.00.G12", "status", "000.00.00.G12")


def reading(queue: WatchedQueue, depth: int | None, consumers: int | None) -> QueueReading:
    return QueueReading(queue, depth, consumers)


def test_every_queue_of_the_namespace_is_watched_with_its_role() -> None:
    names = Names("ns")
    queues = queues_of(names, ["000.00.00.G12"])
    assert [(q.name, q.role, q.agency) for q in queues] == [
        (names.ingress_queue, "ingress", None),
        (names.dead_letter_queue, "dead_letter", None),
        (names.inbox_queue("000.00.00.G12"), "inbox", "000.00.00.G12"),
        (names.status_queue("000.00.00.G12"), "status", "000.00.00.G12"),
    ]


def test_an_inbox_without_consumer_is_reported_once_and_its_return_once() -> None:
    alarm = ConsumerAlarm(grace_s=0)
    assert alarm.update([reading(INBOX, 0, 0)], now=0) == []  # empty: nothing is stuck
    first = alarm.update([reading(INBOX, 3, 0)], now=1)
    assert [change.event for change in first] == ["queue_without_consumer"]
    assert alarm.update([reading(INBOX, 5, 0)], now=2) == []  # still so: said already
    assert alarm.update([reading(INBOX, None, None)], now=3) == []  # not read: no news
    assert alarm.silent == {INBOX.name}
    back = alarm.update([reading(INBOX, 5, 1)], now=4)
    assert [change.event for change in back] == ["queue_consumer_back"]
    assert alarm.update([reading(INBOX, 0, 1)], now=5) == []
    assert alarm.silent == frozenset()


def test_an_inbox_is_reported_only_once_stuck_for_the_grace_period() -> None:
    alarm = ConsumerAlarm(grace_s=30)
    assert alarm.update([reading(INBOX, 3, 0)], now=100) == []
    assert alarm.update([reading(INBOX, 4, 0)], now=129) == []
    assert alarm.update([reading(INBOX, 4, 1)], now=130) == []  # a consumer came: no news
    assert alarm.update([reading(INBOX, 4, 0)], now=140) == []  # stuck again: counted anew
    assert alarm.update([reading(INBOX, 4, 0)], now=169) == []
    stuck = alarm.update([reading(INBOX, 4, 0)], now=170)
    assert [change.event for change in stuck] == ["queue_without_consumer"]


def test_only_inboxes_raise_the_alarm() -> None:
    assert ConsumerAlarm(grace_s=0).update([reading(STATUS, 9, 0)], now=0) == []


def state(**changes: object) -> HubState:
    fields: dict[str, object] = {
        "started": True,
        "broker_connected": True,
        "workers": 2,
        "workers_running": 2,
        "ingress_consumers": 2,
        "queues_problem": None,
        "ledger_problem": None,
    }
    return HubState(**{**fields, **changes})  # type: ignore[arg-type]


def test_ready_when_everything_answers() -> None:
    ready = readiness(state())
    assert ready.ready
    assert ready.reasons == ()


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"started": False}, "the hub is starting"),
        ({"broker_connected": False}, "broker: the connection to RabbitMQ is lost"),
        ({"queues_problem": "the queues cannot be read: x"}, "broker: the queues cannot be read"),
        ({"workers_running": 1}, "consumers: 1 of 2 router workers have stopped"),
        ({"ingress_consumers": 1}, "consumers: the ingress queue has 1 consumers"),
        ({"ingress_consumers": None}, "consumers: the ingress queue has 0 consumers"),
        ({"ledger_problem": "the ledger x is locked"}, "ledger: the ledger x is locked"),
    ],
)
def test_each_cause_is_named(changes: dict[str, object], reason: str) -> None:
    ready = readiness(state(**changes))
    assert not ready.ready
    assert any(line.startswith(reason) for line in ready.reasons), ready.reasons


def test_every_cause_at_once_gives_one_line_each() -> None:
    ready = readiness(state(broker_connected=False, workers_running=0, ledger_problem="gone"))
    assert len(ready.reasons) == 3


def at(seconds: float, documents: int) -> Reading:
    totals = {"documents": documents, "deliveries": 2 * documents, "receipts": 0, "rejections": 0}
    return Reading(seconds, totals)


def test_rates_over_the_last_five_seconds_and_a_history_per_second() -> None:
    history = RateHistory()
    assert history.rates()["documents_per_s"] == 0.0
    for second in range(10):
        history.add(1000.0 + second, at(float(second), 10 * second * second))
    # from second 4 (160) to second 9 (810): 650 documents in 5 s
    assert history.rates()["documents_per_s"] == 130.0
    assert history.rates()["deliveries_per_s"] == 260.0
    points = history.history()
    assert len(points) == 9
    assert points[-1] == {
        "t": 1009.0,
        "documents_per_s": 170.0,
        "deliveries_per_s": 340.0,
        "receipts_per_s": 0.0,
        "rejections_per_s": 0.0,
    }


def test_history_keeps_the_last_300_points() -> None:
    history = RateHistory()
    for second in range(400):
        history.add(float(second), at(float(second), second))
    points = history.history()
    assert len(points) == 300
    assert points[0]["t"] == 100.0


def test_statistics_put_the_ledger_beside_the_national_figures() -> None:
    days = DayCounts(documents={"2022-01-03": 2, "2022-06-30": 3, "2021-12-31": 4})
    table = statistics_table(days, {"2022-H1": 3_700_000, "2021-H1": 973_684}, dt.datetime.now())
    assert table["rows"] == [
        {"period": "2021-H1", "documents": 0, "national": 973_684},
        {"period": "2021-H2", "documents": 4, "national": None},
        {"period": "2022-H1", "documents": 5, "national": 3_700_000},
    ]
    assert table["note"]


def test_the_national_halves_come_from_the_built_in_scenario() -> None:
    halves = national_halves()
    assert halves["2022-H1"] == 3_700_000
    assert halves["2021-H1"] == 973_684
    assert all(len(period) == 7 and period[4:6] == "-H" for period in halves)


def test_readings_do_not_move_the_logs_interval(clock: Clock) -> None:
    meter = ThroughputMeter()
    meter.record(Counts(documents=40), [0.002] * 40)
    clock.now += 2.0
    assert meter.reading().totals["documents"] == 40
    meter.latency_ms()
    list(meter.latency_buckets((0.001, 0.01)))
    clock.now += 2.0
    report = meter.report()
    assert report["interval_s"] == 4.0
    assert report["documents_per_s"] == 10.0


def test_latency_buckets_count_cumulatively(clock: Clock) -> None:
    meter = ThroughputMeter()
    meter.record(Counts(), [0.0005] * 3 + [0.004] * 2 + [2.0])
    assert list(meter.latency_buckets((0.001, 0.005, 0.1, 10.0))) == [
        (0.001, 3),
        (0.005, 5),
        (0.1, 5),
        (10.0, 6),
    ]
    assert meter.latency_count == 6
    assert meter.latency_sum_s == pytest.approx(0.0015 + 0.008 + 2.0)
    latency = meter.latency_ms()
    assert latency["p50"] == pytest.approx(0.5, rel=0.01)
    assert latency["max"] == pytest.approx(2000.0, rel=0.01)


def test_counts_add_their_breakdowns() -> None:
    total = Counts(documents_by_sender=Counter({"A": 1}))
    total.add(
        Counts(
            documents=2,
            documents_by_sender=Counter({"A": 1, "B": 1}),
            rejections_by_reason=Counter({"bad_signature": 1}),
            receipts_by_status=Counter({"01": 2}),
            documents_by_recipient=Counter({"C": 3}),
        )
    )
    assert total.documents == 2
    assert total.documents_by_sender == {"A": 2, "B": 1}
    assert total.rejections_by_reason == {"bad_signature": 1}
    assert total.receipts_by_status == {"01": 2}
    assert total.documents_by_recipient == {"C": 3}
