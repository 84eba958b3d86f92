"""The accounting of a replay and its reports, from a ledger built out of the plan itself: every
count matches, then one document goes missing or is counted twice."""

import dataclasses
import datetime as dt
import json
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from hub.ledger import Totals
from hub.periods import DayCounts
from runs.replay import ReplayOptions, ReplayOutcome
from runs.replay_report import markdown, period_lines, report_json, write_chart, write_json
from simulator.figures import evaluate_figures
from simulator.fleet import FleetResult
from simulator.scaling import scale_months
from simulator.scenario import Scenario, load_scenario
from simulator.traffic import PlannedDocument, plan_traffic, receipt_codes

SCALE = 10_000
ELAPSED_S = 2.0
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@cache
def scenario() -> Scenario:
    return load_scenario("vdxp-2019-2022")


@cache
def plan() -> tuple[PlannedDocument, ...]:
    return tuple(plan_traffic(scenario(), SCALE, scenario().seed))


def day(moment: dt.datetime) -> str:
    return moment.astimezone(scenario().timezone).date().isoformat()


def planned_day_counts() -> DayCounts:
    documents: Counter[str] = Counter()
    deliveries: Counter[str] = Counter()
    receipts: Counter[str] = Counter()
    for document in plan():
        documents[day(document.sent_at)] += 1
        deliveries[day(document.sent_at)] += len(document.deliveries)
        for delivery in document.deliveries:
            receipts.update(day(moment) for moment in delivery.receipt_times)
    return DayCounts(dict(documents), dict(deliveries), dict(receipts))


def planned_totals() -> Totals:
    deliveries = sum(len(document.deliveries) for document in plan())
    receipts_by_responder: Counter[str] = Counter()
    for document in plan():
        for delivery in document.deliveries:
            receipts_by_responder[delivery.recipient] += len(receipt_codes(delivery))
    receipts = sum(receipts_by_responder.values())
    return Totals(
        accepted=len(plan()),
        routed=len(plan()),
        recipients_sum=deliveries,
        deliveries=deliveries,
        receipts=receipts,
        receipt_messages=receipts,
        relayed=receipts,
        rejected=0,
        dead_lettered=0,
        documents_by_sender=dict(Counter(document.sender for document in plan())),
        deliveries_by_recipient=dict(
            Counter(r for document in plan() for r in document.recipients)
        ),
        receipts_by_responder=dict(receipts_by_responder),
    )


def fleet_result(totals: Totals) -> FleetResult:
    return FleetResult(
        documents_planned=totals.accepted,
        documents_sent=totals.accepted,
        deliveries_expected=totals.deliveries,
        deliveries_received=totals.deliveries,
        receipts_expected=totals.receipts,
        receipts_received=totals.receipts,
        hub_refusals=0,
        elapsed_s=1.5,
        stalled=False,
        errors=[],
    )


def make_outcome(
    totals: Totals | None = None,
    days: DayCounts | None = None,
    fleet: FleetResult | None = None,
) -> ReplayOutcome:
    planned = planned_totals()
    days = days or planned_day_counts()
    return ReplayOutcome(
        scenario=scenario(),
        options=ReplayOptions(
            scenario=scenario().name,
            scale=SCALE,
            seed=None,
            hub="embedded",
            amqp_url="amqp://guest:guest@127.0.0.1:5672/",
            ledger_url="sqlite:///replay.db",
        ),
        seed=scenario().seed,
        namespace="sim-test",
        ledger_url="sqlite:///replay.db",
        fleet=fleet or fleet_result(planned),
        totals=totals or planned,
        days=days,
        figures=evaluate_figures(scenario(), SCALE, days.documents),
        planned_months=scale_months(scenario(), SCALE),
        elapsed_s=ELAPSED_S,
    )


def shift_document(month: str, change: int) -> tuple[Totals, DayCounts]:
    """The planned ledger with ``change`` documents more (or fewer) on the first day of ``month``
    that has documents, sent by the first planned sender of that day."""
    totals, days = planned_totals(), planned_day_counts()
    first = next(d for d in plan() if day(d.sent_at).startswith(month))
    documents = dict(days.documents)
    documents[day(first.sent_at)] += change
    by_sender = dict(totals.documents_by_sender)
    by_sender[first.sender] += change
    totals = dataclasses.replace(
        totals,
        accepted=totals.accepted + change,
        routed=totals.routed + change,
        documents_by_sender=by_sender,
    )
    return totals, dataclasses.replace(days, documents=documents)


# --- accounting ----------------------------------------------------------------------------------


