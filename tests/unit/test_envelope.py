"""The document envelope: what a valid one looks like, and every limit it enforces."""

import base64
import datetime as dt
import hashlib
import json
import uuid
from typing import Any

import pytest
from pydantic import ValidationError

from schemas import (
    SCHEMA_VERSION,
    Attachment,
    Business,
    BusinessKind,
    DocumentReference,
    DocumentType,
    Envelope,
    OtherInfo,
    Urgency,
    limits,
)
from tests.factories import make_envelope, organ

SENDER = organ("000.00.00.G01")
RECIPIENT = organ("000.00.00.H01")


def recipients(count: int) -> list[Any]:
    return [organ(f"{n // 100:03d}.{n % 100:02d}.00.H01") for n in range(count)]


def envelope_data(**overrides: Any) -> dict[str, Any]:
    """A valid envelope as plain JSON data, to change before validating."""
    data: dict[str, Any] = make_envelope(SENDER, [RECIPIENT]).model_dump(mode="json")
    data.update(overrides)
    return data


def test_valid_envelope_has_its_defaults() -> None:
    before = dt.datetime.now(dt.UTC)
    envelope = make_envelope(SENDER, [RECIPIENT])
    assert envelope.schema_version == SCHEMA_VERSION == "2.0"
    assert isinstance(envelope.id, uuid.UUID)
    assert envelope.urgency is Urgency.NORMAL
    assert envelope.business.kind is BusinessKind.NEW
    assert envelope.business.reference is None
    assert envelope.attachments == []
    # 2.0: the signature is the JWS around the envelope and the hub's hop is its stamp beside
    # it; neither is a member of the signed envelope.
    assert "trace" not in Envelope.model_fields
    assert "signature" not in Envelope.model_fields
    assert envelope.sent_at.tzinfo is not None
    assert before <= envelope.sent_at <= dt.datetime.now(dt.UTC)
    assert envelope.recipient_ids == ["000.00.00.H01"]


def test_two_envelopes_get_different_ids() -> None:
    assert make_envelope(SENDER, [RECIPIENT]).id != make_envelope(SENDER, [RECIPIENT]).id


def test_envelope_is_frozen() -> None:
    envelope = make_envelope(SENDER, [RECIPIENT])
    with pytest.raises(ValidationError, match="frozen"):
        envelope.subject = "changed"  # type: ignore[misc]


def test_reference_points_at_the_envelope() -> None:
    envelope = make_envelope(SENDER, [RECIPIENT])
    reference = envelope.reference()
    assert reference == DocumentReference(
        id=envelope.id,
        sender="000.00.00.G01",
        code="123/QĐ-TTg",
        promulgation_date=dt.date(2022, 6, 30),
    )


