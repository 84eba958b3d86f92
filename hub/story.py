"""One document's story, and finding documents, read from a hub's ledger without changing it.

A document's story: when the hub accepted it (its sender, when), its delivery to each recipient
(the hub publishes to all recipients at once, so each delivery's time is the document's routing),
every receipt about it with its code, responder and time, and every refusal of an input that
claimed its id, with the reason.

The ledger is opened read-only (a ``file:...?mode=ro`` URI, immutable when no hub writes it), as
``open_ledger(..., read_only=True)`` opens it: nothing in the file or beside it changes.
"""

import datetime as dt
import sqlite3
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from hub.errors import ConfigurationError, LedgerError
from hub.sqlite_ledger import DEFAULT_BUSY_TIMEOUT_S, sqlite_path
from hub.sqlite_thread import SqliteThread
from schemas.receipt import StatusCode

DEFAULT_UTC_OFFSET_HOURS = 7
"""The hub's statistics offset by default (Vietnam, UTC+7): times are shown in it."""

ROUTED = "routed"
IN_FLIGHT = "in_flight"
REFUSED = "refused"
STATUS_WORDS = (REFUSED, IN_FLIGHT, ROUTED)
"""The statuses of a document that no recipient has answered yet (or that was never accepted)."""
STATUS_CODES = tuple(code.value for code in StatusCode)
MEANINGS: dict[str, str] = {
    "01": "arrived",
    "02": "refused",
    "03": "accepted",
    "04": "assigned",
    "05": "being processed",
    "06": "completed",
    "13": "recall requested",
    "15": "recall agreed",
    "16": "recall refused",
}
STATUS_HELP = (
    "refused (never accepted, only refused), in_flight (accepted, not yet routed), routed "
    "(routed, no receipt yet), or a status code 01-16: the latest receipt any recipient sent"
)
_CHUNK = 500
_FIX = "give --ledger-url (DOCHUB_LEDGER_URL) the ledger of a hub that has run"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True)


class Delivery(_Model):
    recipient: str
    delivered_at: dt.datetime | None
    """When the broker confirmed the document in the recipient's inbox; None while in flight."""
    latest_code: str | None
    """The latest status code this recipient sent about the document."""


class Receipt(_Model):
    receipt_id: str
    responder: str
    code: str
    meaning: str
    at: dt.datetime | None
    """When the step happened, as the responder's receipt says; None for a further receipt of a
    step already counted (the ledger keeps the time of the step's first receipt)."""
    recorded_at: dt.datetime
    relayed_at: dt.datetime | None
    """When the broker confirmed it in the sender's status queue; None while in flight."""
    counted: bool
    """Whether this receipt is the one its lifecycle step (document, responder, code) is counted
    by: each step is counted once, however many receipts report it."""


class Refusal(_Model):
    reason: str
    detail: str
    kind: str
    """The routing key the refused input came with: document, status, or another."""
    told: str | None
    """The agency told with a status 02, if any."""
    input_sha256: str
    received_at: dt.datetime
    dead_lettered_at: dt.datetime | None


class StoryEvent(_Model):
    at: dt.datetime
    event: Literal["accepted", "delivered", "receipt", "refused"]
    agency: str | None
    detail: str


class DocumentStory(_Model):
    document_id: str
    status: str
    """See ``STATUS_HELP``."""
    sender: str | None
    """The accepted document's sender; for one only refused, the agency told, if any."""
    document_type: str | None
    urgency: int | None
    sent_at: dt.datetime | None
    """When the sender says it sent the document."""
    accepted_at: dt.datetime | None
    routed_at: dt.datetime | None
    deliveries: list[Delivery]
    receipts: list[Receipt]
    refusals: list[Refusal]
    timeline: list[StoryEvent]
    """Everything above in the order it happened."""


