"""The traffic of a replay: which agency sends which document to whom and when, and how each
recipient answers. Deterministic for a scenario, scale and seed; the counts per month come from
``simulator.scaling``, so a different seed changes the traffic but never the totals.
"""

import bisect
import calendar
import datetime as dt
import hashlib
import itertools
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from schemas.envelope import DocumentType, Urgency
from schemas.receipt import StatusCode
from simulator.scaling import scale_months
from simulator.scenario import Agency, Scenario, Span

T = TypeVar("T")

NOTATION_PREFIXES = {
    DocumentType.OFFICIAL_LETTER: "",
    DocumentType.DECISION: "QĐ-",
    DocumentType.NOTICE: "TB-",
    DocumentType.REPORT: "BC-",
    DocumentType.SUBMISSION: "TTr-",
    DocumentType.PLAN: "KH-",
    DocumentType.OTHER: "VB-",
}
TYPE_LABELS = {
    DocumentType.OFFICIAL_LETTER: "Công văn",
    DocumentType.DECISION: "Quyết định",
    DocumentType.NOTICE: "Thông báo",
    DocumentType.REPORT: "Báo cáo",
    DocumentType.SUBMISSION: "Tờ trình",
    DocumentType.PLAN: "Kế hoạch",
    DocumentType.OTHER: "Văn bản",
}
ATTACHMENT_MEDIA_TYPE = "application/pdf"
_WEEKEND_WEIGHT = 0.1
_LIFECYCLE = (StatusCode.ACCEPTED, StatusCode.ASSIGNED, StatusCode.PROCESSING, StatusCode.COMPLETED)


@dataclass(frozen=True, slots=True)
class PlannedAttachment:
    name: str
    media_type: str
    size: int
    sha256: str
    content: bytes | None


@dataclass(frozen=True, slots=True)
class PlannedDelivery:
    recipient: str
    refuse: bool
    full_lifecycle: bool
    receipt_times: tuple[dt.datetime, ...]
    """When each receipt of ``receipt_codes(self)`` is issued, in order."""


@dataclass(frozen=True, slots=True)
class PlannedDocument:
    index: int
    sender: str
    recipients: tuple[str, ...]
    document_type: DocumentType
    urgency: Urgency
    sent_at: dt.datetime
    number: str
    notation: str
    subject: str
    attachments: tuple[PlannedAttachment, ...]
    deliveries: tuple[PlannedDelivery, ...]


def receipt_codes(delivery: PlannedDelivery) -> tuple[StatusCode, ...]:
    """The status receipts a recipient sends for one delivery, in order."""
    if delivery.refuse:
        return (StatusCode.ARRIVED, StatusCode.REFUSED)
    if delivery.full_lifecycle:
        return (StatusCode.ARRIVED, *_LIFECYCLE)
    return (StatusCode.ARRIVED, StatusCode.ACCEPTED)


class _WeightedPicker(Generic[T]):
    def __init__(self, items: Sequence[T], weights: Sequence[float]) -> None:
        self.items = list(items)
        self.cumulative = list(itertools.accumulate(weights))

    def pick(self, rng: random.Random) -> T:
        point = rng.random() * self.cumulative[-1]
        index = bisect.bisect_right(self.cumulative, point)
        return self.items[min(index, len(self.items) - 1)]


def plan_traffic(scenario: Scenario, scale: int, seed: int) -> Iterator[PlannedDocument]:
    """The documents of the replay in send-date order, numbered from 0."""
    return _Planner(scenario, seed).documents(scale_months(scenario, scale))


