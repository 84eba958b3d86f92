"""The SQLite ledger: one file, one writer, every batch in one transaction.

Whatever keeps SQLite from answering (another process's lock, a file made read-only, a full disk)
comes out as a ``LedgerError`` naming the file, so that the hub can wait for the ledger and the
command line can say what is wrong in one line.
"""

import datetime as dt
import os
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from hub.errors import ConfigurationError, LedgerError
from hub.inspection import DocumentInput, ReceiptInput, Refusal, Verdict
from hub.ledger import Admitted, Completion, Disposition, StepKey, Totals, stats_day
from hub.periods import DayCounts
from hub.sqlite_thread import SqliteThread
from schemas.naming import DOCUMENT_ROUTING_KEY, STATUS_ROUTING_KEY
from schemas.rejection import RejectionReason

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id TEXT PRIMARY KEY,
    sender TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    document_type TEXT NOT NULL,
    urgency INTEGER NOT NULL,
    business_kind INTEGER NOT NULL,
    recipient_count INTEGER NOT NULL,
    sent_at TEXT NOT NULL,
    sent_day TEXT NOT NULL,
    accepted_at TEXT NOT NULL,
    routed_at TEXT
);
CREATE INDEX IF NOT EXISTS documents_by_day ON documents (sent_day);
CREATE TABLE IF NOT EXISTS deliveries (
    document_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    sent_day TEXT NOT NULL,
    PRIMARY KEY (document_id, recipient)
);
CREATE TABLE IF NOT EXISTS status_steps (
    document_id TEXT NOT NULL,
    responder TEXT NOT NULL,
    code TEXT NOT NULL,
    receipt_id TEXT NOT NULL,
    at TEXT NOT NULL,
    day TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    relayed_at TEXT,
    PRIMARY KEY (document_id, responder, code)
);
CREATE TABLE IF NOT EXISTS receipts (
    id TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    document_id TEXT NOT NULL,
    responder TEXT NOT NULL,
    code TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    relayed_at TEXT
);
CREATE TABLE IF NOT EXISTS refusals (
    input_key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    sender TEXT,
    document_id TEXT,
    received_at TEXT NOT NULL,
    dead_lettered_at TEXT
);
"""

LEDGER_TABLES = ("documents", "deliveries", "status_steps", "receipts", "refusals")
DEFAULT_BUSY_TIMEOUT_S = 2.0
"""How long a statement waits for another process's lock before the ledger reports itself
unavailable (and the hub retries): short, so that a hub waiting for its ledger stops promptly."""
_COMPANIONS = ("-wal", "-shm")
_FIX = "give --ledger-url (DOCHUB_LEDGER_URL) a DocHub ledger, or a new file to start one"
_FIX_READING = "give --ledger-url (DOCHUB_LEDGER_URL) the ledger of a hub that has run"
_CHUNK = 500
T = TypeVar("T")
_INSERT_DOCUMENT = (
    "INSERT INTO documents (id, sender, content_hash, document_type, urgency, business_kind, "
    "recipient_count, sent_at, sent_day, accepted_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_DELIVERY = "INSERT INTO deliveries (document_id, recipient, sent_day) VALUES (?, ?, ?)"
_INSERT_STEP = (
    "INSERT INTO status_steps (document_id, responder, code, receipt_id, at, day, recorded_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_RECEIPT = (
    "INSERT INTO receipts (id, content_hash, document_id, responder, code, recorded_at) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)
_INSERT_REFUSAL = (
    "INSERT INTO refusals (input_key, kind, reason, detail, sender, document_id, received_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)


@dataclass(slots=True)
class _KnownDocument:
    sender: str
    content_hash: str
    routed: bool
    recipients: set[str]
    seen_in_batch: bool


@dataclass(slots=True)
class _KnownReceipt:
    content_hash: str
    relay_to: str
    disposition: Disposition


def sqlite_path(ledger_url: str) -> str:
    """The file of a ``sqlite:///path`` URL (``sqlite:////abs/path`` for an absolute one)."""
    prefix = "sqlite:///"
    if not ledger_url.startswith(prefix) or len(ledger_url) == len(prefix):
        raise ConfigurationError(
            f"not a SQLite ledger URL: {ledger_url!r} (expected sqlite:///PATH)"
        )
    return ledger_url[len(prefix) :]