class DocumentSummary(_Model):
    document_id: str
    status: str
    sender: str | None
    recipients: int
    receipts: int
    """Lifecycle steps recorded (document, responder, code)."""
    accepted_at: dt.datetime | None
    """When the hub accepted it; for a document only refused, when it was first refused."""
    routed_at: dt.datetime | None


def status_words(status: str) -> str:
    """A status for people: a code with its meaning (``03 accepted``), a word as it is."""
    meaning = MEANINGS.get(status)
    return f"{status} {meaning}" if meaning else status.replace("_", " ")


def document_id_of(text: str) -> str:
    """A document id as the ledger writes it (a lower-case UUID); ``ValueError`` if not one."""
    return str(UUID(text.strip()))


async def document_story(
    ledger_url: str, document_id: str, utc_offset_hours: int = DEFAULT_UTC_OFFSET_HOURS
) -> DocumentStory | None:
    """The story of ``document_id`` (any UUID spelling), or None if the ledger knows nothing of
    it. ``ValueError`` for an id that is not a UUID; ``LedgerError`` for a ledger that cannot be
    read. Times are given at ``utc_offset_hours`` from UTC."""
    key = document_id_of(document_id)
    offset = dt.timezone(dt.timedelta(hours=utc_offset_hours))
    async with _reading(ledger_url) as db:
        documents = await _rows(
            db,
            "SELECT sender, document_type, urgency, sent_at, accepted_at, routed_at "
            "FROM documents WHERE id = ?",
            key,
        )
        deliveries = await _rows(
            db, "SELECT recipient FROM deliveries WHERE document_id = ? ORDER BY recipient", key
        )
        receipts = await _rows(
            db,
            "SELECT r.id, r.responder, r.code, s.at, r.recorded_at, r.relayed_at, "
            "s.receipt_id IS NOT NULL FROM receipts r LEFT JOIN status_steps s "
            "ON s.document_id = r.document_id AND s.responder = r.responder AND s.code = r.code "
            "AND s.receipt_id = r.id WHERE r.document_id = ?",
            key,
        )
        refusals = await _rows(
            db,
            "SELECT reason, detail, kind, sender, input_key, received_at, dead_lettered_at "
            "FROM refusals WHERE document_id = ? ORDER BY received_at, input_key",
            key,
        )
    if not documents and not receipts and not refusals:
        return None
    document = documents[0] if documents else None
    routed_at = _time(document[5], offset) if document else None
    found_receipts = _in_order(
        Receipt(
            receipt_id=str(receipt_id),
            responder=str(responder),
            code=str(code),
            meaning=MEANINGS.get(str(code), "unknown code"),
            at=_time(at, offset),
            recorded_at=_required_time(recorded_at, offset),
            relayed_at=_time(relayed_at, offset),
            counted=bool(counted),
        )
        for receipt_id, responder, code, at, recorded_at, relayed_at, counted in receipts
    )
    latest = _latest_codes(found_receipts)
    found_refusals = [
        Refusal(
            reason=str(reason),
            detail=str(detail),
            kind=str(kind),
            told=str(told) if told else None,
            input_sha256=str(input_key),
            received_at=_required_time(received_at, offset),
            dead_lettered_at=_time(dead_lettered_at, offset),
        )
        for reason, detail, kind, told, input_key, received_at, dead_lettered_at in refusals
    ]
    found_deliveries = [
        Delivery(
            recipient=str(recipient), delivered_at=routed_at, latest_code=latest.get(recipient)
        )
        for (recipient,) in deliveries
    ]
    accepted_at = _time(document[4], offset) if document else None
    story = DocumentStory(
        document_id=key,
        status=_status(
            accepted=document is not None,
            routed=routed_at is not None,
            latest_code=_latest_code(found_receipts),
        ),
        sender=str(document[0]) if document else _told(found_refusals),
        document_type=str(document[1]) if document else None,
        urgency=int(document[2]) if document else None,
        sent_at=_time(document[3], offset) if document else None,
        accepted_at=accepted_at,
        routed_at=routed_at,
        deliveries=found_deliveries,
        receipts=found_receipts,
        refusals=found_refusals,
        timeline=[],
    )
    return story.model_copy(update={"timeline": _timeline(story)})


