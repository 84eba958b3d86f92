"""The SQLite ledger: idempotent admission, lifecycle steps, refusals, totals and day counts."""

import asyncio
import datetime as dt
import hashlib
import json
import random
import re
import sqlite3
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.errors import ConfigurationError, LedgerError
from hub.inspection import DocumentInput, ReceiptInput, Refusal, inspect
from hub.ledger import Admitted, Completion, Disposition, Totals
from hub.periods import DayCounts
from hub.registry import Registry
from hub.sqlite_ledger import SqliteLedger, sqlite_path
from schemas import (
    DocumentReference,
    Envelope,
    RejectionReason,
    StatusCode,
    StatusReceipt,
    limits,
)
from tests.factories import TEST_USER, TRUSTING, directory_of, inspected, make_envelope, organ
from tests.ledger_files import Fingerprint, locked, unwritable

A, B, C, D = "000.00.00.G01", "000.00.00.G02", "000.00.00.H01", "000.00.00.H02"
KEYS = {agency: Ed25519PrivateKey.generate() for agency in (A, B, C, D)}
REGISTRY = Registry(directory_of(KEYS))
UTC7 = dt.timedelta(hours=7)
SENT_AT = dt.datetime(2022, 6, 30, 20, 0, tzinfo=dt.UTC)  # 2022-07-01 03:00 at UTC+7


def document_input(sender: str = A, to: tuple[str, ...] = (C, D), **fields: Any) -> DocumentInput:
    fields.setdefault("sent_at", SENT_AT)
    envelope = make_envelope(organ(sender), [organ(agency) for agency in to], **fields)
    verdict = inspected("document", envelope, KEYS[sender], REGISTRY)
    assert isinstance(verdict, DocumentInput), verdict
    return verdict


def receipt_input(
    about: Envelope | DocumentReference,
    responder: str = C,
    code: StatusCode = StatusCode.ARRIVED,
    at: dt.datetime = dt.datetime(2022, 7, 1, 18, 0, tzinfo=dt.UTC),
    **fields: Any,
) -> ReceiptInput:
    reference = about.reference() if isinstance(about, Envelope) else about
    receipt = StatusReceipt(
        document=reference, responder=organ(responder), code=code, timestamp=at, **fields
    )
    verdict = inspected("status", receipt, KEYS[responder], REGISTRY)
    assert isinstance(verdict, ReceiptInput), verdict
    return verdict


def inspected_refusal(data: bytes) -> Refusal:
    verdict = inspect("document", data, None, REGISTRY, TRUSTING, limits.MAX_MESSAGE_BYTES)
    assert isinstance(verdict, Refusal)
    return verdict


def step_of(verdict: ReceiptInput) -> tuple[str, str, str]:
    receipt = verdict.receipt
    assert receipt.responder is not None
    assert receipt.document is not None
    return (str(receipt.document.id), receipt.responder.id, receipt.code.value)


def receipt_id(verdict: ReceiptInput) -> str:
    return str(verdict.receipt.id)


def dispositions(admitted: list[Admitted]) -> list[Disposition]:
    return [item.disposition for item in admitted]


def url_of(path: Path) -> str:
    return f"sqlite:///{path}"


@pytest.fixture
async def ledger(tmp_path: Path) -> AsyncIterator[SqliteLedger]:
    opened = await SqliteLedger.open(url_of(tmp_path / "ledger.db"), UTC7)
    try:
        yield opened
    finally:
        await opened.close()


async def assert_balanced(ledger: SqliteLedger) -> Totals:
    totals = await ledger.totals()
    assert totals.imbalances() == []
    return totals


# Documents


async def test_document_new_then_pending_then_done(ledger: SqliteLedger) -> None:
    verdict = document_input()
    (first,) = await ledger.admit([verdict])
    assert first.disposition is Disposition.NEW
    assert first.verdict is verdict
    assert first.relay_to is None
    (again,) = await ledger.admit([verdict])
    assert again.disposition is Disposition.PENDING

    await ledger.complete(Completion(documents=[verdict.envelope.id]))
    (after,) = await ledger.admit([verdict])
    assert after.disposition is Disposition.DONE