def test_max_recipients_are_accepted() -> None:
    envelope = make_envelope(SENDER, recipients(limits.MAX_RECIPIENTS))
    assert len(envelope.recipients) == limits.MAX_RECIPIENTS == 500
    assert len(set(envelope.recipient_ids)) == limits.MAX_RECIPIENTS


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param({"recipients": []}, "at least 1 item", id="no recipients"),
        pytest.param(
            {"recipients": recipients(limits.MAX_RECIPIENTS + 1)},
            f"at most {limits.MAX_RECIPIENTS} items",
            id="too many recipients",
        ),
        pytest.param(
            {"recipients": [RECIPIENT, organ("000.00.00.H02"), organ("000.00.00.H01", "Other")]},
            "a recipient is listed more than once",
            id="duplicate recipients",
        ),
        pytest.param(
            {"subject": "x" * (limits.MAX_SUBJECT_CHARS + 1)},
            f"at most {limits.MAX_SUBJECT_CHARS} characters",
            id="subject too long",
        ),
        pytest.param({"subject": ""}, "at least 1 character", id="empty subject"),
        pytest.param(
            {"content": "x" * (limits.MAX_CONTENT_CHARS + 1)},
            f"at most {limits.MAX_CONTENT_CHARS} characters",
            id="content too long",
        ),
        pytest.param(
            {"sender": {"id": "000.00.00.G01", "name": "x" * (limits.MAX_NAME_CHARS + 1)}},
            f"at most {limits.MAX_NAME_CHARS} characters",
            id="organ name too long",
        ),
        pytest.param(
            {"due_date": dt.date(2022, 6, 29)},
            "the due date is before the promulgation date",
            id="due date before promulgation",
        ),
        pytest.param(
            {
                "business": {
                    "kind": BusinessKind.NEW,
                    "reference": {"id": str(uuid.uuid4()), "sender": "000.00.00.G01"},
                }
            },
            "a new document has no business reference",
            id="new with a reference",
        ),
        pytest.param(
            {"business": {"kind": BusinessKind.RECALL}},
            "business kind RECALL needs a reference to the original",
            id="recall without a reference",
        ),
        pytest.param(
            {"business": {"kind": BusinessKind.REPLACE}},
            "business kind REPLACE needs a reference to the original",
            id="replace without a reference",
        ),
        pytest.param(
            {"trace": [{"node": "n", "at": "2022-06-30T00:00:00Z"}]},
            "Extra inputs are not permitted",
            id="1.0 trace member",
        ),
        pytest.param(
            {"signature": {"algorithm": "ed25519", "key_id": "0" * 16, "value": "AA"}},
            "Extra inputs are not permitted",
            id="1.0 signature member",
        ),
        pytest.param(
            {
                "attachments": [Attachment.inline("a.txt", "text/plain", b"x").model_dump()]
                * (limits.MAX_ATTACHMENTS + 1)
            },
            f"at most {limits.MAX_ATTACHMENTS} items",
            id="too many attachments",
        ),
        pytest.param({"unexpected": 1}, "Extra inputs are not permitted", id="unknown field"),
        pytest.param(
            {"sent_at": dt.datetime(2022, 6, 30, 8, 0)},
            "Input should have timezone info",
            id="naive sent_at",
        ),
        pytest.param({"schema_version": "1.0"}, "Input should be '2.0'", id="wrong version"),
        pytest.param({"urgency": 5}, "Input should be 0, 1, 2, 3 or 4", id="unknown urgency"),
        pytest.param(
            {"document_type": "hop_dong"}, "Input should be 'cong_van'", id="unknown type"
        ),
    ],
)
def test_envelope_limits(overrides: dict[str, Any], message: str) -> None:
    fields = dict(overrides)
    sender = fields.pop("sender", SENDER)
    to = fields.pop("recipients", [RECIPIENT])
    with pytest.raises(ValidationError, match=message):
        make_envelope(sender, to, **fields)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"unexpected": 1}, "Extra inputs are not permitted", id="unknown field"),
        pytest.param({"sent_at": "2022-06-30T08:00:00"}, "not an RFC 3339 timestamp", id="naive"),
        pytest.param({"schema_version": "0.9"}, "Input should be '2.0'", id="old version"),
        pytest.param({"schema_version": "1.0"}, "Input should be '2.0'", id="version 1.0"),
        pytest.param({"schema_version": 2.0}, "Input should be '2.0'", id="version as number"),
    ],
)
def test_envelope_json_is_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Envelope.model_validate_json(json.dumps(envelope_data(**change)))


def test_a_document_cannot_recall_itself() -> None:
    document_id = uuid.uuid4()
    reference = DocumentReference(id=document_id, sender="000.00.00.G01")
    with pytest.raises(ValidationError, match="cannot recall, update or replace itself"):
        make_envelope(
            SENDER,
            [RECIPIENT],
            id=document_id,
            business=Business(kind=BusinessKind.RECALL, reference=reference),
        )