async def find_documents(
    ledger_url: str,
    sender: str | None,
    since: dt.datetime | None,
    status: str | None,
    limit: int,
    utc_offset_hours: int = DEFAULT_UTC_OFFSET_HOURS,
) -> list[DocumentSummary]:
    """The latest documents first (by when the hub accepted or first refused them), at most
    ``limit``: those ``sender`` sent, accepted (or refused) at or after ``since`` (an aware
    datetime), whose status is ``status`` (see ``STATUS_HELP``). ``ValueError`` for a status or
    a ``since`` that cannot be used."""
    if status is not None and status not in STATUS_WORDS + STATUS_CODES:
        raise ValueError(f"status {status!r} is not one of: {STATUS_HELP}")
    if since is not None and since.tzinfo is None:
        raise ValueError("since must say its offset from UTC")
    if limit < 1:
        raise ValueError("limit must be at least 1")
    offset = dt.timezone(dt.timedelta(hours=utc_offset_hours))
    since_text = since.astimezone(dt.UTC).isoformat() if since is not None else None
    found: list[DocumentSummary] = []
    async with _reading(ledger_url) as db:
        if status != REFUSED:
            found += await _accepted(db, sender, since_text, status, limit, offset)
        if status in (None, REFUSED):
            found += await _only_refused(db, sender, since_text, limit, offset)
    found.sort(key=lambda summary: (summary.accepted_at is not None, summary.accepted_at))
    return list(reversed(found))[:limit]


async def _accepted(
    db: SqliteThread,
    sender: str | None,
    since: str | None,
    status: str | None,
    limit: int,
    offset: dt.timezone,
) -> list[DocumentSummary]:
    where, params = _conditions(("d.sender", sender), ("d.accepted_at >=", since))
    outer: list[str] = []
    if status == IN_FLIGHT:
        outer.append("routed_at IS NULL")
    elif status == ROUTED:
        outer.append("routed_at IS NOT NULL AND latest_code IS NULL")
    elif status is not None:
        outer.append("latest_code = ?")
        params.append(status)
    inner = (
        "SELECT d.id, d.sender, d.recipient_count, d.accepted_at, d.routed_at, "
        "(SELECT s.code FROM status_steps s WHERE s.document_id = d.id "
        "ORDER BY s.at DESC, s.recorded_at DESC LIMIT 1) AS latest_code, "
        "(SELECT count(*) FROM status_steps s WHERE s.document_id = d.id) AS steps "
        "FROM documents d "
    )
    filtered = f"WHERE {' AND '.join(outer)} " if outer else ""
    sql = f"SELECT * FROM ({inner}{where}) {filtered}ORDER BY accepted_at DESC LIMIT ?"  # noqa: S608 - fixed fragments, values bound
    rows = await db.fetchall(sql, [*params, limit])
    return [
        DocumentSummary(
            document_id=str(document_id),
            status=_status(accepted=True, routed=routed_at is not None, latest_code=latest),
            sender=str(document_sender),
            recipients=int(recipients),
            receipts=int(steps),
            accepted_at=_time(accepted_at, offset),
            routed_at=_time(routed_at, offset),
        )
        for document_id, document_sender, recipients, accepted_at, routed_at, latest, steps in rows
    ]