async def test_resend_in_other_message_bytes_is_the_same_document(ledger: SqliteLedger) -> None:
    """The same signed payload in a body written out differently (the JWS members in another
    order, with white space): other message bytes, the same document."""
    verdict = document_input()
    (first,) = await ledger.admit([verdict])
    members = json.loads(verdict.body)
    rewritten = json.dumps(dict(reversed(members.items())), indent=2).encode()
    resent = inspect("document", rewritten, TEST_USER, REGISTRY, TRUSTING, limits.MAX_MESSAGE_BYTES)
    assert isinstance(resent, DocumentInput), resent
    assert resent.input_key != verdict.input_key
    assert resent.content_hash == verdict.content_hash
    (second,) = await ledger.admit([resent])
    assert first.disposition is Disposition.NEW
    assert second.disposition is Disposition.PENDING
    totals = await assert_balanced(ledger)
    assert totals.accepted == 1
    assert totals.rejected == 0


async def test_same_id_with_other_content_is_an_id_conflict(ledger: SqliteLedger) -> None:
    original = document_input()
    await ledger.admit([original])
    reused = document_input(id=original.envelope.id, subject="Nội dung khác")
    assert reused.content_hash != original.content_hash
    (admitted,) = await ledger.admit([reused])
    assert admitted.disposition is Disposition.NEW
    refusal = admitted.verdict
    assert isinstance(refusal, Refusal)
    assert refusal.reason is RejectionReason.ID_CONFLICT
    assert refusal.input_key == reused.input_key
    assert refusal.kind == "document"
    assert refusal.notify == A
    assert refusal.document == reused.envelope.reference()
    totals = await assert_balanced(ledger)
    assert totals.accepted == 1
    assert totals.rejected == 1
    assert totals.rejected_by_reason == {"id_conflict": 1}


async def test_id_conflict_within_one_batch(ledger: SqliteLedger) -> None:
    original = document_input()
    reused = document_input(id=original.envelope.id, subject="Nội dung khác")
    admitted = await ledger.admit([original, reused])
    assert admitted[0].disposition is Disposition.NEW
    assert isinstance(admitted[1].verdict, Refusal)
    assert admitted[1].verdict.reason is RejectionReason.ID_CONFLICT


async def test_duplicate_within_one_batch_is_done(ledger: SqliteLedger) -> None:
    verdict = document_input()
    admitted = await ledger.admit([verdict, verdict, verdict])
    assert dispositions(admitted) == [Disposition.NEW, Disposition.DONE, Disposition.DONE]
    totals = await assert_balanced(ledger)
    assert totals.accepted == 1
    assert totals.deliveries == 2


# Receipts


async def test_receipt_about_an_unknown_document(ledger: SqliteLedger) -> None:
    never_sent = document_input().envelope
    verdict = receipt_input(never_sent)
    (admitted,) = await ledger.admit([verdict])
    refusal = admitted.verdict
    assert isinstance(refusal, Refusal)
    assert refusal.reason is RejectionReason.UNKNOWN_DOCUMENT
    assert refusal.kind == "status"
    assert refusal.input_key == verdict.input_key
    assert refusal.notify is None
    assert refusal.document is None
    assert admitted.relay_to is None


async def test_receipt_naming_the_wrong_sender_is_about_an_unknown_document(
    ledger: SqliteLedger,
) -> None:
    verdict = document_input()
    await ledger.admit([verdict])
    wrong = verdict.envelope.reference().model_copy(update={"sender": B})
    (admitted,) = await ledger.admit([receipt_input(wrong)])
    assert isinstance(admitted.verdict, Refusal)
    assert admitted.verdict.reason is RejectionReason.UNKNOWN_DOCUMENT
    assert B in admitted.verdict.detail


async def test_receipt_from_a_non_recipient(ledger: SqliteLedger) -> None:
    verdict = document_input(to=(C,))
    await ledger.admit([verdict])
    (admitted,) = await ledger.admit([receipt_input(verdict.envelope, responder=D)])
    assert isinstance(admitted.verdict, Refusal)
    assert admitted.verdict.reason is RejectionReason.NOT_A_RECIPIENT
    assert D in admitted.verdict.detail
    totals = await assert_balanced(ledger)
    assert totals.receipts == 0
    assert totals.rejected_by_reason == {"not_a_recipient": 1}


