"""A document's story and finding documents, read from a ledger the real SqliteLedger wrote: what
each shows, the statuses, the filters, and that reading changes nothing."""

import datetime as dt
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.errors import LedgerError
from hub.inspection import DocumentInput, ReceiptInput, Refusal
from hub.ledger import Completion
from hub.registry import Registry
from hub.sqlite_ledger import SqliteLedger
from hub.story import accepted_inputs, document_story, find_documents
from schemas import Envelope, StatusCode, StatusReceipt
from tests.factories import directory_of, inspected, make_envelope, organ
from tests.ledger_files import Fingerprint

A, B, C = "000.00.00.G01", "000.00.00.H01", "000.00.00.H02"
UNREGISTERED = "000.00.00.H99"
KEYS = {agency: Ed25519PrivateKey.generate() for agency in (A, B, C)}
REGISTRY = Registry(directory_of(KEYS))
UTC7 = dt.timedelta(hours=7)


def document(sender: str = A, to: tuple[str, ...] = (B, C)) -> DocumentInput:
    envelope = make_envelope(organ(sender), [organ(agency) for agency in to])
    verdict = inspected("document", envelope, KEYS[sender], REGISTRY)
    assert isinstance(verdict, DocumentInput), verdict
    return verdict


def receipt(about: Envelope, responder: str, code: StatusCode, minute: int) -> ReceiptInput:
    model = StatusReceipt(
        document=about.reference(),
        responder=organ(responder),
        code=code,
        timestamp=dt.datetime(2026, 1, 1, 8, minute, tzinfo=dt.UTC),
    )
    verdict = inspected("status", model, KEYS[responder], REGISTRY)
    assert isinstance(verdict, ReceiptInput), verdict
    return verdict


async def written(path: Path, *batches: list[DocumentInput | ReceiptInput | Refusal]) -> str:
    """A ledger holding ``batches``, each admitted and completed as the hub does."""
    url = f"sqlite:///{path}"
    ledger = await SqliteLedger.open(url, UTC7)
    try:
        for batch in batches:
            await ledger.admit(batch)
            await ledger.complete(
                Completion(
                    documents=[v.envelope.id for v in batch if isinstance(v, DocumentInput)],
                    receipts=[str(v.receipt.id) for v in batch if isinstance(v, ReceiptInput)],
                    refusals=[v.input_key for v in batch if isinstance(v, Refusal)],
                )
            )
    finally:
        await ledger.close()
    return url


def refused_for_unknown_recipient() -> Refusal:
    envelope = make_envelope(organ(A), [organ(B), organ(UNREGISTERED)])
    verdict = inspected("document", envelope, KEYS[A], REGISTRY)
    assert isinstance(verdict, Refusal), verdict
    return verdict


async def test_story_of_a_routed_document_with_receipts(tmp_path: Path) -> None:
    sent = document()
    envelope = sent.envelope
    arrived_b = receipt(envelope, B, StatusCode.ARRIVED, 1)
    accepted_b = receipt(envelope, B, StatusCode.ACCEPTED, 2)
    arrived_c = receipt(envelope, C, StatusCode.ARRIVED, 3)
    url = await written(tmp_path / "ledger.db", [sent], [arrived_b, accepted_b], [arrived_c])
    before = Fingerprint.of(tmp_path / "ledger.db")

    story = await document_story(url, str(envelope.id).upper())

    assert story is not None
    assert Fingerprint.of(tmp_path / "ledger.db") == before
    assert story.document_id == str(envelope.id)
    assert story.sender == A
    assert story.accepted_at is not None
    assert story.routed_at is not None
    assert story.accepted_at.utcoffset() == dt.timedelta(hours=7)
    assert [(d.recipient, d.latest_code) for d in story.deliveries] == [(B, "03"), (C, "01")]
    assert all(d.delivered_at == story.routed_at for d in story.deliveries)
    assert [(r.responder, r.code, r.meaning) for r in story.receipts] == [
        (B, "01", "arrived"),
        (B, "03", "accepted"),
        (C, "01", "arrived"),
    ]
    assert all(r.counted and r.relayed_at is not None for r in story.receipts)
    assert story.receipts[0].at == dt.datetime(2026, 1, 1, 8, 1, tzinfo=dt.UTC)
    assert story.refusals == []
    assert story.status == "01"  # C's arrival, at 08:03, is the latest step
    kinds = [event.event for event in story.timeline]
    assert kinds.count("accepted") == 1
    assert kinds.count("delivered") == 2
    assert kinds.count("receipt") == 3
    assert [e.at for e in story.timeline] == sorted(e.at for e in story.timeline)
    assert story.model_dump(mode="json")["document_id"] == str(envelope.id)