async def _only_refused(
    db: SqliteThread,
    sender: str | None,
    since: str | None,
    limit: int,
    offset: dt.timezone,
) -> list[DocumentSummary]:
    """Document ids that inputs claimed and the hub refused, and never accepted."""
    rows = await db.fetchall(
        "SELECT document_id, max(sender), min(received_at) FROM refusals r "
        "WHERE document_id IS NOT NULL AND document_id != '' "
        "AND NOT EXISTS (SELECT 1 FROM documents d WHERE d.id = r.document_id) "
        "GROUP BY document_id "
        "HAVING (? IS NULL OR max(sender) = ?) AND (? IS NULL OR min(received_at) >= ?) "
        "ORDER BY min(received_at) DESC LIMIT ?",
        [sender, sender, since, since, limit],
    )
    return [
        DocumentSummary(
            document_id=str(document_id),
            status=REFUSED,
            sender=str(told) if told else None,
            recipients=0,
            receipts=0,
            accepted_at=_time(first, offset),
            routed_at=None,
        )
        for document_id, told, first in rows
    ]


async def refusal_times(ledger_url: str, input_sha256s: Sequence[str]) -> dict[str, dt.datetime]:
    """When the hub dead-lettered each refused input (by the SHA-256 of its body) that the ledger
    records: when it recorded the refusal, if the dead-lettering is not confirmed yet."""
    times: dict[str, dt.datetime] = {}
    wanted = sorted(set(input_sha256s))
    async with _reading(ledger_url) as db:
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            columns = "input_key, coalesce(dead_lettered_at, received_at)"
            sql = f"SELECT {columns} FROM refusals WHERE input_key IN ({marks})"  # noqa: S608
            rows = await db.fetchall(sql, chunk)
            for key, at in rows:
                moment = _time(at, dt.UTC)
                if moment is not None:
                    times[str(key)] = moment
    return times


async def accepted_inputs(
    ledger_url: str, inputs: Collection[tuple[str, str, str]]
) -> set[tuple[str, str, str]]:
    """Which of ``inputs`` (kind ``document`` or ``status``, id, hex SHA-256 of the signed
    payload) the hub has accepted with that content and finished routing: a document routed, a
    receipt relayed."""
    found: set[tuple[str, str, str]] = set()
    tables = {"document": ("documents", "routed_at"), "status": ("receipts", "relayed_at")}
    async with _reading(ledger_url) as db:
        for kind, (table, done) in tables.items():
            wanted = sorted({(i, digest) for k, i, digest in inputs if k == kind})
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                marks = ", ".join("?" * len(chunk))
                where = f"{done} IS NOT NULL AND id IN ({marks})"
                sql = f"SELECT id, content_hash FROM {table} WHERE {where}"  # noqa: S608
                rows = await db.fetchall(sql, [i for i, _ in chunk])
                recorded = {(str(i), str(digest)) for i, digest in rows}
                found |= {(kind, i, digest) for i, digest in chunk if (i, digest) in recorded}
    return found


def _conditions(*pairs: tuple[str, str | None]) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column, value in pairs:
        if value is not None:
            clauses.append(f"{column} ?" if column.endswith((">=", "<=")) else f"{column} = ?")
            params.append(value)
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


def _status(*, accepted: bool, routed: bool, latest_code: str | None) -> str:
    if not accepted:
        return REFUSED
    if latest_code is not None:
        return latest_code
    return ROUTED if routed else IN_FLIGHT


def _latest_code(receipts: Sequence[Receipt]) -> str | None:
    ordered = _by_time(receipts)
    return ordered[-1].code if ordered else None


def _latest_codes(receipts: Sequence[Receipt]) -> dict[str, str]:
    return {receipt.responder: receipt.code for receipt in _by_time(receipts)}


def _by_time(receipts: Sequence[Receipt]) -> list[Receipt]:
    """Counted steps in the order they happened (by the responder's time, then recording)."""
    counted = [receipt for receipt in receipts if receipt.counted]
    return sorted(counted, key=lambda r: (r.at or r.recorded_at, r.recorded_at))


def _in_order(receipts: Iterable[Receipt]) -> list[Receipt]:
    """By when each step happened (a further receipt of a step: when recorded), then recorded."""
    return sorted(receipts, key=lambda r: (r.at or r.recorded_at, r.recorded_at, r.receipt_id))


def _told(refusals: Sequence[Refusal]) -> str | None:
    return next((refusal.told for refusal in refusals if refusal.told), None)