async def test_receipt_relays_to_the_sender_new_pending_done(ledger: SqliteLedger) -> None:
    document = document_input(sender=B)
    await ledger.admit([document])
    verdict = receipt_input(document.envelope, responder=D, code=StatusCode.ACCEPTED)
    (first,) = await ledger.admit([verdict])
    assert first.disposition is Disposition.NEW
    assert first.verdict is verdict
    assert first.relay_to == B
    (again,) = await ledger.admit([verdict])
    assert again.disposition is Disposition.PENDING
    assert again.relay_to == B

    await ledger.complete(Completion(receipts=[receipt_id(verdict)]))
    (after,) = await ledger.admit([verdict])
    assert after.disposition is Disposition.DONE
    assert after.relay_to == B
    totals = await assert_balanced(ledger)
    assert totals.receipts == 1
    assert totals.receipt_messages == 1
    assert totals.relayed == 1
    assert totals.receipts_by_responder == {D: 1}


async def test_completing_a_receipt_by_its_id_leaves_the_others_of_its_step_pending(
    ledger: SqliteLedger,
) -> None:
    document = document_input()
    await ledger.admit([document])
    first = receipt_input(document.envelope, code=StatusCode.PROCESSING, description="một")
    second = receipt_input(document.envelope, code=StatusCode.PROCESSING, description="hai")
    assert step_of(first) == step_of(second)
    await ledger.admit([first, second])
    await ledger.complete(Completion(receipts=[receipt_id(first)]))
    admitted = await ledger.admit([first, second])
    assert dispositions(admitted) == [Disposition.DONE, Disposition.PENDING]
    totals = await assert_balanced(ledger)
    assert totals.receipts == 1
    assert totals.receipt_messages == 2
    assert totals.relayed == 1


async def test_each_step_is_recorded_once(ledger: SqliteLedger) -> None:
    """Two different receipts (two ids) reporting the same step are both relayed; the step is
    counted once. A resent receipt (the same id) is relayed once."""
    document = document_input()
    await ledger.admit([document])
    arrived = receipt_input(document.envelope, responder=C, code=StatusCode.ARRIVED)
    arrived_again = receipt_input(document.envelope, responder=C, code=StatusCode.ARRIVED)
    accepted = receipt_input(document.envelope, responder=C, code=StatusCode.ACCEPTED)
    other = receipt_input(document.envelope, responder=D, code=StatusCode.ARRIVED)
    assert receipt_id(arrived) != receipt_id(arrived_again)
    assert step_of(arrived) == step_of(arrived_again)
    admitted = await ledger.admit([arrived, arrived_again, accepted, other, arrived])
    assert dispositions(admitted) == [
        Disposition.NEW,
        Disposition.NEW,
        Disposition.NEW,
        Disposition.NEW,
        Disposition.DONE,
    ]
    assert [item.relay_to for item in admitted] == [A] * 5
    totals = await assert_balanced(ledger)
    assert totals.receipts == 3
    assert totals.receipt_messages == 4
    assert totals.receipts_by_responder == {C: 2, D: 1}


async def test_a_second_receipt_of_a_step_in_a_later_batch_is_new_but_not_counted(
    ledger: SqliteLedger,
) -> None:
    document = document_input()
    await ledger.admit([document])
    first = receipt_input(document.envelope, code=StatusCode.PROCESSING, description="một")
    (admitted_first,) = await ledger.admit([first])
    await ledger.complete(Completion(receipts=[receipt_id(first)]))
    second = receipt_input(document.envelope, code=StatusCode.PROCESSING, description="hai")
    (admitted_second,) = await ledger.admit([second])
    assert admitted_first.disposition is Disposition.NEW
    assert admitted_second.disposition is Disposition.NEW
    assert admitted_second.relay_to == A
    totals = await assert_balanced(ledger)
    assert totals.receipts == 1
    assert totals.receipt_messages == 2
    assert totals.relayed == 1
    counts = await ledger.day_counts()
    assert sum(counts.receipts.values()) == 1