@pytest.mark.parametrize("kind", [BusinessKind.RECALL, BusinessKind.UPDATE, BusinessKind.REPLACE])
def test_business_with_a_reference_to_another_document_is_valid(kind: BusinessKind) -> None:
    original = make_envelope(SENDER, [RECIPIENT])
    envelope = make_envelope(
        SENDER,
        [RECIPIENT],
        business=Business(kind=kind, reference=original.reference(), reason="sai sót"),
    )
    assert envelope.business.reference is not None
    assert envelope.business.reference.id == original.id


def test_due_date_on_promulgation_day_is_valid() -> None:
    envelope = make_envelope(SENDER, [RECIPIENT], due_date=dt.date(2022, 6, 30))
    assert envelope.due_date == envelope.promulgation.date


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"page_count": 0}, "greater than or equal to 1", id="no pages"),
        pytest.param(
            {"page_count": limits.MAX_PAGES + 1},
            f"less than or equal to {limits.MAX_PAGES}",
            id="too many pages",
        ),
        pytest.param(
            {"copies": limits.MAX_COPIES + 1},
            f"less than or equal to {limits.MAX_COPIES}",
            id="too many copies",
        ),
        pytest.param({"appendixes": -1}, "greater than or equal to 0", id="negative appendixes"),
    ],
)
def test_other_info_limits(fields: dict[str, int], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        OtherInfo(**fields)


# Attachments


def test_attachment_inline_fills_size_and_digest() -> None:
    content = "Nội dung văn bản".encode()
    attachment = Attachment.inline("van-ban.txt", "text/plain", content, "bản chính")
    assert attachment.size == len(content)
    assert attachment.sha256 == hashlib.sha256(content).hexdigest()
    assert attachment.content == content
    assert attachment.description == "bản chính"


def test_attachment_without_inline_content_only_describes_the_file() -> None:
    attachment = Attachment(
        name="big.pdf",
        media_type="application/pdf",
        size=limits.MAX_ATTACHMENT_BYTES,
        sha256="0" * 64,
    )
    assert attachment.content is None
    assert attachment.size == limits.MAX_ATTACHMENT_BYTES


def test_inline_attachment_at_the_limit_is_accepted() -> None:
    attachment = Attachment.inline(
        "max.bin", "application/octet-stream", b"\0" * limits.MAX_INLINE_ATTACHMENT_BYTES
    )
    assert attachment.size == limits.MAX_INLINE_ATTACHMENT_BYTES


def test_inline_attachment_over_the_limit_is_refused() -> None:
    with pytest.raises(
        ValidationError, match=f"at most {limits.MAX_INLINE_ATTACHMENT_BYTES} bytes"
    ):
        Attachment.inline(
            "big.bin", "application/octet-stream", b"\0" * (limits.MAX_INLINE_ATTACHMENT_BYTES + 1)
        )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        pytest.param({"size": 4}, "size 4 but 3 bytes inline", id="size mismatch"),
        pytest.param(
            {"sha256": hashlib.sha256(b"xyz").hexdigest()},
            "sha256 does not match the inline content",
            id="digest mismatch",
        ),
        pytest.param({"sha256": "ABC"}, "should match pattern", id="digest not hex"),
        pytest.param(
            {"sha256": hashlib.sha256(b"abc").hexdigest().upper()},
            "should match pattern",
            id="digest uppercase",
        ),
        pytest.param({"name": "dir/a.txt"}, "should match pattern", id="slash in name"),
        pytest.param({"name": "dir\\a.txt"}, "should match pattern", id="backslash in name"),
        pytest.param({"name": ""}, "at least 1 character", id="empty name"),
        pytest.param({"media_type": "text"}, "should match pattern", id="bad media type"),
        pytest.param({"size": -1}, "greater than or equal to 0", id="negative size"),
        pytest.param(
            {"size": limits.MAX_ATTACHMENT_BYTES + 1, "content": None},
            f"less than or equal to {limits.MAX_ATTACHMENT_BYTES}",
            id="file too big",
        ),
    ],
)
def test_attachment_is_refused(fields: dict[str, Any], message: str) -> None:
    data: dict[str, Any] = {
        "name": "a.txt",
        "media_type": "text/plain",
        "size": 3,
        "sha256": hashlib.sha256(b"abc").hexdigest(),
        "content": b"abc",
    }
    data.update(fields)
    with pytest.raises(ValidationError, match=message):
        Attachment(**data)


