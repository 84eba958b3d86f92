"""The hub's HTTP server against a real broker: /metrics counts what flows and agrees with what
was sent, the dashboard's snapshot has its contract's shape, /api/events streams snapshots, and
/api/trace tells one document's story."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from structlog.testing import capture_logs

from hub.service import Hub
from tests.factories import make_envelope
from tests.integration.conftest import BrokerProbe, ClientFactory, FakeAgency, HubFactory
from tests.integration.waiting import until

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
async def watched_hub(hub_factory: HubFactory) -> Hub:
    return await hub_factory(
        http_port=0, queue_watch_interval_s=0.3, queue_without_consumer_after_s=0.5
    )


@pytest.fixture
async def http(watched_hub: Hub) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{watched_hub.http_port}", timeout=10
    ) as client:
        yield client


async def scrape(http: httpx.AsyncClient) -> Samples:
    answer = await http.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def test_metrics_count_what_was_sent(
    watched_hub: Hub,
    http: httpx.AsyncClient,
    agencies: list[FakeAgency],
    client_for: ClientFactory,
    probe: BrokerProbe,
) -> None:
    sender_agency, first, second = agencies[0], agencies[1], agencies[2]
    sender = await client_for(sender_agency)
    recipients = [sender.organ_of(first.id), sender.organ_of(second.id)]
    before = await scrape(http)
    assert value(before, "dochub_documents_total") == 0
    with capture_logs() as logs:
        for _ in range(5):
            await sender.send(make_envelope(sender.organ, recipients))
        await sender.send(make_envelope(sender.organ, recipients[:1]))
        await probe.publish_ingress(b"not a signed document")
        inbox = watched_hub.names.inbox_queue(first.id)
        samples = await until(
            lambda: scrape(http),
            lambda s: (
                value(s, "dochub_queue_messages", queue=inbox, role="inbox", agency=first.id) == 6
                and value(s, "dochub_inputs_total", result="refused") == 1
                and value(s, "dochub_inboxes_without_consumer") == 2  # after the grace period
            ),
            within_s=15,
        )
    assert value(samples, "dochub_documents_total") == 6
    assert value(samples, "dochub_deliveries_total") == 11
    assert value(samples, "dochub_inputs_total", result="routed") == 6
    assert value(samples, "dochub_inputs_total", result="duplicate") == 0
    refusals = {
        dict(labels)["reason"]: count
        for (name, labels), count in samples.items()
        if name == "dochub_refusals_total"
    }
    assert sum(refusals.values()) == 1
    assert value(samples, "dochub_agency_documents_sent_total", agency=sender_agency.id) == 6
    assert value(samples, "dochub_agency_documents_received_total", agency=first.id) == 6
    assert value(samples, "dochub_agency_documents_received_total", agency=second.id) == 5
    assert value(samples, "dochub_route_latency_seconds_count") == 7  # every input, refused too
    assert (value(samples, "dochub_route_latency_seconds_sum") or 0) > 0
    assert (
        value(samples, "dochub_ledger_batch_duration_seconds_count", operation="admit") or 0
    ) > 0
    assert value(samples, "dochub_deepest_inbox_messages") == 6
    assert value(samples, "dochub_dead_letter_messages") == 1
    ingress = watched_hub.names.ingress_queue
    assert value(samples, "dochub_queue_consumers", queue=ingress, role="ingress", agency="") == 2
    assert value(samples, "dochub_inboxes_without_consumer") == 2
    assert value(samples, "dochub_ready") == 1
    silent = {(e["queue"], e["agency_id"]) for e in logs if e["event"] == "queue_without_consumer"}
    assert silent == {(inbox, first.id), (watched_hub.names.inbox_queue(second.id), second.id)}
    ledger = await watched_hub.ledger.totals()
    assert ledger.accepted == value(samples, "dochub_documents_total")
    assert ledger.deliveries == value(samples, "dochub_deliveries_total")
    assert ledger.rejected == sum(refusals.values())


async def test_a_consumer_coming_back_is_logged_once(
    watched_hub: Hub, agencies: list[FakeAgency], client_for: ClientFactory
) -> None:
    sender = await client_for(agencies[0])
    recipient_agency = agencies[1]
    inbox = watched_hub.names.inbox_queue(recipient_agency.id)
    with capture_logs() as logs:
        await sender.send(make_envelope(sender.organ, [sender.organ_of(recipient_agency.id)]))

        def said(event: str) -> list[Any]:
            return [e for e in logs if e["event"] == event and e["queue"] == inbox]

        async def current() -> int:
            return len(said("queue_without_consumer"))

        await until(current, lambda count: count == 1, within_s=10)
        recipient = await client_for(recipient_agency)
        async with recipient.inbox() as documents:
            delivery = await asyncio.wait_for(anext(documents), 10)
            await delivery.ack()

            async def back() -> int:
                return len(said("queue_consumer_back"))

            await until(back, lambda count: count == 1, within_s=10)
            await asyncio.sleep(1.0)  # three more readings: nothing more to say
    assert len(said("queue_without_consumer")) == 1
    assert len(said("queue_consumer_back")) == 1
    assert said("queue_without_consumer")[0]["agency_id"] == recipient_agency.id


async def test_snapshot_has_the_dashboards_shape(
    watched_hub: Hub,
    http: httpx.AsyncClient,
    agencies: list[FakeAgency],
    client_for: ClientFactory,
) -> None:
    sender = await client_for(agencies[0])
    for _ in range(3):
        await sender.send(make_envelope(sender.organ, [sender.organ_of(agencies[3].id)]))

    async def snapshot() -> dict[str, Any]:
        answer = await http.get("/api/snapshot")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("application/json")
        data: dict[str, Any] = answer.json()
        return data

    data = await until(
        snapshot,
        lambda s: (
            s["totals"]["documents"] == 3 and all(q["depth"] is not None for q in s["queues"])
        ),
        within_s=15,
    )
    assert data["namespace"] == watched_hub.settings.namespace
    assert data["node"] == f"hub:{watched_hub.settings.namespace}"
    assert isinstance(data["started_at"], str)
    assert isinstance(data["uptime_s"], float)
    assert data["totals"] == {
        "documents": 3,
        "deliveries": 3,
        "receipts": 0,
        "rejections": 0,
        "duplicates": 0,
    }
    rates = ("documents_per_s", "deliveries_per_s", "receipts_per_s", "rejections_per_s")
    assert set(data["rates"]) == set(rates)
    history = data["history"]
    assert isinstance(history, list)
    assert all(set(point) == {"t", *rates} for point in history)
    assert set(data["latency_ms"]) == {"p50", "p90", "p99", "p999", "max"}
    assert data["latency_ms"]["max"] > 0
    queues = data["queues"]
    assert isinstance(queues, list)
    roles = {queue["role"] for queue in queues}
    assert roles == {"ingress", "dead_letter", "inbox", "status"}
    inbox = next(q for q in queues if q["role"] == "inbox" and q["agency"] == agencies[3].id)
    assert inbox == {
        "name": watched_hub.names.inbox_queue(agencies[3].id),
        "role": "inbox",
        "agency": agencies[3].id,
        "agency_name": agencies[3].name,
        "depth": 3,
        "consumers": 0,
    }
    assert data["top_senders"] == [
        {"agency": agencies[0].id, "name": "Văn phòng Chính phủ", "documents": 3}
    ]
    assert data["top_recipients"] == [
        {"agency": agencies[3].id, "name": agencies[3].name, "documents": 3}
    ]
    assert data["refusals_by_reason"] == {}
    assert data["dead_letters_by_reason"] == {}
    assert data["receipts_by_status"] == {}
    statistics = data["statistics"]
    assert isinstance(statistics, dict)
    assert set(statistics) == {"computed_at", "rows", "note"}
    rows = statistics["rows"]
    assert {"period", "documents", "national"} == set(rows[0])
    national = {row["period"]: row["national"] for row in rows}
    assert national["2022-H1"] == 3_700_000
    assert data["health"] == {"ready": True, "reasons": []}


async def test_events_stream_a_snapshot_every_second(http: httpx.AsyncClient) -> None:
    snapshots: list[dict[str, Any]] = []
    async with http.stream("GET", "/api/events") as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        event = None
        async for line in answer.aiter_lines():
            if line.startswith("event: "):
                event = line.removeprefix("event: ")
            elif line.startswith("data: "):
                assert event == "snapshot"
                snapshots.append(json.loads(line.removeprefix("data: ")))
                if len(snapshots) == 3:
                    break
    assert all("totals" in snapshot and "health" in snapshot for snapshot in snapshots)
    assert snapshots[2]["uptime_s"] > snapshots[1]["uptime_s"]


async def test_health_and_the_dashboards_files(http: httpx.AsyncClient) -> None:
    healthz = await http.get("/healthz")
    assert (healthz.status_code, healthz.text) == (200, "ok\n")
    ready = await until(lambda: http.get("/readyz"), lambda a: a.status_code == 200, within_s=10)
    assert ready.text == "ready\n"
    as_json = await http.get("/readyz", headers={"Accept": "application/json"})
    assert as_json.json() == {"ready": True, "reasons": []}
    page = await http.get("/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert (await http.get("/static/index.html")).text == page.text
    assert (await http.get("/static/no-such-file.js")).status_code == 404
    assert (await http.get("/static/..%2F__init__.py")).status_code == 404
    assert (await http.get("/static/%2E%2E/%2E%2E/settings.py")).status_code == 404


async def test_trace_tells_a_documents_story(
    watched_hub: Hub,
    http: httpx.AsyncClient,
    agencies: list[FakeAgency],
    client_for: ClientFactory,
) -> None:
    sender = await client_for(agencies[0])
    envelope = make_envelope(sender.organ, [sender.organ_of(agencies[1].id)])
    await sender.send(envelope)
    answer = await until(
        lambda: http.get(f"/api/trace/{envelope.id}"), lambda a: a.status_code == 200, within_s=10
    )
    story = answer.json()
    assert str(envelope.id) in json.dumps(story)
    assert agencies[1].id in json.dumps(story)
    assert (await http.get(f"/api/trace/{uuid.uuid4()}")).status_code == 404
    assert (await http.get("/api/trace/not-a-uuid")).status_code == 400