async def test_same_receipt_id_with_other_content_is_an_id_conflict(ledger: SqliteLedger) -> None:
    document = document_input()
    await ledger.admit([document])
    original = receipt_input(document.envelope, code=StatusCode.ARRIVED)
    (first,) = await ledger.admit([original])
    assert first.disposition is Disposition.NEW
    reused = receipt_input(document.envelope, code=StatusCode.COMPLETED, id=original.receipt.id)
    assert reused.content_hash != original.content_hash
    (admitted,) = await ledger.admit([reused])
    assert admitted.disposition is Disposition.NEW
    assert admitted.relay_to is None
    refusal = admitted.verdict
    assert isinstance(refusal, Refusal)
    assert refusal.reason is RejectionReason.ID_CONFLICT
    assert str(original.receipt.id) in refusal.detail
    assert refusal.kind == "status"
    assert refusal.input_key == reused.input_key
    assert refusal.notify is None
    totals = await assert_balanced(ledger)
    assert totals.receipts == 1
    assert totals.receipt_messages == 1
    assert totals.rejected_by_reason == {"id_conflict": 1}
    # The original is still what that id means.
    (again,) = await ledger.admit([original])
    assert again.disposition is Disposition.PENDING


async def test_receipt_id_conflict_within_one_batch(ledger: SqliteLedger) -> None:
    document = document_input()
    await ledger.admit([document])
    original = receipt_input(document.envelope)
    reused = receipt_input(document.envelope, description="khác", id=original.receipt.id)
    admitted = await ledger.admit([original, reused])
    assert admitted[0].disposition is Disposition.NEW
    assert isinstance(admitted[1].verdict, Refusal)
    assert admitted[1].verdict.reason is RejectionReason.ID_CONFLICT
    totals = await assert_balanced(ledger)
    assert totals.receipt_messages == 1


async def test_document_and_its_receipt_in_one_batch(ledger: SqliteLedger) -> None:
    document = document_input()
    receipt = receipt_input(document.envelope, responder=C)
    admitted = await ledger.admit([document, receipt])
    assert dispositions(admitted) == [Disposition.NEW, Disposition.NEW]
    assert admitted[1].relay_to == A


# Refusals


async def test_refusal_is_recorded_once_per_input_key(ledger: SqliteLedger) -> None:
    refusal = inspected_refusal(b"not json")
    (first,) = await ledger.admit([refusal])
    assert first.disposition is Disposition.NEW
    assert first.verdict is refusal
    (again,) = await ledger.admit([refusal])
    assert again.disposition is Disposition.PENDING

    await ledger.complete(Completion(refusals=[refusal.input_key]))
    (after,) = await ledger.admit([refusal])
    assert after.disposition is Disposition.DONE
    totals = await assert_balanced(ledger)
    assert totals.rejected == 1
    assert totals.dead_lettered == 1
    assert totals.rejected_by_reason == {"malformed": 1}


async def test_same_refusal_twice_in_one_batch(ledger: SqliteLedger) -> None:
    refusal = inspected_refusal(b"{}")
    admitted = await ledger.admit([refusal, refusal])
    assert dispositions(admitted) == [Disposition.NEW, Disposition.DONE]
    assert (await ledger.totals()).rejected == 1


async def test_different_bytes_are_different_refusals(ledger: SqliteLedger) -> None:
    await ledger.admit([inspected_refusal(b"not json"), inspected_refusal(b"not json!")])
    totals = await assert_balanced(ledger)
    assert totals.rejected == 2


# Totals


async def test_empty_ledger_totals(ledger: SqliteLedger) -> None:
    totals = await assert_balanced(ledger)
    assert totals == Totals(0, 0, 0, 0, 0, 0, 0, 0, 0)
    assert totals.receipt_messages == 0
    assert totals.received == 0
    assert totals.in_flight == 0


async def test_totals_and_in_flight(ledger: SqliteLedger) -> None:
    first = document_input(sender=A, to=(C, D))
    second = document_input(sender=A, to=(C,))
    third = document_input(sender=B, to=(A, C, D))
    await ledger.admit([first, second, third, inspected_refusal(b"[]")])
    totals = await assert_balanced(ledger)
    assert totals.accepted == 3
    assert totals.routed == 0
    assert totals.in_flight == 3
    assert totals.recipients_sum == totals.deliveries == 6
    assert totals.rejected == 1
    assert totals.received == 4
    assert totals.documents_by_sender == {A: 2, B: 1}
    assert totals.deliveries_by_recipient == {A: 1, C: 3, D: 2}
    assert totals.rejected_by_reason == {"schema_invalid": 1}

    await ledger.complete(Completion(documents=[first.envelope.id, third.envelope.id]))
    totals = await assert_balanced(ledger)
    assert totals.routed == 2
    assert totals.in_flight == 1
    assert totals.accepted == totals.routed + totals.in_flight