class SqliteLedger:
    """Each call is one transaction, run whole on the connection's thread."""

    def __init__(
        self, db: SqliteThread, utc_offset: dt.timedelta, path: str, *, writer: bool
    ) -> None:
        self._db = db
        self._offset = utc_offset
        self._path = path
        self._writer = writer and path != ":memory:"

    @classmethod
    async def open(
        cls,
        ledger_url: str,
        utc_offset: dt.timedelta,
        *,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
    ) -> "SqliteLedger":
        """The hub's ledger, made if it does not exist: refused if the file is something else
        (not SQLite, or another application's database), never changed then."""
        path = sqlite_path(ledger_url)
        if path != ":memory:":
            _make_folder(path)
            _check_writable(path)
        db = await _connect(path, path, busy_timeout_s, fix=_FIX)
        async with _closed_on_failure(db, path, _FIX):
            tables = await _tables(db)
            foreign = sorted(tables - set(LEDGER_TABLES))
            if foreign and "documents" not in tables:
                raise LedgerError(
                    f"{path} is another application's SQLite database (tables "
                    f"{', '.join(foreign[:5])}), not a DocHub ledger: {_FIX}; it was not changed"
                )
            await db.run(_prepare)
        return cls(db, utc_offset, path, writer=True)

    @classmethod
    async def open_read_only(
        cls,
        ledger_url: str,
        utc_offset: dt.timedelta,
        *,
        busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S,
    ) -> "SqliteLedger":
        """A hub's ledger for reading, which creates, converts and writes nothing: not the file,
        not a table, not the journal mode. Its writes fail."""
        path = sqlite_path(ledger_url)
        if _is_empty_file(path):
            # SQLite, even read-only, would take an empty file for a new database and drop a
            # -wal beside it.
            raise LedgerError(f"{path} holds no DocHub ledger (it is empty): {_FIX_READING}")
        uri = _read_only_uri(path, ledger_url)
        db = await _connect(uri, path, busy_timeout_s, fix=_FIX_READING)
        async with _closed_on_failure(db, path, _FIX_READING):
            if "documents" not in await _tables(db):
                raise LedgerError(
                    f"{path} holds no DocHub ledger (no documents table): {_FIX_READING}"
                )
        return cls(db, utc_offset, path, writer=False)

    async def close(self) -> None:
        async with self._answering():
            await self._db.close()

    async def admit(self, verdicts: Sequence[Verdict]) -> list[Admitted]:
        return await self._transaction(partial(self._admit, verdicts=verdicts))

    async def complete(self, completion: Completion) -> None:
        if completion:
            await self._transaction(partial(_complete, completion=completion, now=_utc_now()))

    async def totals(self) -> Totals:
        return await self._snapshot(_totals)

    async def day_counts(self, agency_id: str | None = None) -> DayCounts:
        """Per day: documents sent, deliveries made and status steps recorded; for one agency,
        the documents it sent, the deliveries it received and the receipts it issued."""
        return await self._snapshot(partial(_day_counts, agency_id=agency_id))

    def _transaction(self, work: Callable[[sqlite3.Connection], T]) -> Awaitable[T]:
        """``work`` in one write transaction, committed at its end, rolled back on any error."""
        return self._answered(partial(self._in_transaction, work=work, write=True))

    def _snapshot(self, work: Callable[[sqlite3.Connection], T]) -> Awaitable[T]:
        """``work`` in one read transaction: every query sees the same state of the ledger."""
        return self._answered(partial(self._in_transaction, work=work, write=False))

    def _in_transaction(
        self, db: sqlite3.Connection, *, work: Callable[[sqlite3.Connection], T], write: bool
    ) -> T:
        self._check_files()
        db.execute("BEGIN IMMEDIATE" if write else "BEGIN")
        try:
            result = work(db)
            if write:
                db.execute("COMMIT")
            return result
        finally:
            if db.in_transaction:  # a read, or a write that failed (at its COMMIT too)
                with suppress(sqlite3.Error):
                    db.execute("ROLLBACK")

    async def _answered(self, work: Callable[[sqlite3.Connection], T]) -> T:
        async with self._answering():
            return await self._db.run(work)

    @asynccontextmanager
    async def _answering(self) -> AsyncIterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            if isinstance(exc, _BUGS):
                raise
            raise LedgerError(_described(self._path, exc)) from exc

    def _check_files(self) -> None:
        """Refuse before SQLite touches a file it cannot write. Its -shm file is memory-mapped:
        once made immutable, the kernel answers the next write to the mapping with SIGBUS, which
        kills the process without a word."""
        if self._writer:
            _check_writable(self._path)

    def _admit(self, db: sqlite3.Connection, verdicts: Sequence[Verdict]) -> list[Admitted]:
        documents = [v for v in verdicts if isinstance(v, DocumentInput)]
        receipts = [v for v in verdicts if isinstance(v, ReceiptInput)]
        receipt_documents = {
            str(v.receipt.document.id) for v in receipts if v.receipt.document is not None
        }
        known = _known_documents(db, {str(v.envelope.id) for v in documents} | receipt_documents)
        _load_recipients(db, known, receipt_documents)
        steps = _known_steps(db, receipt_documents)
        known_receipts = _known_receipts(db, {str(v.receipt.id) for v in receipts})
        refused = _known_refusals(db, {v.input_key for v in verdicts})
        now = _utc_now()
        document_rows: list[tuple[Any, ...]] = []
        delivery_rows: list[tuple[Any, ...]] = []
        step_rows: list[tuple[Any, ...]] = []
        receipt_rows: list[tuple[Any, ...]] = []
        refusal_rows: list[tuple[Any, ...]] = []
        admitted: list[Admitted] = []

        def refuse(refusal: Refusal) -> Admitted:
            earlier = refused.get(refusal.input_key)
            refused[refusal.input_key] = Disposition.DONE
            if earlier is not None:
                return Admitted(refusal, earlier)
            sender = refusal.notify
            document_id = str(refusal.document.id) if refusal.document else None
            refusal_rows.append(
                (
                    refusal.input_key,
                    refusal.kind,
                    refusal.reason.value,
                    refusal.detail[:2000],
                    sender,
                    document_id,
                    now,
                )
            )
            return Admitted(refusal, Disposition.NEW)

        for verdict in verdicts:
            if isinstance(verdict, Refusal):
                admitted.append(refuse(verdict))
            elif isinstance(verdict, DocumentInput):
                envelope = verdict.envelope
                document_id = str(envelope.id)
                existing = known.get(document_id)
                if existing is None:
                    day = stats_day(envelope.sent_at, self._offset)
                    recipients = envelope.recipient_ids
                    document_rows.append(
                        (
                            document_id,
                            envelope.sender.id,
                            verdict.content_hash,
                            envelope.document_type.value,
                            int(envelope.urgency),
                            int(envelope.business.kind),
                            len(recipients),
                            envelope.sent_at.isoformat(),
                            day,
                            now,
                        )
                    )
                    delivery_rows.extend((document_id, agency, day) for agency in recipients)
                    known[document_id] = _KnownDocument(
                        envelope.sender.id, verdict.content_hash, False, set(recipients), True
                    )
                    admitted.append(Admitted(verdict, Disposition.NEW))
                elif existing.content_hash != verdict.content_hash:
                    admitted.append(
                        refuse(
                            Refusal(
                                verdict.input_key,
                                DOCUMENT_ROUTING_KEY,
                                RejectionReason.ID_CONFLICT,
                                f"document {document_id} was accepted earlier with other content",
                                envelope.sender.id,
                                envelope.reference(),
                            )
                        )
                    )
                elif existing.routed or existing.seen_in_batch:
                    admitted.append(Admitted(verdict, Disposition.DONE))
                else:
                    existing.seen_in_batch = True
                    admitted.append(Admitted(verdict, Disposition.PENDING))
            else:
                admitted.append(
                    self._admit_receipt(
                        verdict, known, known_receipts, steps, step_rows, receipt_rows, refuse, now
                    )
                )

        for insert, rows in (
            (_INSERT_DOCUMENT, document_rows),
            (_INSERT_DELIVERY, delivery_rows),
            (_INSERT_STEP, step_rows),
            (_INSERT_RECEIPT, receipt_rows),
            (_INSERT_REFUSAL, refusal_rows),
        ):
            if rows:
                db.executemany(insert, rows)
        return admitted

    def _admit_receipt(
        self,
        verdict: ReceiptInput,
        known: dict[str, _KnownDocument],
        known_receipts: dict[str, _KnownReceipt],
        steps: set[StepKey],
        step_rows: list[tuple[Any, ...]],
        receipt_rows: list[tuple[Any, ...]],
        refuse: Callable[[Refusal], Admitted],
        now: str,
    ) -> Admitted:
        """A receipt is relayed once per receipt id; its lifecycle step (document, responder,
        code) is counted once, however many receipts report it."""
        receipt = verdict.receipt
        assert receipt.responder is not None  # inspection refuses hub-only receipts
        assert receipt.document is not None  # and a receipt from an agency names its document
        receipt_id = str(receipt.id)
        earlier = known_receipts.get(receipt_id)
        if earlier is not None:
            if earlier.content_hash != verdict.content_hash:
                detail = f"receipt {receipt_id} was recorded earlier with other content"
                return refuse(
                    Refusal(
                        verdict.input_key, STATUS_ROUTING_KEY, RejectionReason.ID_CONFLICT, detail
                    )
                )
            disposition = earlier.disposition
            earlier.disposition = Disposition.DONE
            return Admitted(verdict, disposition, earlier.relay_to)
        document_id = str(receipt.document.id)
        existing = known.get(document_id)
        problem = _receipt_problem(receipt.responder.id, receipt.document.sender, existing)
        if problem is not None:
            reason, detail = problem
            return refuse(Refusal(verdict.input_key, STATUS_ROUTING_KEY, reason, detail))
        assert existing is not None
        receipt_rows.append(
            (
                receipt_id,
                verdict.content_hash,
                document_id,
                receipt.responder.id,
                receipt.code.value,
                now,
            )
        )
        known_receipts[receipt_id] = _KnownReceipt(
            verdict.content_hash, existing.sender, Disposition.DONE
        )
        step: StepKey = (document_id, receipt.responder.id, receipt.code.value)
        if step not in steps:
            step_rows.append(
                (
                    *step,
                    receipt_id,
                    receipt.timestamp.isoformat(),
                    stats_day(receipt.timestamp, self._offset),
                    now,
                )
            )
            steps.add(step)
        return Admitted(verdict, Disposition.NEW, existing.sender)


