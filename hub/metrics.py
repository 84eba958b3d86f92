"""The hub's Prometheus metrics, in a registry of its own (several hubs may share a process).

Counters and the route-latency histogram are read from the throughput meter at scrape time, queue
gauges from the queue watch's last reading: one source for the logs, the dashboard and the
scrapes. The ledger-batch histogram is observed by ``InstrumentedLedger``, a decorator around the
ledger the router uses.
"""

import time
from collections.abc import Callable, Iterator, Sequence

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from hub.inspection import Verdict
from hub.ledger import Admitted, Completion, Ledger, Totals
from hub.periods import DayCounts
from hub.queue_watch import QueueWatch
from hub.throughput import ThroughputMeter

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS_S = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)


class HubMetrics:
    def __init__(
        self,
        meter: ThroughputMeter,
        queues: Callable[[], QueueWatch | None],
        ready: Callable[[], bool],
    ) -> None:
        self.registry = CollectorRegistry()
        self.ledger_batch = Histogram(
            "dochub_ledger_batch_duration_seconds",
            "Time one ledger transaction of a batch took, by operation (admit, complete)",
            ["operation"],
            buckets=LATENCY_BUCKETS_S,
            registry=self.registry,
        )
        self.registry.register(_HubCollector(meter, queues, ready))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _HubCollector(Collector):
    def __init__(
        self,
        meter: ThroughputMeter,
        queues: Callable[[], QueueWatch | None],
        ready: Callable[[], bool],
    ) -> None:
        self._meter = meter
        self._queues = queues
        self._ready = ready

    def collect(self) -> Iterator[Metric]:
        yield from self._inputs()
        yield from self._latency()
        yield from self._queue_gauges()
        ready = GaugeMetricFamily("dochub_ready", "1 when /readyz answers 200, else 0")
        ready.add_metric([], 1.0 if self._ready() else 0.0)
        yield ready
        uptime = GaugeMetricFamily("dochub_uptime_seconds", "Seconds since the hub started")
        uptime.add_metric([], time.monotonic() - self._meter.started)
        yield uptime

    def _inputs(self) -> Iterator[Metric]:
        total = self._meter.total
        inputs = CounterMetricFamily(
            "dochub_inputs",
            "Messages the router took from the ingress queue, by result: routed (a new document "
            "or receipt), refused (dead-lettered) or duplicate (already in the ledger)",
            labels=["result"],
        )
        inputs.add_metric(["routed"], total.documents + total.receipts)
        inputs.add_metric(["refused"], total.rejections)
        inputs.add_metric(["duplicate"], total.duplicates)
        yield inputs
        yield _counter("dochub_documents", "Documents accepted and routed", total.documents)
        yield _counter(
            "dochub_deliveries", "Deliveries of documents to recipients' inboxes", total.deliveries
        )
        yield _labelled(
            "dochub_refusals",
            "Inputs refused and dead-lettered by the hub, by reason",
            "reason",
            total.rejections_by_reason,
        )
        yield _labelled(
            "dochub_receipts",
            "Status receipts relayed to documents' senders, by status code",
            "status",
            total.receipts_by_status,
        )
        yield _labelled(
            "dochub_agency_documents_sent",
            "Documents accepted from each sending agency",
            "agency",
            total.documents_by_sender,
        )
        yield _labelled(
            "dochub_agency_documents_received",
            "Documents delivered to each recipient agency",
            "agency",
            total.documents_by_recipient,
        )

    def _latency(self) -> Iterator[Metric]:
        meter = self._meter
        buckets = [
            (_bound(bound), count) for bound, count in meter.latency_buckets(LATENCY_BUCKETS_S)
        ]
        buckets.append(("+Inf", meter.latency_count))
        histogram = HistogramMetricFamily(
            "dochub_route_latency_seconds",
            "From a message's arrival at the hub to its ack, per message",
        )
        histogram.add_metric([], buckets, sum_value=meter.latency_sum_s)
        yield histogram

    def _queue_gauges(self) -> Iterator[Metric]:
        watch = self._queues()
        depth = GaugeMetricFamily(
            "dochub_queue_messages",
            "Messages ready in each queue of the namespace",
            labels=["queue", "role", "agency"],
        )
        consumers = GaugeMetricFamily(
            "dochub_queue_consumers",
            "Consumers of each queue of the namespace",
            labels=["queue", "role", "agency"],
        )
        ingress = GaugeMetricFamily(
            "dochub_ingress_messages", "Messages ready in the ingress queue"
        )
        dead = GaugeMetricFamily(
            "dochub_dead_letter_messages", "Messages waiting in the dead-letter queue"
        )
        deepest = GaugeMetricFamily(
            "dochub_deepest_inbox_messages", "Messages ready in the fullest inbox"
        )
        silent = GaugeMetricFamily(
            "dochub_inboxes_without_consumer",
            "Inboxes holding messages with no consumer for the alarm's grace period",
        )
        if watch is not None and watch.problem is None:
            for reading in watch.readings:
                labels = [reading.queue.name, reading.queue.role, reading.queue.agency or ""]
                if reading.depth is not None:
                    depth.add_metric(labels, reading.depth)
                if reading.consumers is not None:
                    consumers.add_metric(labels, reading.consumers)
            for family, role in ((ingress, "ingress"), (dead, "dead_letter")):
                value = watch.reading_of(role).depth  # type: ignore[arg-type]
                if value is not None:
                    family.add_metric([], value)
            fullest = watch.deepest_inbox()
            if fullest is not None and fullest.depth is not None:
                deepest.add_metric([], fullest.depth)
            silent.add_metric([], len(watch.alarm.silent))
        yield from (depth, consumers, ingress, dead, deepest, silent)


def _counter(name: str, documentation: str, value: int) -> CounterMetricFamily:
    counter = CounterMetricFamily(name, documentation)
    counter.add_metric([], value)
    return counter


def _labelled(
    name: str, documentation: str, label: str, values: dict[str, int]
) -> CounterMetricFamily:
    counter = CounterMetricFamily(name, documentation, labels=[label])
    for key, value in sorted(values.items()):
        counter.add_metric([key], value)
    return counter


def _bound(seconds: float) -> str:
    return repr(float(seconds))


class InstrumentedLedger:
    """The ledger, timing each ``admit`` and ``complete`` into ``dochub_ledger_batch_duration_
    seconds``; everything else passes through."""

    def __init__(self, ledger: Ledger, histogram: Histogram) -> None:
        self._ledger = ledger
        self._admit = histogram.labels(operation="admit")
        self._complete = histogram.labels(operation="complete")

    async def admit(self, verdicts: Sequence[Verdict]) -> list[Admitted]:
        started = time.perf_counter()
        try:
            return await self._ledger.admit(verdicts)
        finally:
            self._admit.observe(time.perf_counter() - started)

    async def complete(self, completion: Completion) -> None:
        if not completion:
            await self._ledger.complete(completion)
            return
        started = time.perf_counter()
        try:
            await self._ledger.complete(completion)
        finally:
            self._complete.observe(time.perf_counter() - started)

    async def totals(self) -> Totals:
        return await self._ledger.totals()

    async def day_counts(self, agency_id: str | None = None) -> DayCounts:
        return await self._ledger.day_counts(agency_id)

    async def close(self) -> None:
        await self._ledger.close()