def _timeline(story: DocumentStory) -> list[StoryEvent]:
    events: list[StoryEvent] = []
    if story.accepted_at is not None:
        events.append(
            StoryEvent(
                at=story.accepted_at,
                event="accepted",
                agency=story.sender,
                detail=f"from {story.sender}, to {len(story.deliveries)} recipients",
            )
        )
    for delivery in story.deliveries:
        if delivery.delivered_at is not None:
            events.append(
                StoryEvent(
                    at=delivery.delivered_at,
                    event="delivered",
                    agency=delivery.recipient,
                    detail=f"in the inbox of {delivery.recipient}",
                )
            )
    for receipt in story.receipts:
        counted = "" if receipt.counted else " (a further receipt of a step already counted)"
        events.append(
            StoryEvent(
                at=receipt.at or receipt.recorded_at,
                event="receipt",
                agency=receipt.responder,
                detail=f"{receipt.code} {receipt.meaning} from {receipt.responder}{counted}",
            )
        )
    for refusal in story.refusals:
        events.append(
            StoryEvent(
                at=refusal.received_at,
                event="refused",
                agency=refusal.told,
                detail=f"{refusal.reason}: {refusal.detail}",
            )
        )
    order = {"refused": 0, "accepted": 1, "delivered": 2, "receipt": 3}
    return sorted(events, key=lambda event: (event.at, order[event.event]))


def _time(text: object, offset: dt.timezone) -> dt.datetime | None:
    if text is None or text == "":
        return None
    moment = dt.datetime.fromisoformat(str(text))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(offset)


def _required_time(text: object, offset: dt.timezone) -> dt.datetime:
    moment = _time(text, offset)
    if moment is None:
        raise LedgerError(f"the ledger holds a record without its time ({text!r})")
    return moment


async def _rows(db: SqliteThread, sql: str, *params: Any) -> list[Any]:
    return await db.fetchall(sql, params)


@asynccontextmanager
async def _reading(ledger_url: str) -> AsyncIterator[SqliteThread]:
    """A read-only connection to the ledger, in one read transaction (every query sees the same
    state); ``LedgerError`` for a ledger that is missing or cannot be read."""
    if not ledger_url.startswith("sqlite:"):
        raise ConfigurationError(f"unknown ledger URL {ledger_url!r}: expected sqlite:///PATH")
    path = sqlite_path(ledger_url)
    uri = _read_only_uri(path, ledger_url)
    try:
        db = await SqliteThread.connect(uri)
    except sqlite3.Error as exc:
        raise LedgerError(f"cannot open the ledger {path} ({exc}): {_FIX}") from exc
    try:
        await db.execute(f"PRAGMA busy_timeout={round(DEFAULT_BUSY_TIMEOUT_S * 1000)}")
        tables = await db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")
        if "documents" not in {str(name) for (name,) in tables}:
            raise LedgerError(f"{path} holds no DocHub ledger (no documents table): {_FIX}")
        await db.execute("BEGIN")
        yield db
    except sqlite3.Error as exc:
        raise LedgerError(f"cannot read the ledger {path} ({exc}): {_FIX}") from exc
    finally:
        with suppress(sqlite3.Error):
            await db.execute("ROLLBACK")
        with suppress(sqlite3.Error):
            await db.close()


def _read_only_uri(path: str, ledger_url: str) -> str:
    if path == ":memory:" or not Path(path).is_file():
        raise LedgerError(f"no ledger at {ledger_url}: {_FIX}")
    uri = f"{Path(path).absolute().as_uri()}?mode=ro"
    # No -wal or -journal beside it: no process writes it, so it is read as immutable and SQLite
    # leaves no -wal or -shm of its own (as SqliteLedger.open_read_only does).
    if not any(Path(f"{path}{suffix}").exists() for suffix in ("-wal", "-journal")):
        uri += "&immutable=1"
    return uri