async def test_complete_nothing_changes_nothing(ledger: SqliteLedger) -> None:
    await ledger.admit([document_input()])
    await ledger.complete(Completion())
    assert (await ledger.totals()).routed == 0


@pytest.mark.parametrize(
    ("changes", "broken"),
    [
        ({"routed": 4}, "routed exceeds accepted"),
        ({"recipients_sum": 5}, "deliveries differ from the sum of recipients"),
        ({"documents_by_sender": {A: 2}}, "per-sender documents differ from the total"),
        ({"deliveries_by_recipient": {C: 1}}, "per-recipient deliveries differ from the total"),
        ({"receipts_by_responder": {}}, "per-responder receipts differ from the total"),
        ({"rejected_by_reason": {"malformed": 2}}, "per-reason refusals differ from the total"),
        ({"relayed": 2}, "relayed exceeds receipts"),
        ({"receipts": 2, "receipts_by_responder": {C: 2}}, "steps exceed receipts"),
        ({"dead_lettered": 2}, "dead-lettered exceeds refusals"),
    ],
)
def test_imbalances_name_what_is_broken(changes: dict[str, Any], broken: str) -> None:
    balanced: dict[str, Any] = {
        "accepted": 3,
        "routed": 2,
        "recipients_sum": 4,
        "deliveries": 4,
        "receipts": 1,
        "receipt_messages": 1,
        "relayed": 1,
        "rejected": 1,
        "dead_lettered": 1,
        "documents_by_sender": {A: 3},
        "deliveries_by_recipient": {C: 4},
        "receipts_by_responder": {C: 1},
        "rejected_by_reason": {"malformed": 1},
    }
    assert Totals(**balanced).imbalances() == []
    assert Totals(**{**balanced, **changes}).imbalances() == [broken]


def test_totals_positional_order() -> None:
    totals = Totals(1, 2, 3, 4, 5, 6, 7, 8, 9)
    assert (
        totals.accepted,
        totals.routed,
        totals.recipients_sum,
        totals.deliveries,
        totals.receipts,
        totals.receipt_messages,
        totals.relayed,
        totals.rejected,
        totals.dead_lettered,
    ) == (1, 2, 3, 4, 5, 6, 7, 8, 9)


def test_more_receipts_than_steps_is_balanced() -> None:
    totals = Totals(1, 1, 1, 1, 1, 3, 3, 0, 0, {A: 1}, {C: 1}, {C: 1}, {})
    assert totals.imbalances() == []


# Day counts


async def test_day_counts_use_the_statistics_offset(ledger: SqliteLedger) -> None:
    late = document_input(sent_at=dt.datetime(2022, 6, 30, 20, 0, tzinfo=dt.UTC))
    early = document_input(sent_at=dt.datetime(2022, 6, 30, 16, 59, tzinfo=dt.UTC), to=(C,))
    local = document_input(
        sent_at=dt.datetime(2022, 6, 30, 23, 30, tzinfo=dt.timezone(UTC7)), to=(D,)
    )
    await ledger.admit([late, early, local])
    receipt = receipt_input(late.envelope, at=dt.datetime(2022, 7, 1, 17, 30, tzinfo=dt.UTC))
    await ledger.admit([receipt])
    counts = await ledger.day_counts()
    assert counts == DayCounts(
        documents={"2022-06-30": 2, "2022-07-01": 1},
        deliveries={"2022-06-30": 2, "2022-07-01": 2},
        receipts={"2022-07-02": 1},
    )


async def test_day_counts_filter_by_agency(ledger: SqliteLedger) -> None:
    from_a = document_input(sender=A, to=(C, D))
    from_b = document_input(sender=B, to=(A, C), sent_at=dt.datetime(2022, 1, 2, tzinfo=dt.UTC))
    await ledger.admit([from_a, from_b])
    await ledger.admit(
        [
            receipt_input(from_a.envelope, responder=C),
            receipt_input(from_b.envelope, responder=C, code=StatusCode.COMPLETED),
            receipt_input(from_b.envelope, responder=A),
        ]
    )
    assert await ledger.day_counts(A) == DayCounts(
        documents={"2022-07-01": 1},
        deliveries={"2022-01-02": 1},
        receipts={"2022-07-02": 1},
    )
    assert await ledger.day_counts(C) == DayCounts(
        documents={},
        deliveries={"2022-07-01": 1, "2022-01-02": 1},
        receipts={"2022-07-02": 2},
    )
    assert await ledger.day_counts("000.00.00.G77") == DayCounts()


