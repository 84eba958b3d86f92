"""Dead letters read from their headers, selected by reason, sender and age, with no I/O.

Two kinds reach a namespace's dead-letter queue (docs/contract.md, section 8):

- the hub's refusals, with ``x-dochub-*`` headers: the reason, the routing key the input came with
  (``x-dochub-kind``), the agency told, the document id claimed, the body's SHA-256;
- what RabbitMQ itself dead-letters (an agency queue's delivery limit spent, a full queue), with
  its ``x-death`` headers: the reason, the queue, the exchange and routing keys it was published
  with, and when it died.

A replay puts a dead letter back where it was going: a refusal (or a message that died in the
ingress queue) into the ingress exchange with its routing key, for the hub to inspect again; a
message that died in an agency's queue straight back into that queue.
"""

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from schemas.agency_id import is_agency_id
from schemas.jws import JwsError, b64url_decode
from schemas.naming import DOCUMENT_MESSAGE_TYPE, STATUS_MESSAGE_TYPE, Names
from schemas.rejection import (
    DETAIL_HEADER,
    DOCUMENT_ID_HEADER,
    KIND_HEADER,
    REASON_HEADER,
    SENDER_HEADER,
    RejectionReason,
)

DEATH_HEADER = "x-death"
REPLAY_HEADER = "x-dochub-replay-of"
"""Set on a replayed message: the SHA-256 of the dead letter's body it replays."""
BROKER_REASONS = ("delivery_limit", "maxlen", "rejected", "expired")
"""Why RabbitMQ dead-letters a message (its ``x-death`` reason)."""
REASONS = tuple(reason.value for reason in RejectionReason) + BROKER_REASONS
FIXABLE_REASONS = frozenset(
    {
        RejectionReason.UNKNOWN_RECIPIENT,
        RejectionReason.UNKNOWN_SENDER,
        RejectionReason.SENDER_MISMATCH,
        RejectionReason.USER_MISMATCH,
        RejectionReason.OVERSIZE,
        RejectionReason.UNKNOWN_DOCUMENT,
    }
)
"""Refusals a fix can undo (an agency or key registered, a user trusted, the limit raised, the
document a receipt is about accepted). The others (bytes that are no signed contract message, an
id reused, a receipt from an agency the document was not addressed to) the hub refuses again, and
a refusal it has counted before it only acks: replayed, such a message would leave the dead-letter
queue for good."""
ID_CHARS = 12
"""A dead letter's id: the first characters of its body's SHA-256."""
_BROKER_ONLY_HEADERS = re.compile(r"^x-(death|first-death-.*|last-death-.*|delivery-count)$")
_DURATION = re.compile(r"(\d+)\s*([smhdw])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


@dataclass(frozen=True, slots=True)
class DeadLetter:
    position: int
    """1 for the message at the head of the queue when it was read."""
    body: bytes
    headers: Mapping[str, Any]
    properties: Mapping[str, Any]
    """The AMQP properties that were set: content_type, message_id, type, timestamp..."""
    origin: Literal["hub", "broker"]
    reason: str
    detail: str
    kind: str
    """The routing key it was first published with."""
    sender: str | None
    """The agency the hub told (a refusal's ``x-dochub-sender``), else the one the body claims to
    come from (its signature not checked)."""
    document_id: str | None
    died_in: str | None
    """The queue RabbitMQ dead-lettered it from; None for a refusal of the hub."""
    died_at: dt.datetime | None
    """When it was dead-lettered, if anything says so."""
    redelivered: int = 0
    """How often the dead-letter queue has delivered it before (browsing counts)."""
    sha256: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha256", hashlib.sha256(self.body).hexdigest())

    @property
    def id(self) -> str:
        return self.sha256[:ID_CHARS]

    @property
    def size(self) -> int:
        return len(self.body)

    def age(self, now: dt.datetime) -> dt.timedelta | None:
        return now - self.died_at if self.died_at is not None else None

    def with_time(self, died_at: dt.datetime | None) -> "DeadLetter":
        if died_at is None or self.died_at is not None:
            return self
        return DeadLetter(
            self.position,
            self.body,
            self.headers,
            self.properties,
            self.origin,
            self.reason,
            self.detail,
            self.kind,
            self.sender,
            self.document_id,
            self.died_in,
            died_at,
            self.redelivered,
        )


@dataclass(frozen=True, slots=True)
class Selection:
    """Which dead letters a command acts on: all of them, unless narrowed. Each filter given must
    hold; a filter on age leaves out a dead letter whose age is unknown."""

    reasons: frozenset[str] = frozenset()
    senders: frozenset[str] = frozenset()
    older_than: dt.timedelta | None = None
    ids: tuple[str, ...] = ()
    """Ids (or their beginnings, at least 4 characters) of single dead letters."""

    def __post_init__(self) -> None:
        unknown = sorted(self.reasons - set(REASONS))
        if unknown:
            raise ValueError(
                f"--reason {unknown[0]!r} is not a reason a dead letter carries: one of "
                f"{', '.join(REASONS)}"
            )
        for sender in sorted(self.senders):
            if not is_agency_id(sender):
                raise ValueError(
                    f"--sender {sender!r} is not an agency id: expected DDD.CC.BB.LNN, e.g. "
                    "000.00.00.G12"
                )
        for wanted in self.ids:
            if not re.fullmatch(r"[0-9a-f]{4,64}", wanted):
                raise ValueError(
                    f"{wanted!r} is not a dead letter's id: 4 to 64 hex digits of its SHA-256, "
                    "as `dochub dlq list` shows"
                )

    @property
    def narrowed(self) -> bool:
        return bool(self.reasons or self.senders or self.older_than is not None or self.ids)

    def matches(self, letter: DeadLetter, now: dt.datetime) -> bool:
        if self.reasons and letter.reason not in self.reasons:
            return False
        if self.senders and letter.sender not in self.senders:
            return False
        if self.ids and not any(letter.sha256.startswith(wanted) for wanted in self.ids):
            return False
        if self.older_than is not None:
            age = letter.age(now)
            if age is None or age < self.older_than:
                return False
        return True

    def describe(self) -> str:
        parts = []
        if self.reasons:
            parts.append("reason " + " or ".join(sorted(self.reasons)))
        if self.senders:
            parts.append("sender " + " or ".join(sorted(self.senders)))
        if self.older_than is not None:
            parts.append(f"older than {format_age(self.older_than)}")
        if self.ids:
            parts.append("id " + " or ".join(self.ids))
        return ", ".join(parts) if parts else "all"


@dataclass(frozen=True, slots=True)
class ReplayTarget:
    exchange: str
    """An exchange name; "" for the default exchange (straight into the queue)."""
    routing_key: str


def read_dead_letter(
    position: int,
    body: bytes,
    headers: Mapping[str, Any] | None,
    properties: Mapping[str, Any],
) -> DeadLetter:
    """A dead letter from its body, headers and AMQP properties, as delivered from the
    dead-letter queue."""
    headers = dict(headers or {})
    redelivered = _int(headers.get("x-delivery-count"))
    timestamp = _time(properties.get("timestamp"))
    claimed = claimed_sender(body)
    reason = _text(headers.get(REASON_HEADER))
    if reason:
        return DeadLetter(
            position,
            body,
            headers,
            properties,
            origin="hub",
            reason=reason,
            detail=_text(headers.get(DETAIL_HEADER)),
            kind=_text(headers.get(KIND_HEADER)),
            sender=_text(headers.get(SENDER_HEADER)) or claimed,
            document_id=_text(headers.get(DOCUMENT_ID_HEADER)) or None,
            died_in=None,
            died_at=timestamp,
            redelivered=redelivered,
        )
    death = _first_death(headers.get(DEATH_HEADER))
    routing_keys = death.get("routing-keys") or []
    queue = _text(death.get("queue")) or None
    return DeadLetter(
        position,
        body,
        headers,
        properties,
        origin="broker",
        reason=_text(death.get("reason")) or "unknown",
        detail=(
            f"dead-lettered by RabbitMQ from {queue or 'a queue'}"
            + (f", {_int(death.get('count'))} times" if _int(death.get("count")) > 1 else "")
        ),
        kind=_text(routing_keys[0]) if routing_keys else "",
        sender=claimed,
        document_id=_claimed_id(body),
        died_in=queue,
        died_at=_time(death.get("time")) or timestamp,
        redelivered=redelivered,
    )


def replayable(letter: DeadLetter) -> bool:
    """Whether a replay can bring ``letter`` anywhere: a refusal a fix can undo, or a message
    RabbitMQ dead-lettered."""
    return letter.origin == "broker" or letter.reason in FIXABLE_REASONS


@dataclass(frozen=True, slots=True)
class InputKey:
    """What the ledger records a replayed document (or receipt) by, once the hub accepted it."""

    kind: Literal["document", "status"]
    id: str
    content_hash: str
    """Hex SHA-256 of the signed payload, as the ledger keeps it."""


def input_key_of(letter: DeadLetter) -> InputKey | None:
    """For a refusal of the hub: the document or receipt its body carries, as the ledger would
    record it; None if the body carries none that can be read."""
    if letter.origin != "hub" or letter.kind not in ("document", "status"):
        return None
    payload = _payload_bytes(letter.body)
    if payload is None:
        return None
    try:
        data = json.loads(payload)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        return None
    kind: Literal["document", "status"] = "document" if letter.kind == "document" else "status"
    return InputKey(kind, str(data["id"]).lower(), hashlib.sha256(payload).hexdigest())


def replay_target(letter: DeadLetter, names: Names) -> ReplayTarget:
    """Where a replay publishes ``letter``: see the module's docstring."""
    if letter.origin == "hub" or letter.died_in in (None, names.ingress_queue):
        return ReplayTarget(names.ingress_exchange, letter.kind)
    assert letter.died_in is not None
    return ReplayTarget("", letter.died_in)


def replay_headers(letter: DeadLetter) -> dict[str, Any]:
    """The headers of a replayed message: those it was published with (a refusal's were not
    kept), without what dead-lettering added, and the SHA-256 of what it replays."""
    kept: dict[str, Any] = {}
    if letter.origin == "broker":
        kept = {
            name: value
            for name, value in letter.headers.items()
            if not _BROKER_ONLY_HEADERS.match(name)
        }
    kept[REPLAY_HEADER] = letter.sha256
    return kept


def replay_type(letter: DeadLetter) -> str | None:
    """The AMQP ``type`` of a replayed message: a refusal's was replaced by the hub."""
    if letter.origin == "broker":
        value = letter.properties.get("type")
        return str(value) if value is not None else None
    return {"document": DOCUMENT_MESSAGE_TYPE, "status": STATUS_MESSAGE_TYPE}.get(letter.kind)


def parse_duration(text: str) -> dt.timedelta:
    """``90s``, ``15m``, ``2h``, ``7d``, ``1w``, or several together (``1h30m``)."""
    cleaned = text.strip().lower()
    parts = _DURATION.findall(cleaned)
    if not cleaned or _DURATION.sub("", cleaned).strip():
        raise ValueError(
            f"--older-than {text!r} is not a duration: expected a number and a unit s, m, h, d "
            "or w, e.g. 30m, 2h, 7d or 1h30m"
        )
    return dt.timedelta(seconds=sum(int(number) * _UNITS[unit] for number, unit in parts))


def format_age(age: dt.timedelta | None) -> str:
    if age is None:
        return "?"
    seconds = max(0, int(age.total_seconds()))
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            whole, rest = divmod(seconds, size)
            smaller = {"d": ("h", 3600), "h": ("m", 60), "m": ("s", 1)}[unit]
            more = rest // smaller[1]
            return f"{whole}{unit}{more}{smaller[0]}" if more else f"{whole}{unit}"
    return f"{seconds}s"


def selected(
    letters: Sequence[DeadLetter], selection: Selection, now: dt.datetime
) -> list[DeadLetter]:
    return [letter for letter in letters if selection.matches(letter, now)]


def claimed_sender(body: bytes) -> str | None:
    """The agency a JWS body's payload says it comes from (a document's sender, a receipt's
    responder), its signature not checked; None if it cannot be read."""
    payload = _payload(body)
    for member in ("sender", "responder"):
        organ = payload.get(member)
        if isinstance(organ, dict) and isinstance(organ.get("id"), str):
            return str(organ["id"])
    return None


def _claimed_id(body: bytes) -> str | None:
    payload = _payload(body)
    if isinstance(payload.get("sender"), dict) and isinstance(payload.get("id"), str):
        return str(payload["id"]).lower()
    document = payload.get("document")
    if isinstance(document, dict) and isinstance(document.get("id"), str):
        return str(document["id"]).lower()
    return None


def _payload(body: bytes) -> dict[str, Any]:
    payload = _payload_bytes(body)
    if payload is None:
        return {}
    try:
        inner = json.loads(payload)
    except ValueError:
        return {}
    return inner if isinstance(inner, dict) else {}


def _payload_bytes(body: bytes) -> bytes | None:
    """The signed bytes of a JWS body, unchecked; None if it is no JWS."""
    try:
        outer = json.loads(body)
        if not isinstance(outer, dict) or not isinstance(outer.get("payload"), str):
            return None
        return b64url_decode(outer["payload"], "payload")
    except (ValueError, JwsError):
        return None


def _first_death(value: object) -> Mapping[str, Any]:
    """The most recent ``x-death`` entry (RabbitMQ puts it first)."""
    if isinstance(value, list | tuple) and value and isinstance(value[0], Mapping):
        return value[0]
    return {}


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def _int(value: object) -> int:
    if isinstance(value, int | float | str):
        try:
            return int(value)
        except ValueError:
            return 0
    return 0


def _time(value: object) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    if isinstance(value, int | float) and value > 0:
        return dt.datetime.fromtimestamp(value, dt.UTC)
    return None
