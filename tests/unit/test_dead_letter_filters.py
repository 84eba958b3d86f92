"""Dead letters read from their headers, and the selection by reason, sender, age and id."""

import datetime as dt
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.dead_letter_filters import (
    REPLAY_HEADER,
    DeadLetter,
    ReplayTarget,
    Selection,
    format_age,
    input_key_of,
    parse_duration,
    read_dead_letter,
    replay_headers,
    replay_target,
    replay_type,
    replayable,
    selected,
)
from schemas import Names, sign_document
from schemas.naming import DOCUMENT_MESSAGE_TYPE, REJECTED_MESSAGE_TYPE
from schemas.rejection import (
    DETAIL_HEADER,
    DOCUMENT_ID_HEADER,
    INPUT_SHA256_HEADER,
    KIND_HEADER,
    REASON_HEADER,
    SENDER_HEADER,
)
from tests.factories import make_envelope, organ

SENDER, RECIPIENT = "000.00.00.G12", "000.00.00.H29"
NAMES = Names("ns")
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
ENVELOPE = make_envelope(organ(SENDER), [organ(RECIPIENT)])
SIGNED = sign_document(ENVELOPE, Ed25519PrivateKey.generate())
BODY = SIGNED.body


def refusal(
    body: bytes = BODY, told: str = SENDER, reason: str = "unknown_recipient"
) -> DeadLetter:
    headers = {
        REASON_HEADER: reason,
        DETAIL_HEADER: "not registered: 000.00.00.H99",
        KIND_HEADER: "document",
        SENDER_HEADER: told,
        DOCUMENT_ID_HEADER: str(ENVELOPE.id) if told else "",
        INPUT_SHA256_HEADER: hashlib.sha256(body).hexdigest(),
    }
    properties = {"content_type": "application/jose+json", "type": REJECTED_MESSAGE_TYPE}
    return read_dead_letter(1, body, headers, properties)


def broker_death(queue: str, exchange: str, routing_key: str) -> DeadLetter:
    headers = {
        "x-dochub-stamp": "eyJ...",
        "x-delivery-count": 2,
        "x-first-death-reason": "delivery_limit",
        "x-death": [
            {
                "count": 1,
                "reason": "delivery_limit",
                "queue": queue,
                "time": dt.datetime(2026, 11, 25, 11, 0),
                "exchange": exchange,
                "routing-keys": [routing_key],
            }
        ],
    }
    return read_dead_letter(2, BODY, headers, {"type": DOCUMENT_MESSAGE_TYPE})


def test_a_refusal_reads_its_reason_sender_and_routing_key() -> None:
    letter = refusal()
    assert letter.origin == "hub"
    assert letter.reason == "unknown_recipient"
    assert letter.sender == SENDER
    assert letter.kind == "document"
    assert letter.document_id == str(ENVELOPE.id)
    assert letter.sha256 == hashlib.sha256(BODY).hexdigest()
    assert letter.id == letter.sha256[:12]
    assert letter.size == len(BODY)
    assert letter.died_at is None
    assert letter.age(NOW) is None


def test_a_refusal_that_told_nobody_names_the_sender_its_body_claims() -> None:
    letter = refusal(told="", reason="unknown_sender")
    assert letter.sender == SENDER
    assert letter.document_id is None
    assert read_dead_letter(1, b"\xff not json", {REASON_HEADER: "malformed"}, {}).sender is None


def test_a_message_the_broker_dead_lettered_reads_its_x_death() -> None:
    letter = broker_death(NAMES.inbox_queue(RECIPIENT), NAMES.delivery_exchange, RECIPIENT)
    assert letter.origin == "broker"
    assert letter.reason == "delivery_limit"
    assert letter.died_in == NAMES.inbox_queue(RECIPIENT)
    assert letter.died_at == dt.datetime(2026, 11, 25, 11, 0, tzinfo=dt.UTC)
    assert letter.age(NOW) == dt.timedelta(hours=1)
    assert letter.sender == SENDER
    assert letter.document_id == str(ENVELOPE.id)
    assert letter.redelivered == 2