def _prepare(db: sqlite3.Connection) -> None:
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.executescript(SCHEMA)


def _totals(db: sqlite3.Connection) -> Totals:
    accepted, routed, recipients_sum = _one(
        db,
        "SELECT count(*), count(routed_at), coalesce(sum(recipient_count), 0) FROM documents",
    )
    (deliveries,) = _one(db, "SELECT count(*) FROM deliveries")
    (receipts,) = _one(db, "SELECT count(*) FROM status_steps")
    receipt_messages, relayed = _one(db, "SELECT count(*), count(relayed_at) FROM receipts")
    rejected, dead_lettered = _one(db, "SELECT count(*), count(dead_lettered_at) FROM refusals")
    return Totals(
        accepted=accepted,
        routed=routed,
        recipients_sum=recipients_sum,
        deliveries=deliveries,
        receipts=receipts,
        receipt_messages=receipt_messages,
        relayed=relayed,
        rejected=rejected,
        dead_lettered=dead_lettered,
        documents_by_sender=_grouped(db, "documents", "sender"),
        deliveries_by_recipient=_grouped(db, "deliveries", "recipient"),
        receipts_by_responder=_grouped(db, "status_steps", "responder"),
        rejected_by_reason=_grouped(db, "refusals", "reason"),
    )


def _complete(db: sqlite3.Connection, *, completion: Completion, now: str) -> None:
    for update, values in (
        (
            "UPDATE documents SET routed_at = ? WHERE routed_at IS NULL AND id IN",
            [str(document) for document in completion.documents],
        ),
        (
            "UPDATE receipts SET relayed_at = ? WHERE relayed_at IS NULL AND id IN",
            completion.receipts,
        ),
        (
            "UPDATE refusals SET dead_lettered_at = ? WHERE dead_lettered_at IS NULL "
            "AND input_key IN",
            completion.refusals,
        ),
    ):
        for chunk in _chunks(sorted(values)):
            db.execute(f"{update} ({_marks(chunk)})", [now, *chunk])