async def test_day_counts_with_utc_offset_zero(tmp_path: Path) -> None:
    ledger = await SqliteLedger.open(url_of(tmp_path / "utc.db"), dt.timedelta(0))
    try:
        await ledger.admit([document_input()])
        assert (await ledger.day_counts()).documents == {"2022-06-30": 1}
    finally:
        await ledger.close()


# Durability and URLs


async def test_data_survives_close_and_reopen(tmp_path: Path) -> None:
    url = url_of(tmp_path / "sub" / "dir" / "ledger.db")
    routed, pending = document_input(), document_input(sender=B)
    refusal = inspected_refusal(b"oops")
    first = await SqliteLedger.open(url, UTC7)
    try:
        await first.admit([routed, pending, refusal])
        await first.admit([receipt_input(routed.envelope)])
        await first.complete(Completion(documents=[routed.envelope.id]))
        before = await first.totals()
        counts_before = await first.day_counts()
    finally:
        await first.close()

    second = await SqliteLedger.open(url, UTC7)
    try:
        assert await second.totals() == before
        assert await second.day_counts() == counts_before
        assert before.accepted == 2
        assert before.routed == 1
        assert before.receipts == 1
        admitted = await second.admit([routed, pending, refusal])
        assert dispositions(admitted) == [
            Disposition.DONE,
            Disposition.PENDING,
            Disposition.PENDING,
        ]
        assert await second.totals() == before
    finally:
        await second.close()


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///dochub.db", "dochub.db"),
        ("sqlite:///./data/dochub.db", "./data/dochub.db"),
        ("sqlite:////var/lib/dochub/ledger.db", "/var/lib/dochub/ledger.db"),
        ("sqlite:///:memory:", ":memory:"),
    ],
)
def test_sqlite_path(url: str, path: str) -> None:
    assert sqlite_path(url) == path


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///",
        "sqlite://dochub.db",
        "sqlite:dochub.db",
        "postgresql://localhost/dochub",
        "file:///tmp/dochub.db",
        "dochub.db",
        "",
    ],
)
def test_sqlite_path_refuses_other_urls(url: str) -> None:
    with pytest.raises(
        ConfigurationError, match=r"not a SQLite ledger URL.*\(expected sqlite:///PATH\)"
    ):
        sqlite_path(url)


async def test_open_refuses_other_urls() -> None:
    with pytest.raises(ConfigurationError, match="not a SQLite ledger URL"):
        await SqliteLedger.open("postgresql://localhost/dochub", UTC7)


async def test_open_refuses_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder.db"
    folder.mkdir()
    with pytest.raises(LedgerError, match=re.escape(f"{folder} is a folder, not a ledger file")):
        await SqliteLedger.open(url_of(folder), UTC7)
    await no_connection_left()


async def test_relative_url_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ledger = await SqliteLedger.open("sqlite:///relative/ledger.db", UTC7)
    try:
        await ledger.admit([document_input()])
    finally:
        await ledger.close()
    assert (tmp_path / "relative" / "ledger.db").is_file()


def test_refusal_input_key_is_the_digest_of_the_bytes() -> None:
    assert inspected_refusal(b"oops").input_key == hashlib.sha256(b"oops").hexdigest()


# A pending input repeated within one batch (a redelivery after a crash, plus a resend)


async def test_pending_document_repeated_in_one_batch_is_published_once(
    ledger: SqliteLedger,
) -> None:
    verdict = document_input()
    await ledger.admit([verdict])
    admitted = await ledger.admit([verdict, verdict])
    assert dispositions(admitted) == [Disposition.PENDING, Disposition.DONE]


