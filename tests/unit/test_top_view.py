"""``dochub top``'s frame, from a snapshot shaped as the hub serves it: what it shows, in which
order, and that a snapshot missing parts still shows."""

import io
from typing import Any

import pytest
from rich.console import Console, RenderableType

from dochub.top_view import (
    SPARK,
    duration,
    frame,
    is_stalled,
    queues_to_show,
    sparkline,
)

URL = "http://127.0.0.1:8471"


def text_of(renderable: RenderableType, width: int = 140) -> str:
    console = Console(file=io.StringIO(), width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def queue(name: str, role: str, depth: int | None, consumers: int | None) -> dict[str, Any]:
    agency = name.rsplit(".", 1)[-1] if role in ("inbox", "status") else None
    return {
        "name": name,
        "role": role,
        "agency": agency,
        "agency_name": None,
        "depth": depth,
        "consumers": consumers,
    }


def snapshot(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "namespace": "ns-top",
        "node": "hub:ns-top",
        "started_at": "2026-11-25T13:00:00+00:00",
        "uptime_s": 3725.5,
        "totals": {
            "documents": 12345,
            "deliveries": 23456,
            "receipts": 345,
            "rejections": 7,
            "duplicates": 2,
        },
        "rates": {
            "documents_per_s": 41.5,
            "deliveries_per_s": 80.0,
            "receipts_per_s": 1.5,
            "rejections_per_s": 0.0,
        },
        "history": [
            {
                "t": 1_764_000_000 + i,
                "documents_per_s": float(i),
                "deliveries_per_s": 2.0 * i,
                "receipts_per_s": 0.0,
                "rejections_per_s": 0.0,
            }
            for i in range(10)
        ],
        "latency_ms": {"p50": 1.5, "p90": 3.25, "p99": 9.0, "p999": 20.0, "max": 31.0},
        "queues": [
            queue("ns-top.ingress", "ingress", 3, 2),
            queue("ns-top.dead-letter", "dead_letter", 4, 0),
            queue("ns-top.inbox.000.00.00.G12", "inbox", 9, 0),
            queue("ns-top.inbox.000.00.00.H29", "inbox", 0, 1),
        ],
        "top_senders": [
            {"agency": "000.00.00.G01", "name": "Văn phòng Chính phủ", "documents": 900}
        ],
        "top_recipients": [{"agency": "000.00.00.G12", "name": "Bộ Nội vụ", "documents": 800}],
        "refusals_by_reason": {"malformed": 5, "bad_signature": 2},
        "dead_letters_by_reason": {"malformed": 5},
        "receipts_by_status": {"01": 300, "03": 45},
        "statistics": {
            "computed_at": "2026-11-25T13:20:00+00:00",
            "rows": [
                {"period": "2022-H1", "documents": 1850, "national": 3700},
                {"period": "2026-H2", "documents": 12, "national": None},
            ],
            "note": "Documents per half-year beside the national figures.",
        },
        "health": {"ready": True, "reasons": []},
    }
    base.update(overrides)
    return base


def test_a_sparkline_scales_to_its_highest_value() -> None:
    assert sparkline([0, 5, 10]) == SPARK[0] + SPARK[4] + SPARK[-1]
    assert sparkline([0.0, 0.0]) == SPARK[0] * 2
    assert sparkline([]) == ""
    assert sparkline([float(i) for i in range(100)], width=8) == sparkline(
        [float(i) for i in range(92, 100)], width=8
    )
    assert len(sparkline([1.0] * 100, width=8)) == 8


@pytest.mark.parametrize(
    ("role", "depth", "consumers", "stalled"),
    [
        ("inbox", 9, 0, True),
        ("status", 1, 0, True),
        ("ingress", 1, 0, True),
        ("inbox", 0, 0, False),  # nothing waits
        ("inbox", 9, 1, False),  # someone consumes
        ("inbox", 9, None, False),  # not read
        ("dead_letter", 9, 0, False),  # nobody consumes dead letters by design
    ],
)
def test_a_queue_is_stalled_when_messages_wait_with_no_consumer(
    role: str, depth: int, consumers: int | None, stalled: bool
) -> None:
    assert is_stalled(queue("ns.q", role, depth, consumers)) is stalled


def test_stalled_queues_come_first_then_ingress_and_dead_letters_then_the_deepest() -> None:
    queues = [
        queue("ns.inbox.a", "inbox", 1, 1),
        queue("ns.inbox.b", "inbox", 50, 1),
        queue("ns.dead-letter", "dead_letter", 0, 0),
        queue("ns.ingress", "ingress", 0, 1),
        queue("ns.status.c", "status", 2, 0),
    ]
    shown = [q["name"] for q in queues_to_show(queues)]
    assert shown == ["ns.status.c", "ns.ingress", "ns.dead-letter", "ns.inbox.b", "ns.inbox.a"]
    assert len(queues_to_show(queues, limit=2)) == 2


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0.4, "0s"), (59, "59s"), (61, "1m 1s"), (3725.5, "1h 2m 5s"), (90061, "1d 1h 1m")],
)
def test_durations_read_as_a_person_says_them(seconds: float, shown: str) -> None:
    assert duration(seconds) == shown


def test_a_frame_shows_the_hub_and_all_its_figures() -> None:
    text = text_of(frame(snapshot(), url=URL, width=140))
    assert "ns-top" in text
    assert URL in text
    assert "READY" in text
    assert "up 1h 2m 5s" in text
    for shown in ("12,345", "23,456", "345", "41.5", "80.0", "1.5"):
        assert shown in text
    for latency in ("1.50", "3.25", "9.00", "20.00", "31.00"):
        assert latency in text
    assert "Văn phòng Chính phủ" in text
    assert "Bộ Nội vụ" in text
    assert "malformed" in text
    assert "bad_signature" in text
    assert "50.0%" in text  # 1,850 of the national 3,700
    assert "Documents per half-year beside the national figures." in text


def test_a_queue_with_messages_and_no_consumer_is_marked() -> None:
    text = text_of(frame(snapshot(), url=URL, width=140))
    assert "1 with messages and no consumer" in text
    stalled = next(line for line in text.splitlines() if "inbox.000.00.00.G12" in line)
    assert stalled.rstrip().endswith("0 !")
    assert "!" not in next(line for line in text.splitlines() if "dead-letter" in line)


def test_a_hub_not_ready_shows_its_reasons() -> None:
    health = {"ready": False, "reasons": ["the broker is not connected"]}
    text = text_of(frame(snapshot(health=health), url=URL))
    assert "NOT READY" in text
    assert "the broker is not connected" in text


def test_a_lost_hub_keeps_its_last_figures_under_the_problem() -> None:
    problem = "unreachable since 13:20:00, retrying: connection refused"
    text = text_of(frame(snapshot(), url=URL, problem=problem))
    assert problem in text
    assert "12,345" in text


def test_a_snapshot_missing_parts_still_shows() -> None:
    text = text_of(frame({"namespace": "bare", "totals": {"documents": 1}}, url=URL, width=80))
    assert "bare" in text
    assert "documents" in text