class _Planner:
    def __init__(self, scenario: Scenario, seed: int) -> None:
        self.scenario = scenario
        self.seed = seed
        agencies = scenario.agencies
        self.by_id = {agency.id: agency for agency in agencies}
        self.senders = _WeightedPicker(agencies, [a.send_weight for a in agencies])
        self.receivers = _WeightedPicker(agencies, [a.receive_weight for a in agencies])
        buckets = scenario.recipients
        self.buckets = _WeightedPicker(buckets, [bucket.weight for bucket in buckets])
        types = list(scenario.document_types)
        self.types = _WeightedPicker(types, [scenario.document_types[t] for t in types])
        urgencies = list(scenario.urgency)
        self.urgencies = _WeightedPicker(urgencies, [scenario.urgency[u] for u in urgencies])
        counts = scenario.attachments.count_weights
        self.attachment_counts = _WeightedPicker(range(len(counts)), counts)
        self.numbers: dict[tuple[str, int], int] = {}

    def documents(self, per_month: dict[str, int]) -> Iterator[PlannedDocument]:
        index = 0
        for month, count in per_month.items():
            rng = random.Random(f"{self.seed}:{month}")
            for sent_at in sorted(self._send_times(rng, month, count)):
                yield self._document(rng, index, sent_at)
                index += 1

    def _send_times(self, rng: random.Random, month: str, count: int) -> list[dt.datetime]:
        """Office-hour moments of the month's working days (weekends seldom), from the launch
        day and up to the scenario's end."""
        year, number = int(month[:4]), int(month[5:])
        days = [
            dt.date(year, number, day)
            for day in range(1, calendar.monthrange(year, number)[1] + 1)
            if self.scenario.launch <= dt.date(year, number, day) <= self.scenario.end
        ]
        day_picker = _WeightedPicker(
            days, [_WEEKEND_WEIGHT if d.weekday() >= 5 else 1 for d in days]
        )
        zone = self.scenario.timezone
        times = []
        for _ in range(count):
            day = day_picker.pick(rng)
            seconds = int(rng.triangular(7 * 3600, 17.5 * 3600, 10 * 3600))
            times.append(
                dt.datetime(day.year, day.month, day.day, tzinfo=zone)
                + dt.timedelta(seconds=seconds, microseconds=rng.randrange(1_000_000))
            )
        return times

    def _document(self, rng: random.Random, index: int, sent_at: dt.datetime) -> PlannedDocument:
        sender = self.senders.pick(rng)
        recipients = self._recipients(rng, sender)
        document_type = self.types.pick(rng)
        key = (sender.id, sent_at.year)
        self.numbers[key] = self.numbers.get(key, 0) + 1
        subject = rng.choice(self.scenario.subjects)
        return PlannedDocument(
            index=index,
            sender=sender.id,
            recipients=recipients,
            document_type=document_type,
            urgency=self.urgencies.pick(rng),
            sent_at=sent_at,
            number=str(self.numbers[key]),
            notation=f"{NOTATION_PREFIXES[document_type]}{sender.short}",
            subject=f"{TYPE_LABELS[document_type]} về {subject}",
            attachments=self._attachments(rng, index),
            deliveries=tuple(self._delivery(rng, recipient, sent_at) for recipient in recipients),
        )

    def _recipients(self, rng: random.Random, sender: Agency) -> tuple[str, ...]:
        bucket = self.buckets.pick(rng)
        wanted = rng.randint(bucket.min, bucket.max)
        chosen: dict[str, None] = {}
        while len(chosen) < wanted:
            agency = self.receivers.pick(rng)
            if agency.id != sender.id:
                chosen[agency.id] = None
        return tuple(chosen)

    def _attachments(self, rng: random.Random, index: int) -> tuple[PlannedAttachment, ...]:
        profile = self.scenario.attachments
        planned = []
        for number in range(self.attachment_counts.pick(rng)):
            size = int(rng.lognormvariate(math.log(profile.median_bytes), profile.sigma))
            size = max(1, min(size, profile.max_bytes))
            name = f"van-ban-{index}-{number + 1}.pdf"
            if size <= profile.inline_max_bytes:
                content = rng.randbytes(size)
                digest = hashlib.sha256(content).hexdigest()
            else:
                content = None
                digest = hashlib.sha256(f"{self.seed}:{name}:{size}".encode()).hexdigest()
            planned.append(PlannedAttachment(name, ATTACHMENT_MEDIA_TYPE, size, digest, content))
        return tuple(planned)

    def _delivery(
        self, rng: random.Random, recipient: str, sent_at: dt.datetime
    ) -> PlannedDelivery:
        behaviour = self.scenario.behaviour
        refuse = rng.random() < behaviour.refused_share
        full = not refuse and rng.random() < behaviour.full_lifecycle_share
        arrived = sent_at + dt.timedelta(seconds=_within(rng, behaviour.arrival_delay_s))
        times = [arrived, arrived + dt.timedelta(hours=_within(rng, behaviour.answer_delay_h))]
        if full:
            for _ in range(len(_LIFECYCLE) - 1):
                times.append(times[-1] + dt.timedelta(hours=_within(rng, behaviour.step_delay_h)))
        return PlannedDelivery(recipient, refuse, full, tuple(times))


def _within(rng: random.Random, span: Span) -> float:
    return rng.uniform(span.min, span.max)