def test_everything_matches() -> None:
    outcome = make_outcome()
    assert outcome.accounting_problems() == []
    assert (outcome.lost, outcome.double_counted) == (0, 0)
    assert all(figure.matches for figure in outcome.figures)
    assert outcome.ok is True


def test_a_missing_document_is_lost_and_named_by_month() -> None:
    totals, days = shift_document("2022-03", -1)
    outcome = make_outcome(totals, days)
    planned_march = scale_months(scenario(), SCALE)["2022-03"]
    assert outcome.lost == 1
    assert outcome.double_counted == 0
    assert outcome.ok is False
    failing = {figure.key for figure in outcome.figures if not figure.matches}
    assert failing == {"cumulative_2022_06_30", "h1_2022"}
    problems = outcome.accounting_problems()
    assert "ledger has 1279 documents, the plan 1280" in problems
    assert (
        f"documents per month differ from the plan: 2022-03: {planned_march - 1} of {planned_march}"
        in problems
    )


def test_an_extra_document_is_double_counted() -> None:
    totals, days = shift_document("2021-07", +1)
    outcome = make_outcome(totals, days)
    planned_july = scale_months(scenario(), SCALE)["2021-07"]
    assert outcome.double_counted == 1
    assert outcome.lost == 0
    assert outcome.ok is False
    assert {f.key for f in outcome.figures if not f.matches} == {"cumulative_2022_06_30"}
    assert (
        f"documents per month differ from the plan: 2021-07: {planned_july + 1} of {planned_july}"
        in outcome.accounting_problems()
    )


def test_a_document_outside_the_scenario_is_named() -> None:
    days = planned_day_counts()
    documents = dict(days.documents) | {"2022-07-01": 1}
    outcome = make_outcome(days=dataclasses.replace(days, documents=documents))
    assert any(
        "2022-07: 1 outside the scenario" in problem for problem in outcome.accounting_problems()
    )
    assert outcome.ok is False


@pytest.mark.parametrize(
    ("fleet_changes", "lost", "double_counted", "problem"),
    [
        ({"deliveries_received": -2}, 2, 0, "deliveries: ledger"),
        ({"receipts_received": -3}, 3, 0, "receipts: ledger"),
        ({"deliveries_received": +1}, 0, 1, "deliveries: ledger"),
        ({"receipts_expected": -2}, 0, 2, "receipts: ledger"),
    ],
    ids=["deliveries-lost", "receipts-lost", "delivery-twice", "ledger-above-plan"],
)
def test_fleet_counts_against_the_ledger(
    fleet_changes: dict[str, int], lost: int, double_counted: int, problem: str
) -> None:
    planned = planned_totals()
    fleet = fleet_result(planned)
    fleet = fleet.model_copy(
        update={field: getattr(fleet, field) + change for field, change in fleet_changes.items()}
    )
    outcome = make_outcome(fleet=fleet)
    assert (outcome.lost, outcome.double_counted) == (lost, double_counted)
    assert any(text.startswith(problem) for text in outcome.accounting_problems())
    assert outcome.ok is False


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"routed": -1}, "1 documents still in flight"),
        ({"rejected": 2}, "the hub refused 2 inputs"),
        ({"rejected": 2}, "per-reason refusals differ from the total"),
        ({"relayed": -4}, "4 not relayed"),
        ({"recipients_sum": 1}, "deliveries differ from the sum of recipients"),
    ],
)
def test_ledger_imbalances_are_problems(changes: dict[str, int], problem: str) -> None:
    planned = planned_totals()
    totals = dataclasses.replace(
        planned, **{key: getattr(planned, key) + change for key, change in changes.items()}
    )
    outcome = make_outcome(totals=totals)
    assert problem in outcome.accounting_problems()
    assert outcome.ok is False


def test_a_receipt_message_not_relayed_is_a_problem() -> None:
    """2.0 counts steps (``receipts``) and receipt messages (``receipt_messages``) apart, and
    ``relayed`` counts messages: one message not relayed is a problem even when the number of
    relayed messages happens to equal the number of steps (two receipts reported one step)."""
    planned = planned_totals()
    totals = dataclasses.replace(planned, receipt_messages=planned.receipt_messages + 1)
    assert totals.relayed == totals.receipts
    assert totals.imbalances() == []
    outcome = make_outcome(totals=totals)
    assert "1 not relayed" in outcome.accounting_problems()
    assert outcome.ok is False