async def test_pending_step_repeated_in_one_batch_is_relayed_once(ledger: SqliteLedger) -> None:
    document = document_input()
    await ledger.admit([document])
    receipt = receipt_input(document.envelope)
    await ledger.admit([receipt])
    admitted = await ledger.admit([receipt, receipt])
    assert dispositions(admitted) == [Disposition.PENDING, Disposition.DONE]


async def test_pending_refusal_repeated_in_one_batch_is_dead_lettered_once(
    ledger: SqliteLedger,
) -> None:
    refusal = inspected_refusal(b"not json")
    await ledger.admit([refusal])
    admitted = await ledger.admit([refusal, refusal])
    assert dispositions(admitted) == [Disposition.PENDING, Disposition.DONE]


# Files that are not a ledger, and ledgers SQLite cannot use for a while. Every open that fails
# closes its connection: its thread would otherwise keep the process from ever exiting.


def connection_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if "_connection_worker_thread" in t.name]


async def no_connection_left() -> None:
    for _ in range(100):
        if not connection_threads():
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"connections left open: {connection_threads()}")


NOT_SQLITE = {
    "text": b"not a ledger, only text\n",
    "random bytes": random.Random(8).randbytes(8192),
}
OPENERS = {"open": SqliteLedger.open, "open_read_only": SqliteLedger.open_read_only}


@pytest.mark.parametrize("content", NOT_SQLITE.values(), ids=NOT_SQLITE.keys())
@pytest.mark.parametrize("opener", OPENERS.values(), ids=OPENERS.keys())
async def test_a_file_that_is_not_sqlite_is_refused_and_left_as_it_was(
    tmp_path: Path, content: bytes, opener: Any
) -> None:
    path = tmp_path / "ledger.db"
    path.write_bytes(content)
    before = Fingerprint.of(path)
    message = f"{path} is not a DocHub ledger (not an SQLite database): give --ledger-url"
    with pytest.raises(LedgerError, match=re.escape(message)):
        await opener(url_of(path), UTC7)
    assert Fingerprint.of(path) == before
    await no_connection_left()


def another_applications_database(path: Path) -> Fingerprint:
    db = sqlite3.connect(path)
    with db:
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
        db.execute("INSERT INTO users (name) VALUES ('Nguyễn Văn A')")
    db.close()
    return Fingerprint.of(path)


async def test_the_hub_refuses_another_applications_database_and_changes_nothing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "app.db"
    before = another_applications_database(path)
    with pytest.raises(
        LedgerError,
        match=re.escape(f"{path} is another application's SQLite database (tables users)"),
    ):
        await SqliteLedger.open(url_of(path), UTC7)
    assert Fingerprint.of(path) == before  # no DocHub table added, still not in WAL mode
    await no_connection_left()


async def test_reading_another_applications_database_says_it_holds_no_ledger(
    tmp_path: Path,
) -> None:
    path = tmp_path / "app.db"
    before = another_applications_database(path)
    with pytest.raises(LedgerError, match=re.escape(f"{path} holds no DocHub ledger")):
        await SqliteLedger.open_read_only(url_of(path), UTC7)
    assert Fingerprint.of(path) == before
    assert before.companions == ()
    await no_connection_left()


@pytest.mark.parametrize("opener", OPENERS.keys())
async def test_a_ledger_under_a_file_is_refused(tmp_path: Path, opener: str) -> None:
    blocking = tmp_path / "not-a-folder"
    blocking.write_text("a file\n")
    for path in (blocking / "ledger.db", blocking / "deeper" / "ledger.db"):
        with pytest.raises(LedgerError) as refused:
            await OPENERS[opener](url_of(path), UTC7)
        if opener == "open":
            assert f"{blocking} is a file, not a folder" in str(refused.value)
        else:
            assert str(refused.value) == f"no ledger at {url_of(path)}"
    assert blocking.read_text() == "a file\n"


async def test_reading_a_missing_ledger_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    with pytest.raises(LedgerError, match=re.escape(f"no ledger at {url_of(path)}")):
        await SqliteLedger.open_read_only(url_of(path), UTC7)
    assert not path.exists()