def _day_counts(db: sqlite3.Connection, *, agency_id: str | None) -> DayCounts:
    where_sender, where_recipient, where_responder = (
        ("WHERE sender = ?", "WHERE recipient = ?", "WHERE responder = ?")
        if agency_id is not None
        else ("", "", "")
    )
    params = [agency_id] if agency_id is not None else []
    return DayCounts(
        documents=_per_day(db, "documents", "sent_day", where_sender, params),
        deliveries=_per_day(db, "deliveries", "sent_day", where_recipient, params),
        receipts=_per_day(db, "status_steps", "day", where_responder, params),
    )


def _select_in(db: sqlite3.Connection, select: str, values: Iterable[str]) -> list[Any]:
    """The rows of ``select``, a query ending in ``IN``, for all ``values``: in chunks, under
    SQLite's limit of bound parameters."""
    rows: list[Any] = []
    for chunk in _chunks(sorted(values)):
        rows += db.execute(f"{select} ({_marks(chunk)})", chunk).fetchall()
    return rows


def _known_receipts(db: sqlite3.Connection, ids: set[str]) -> dict[str, "_KnownReceipt"]:
    rows = _select_in(
        db,
        "SELECT r.id, r.content_hash, d.sender, r.relayed_at FROM receipts r "
        "JOIN documents d ON d.id = r.document_id WHERE r.id IN",
        ids,
    )
    return {
        receipt_id: _KnownReceipt(digest, sender, _disposition(relayed_at))
        for receipt_id, digest, sender, relayed_at in rows
    }