# JSON


def full_envelope() -> Envelope:
    original = make_envelope(SENDER, [RECIPIENT])
    return make_envelope(
        SENDER,
        [RECIPIENT, organ("000.00.00.H02", 'Tỉnh "Hà Giang"')],
        content="Nội dung \\ đầy đủ",
        urgency=Urgency.FLASH,
        due_date=dt.date(2022, 7, 15),
        business=Business(kind=BusinessKind.UPDATE, reference=original.reference(), reason="x"),
        response_for=original.reference(),
        other_info=OtherInfo(page_count=3, copies=2, appendixes=1),
        attachments=[Attachment.inline("a.bin", "application/octet-stream", bytes(range(256)))],
        sent_at=dt.datetime(2022, 6, 30, 20, 0, tzinfo=dt.timezone(dt.timedelta(hours=7))),
        document_type=DocumentType.PLAN,
    )


def test_json_round_trip_gives_an_equal_envelope() -> None:
    envelope = full_envelope()
    again = Envelope.model_validate_json(envelope.model_dump_json())
    assert again == envelope
    assert again.attachments[0].content == bytes(range(256))
    assert again.sent_at == envelope.sent_at
    assert again.sent_at.utcoffset() == dt.timedelta(hours=7)


def test_bytes_travel_as_base64_in_json() -> None:
    envelope = full_envelope()
    data = json.loads(envelope.model_dump_json())
    text = data["attachments"][0]["content"]
    assert isinstance(text, str)
    # pydantic writes the URL-safe alphabet; the exported schema says format base64url.
    assert base64.urlsafe_b64decode(text) == bytes(range(256))


def attachment_json(text: str, content: bytes) -> str:
    return json.dumps(
        {
            "name": "a.bin",
            "media_type": "application/octet-stream",
            "size": len(content),
            "sha256": hashlib.sha256(content).hexdigest(),
            "content": text,
        }
    )


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(bytes(range(256)), id="256 bytes"),
        pytest.param(b"ab", id="one padding character"),
        pytest.param(b"a", id="two padding characters"),
        pytest.param(b"", id="empty"),
    ],
)
@pytest.mark.parametrize("padded", [True, False], ids=["padded", "unpadded"])
def test_base64url_content_is_read_padded_or_not(content: bytes, padded: bool) -> None:
    text = base64.urlsafe_b64encode(content).decode()
    if not padded:
        text = text.rstrip("=")
    attachment = Attachment.model_validate_json(attachment_json(text, content))
    assert attachment.content == content


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"\xf8", id="plus"),  # "+A=="
        pytest.param(b"\xfc", id="slash"),  # "/A=="
        pytest.param(bytes(range(256)), id="both"),
    ],
)
def test_standard_base64_alphabet_is_refused_with_a_clear_message(content: bytes) -> None:
    text = base64.b64encode(content).decode()
    assert "+" in text or "/" in text
    with pytest.raises(
        ValidationError,
        match=r"not base64url: use the URL-safe alphabet \('-' and '_', not '\+' and '/'\)",
    ):
        Attachment.model_validate_json(attachment_json(text, content))


def test_standard_base64_in_an_envelope_is_refused() -> None:
    data = json.loads(full_envelope().model_dump_json())
    data["attachments"][0]["content"] = base64.b64encode(bytes(range(256))).decode()
    with pytest.raises(ValidationError, match="not base64url"):
        Envelope.model_validate_json(json.dumps(data))


def test_json_enums_are_written_as_their_values() -> None:
    data = json.loads(full_envelope().model_dump_json())
    assert data["document_type"] == "ke_hoach"
    assert data["urgency"] == 3
    assert data["business"]["kind"] == 2
    assert data["schema_version"] == "2.0"