async def test_reading_a_ledger_changes_nothing_in_it_or_beside_it(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    writer = await SqliteLedger.open(url_of(path), UTC7)
    try:
        await writer.admit([document_input(), inspected_refusal(b"oops")])
        written = (await writer.totals(), await writer.day_counts())
    finally:
        await writer.close()
    before = Fingerprint.of(path)
    assert before.companions == ()

    reader = await SqliteLedger.open_read_only(url_of(path), UTC7)
    try:
        assert (await reader.totals(), await reader.day_counts()) == written
        with pytest.raises(LedgerError, match=r"readonly|read-only"):
            await reader.admit([document_input(sender=B)])
    finally:
        await reader.close()
    assert Fingerprint.of(path) == before


async def test_reading_a_ledger_a_hub_is_writing_sees_what_it_wrote(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    writer = await SqliteLedger.open(url_of(path), UTC7)
    try:
        await writer.admit([document_input()])
        reader = await SqliteLedger.open_read_only(url_of(path), UTC7)
        try:
            assert (await reader.totals()).accepted == 1
            await writer.admit([document_input(sender=B)])
            assert (await reader.totals()).accepted == 2
        finally:
            await reader.close()
        assert (await writer.totals()).accepted == 2
    finally:
        await writer.close()


async def test_a_ledger_locked_by_another_process_is_unavailable_then_back(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger.db"
    ledger = await SqliteLedger.open(url_of(path), UTC7, busy_timeout_s=0.2)
    verdict = document_input()
    try:
        async with locked(path) as release:
            with pytest.raises(
                LedgerError, match=f"the ledger {path} is locked by another process"
            ):
                await asyncio.wait_for(ledger.admit([verdict]), 10)
            with pytest.raises(LedgerError, match="locked by another process"):
                await asyncio.wait_for(
                    ledger.complete(Completion(documents=[verdict.envelope.id])), 10
                )
            assert (await ledger.totals()).received == 0  # readers are not blocked (WAL)
            await release()
        assert dispositions(await ledger.admit([verdict])) == [Disposition.NEW]
        assert (await assert_balanced(ledger)).accepted == 1
    finally:
        await ledger.close()


async def test_a_write_cancelled_while_it_waits_for_a_lock_is_made_once_and_the_ledger_goes_on(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger.db"
    ledger = await SqliteLedger.open(url_of(path), UTC7, busy_timeout_s=5)
    verdict = document_input()
    try:
        async with locked(path) as release:
            waiting = asyncio.create_task(ledger.admit([verdict]))
            await asyncio.sleep(0.3)
            waiting.cancel()
            # The transaction goes on waiting for the lock in the connection's thread and is
            # made once the lock is released, as if the hub had stopped right after it: the
            # document is recorded, not routed, and the next admit of it finds it pending.
            await release()
            with pytest.raises(asyncio.CancelledError):
                await asyncio.wait_for(waiting, 10)
        admitted = await asyncio.wait_for(ledger.admit([verdict]), 10)
        assert dispositions(admitted) == [Disposition.PENDING]
        assert (await assert_balanced(ledger)).accepted == 1
    finally:
        await ledger.close()


async def test_a_ledger_made_unwritable_is_unavailable_until_it_is_writable_again(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger.db"
    ledger = await SqliteLedger.open(url_of(path), UTC7)
    first, second = document_input(), document_input(sender=B)
    try:
        await ledger.admit([first])
        files = [path, *(Path(f"{path}{suffix}") for suffix in ("-wal", "-shm"))]
        assert all(file.exists() for file in files)
        with unwritable(*files):
            for attempt in (ledger.admit([second]), ledger.totals(), ledger.day_counts()):
                with pytest.raises(
                    LedgerError, match=re.escape("cannot be written (read-only or immutable)")
                ):
                    await attempt
        assert dispositions(await ledger.admit([first, second])) == [
            Disposition.PENDING,
            Disposition.NEW,
        ]
        assert (await assert_balanced(ledger)).accepted == 2
    finally:
        await ledger.close()


async def test_the_hub_refuses_to_open_an_unwritable_ledger(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    ledger = await SqliteLedger.open(url_of(path), UTC7)
    await ledger.close()
    before = Fingerprint.of(path)
    with unwritable(path):
        with pytest.raises(
            LedgerError, match=re.escape(f"the ledger file {path} cannot be written")
        ):
            await SqliteLedger.open(url_of(path), UTC7)
        reader = await SqliteLedger.open_read_only(url_of(path), UTC7)  # reading is fine
        await reader.close()
    assert Fingerprint.of(path) == before
    await no_connection_left()