def _known_documents(db: sqlite3.Connection, ids: set[str]) -> dict[str, _KnownDocument]:
    rows = _select_in(
        db, "SELECT id, sender, content_hash, routed_at FROM documents WHERE id IN", ids
    )
    return {
        document_id: _KnownDocument(sender, digest, routed_at is not None, set(), False)
        for document_id, sender, digest, routed_at in rows
    }


def _load_recipients(
    db: sqlite3.Connection, known: dict[str, _KnownDocument], document_ids: set[str]
) -> None:
    rows = _select_in(
        db,
        "SELECT document_id, recipient FROM deliveries WHERE document_id IN",
        document_ids & known.keys(),
    )
    for document_id, recipient in rows:
        known[document_id].recipients.add(recipient)


def _known_steps(db: sqlite3.Connection, document_ids: set[str]) -> set[StepKey]:
    rows = _select_in(
        db,
        "SELECT document_id, responder, code FROM status_steps WHERE document_id IN",
        document_ids,
    )
    return {(document_id, responder, code) for document_id, responder, code in rows}


def _known_refusals(db: sqlite3.Connection, keys: set[str]) -> dict[str, Disposition]:
    rows = _select_in(
        db, "SELECT input_key, dead_lettered_at FROM refusals WHERE input_key IN", keys
    )
    return {key: _disposition(dead_lettered_at) for key, dead_lettered_at in rows}


def _one(db: sqlite3.Connection, sql: str) -> tuple[int, ...]:
    rows = db.execute(sql).fetchall()
    return tuple(int(value) for value in rows[0])


def _grouped(db: sqlite3.Connection, table: str, column: str) -> dict[str, int]:
    rows = db.execute(
        f"SELECT {column}, count(*) FROM {table} GROUP BY {column}"  # noqa: S608 - fixed names
    ).fetchall()
    return {str(key): int(count) for key, count in rows}


def _per_day(
    db: sqlite3.Connection, table: str, day_column: str, where: str, params: list[str]
) -> dict[str, int]:
    rows = db.execute(
        f"SELECT {day_column}, count(*) FROM {table} {where} GROUP BY {day_column}",  # noqa: S608 - fixed names
        params,
    ).fetchall()
    return {str(day): int(count) for day, count in rows}


def _receipt_problem(
    responder: str, claimed_sender: str, document: _KnownDocument | None
) -> tuple[RejectionReason, str] | None:
    if document is None:
        return RejectionReason.UNKNOWN_DOCUMENT, "the hub has no such document"
    if claimed_sender != document.sender:
        return (
            RejectionReason.UNKNOWN_DOCUMENT,
            f"the receipt names sender {claimed_sender}, the document came from {document.sender}",
        )
    if responder not in document.recipients:
        return RejectionReason.NOT_A_RECIPIENT, f"{responder} is not a recipient of the document"
    return None


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))