def test_two_receipts_of_one_step_all_relayed_are_not_a_relay_problem() -> None:
    planned = planned_totals()
    totals = dataclasses.replace(
        planned,
        receipt_messages=planned.receipt_messages + 1,
        relayed=planned.relayed + 1,
    )
    assert totals.imbalances() == []
    problems = make_outcome(totals=totals).accounting_problems()
    assert not [problem for problem in problems if "not relayed" in problem], problems


def test_a_stalled_fleet_is_a_problem() -> None:
    fleet = fleet_result(planned_totals()).model_copy(update={"stalled": True})
    assert "the replay stalled: nothing moved for the stall timeout" in (
        make_outcome(fleet=fleet).accounting_problems()
    )


# --- reports -------------------------------------------------------------------------------------


def test_report_json_has_the_figures_scaled_back() -> None:
    report = report_json(make_outcome())
    figures = report["figures"]
    assert {"cumulative_2022_06_30", "h1_2022", "h1_2021", "h1_2022_vs_h1_2021"} <= set(figures)
    assert {key: (f["measured"], f["target"]) for key, f in figures.items()} == {
        "cumulative_2022_06_30": (12_800_000, 12_800_000),
        "h1_2022": (3_700_000, 3_700_000),
        "h1_2021": (970_000, 973_684),
        "h1_2022_vs_h1_2021": (3.8, 3.8),
    }
    assert all(figure["matches"] for figure in figures.values())


def test_report_json_has_the_counts() -> None:
    totals = planned_totals()
    report = report_json(make_outcome())
    assert report["ok"] is True
    assert (report["lost"], report["double_counted"]) == (0, 0)
    assert (report["documents"], report["deliveries"], report["receipts"]) == (
        1280,
        totals.deliveries,
        totals.receipts,
    )
    assert report["elapsed_s"] == ELAPSED_S
    assert report["docs_per_s"] == 640.0
    assert (report["scenario"], report["scale"], report["seed"]) == (
        "vdxp-2019-2022",
        SCALE,
        20220715,
    )
    assert report["accounting_problems"] == []
    assert all(row["planned"] == row["measured"] for row in report["monthly"])
    assert len(report["monthly"]) == 40


def test_report_json_reports_a_loss() -> None:
    report = report_json(make_outcome(*shift_document("2022-03", -1)))
    assert (report["ok"], report["lost"], report["documents"]) == (False, 1, 1279)
    assert report["figures"]["h1_2022"]["measured"] == 3_690_000
    assert report["figures"]["h1_2022"]["matches"] is False


def test_report_json_is_json(tmp_path: Path) -> None:
    report = report_json(make_outcome())
    assert json.loads(json.dumps(report)) == report
    path = tmp_path / "out" / "replay.json"
    write_json(make_outcome(), path)
    assert json.loads(path.read_text(encoding="utf-8")) == report


def test_period_lines_scale_back_by_half_year() -> None:
    lines = {line.period: line for line in period_lines(make_outcome())}
    assert lines["2022-H1"].documents == 3_700_000
    assert lines["2022-H1"].national == "3,700,000 (×3.8)"
    assert lines["2022-H1"].change == pytest.approx(370 / 97)
    assert lines["2021-H1"].documents == 970_000
    assert lines["2021-H1"].national == "973,684"
    assert lines["2019-H1"].change is None
    total = lines["all since 2019-03-12"]
    assert (total.documents, total.national) == (12_800_000, "12,800,000")


def test_markdown_gives_the_national_figures() -> None:
    text = markdown(make_outcome())
    assert text.startswith("# Replay of `vdxp-2019-2022` at 1:10,000\n")
    assert "| 2022-H1 | 3,700,000 |" in text
    assert "| 3,700,000 (×3.8) |" in text
    assert "| 973,684 |" in text
    assert "| all since 2019-03-12 | 12,800,000 |" in text
    assert "ok  Cumulative to 30 June 2022: measured 12,800,000, national 12,800,000" in text
    assert "ok  H1 2022 against H1 2021: measured 3.8, national 3.8" in text
    assert "ok  accounting balances: nothing lost, nothing counted twice" in text


def test_markdown_marks_what_is_off() -> None:
    text = markdown(make_outcome(*shift_document("2022-03", -1)))
    assert "OFF First half of 2022: measured 3,690,000, national 3,700,000" in text
    assert "OFF accounting: ledger has 1279 documents, the plan 1280" in text


def test_write_chart_writes_a_png(tmp_path: Path) -> None:
    path = tmp_path / "charts" / "replay.png"
    write_chart(make_outcome(), path)
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE)
    assert data[12:16] == b"IHDR"
    assert len(data) > 10_000