async def test_story_of_a_refused_document_names_the_reason(tmp_path: Path) -> None:
    refused = refused_for_unknown_recipient()
    assert refused.document is not None
    url = await written(tmp_path / "ledger.db", [refused])

    story = await document_story(url, str(refused.document.id), utc_offset_hours=0)

    assert story is not None
    assert story.status == "refused"
    assert story.accepted_at is None
    assert story.deliveries == []
    assert story.receipts == []
    (refusal,) = story.refusals
    assert refusal.reason == "unknown_recipient"
    assert UNREGISTERED in refusal.detail
    assert refusal.told == A == story.sender
    assert refusal.input_sha256 == refused.input_key
    assert refusal.dead_lettered_at is not None
    assert [event.event for event in story.timeline] == ["refused"]


async def test_unknown_id_is_none_and_a_malformed_one_a_value_error(tmp_path: Path) -> None:
    url = await written(tmp_path / "ledger.db", [document()])
    assert await document_story(url, str(uuid.uuid4())) is None
    with pytest.raises(ValueError, match="UUID"):
        await document_story(url, "not-a-uuid")


async def test_a_missing_ledger_is_a_ledger_error(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="no ledger"):
        await document_story(f"sqlite:///{tmp_path / 'none.db'}", str(uuid.uuid4()))
    other = tmp_path / "other.db"
    other.write_bytes(b"")
    with pytest.raises(LedgerError):
        await find_documents(f"sqlite:///{other}", None, None, None, 10)


async def test_find_documents_by_sender_status_and_time(tmp_path: Path) -> None:
    from_a, from_b = document(A, (B,)), document(B, (C,))
    answered = receipt(from_a.envelope, B, StatusCode.ACCEPTED, 5)
    refused = refused_for_unknown_recipient()
    url = await written(tmp_path / "ledger.db", [from_a, from_b, refused], [answered])
    ids = {
        "a": str(from_a.envelope.id),
        "b": str(from_b.envelope.id),
        "refused": str(refused.document.id if refused.document else ""),
    }

    every = await find_documents(url, None, None, None, 100)
    assert {s.document_id for s in every} == set(ids.values())
    by_id = {summary.document_id: summary for summary in every}
    assert by_id[ids["a"]].status == "03"
    assert by_id[ids["a"]].receipts == 1
    assert by_id[ids["b"]].status == "routed"
    assert by_id[ids["b"]].recipients == 1
    assert by_id[ids["refused"]].status == "refused"

    from_sender = await find_documents(url, A, None, None, 100)
    assert {s.document_id for s in from_sender} == {ids["a"], ids["refused"]}
    assert [s.document_id for s in await find_documents(url, None, None, "03", 100)] == [ids["a"]]
    assert [s.document_id for s in await find_documents(url, None, None, "routed", 100)] == [
        ids["b"]
    ]
    assert [s.document_id for s in await find_documents(url, None, None, "refused", 100)] == [
        ids["refused"]
    ]
    assert await find_documents(url, None, None, "06", 100) == []
    assert len(await find_documents(url, None, None, None, 2)) == 2

    future = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    assert await find_documents(url, None, future, None, 100) == []
    past = dt.datetime.now(dt.timezone(UTC7)) - dt.timedelta(hours=1)
    assert len(await find_documents(url, None, past, None, 100)) == 3


async def test_find_documents_refuses_a_status_it_does_not_know(tmp_path: Path) -> None:
    url = await written(tmp_path / "ledger.db", [document()])
    with pytest.raises(ValueError, match="status"):
        await find_documents(url, None, None, "99", 10)
    with pytest.raises(ValueError, match="offset"):
        await find_documents(url, None, dt.datetime(2026, 1, 1), None, 10)


async def test_accepted_inputs_are_those_routed_with_that_content(tmp_path: Path) -> None:
    sent, unsent = document(), document()
    answer = receipt(sent.envelope, B, StatusCode.ARRIVED, 1)
    url = await written(tmp_path / "ledger.db", [sent], [answer])
    document_key = ("document", str(sent.envelope.id), sent.content_hash)
    receipt_key = ("status", str(answer.receipt.id), answer.content_hash)
    other_content = ("document", str(sent.envelope.id), "0" * 64)
    never_sent = ("document", str(unsent.envelope.id), unsent.content_hash)

    found = await accepted_inputs(url, [document_key, receipt_key, other_content, never_sent])

    assert found == {document_key, receipt_key}