def _disposition(completed_at: str | None) -> Disposition:
    """A record completed (routed, relayed, dead-lettered) is done; one never completed, pending."""
    return Disposition.DONE if completed_at is not None else Disposition.PENDING


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


_BUGS = (
    sqlite3.IntegrityError,
    sqlite3.ProgrammingError,
    sqlite3.InterfaceError,
    sqlite3.DataError,
    sqlite3.NotSupportedError,
)
"""Errors of this code, not of the file: they stay what they are, rather than make the hub wait
for a ledger that will never answer otherwise."""


async def _connect(database: str, path: str, busy_timeout_s: float, *, fix: str) -> SqliteThread:
    """``database``: the file's path, or a ``file:`` URI of it."""
    try:
        db = await SqliteThread.connect(database)
    except sqlite3.Error as exc:
        raise LedgerError(f"{_described(path, exc)}: {fix}") from exc
    async with _closed_on_failure(db, path, fix):
        await db.execute(f"PRAGMA busy_timeout={round(busy_timeout_s * 1000)}")
    return db


@asynccontextmanager
async def _closed_on_failure(db: SqliteThread, path: str, fix: str) -> AsyncIterator[None]:
    """Close a connection that fails while it opens: its thread would keep the process from
    ever exiting. An SQLite error becomes a ``LedgerError``, with the fix."""
    try:
        yield
    except BaseException as exc:
        with suppress(sqlite3.Error):
            await db.close()
        if isinstance(exc, sqlite3.Error):
            raise LedgerError(f"{_described(path, exc)}: {fix}") from exc
        raise


async def _tables(db: SqliteThread) -> set[str]:
    rows = await db.fetchall("SELECT name FROM sqlite_master WHERE type = 'table'")
    return {str(name) for (name,) in rows}


def _make_folder(path: str) -> None:
    folder = Path(path).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocking = next(
            (p for p in [folder, *folder.parents] if p.exists() and not p.is_dir()), None
        )
        reason = f"{blocking} is a file, not a folder" if blocking else exc.strerror
        raise LedgerError(
            f"cannot make the folder of the ledger {path}: {reason}; give --ledger-url "
            "(DOCHUB_LEDGER_URL) a path in a folder that can be made or written"
        ) from exc
    if Path(path).is_dir():
        raise LedgerError(f"{path} is a folder, not a ledger file: {_FIX}")


def _check_writable(path: str) -> None:
    for file in (path, *(path + suffix for suffix in _COMPANIONS)):
        if os.path.exists(file) and not os.access(file, os.W_OK):
            raise LedgerError(
                f"the ledger file {file} cannot be written (read-only or immutable): make it "
                "writable (chmod u+w, chattr -i)"
            )


def _read_only_uri(path: str, ledger_url: str) -> str:
    if not Path(path).is_file():
        raise LedgerError(f"no ledger at {ledger_url}")
    uri = f"{Path(path).absolute().as_uri()}?mode=ro"
    # Without a -wal or -journal beside it, no process is writing the file (a hub's last
    # connection removes its -wal when it closes): read it as immutable, so that SQLite does not
    # leave a -wal and a -shm of its own. A hub that starts meanwhile writes to its -wal, not to
    # the file read here, until its first checkpoint.
    if not any(Path(f"{path}{suffix}").exists() for suffix in ("-wal", "-journal")):
        uri += "&immutable=1"
    return uri


def _described(path: str, exc: sqlite3.Error) -> str:
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF  # the primary code of an extended one
    if code == sqlite3.SQLITE_NOTADB:
        return f"{path} is not a DocHub ledger (not an SQLite database)"
    if code == sqlite3.SQLITE_CORRUPT:
        return f"the ledger {path} is damaged ({exc})"
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return f"the ledger {path} is locked by another process ({exc})"
    if code == sqlite3.SQLITE_READONLY:
        return f"the ledger {path} cannot be written ({exc})"
    if code == sqlite3.SQLITE_CANTOPEN:
        return f"cannot open the ledger {path} ({exc})"
    if code == sqlite3.SQLITE_FULL:
        return f"the disk of the ledger {path} is full ({exc})"
    return f"the ledger {path} is unavailable ({exc})"


def _is_empty_file(path: str) -> bool:
    return os.path.isfile(path) and os.path.getsize(path) == 0