def test_replay_goes_where_the_message_was_going() -> None:
    assert replay_target(refusal(), NAMES) == ReplayTarget(NAMES.ingress_exchange, "document")
    died_in_inbox = broker_death(NAMES.inbox_queue(RECIPIENT), NAMES.delivery_exchange, RECIPIENT)
    assert replay_target(died_in_inbox, NAMES) == ReplayTarget("", NAMES.inbox_queue(RECIPIENT))
    died_in_ingress = broker_death(NAMES.ingress_queue, NAMES.ingress_exchange, "document")
    assert replay_target(died_in_ingress, NAMES) == ReplayTarget(NAMES.ingress_exchange, "document")


def test_replayed_headers_drop_what_dead_lettering_added() -> None:
    died = broker_death(NAMES.inbox_queue(RECIPIENT), NAMES.delivery_exchange, RECIPIENT)
    headers = replay_headers(died)
    assert headers == {"x-dochub-stamp": "eyJ...", REPLAY_HEADER: died.sha256}
    assert replay_headers(refusal()) == {REPLAY_HEADER: refusal().sha256}
    assert replay_type(refusal()) == DOCUMENT_MESSAGE_TYPE
    assert replay_type(died) == DOCUMENT_MESSAGE_TYPE


def test_only_what_a_fix_can_undo_is_replayable() -> None:
    assert replayable(refusal())
    assert replayable(refusal(told="", reason="unknown_sender"))
    assert not replayable(refusal(body=b"\xff", told="", reason="malformed"))
    assert not replayable(refusal(reason="id_conflict"))
    assert replayable(
        broker_death(NAMES.inbox_queue(RECIPIENT), NAMES.delivery_exchange, RECIPIENT)
    )


def test_selection_by_reason_sender_age_and_id() -> None:
    unknown = refusal()
    anonymous = refusal(body=b"\xff", told="", reason="malformed")
    died = broker_death(NAMES.inbox_queue(RECIPIENT), NAMES.delivery_exchange, RECIPIENT)
    letters = [unknown, anonymous, died]

    assert selected(letters, Selection(), NOW) == letters
    assert not Selection().narrowed
    by_reason = Selection(reasons=frozenset({"malformed", "delivery_limit"}))
    assert selected(letters, by_reason, NOW) == [anonymous, died]
    assert selected(letters, Selection(senders=frozenset({SENDER})), NOW) == [unknown, died]
    # An unknown age never counts as old: a purge by age leaves it alone.
    older = Selection(older_than=dt.timedelta(minutes=30))
    assert selected(letters, older, NOW) == [died]
    assert selected(letters, Selection(older_than=dt.timedelta(hours=2)), NOW) == []
    timed = unknown.with_time(NOW - dt.timedelta(hours=3))
    assert selected([timed], older, NOW) == [timed]
    assert selected(letters, Selection(ids=(anonymous.id[:6],)), NOW) == [anonymous]
    both = Selection(reasons=frozenset({"unknown_recipient"}), senders=frozenset({RECIPIENT}))
    assert selected(letters, both, NOW) == []
    assert both.describe() == f"reason unknown_recipient, sender {RECIPIENT}"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"reasons": frozenset({"nope"})}, "--reason 'nope'"),
        ({"senders": frozenset({"G12"})}, "--sender 'G12'"),
        ({"ids": ("xyz",)}, "'xyz' is not a dead letter's id"),
    ],
)
def test_a_selection_refuses_what_no_dead_letter_carries(
    fields: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Selection(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("15m", 900), ("2h", 7200), ("7d", 604_800), ("1w", 604_800), ("1h30m", 5400)],
)
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == dt.timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "5", "5x", "h", "1h 2y", "-1h"])
def test_what_is_no_duration(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_ages_read_shortly() -> None:
    assert format_age(None) == "?"
    assert format_age(dt.timedelta(seconds=42)) == "42s"
    assert format_age(dt.timedelta(minutes=5, seconds=3)) == "5m3s"
    assert format_age(dt.timedelta(hours=2)) == "2h"
    assert format_age(dt.timedelta(days=1, hours=4, minutes=2)) == "1d4h"


def test_a_refusal_names_the_document_the_ledger_would_record() -> None:
    key = input_key_of(refusal())
    assert key is not None
    assert (key.kind, key.id) == ("document", str(ENVELOPE.id))
    assert key.content_hash == SIGNED.payload_sha256
    assert input_key_of(refusal(body=b"\xff", told="", reason="malformed")) is None
    died = broker_death(NAMES.inbox_queue(RECIPIENT), NAMES.delivery_exchange, RECIPIENT)
    assert input_key_of(died) is None
