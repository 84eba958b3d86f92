"""Signed documents and receipts: JWS (RFC 7515, flattened) with EdDSA over the payload's bytes
exactly as sent, and ``authenticate``, the one reading of a signed message."""

import base64
import datetime as dt
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from schemas import (
    HUB_SIGNER,
    Attachment,
    Authenticated,
    DocumentReference,
    Envelope,
    NotAuthentic,
    RefusedInput,
    RejectionReason,
    StatusCode,
    StatusReceipt,
    Urgency,
    authenticate,
    public_key_from_text,
    public_key_to_text,
    sign_document,
    sign_receipt,
    thumbprint,
)
from schemas.jws import (
    DOCUMENT_TYP,
    RECEIPT_TYP,
    STAMP_TYP,
    JwsError,
    b64url_decode,
    parse_compact,
    sign_compact,
    sign_flattened,
)
from schemas.signing import WIRE_REQUIRED
from tests.factories import (
    HUB_KEY,
    directory_of,
    flattened_jws,
    jws_body,
    make_envelope,
    organ,
)

A, B, C = "000.00.00.G01", "000.00.00.G02", "000.00.00.H01"
UNREGISTERED = "000.00.00.G99"
KEYS = {agency: Ed25519PrivateKey.generate() for agency in (A, B, C)}
KEY = KEYS[A]
STRANGER_KEY = Ed25519PrivateKey.generate()
OWNERS = directory_of(KEYS)
SENDER = organ(A)
RECIPIENT = organ(C)


def envelope(**fields: Any) -> Envelope:
    data: dict[str, Any] = {
        "attachments": [Attachment.inline("a.txt", "text/plain", b"abc")],
        "sent_at": dt.datetime(2022, 6, 30, 20, 0, tzinfo=dt.UTC),
    }
    data.update(fields)
    return make_envelope(SENDER, [RECIPIENT], **data)


def receipt(**fields: Any) -> StatusReceipt:
    data: dict[str, Any] = {
        "document": envelope().reference(),
        "responder": RECIPIENT,
        "code": StatusCode.ARRIVED,
        "description": "Đã đến",
        "timestamp": dt.datetime(2022, 7, 1, 1, 0, tzinfo=dt.UTC),
    }
    data.update(fields)
    return StatusReceipt(**data)


def members(body: bytes) -> dict[str, str]:
    data: dict[str, str] = json.loads(body)
    return data


def header_of(body: bytes) -> dict[str, Any]:
    header: dict[str, Any] = json.loads(b64url_decode(members(body)["protected"], "protected"))
    return header


def refused(body: bytes, model: Any = Envelope) -> NotAuthentic:
    result = authenticate(body, model, OWNERS)
    assert isinstance(result, NotAuthentic), result
    assert result.detail
    return result


def accepted(body: bytes, model: Any = Envelope) -> Authenticated[Any]:
    result = authenticate(body, model, OWNERS)
    assert isinstance(result, Authenticated), result
    return result


# Signing and authenticating


@pytest.mark.parametrize("make", [envelope, receipt], ids=["envelope", "receipt"])
def test_sign_authenticate_round_trip(make: Callable[[], Envelope | StatusReceipt]) -> None:
    model = make()
    signer, key = (A, KEYS[A]) if isinstance(model, Envelope) else (C, KEYS[C])
    signed = sign_document(model, key) if isinstance(model, Envelope) else sign_receipt(model, key)
    assert signed.model is model
    assert set(members(signed.body)) == {"protected", "payload", "signature"}
    assert b64url_decode(members(signed.body)["payload"], "payload") == signed.payload
    assert signed.payload == model.model_dump_json().encode()
    assert signed.sha256 == hashlib.sha256(signed.body).hexdigest()
    assert signed.payload_sha256 == hashlib.sha256(signed.payload).hexdigest()
    assert len(b64url_decode(members(signed.body)["signature"], "signature")) == 64

    opened = accepted(signed.body, type(model))
    assert opened.model == model
    assert opened.signer == signer
    assert opened.body == signed.body
    assert opened.payload == signed.payload
    assert opened.sha256 == signed.sha256
    assert opened.payload_sha256 == signed.payload_sha256


@pytest.mark.parametrize(
    ("sign", "typ"),
    [(sign_document, DOCUMENT_TYP), (sign_receipt, RECEIPT_TYP)],
    ids=["document", "receipt"],
)
def test_the_protected_header_names_alg_kid_and_typ(
    sign: Callable[[Any, Ed25519PrivateKey], Any], typ: str
) -> None:
    model = envelope() if sign is sign_document else receipt()
    body = sign(model, KEY).body
    assert header_of(body) == {"alg": "EdDSA", "kid": thumbprint(KEY.public_key()), "typ": typ}


def test_every_member_is_base64url_without_padding() -> None:
    for body in (sign_document(envelope(), KEY).body, sign_receipt(receipt(), KEYS[C]).body):
        for text in members(body).values():
            assert re.fullmatch(r"[A-Za-z0-9_-]+", text), text


def test_signing_is_deterministic() -> None:
    """Ed25519 signs deterministically: the same envelope signed twice is the same body, so a
    resend is byte for byte what was sent."""
    model = envelope()
    assert sign_document(model, KEY).body == sign_document(model, KEY).body


def test_a_hub_refusal_is_signed_by_the_hubs_key() -> None:
    refusal = receipt(
        responder=None,
        code=StatusCode.REFUSED,
        reason=RejectionReason.UNKNOWN_RECIPIENT,
        refused=RefusedInput(sha256="0" * 64, kind="document"),
    )
    opened = accepted(sign_receipt(refusal, HUB_KEY).body, StatusReceipt)
    assert opened.signer == HUB_SIGNER
    assert opened.model == refusal


def test_a_hub_refusal_signed_by_an_agency_is_a_sender_mismatch() -> None:
    refusal = receipt(
        responder=None,
        code=StatusCode.REFUSED,
        reason=RejectionReason.UNKNOWN_RECIPIENT,
        refused=RefusedInput(sha256="0" * 64, kind="document"),
    )
    found = refused(sign_receipt(refusal, KEYS[C]).body, StatusReceipt)
    assert found.reason is RejectionReason.SENDER_MISMATCH
    assert found.signer == C


def test_a_document_signed_by_the_hubs_key_is_a_sender_mismatch() -> None:
    found = refused(sign_document(envelope(), HUB_KEY).body)
    assert found.reason is RejectionReason.SENDER_MISMATCH
    assert found.signer == HUB_SIGNER


# Verification is over the bytes as sent: any JSON writer's output authenticates


def hand_written_envelope(**changes: Any) -> dict[str, Any]:
    """An envelope's JSON as another language's program might write it: only the required
    members, in its own order."""
    data: dict[str, Any] = {
        "id": "6a1f0e2c-7d36-4c3c-9e65-3f1f4c1c7c55",
        "sent_at": "2022-06-30T20:00:00.123Z",
        "sender": {"id": A, "name": "Bộ Nội vụ"},
        "recipients": [{"id": C, "name": "UBND tỉnh"}],
        "code": {"number": "123", "notation": "QĐ-TTg"},
        "document_type": "quyet_dinh",
        "subject": "Về việc thử nghiệm",
        "promulgation": {"place": "Hà Nội", "date": "2022-06-30"},
        "signer": {"full_name": "Nguyễn Văn A"},
    }
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


WRITTEN: list[Any] = [
    pytest.param(json.dumps(hand_written_envelope(), ensure_ascii=False), id="JS timestamp .123Z"),
    pytest.param(
        json.dumps(hand_written_envelope(sent_at="2022-06-30T20:00:00+00:00")), id="+00:00"
    ),
    pytest.param(json.dumps(hand_written_envelope(sent_at="2022-06-30T20:00:00.000Z")), id=".000Z"),
    pytest.param(
        json.dumps(hand_written_envelope(sent_at="2022-07-01T03:00:00.5+07:00")), id="+07:00"
    ),
    pytest.param(
        json.dumps(hand_written_envelope(id="6A1F0E2C-7D36-4C3C-9E65-3F1F4C1C7C55")),
        id="upper-case UUID",
    ),
    pytest.param(
        json.dumps(dict(reversed(hand_written_envelope().items()))), id="reversed key order"
    ),
    pytest.param(
        json.dumps(hand_written_envelope(), indent=4, separators=(" ,  ", " :  ")) + "\n",
        id="white space",
    ),
    pytest.param(
        json.dumps(
            hand_written_envelope(
                schema_version="2.0", urgency=0, content=None, attachments=[], due_date=None
            ),
            sort_keys=True,
        ),
        id="some optional members, sorted",
    ),
    pytest.param(
        '{"subject":"V\\u1ec1 vi\\u1ec7c th\\u1eed nghi\\u1ec7m",'
        + json.dumps(hand_written_envelope(subject=None))[1:],
        id="escaped non-ASCII",
    ),
]


@pytest.mark.parametrize("text", WRITTEN)
def test_any_json_writers_payload_authenticates(text: str) -> None:
    payload = text.encode()
    body = sign_flattened(payload, KEY, DOCUMENT_TYP)
    opened = accepted(body)
    assert opened.payload == payload  # kept byte for byte, never re-serialised
    assert opened.payload_sha256 == hashlib.sha256(payload).hexdigest()
    assert opened.signer == A
    model = opened.model
    assert model.id == uuid.UUID("6a1f0e2c-7d36-4c3c-9e65-3f1f4c1c7c55")
    assert model.subject == "Về việc thử nghiệm"
    assert model.sent_at.astimezone(dt.UTC).replace(microsecond=0) == dt.datetime(
        2022, 6, 30, 20, 0, tzinfo=dt.UTC
    )


@pytest.mark.parametrize(
    "timestamp",
    ["2022-07-01T01:00:00.123Z", "2022-07-01T01:00:00+00:00", "2022-07-01T08:00:00.000+07:00"],
)
def test_any_json_writers_receipt_authenticates(timestamp: str) -> None:
    reference = envelope().reference()
    text = (
        "{\n"
        f'  "timestamp": "{timestamp}",\n'
        f'  "code": "03",\n'
        f'  "responder": {{"name": "UBND", "id": "{C}"}},\n'
        f'  "document": {{"sender": "{A}", "id": "{str(reference.id).upper()}"}},\n'
        f'  "id": "{str(uuid.uuid4()).upper()}"\n'
        "}"
    )
    payload = text.encode()
    opened = accepted(sign_flattened(payload, KEYS[C], RECEIPT_TYP), StatusReceipt)
    assert opened.payload == payload
    assert opened.signer == C
    assert opened.model.code is StatusCode.ACCEPTED
    assert opened.model.document == DocumentReference(id=reference.id, sender=A)


def test_the_outer_json_may_be_written_any_way() -> None:
    """The three members are strings: their order and the white space around them do not touch
    what is signed."""
    signed = sign_document(envelope(), KEY)
    rewritten = json.dumps(dict(reversed(members(signed.body).items())), indent=2).encode()
    opened = accepted(rewritten)
    assert opened.model == signed.model
    assert opened.payload == signed.payload
    assert opened.sha256 != signed.sha256
    assert opened.payload_sha256 == signed.payload_sha256


@pytest.mark.parametrize("typ", ["DocHub-Document+JSON", "application/dochub-document+json"])
def test_typ_is_compared_as_a_media_type(typ: str) -> None:
    body = jws_body(flattened_jws(envelope().model_dump_json().encode(), KEY, typ))
    assert accepted(body).signer == A


def test_other_header_parameters_are_ignored() -> None:
    body = jws_body(
        flattened_jws(envelope().model_dump_json().encode(), KEY, DOCUMENT_TYP, cty="json", x=1)
    )
    assert accepted(body).signer == A


# Tampering


ENVELOPE_CHANGES: list[Any] = [
    pytest.param({"subject": "Về việc khác"}, id="subject"),
    pytest.param({"id": uuid.uuid4()}, id="id"),
    pytest.param({"sender": organ(A, "Tên khác")}, id="sender name"),
    pytest.param({"recipients": [organ("000.00.00.H02")]}, id="recipients"),
    pytest.param({"recipients": [RECIPIENT, organ("000.00.00.H02")]}, id="recipient added"),
    pytest.param({"urgency": Urgency.FLASH}, id="urgency"),
    pytest.param({"content": "thêm"}, id="content"),
    pytest.param({"sent_at": dt.datetime(2022, 6, 30, 20, 0, 1, tzinfo=dt.UTC)}, id="sent_at"),
    pytest.param({"due_date": dt.date(2022, 12, 31)}, id="due date"),
    pytest.param(
        {"attachments": [Attachment.inline("a.txt", "text/plain", b"abd")]}, id="attachment"
    ),
    pytest.param({"attachments": []}, id="attachment removed"),
]


def with_payload(body: bytes, payload: bytes) -> bytes:
    """``body`` with its payload replaced, its protected header and signature kept."""
    return jws_body(
        {**members(body), "payload": base64.urlsafe_b64encode(payload).decode().rstrip("=")}
    )


@pytest.mark.parametrize("change", ENVELOPE_CHANGES)
def test_any_change_to_a_signed_envelope_is_a_bad_signature(change: dict[str, Any]) -> None:
    signed = sign_document(envelope(), KEY)
    changed = Envelope.model_validate({**signed.model.model_dump(), **change})
    found = refused(with_payload(signed.body, changed.model_dump_json().encode()))
    assert found.reason is RejectionReason.BAD_SIGNATURE
    assert found.signer is None  # nobody proved they sent it: nobody is told
    assert found.claimed is not None


def test_a_changed_sender_is_still_checked_against_the_key() -> None:
    signed = sign_document(envelope(), KEY)
    changed = signed.model.model_copy(update={"sender": organ(B)})
    found = refused(with_payload(signed.body, changed.model_dump_json().encode()))
    assert found.reason is RejectionReason.BAD_SIGNATURE
    assert found.signer is None


def test_a_payload_changed_only_in_white_space_is_a_bad_signature() -> None:
    signed = sign_document(envelope(), KEY)
    found = refused(with_payload(signed.body, signed.payload + b" "))
    assert found.reason is RejectionReason.BAD_SIGNATURE


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"code": StatusCode.COMPLETED}, id="code"),
        pytest.param({"description": "Hoàn thành"}, id="description"),
        pytest.param(
            {"document": DocumentReference(id=uuid.uuid4(), sender=A)},
            id="document",
        ),
        pytest.param(
            {"timestamp": dt.datetime(2022, 7, 1, 1, 0, 1, tzinfo=dt.UTC)}, id="timestamp"
        ),
        pytest.param({"id": uuid.uuid4()}, id="id"),
    ],
)
def test_any_change_to_a_signed_receipt_is_a_bad_signature(change: dict[str, Any]) -> None:
    signed = sign_receipt(receipt(), KEYS[C])
    changed = StatusReceipt.model_validate({**signed.model.model_dump(), **change})
    found = refused(with_payload(signed.body, changed.model_dump_json().encode()), StatusReceipt)
    assert found.reason is RejectionReason.BAD_SIGNATURE
    assert found.signer is None


def test_a_changed_protected_header_is_a_bad_signature() -> None:
    signed = members(sign_document(envelope(), KEY).body)
    other = members(jws_body(flattened_jws(b"{}", KEY, DOCUMENT_TYP, cty="json")))
    found = refused(jws_body({**signed, "protected": other["protected"]}))
    assert found.reason is RejectionReason.BAD_SIGNATURE


def test_a_signature_by_another_key_under_the_right_kid_is_a_bad_signature() -> None:
    payload = envelope().model_dump_json().encode()
    forged = flattened_jws(payload, STRANGER_KEY, DOCUMENT_TYP, kid=thumbprint(KEY.public_key()))
    found = refused(jws_body(forged))
    assert found.reason is RejectionReason.BAD_SIGNATURE
    assert A in found.detail
    assert found.signer is None


# Who signed it


def test_signed_by_an_unregistered_key_claiming_a_registered_sender() -> None:
    found = refused(sign_document(envelope(), STRANGER_KEY).body)
    assert found.reason is RejectionReason.SENDER_MISMATCH
    assert "an unregistered key" in found.detail
    assert found.signer is None


def test_signed_by_an_unregistered_key_claiming_an_unregistered_sender() -> None:
    model = make_envelope(organ(UNREGISTERED), [RECIPIENT])
    found = refused(sign_document(model, STRANGER_KEY).body)
    assert found.reason is RejectionReason.UNKNOWN_SENDER
    assert UNREGISTERED in found.detail
    assert found.signer is None


def test_signed_by_a_registered_agency_claiming_another_names_the_real_signer() -> None:
    found = refused(sign_document(envelope(), KEYS[B]).body)
    assert found.reason is RejectionReason.SENDER_MISMATCH
    assert A in found.detail
    assert B in found.detail
    assert found.signer == B
    assert found.claimed is not None
    assert found.claimed["sender"]["id"] == A


def test_a_receipt_signed_by_another_registered_agency_names_the_real_signer() -> None:
    found = refused(sign_receipt(receipt(), KEYS[B]).body, StatusReceipt)
    assert found.reason is RejectionReason.SENDER_MISMATCH
    assert found.signer == B


# What the payload must carry


@pytest.mark.parametrize(
    ("model", "missing", "key"),
    [
        (Envelope, "id", KEYS[A]),
        (Envelope, "sent_at", KEYS[A]),
        (StatusReceipt, "id", KEYS[C]),
        (StatusReceipt, "timestamp", KEYS[C]),
    ],
)
def test_members_the_wire_requires_are_not_filled_in(
    model: type[Envelope] | type[StatusReceipt], missing: str, key: Ed25519PrivateKey
) -> None:
    assert missing in WIRE_REQUIRED[model]
    built = envelope() if model is Envelope else receipt()
    data = json.loads(built.model_dump_json())
    del data[missing]
    typ = DOCUMENT_TYP if model is Envelope else RECEIPT_TYP
    found = refused(sign_flattened(json.dumps(data).encode(), key, typ), model)
    assert found.reason is RejectionReason.SCHEMA_INVALID
    assert f"{missing}: Field required" in found.detail
    assert found.signer == (A if model is Envelope else C)


def test_a_signed_payload_that_breaks_the_contract_names_the_signer() -> None:
    data = json.loads(envelope().model_dump_json())
    data.update(subject="", urgency=9)
    found = refused(sign_flattened(json.dumps(data).encode(), KEY, DOCUMENT_TYP))
    assert found.reason is RejectionReason.SCHEMA_INVALID
    assert "subject" in found.detail
    assert "urgency" in found.detail
    assert found.signer == A


@pytest.mark.parametrize("payload", [b"not json", b"[]", b'"text"', b"", b"\xff\xfe"], ids=repr)
def test_a_signed_payload_that_is_not_an_object_is_schema_invalid(payload: bytes) -> None:
    found = refused(sign_flattened(payload, KEY, DOCUMENT_TYP))
    assert found.reason is RejectionReason.SCHEMA_INVALID
    assert found.signer == A


# Versions


@pytest.mark.parametrize("version", ["1.0", "0.9", "2.1", 2.0])
def test_a_payload_of_another_version_is_unsupported(version: object) -> None:
    data = json.loads(envelope().model_dump_json())
    data["schema_version"] = version
    found = refused(sign_flattened(json.dumps(data).encode(), KEY, DOCUMENT_TYP))
    assert found.reason is RejectionReason.UNSUPPORTED_VERSION
    assert found.signer == A


def test_a_receipt_payload_of_version_1_0_is_unsupported() -> None:
    data = json.loads(receipt().model_dump_json())
    data["schema_version"] = "1.0"
    found = refused(sign_flattened(json.dumps(data).encode(), KEYS[C], RECEIPT_TYP), StatusReceipt)
    assert found.reason is RejectionReason.UNSUPPORTED_VERSION


def contract_1_0_body() -> bytes:
    """A document as contract 1.0 sent it: the envelope itself, with an embedded signature."""
    data = json.loads(envelope().model_dump_json())
    data["schema_version"] = "1.0"
    data["trace"] = []
    data["signature"] = {
        "algorithm": "ed25519",
        "key_id": "0123456789abcdef",
        "value": base64.b64encode(b"\1" * 64).decode(),
    }
    return json.dumps(data).encode()


@pytest.mark.parametrize("model", [Envelope, StatusReceipt])
def test_a_contract_1_0_body_is_unsupported(model: type[Envelope] | type[StatusReceipt]) -> None:
    found = refused(contract_1_0_body(), model)
    assert found.reason is RejectionReason.UNSUPPORTED_VERSION
    assert "2.0" in found.detail
    assert found.signer is None


def test_any_bare_object_with_a_schema_version_is_unsupported() -> None:
    found = refused(b'{"schema_version": "2.0", "id": "x"}')
    assert found.reason is RejectionReason.UNSUPPORTED_VERSION


# Not a JWS DocHub accepts


def valid_members(**changes: object) -> dict[str, object]:
    data: dict[str, object] = dict(members(sign_document(envelope(), KEY).body))
    data.update(changes)
    return data


@pytest.mark.parametrize("member", ["protected", "payload", "signature"])
def test_padded_base64url_is_refused_naming_padding(member: str) -> None:
    data = valid_members()
    text = str(data[member])
    padded = text + "=" * (-len(text) % 4 or 4)
    found = refused(jws_body({**data, member: padded}))
    assert found.reason is RejectionReason.SCHEMA_INVALID
    assert "padding" in found.detail


@pytest.mark.parametrize("member", ["protected", "payload", "signature"])
def test_standard_base64_in_a_member_is_refused(member: str) -> None:
    data = valid_members()
    found = refused(jws_body({**data, member: "ab+/" + str(data[member])[4:]}))
    assert found.reason is RejectionReason.SCHEMA_INVALID
    assert "base64url" in found.detail


def test_a_single_leftover_character_is_not_base64url() -> None:
    """Base64url text is never one character longer than a multiple of four."""
    data = valid_members()
    payload = str(data["payload"])
    payload += "A" * ((1 - len(payload)) % 4)
    assert len(payload) % 4 == 1
    found = refused(jws_body({**data, "payload": payload}))
    assert found.reason is RejectionReason.SCHEMA_INVALID
    assert "base64url" in found.detail


@pytest.mark.parametrize(
    ("header", "message"),
    [
        pytest.param({"alg": "none"}, "alg must be 'EdDSA'", id="alg none"),
        pytest.param({"alg": "HS256"}, "alg must be 'EdDSA'", id="alg HS256"),
        pytest.param({"alg": "Ed25519"}, "alg must be 'EdDSA'", id="alg Ed25519"),
        pytest.param({"alg": "eddsa"}, "alg must be 'EdDSA'", id="alg lower case"),
        pytest.param({"alg": None}, "alg must be 'EdDSA'", id="no alg"),
        pytest.param({"crit": ["exp"], "exp": 1}, "'crit'", id="crit"),
        pytest.param({"crit": []}, "'crit'", id="empty crit"),
        pytest.param({"kid": None}, "kid", id="no kid"),
        pytest.param({"kid": ""}, "kid", id="empty kid"),
        pytest.param({"kid": 7}, "kid", id="kid not a string"),
        pytest.param({"typ": RECEIPT_TYP}, "typ must be 'dochub-document+json'", id="receipt typ"),
        pytest.param({"typ": STAMP_TYP}, "typ must be 'dochub-document+json'", id="stamp typ"),
        pytest.param({"typ": "JWT"}, "typ must be", id="JWT"),
        pytest.param({"typ": None}, "typ must be", id="no typ"),
    ],
)
def test_a_protected_header_dochub_does_not_accept(header: dict[str, object], message: str) -> None:
    body = jws_body(
        flattened_jws(envelope().model_dump_json().encode(), KEY, DOCUMENT_TYP, **header)
    )
    found = refused(body)
    assert found.reason is RejectionReason.SCHEMA_INVALID
    assert message in found.detail
    assert found.signer is None


def test_a_receipt_jws_is_not_a_document() -> None:
    body = sign_receipt(receipt(), KEYS[C]).body
    found = refused(body, Envelope)
    assert found.reason is RejectionReason.SCHEMA_INVALID
    assert "typ must be 'dochub-document+json'" in found.detail
    assert refused(sign_document(envelope(), KEY).body, StatusReceipt).reason is (
        RejectionReason.SCHEMA_INVALID
    )


@pytest.mark.parametrize(
    "protected",
    [
        pytest.param(b"[]", id="array"),
        pytest.param(b"not json", id="not json"),
        pytest.param(b"\xff", id="not UTF-8"),
    ],
)
def test_a_protected_header_that_is_not_a_json_object(protected: bytes) -> None:
    text = base64.urlsafe_b64encode(protected).decode().rstrip("=")
    found = refused(jws_body(valid_members(protected=text)))
    assert found.reason is RejectionReason.SCHEMA_INVALID


def test_an_unprotected_header_is_refused() -> None:
    found = refused(jws_body(valid_members(header={"kid": "x"})))
    assert found.reason is RejectionReason.SCHEMA_INVALID
    assert "unprotected" in found.detail


def test_the_general_serialisation_is_refused() -> None:
    data = valid_members()
    general = {
        "payload": data["payload"],
        "signatures": [{"protected": data["protected"], "signature": data["signature"]}],
    }
    found = refused(jws_body(general))
    assert found.reason is RejectionReason.SCHEMA_INVALID
    assert "general JWS serialisation" in found.detail


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param({"extra": "x"}, "unexpected member extra", id="extra member"),
        pytest.param({"protected": None}, "strings", id="protected not a string"),
        pytest.param({"payload": 1}, "strings", id="payload not a string"),
        pytest.param({"signature": ["x"]}, "strings", id="signature not a string"),
        pytest.param(
            {"signature": base64.urlsafe_b64encode(b"\1" * 63).decode().rstrip("=")},
            "64 bytes, not 63",
            id="short signature",
        ),
    ],
)
def test_a_flattened_jws_of_the_wrong_shape(data: dict[str, object], message: str) -> None:
    found = refused(jws_body(valid_members(**data)))
    assert found.reason is RejectionReason.SCHEMA_INVALID
    assert message in found.detail


@pytest.mark.parametrize("missing", ["protected", "payload"])
def test_a_flattened_jws_missing_a_member(missing: str) -> None:
    data = valid_members()
    del data[missing]
    found = refused(jws_body(data))
    assert found.reason is RejectionReason.SCHEMA_INVALID
    assert f"missing {missing}" in found.detail


def test_a_missing_signature_is_unsigned() -> None:
    data = valid_members()
    del data["signature"]
    found = refused(jws_body(data))
    assert found.reason is RejectionReason.UNSIGNED
    assert found.signer is None


def test_an_empty_signature_is_unsigned() -> None:
    found = refused(jws_body(valid_members(signature="")))
    assert found.reason is RejectionReason.UNSIGNED


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", RejectionReason.MALFORMED),
        (b"\xff\xfe", RejectionReason.MALFORMED),
        (b"[" * 100_000, RejectionReason.MALFORMED),
        (b"[]", RejectionReason.SCHEMA_INVALID),
        (b"{}", RejectionReason.SCHEMA_INVALID),
    ],
    ids=["text", "not UTF-8", "deep", "array", "empty object"],
)
def test_bodies_that_are_no_jws(body: bytes, reason: RejectionReason) -> None:
    found = refused(body)
    assert found.reason is reason
    assert found.signer is None


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_a_jws_body_not_in_utf8_is_malformed(encoding: str) -> None:
    """The contract: a body that is not UTF-8 JSON is ``malformed`` (RFC 8259 §8.1). Python's
    json.loads would guess UTF-16 and UTF-32 from bytes; other agencies' parsers do not."""
    body = sign_document(envelope(), KEY).body.decode("ascii").encode(encoding)
    found = refused(body)
    assert found.reason is RejectionReason.MALFORMED
    assert found.signer is None


# The compact serialisation (the hub's stamp)


def test_compact_round_trip() -> None:
    text = sign_compact(b'{"a":1}', HUB_KEY, STAMP_TYP)
    assert text.count(".") == 2
    jws = parse_compact(text, STAMP_TYP)
    assert jws.payload_bytes == b'{"a":1}'
    assert jws.kid == thumbprint(HUB_KEY.public_key())
    assert jws.verify(HUB_KEY.public_key())
    assert not jws.verify(KEY.public_key())


@pytest.mark.parametrize("text", ["a.b", "a.b.c.d", ""])
def test_compact_needs_three_parts(text: str) -> None:
    with pytest.raises(JwsError, match="three parts"):
        parse_compact(text, STAMP_TYP)


def test_compact_checks_the_typ() -> None:
    with pytest.raises(JwsError, match="typ must be 'dochub-stamp\\+json'"):
        parse_compact(sign_compact(b"{}", HUB_KEY, DOCUMENT_TYP), STAMP_TYP)


# Keys


def test_thumbprint_is_rfc_7638() -> None:
    """RFC 7638 §3: SHA-256 of the JWK's required members (crv, kty, x for an OKP key, RFC 8037
    §2), in lexicographic order, with no white space; base64url without padding."""
    public = KEY.public_key()
    x = base64.urlsafe_b64encode(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).rstrip(b"=")
    jwk = b'{"crv":"Ed25519","kty":"OKP","x":"' + x + b'"}'
    expected = base64.urlsafe_b64encode(hashlib.sha256(jwk).digest()).rstrip(b"=").decode()
    assert thumbprint(public) == expected
    assert len(thumbprint(public)) == 43
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", thumbprint(public))
    assert thumbprint(public) != thumbprint(STRANGER_KEY.public_key())


def test_thumbprint_of_the_rfc_8037_example_key() -> None:
    """RFC 8037 appendix A.3 gives the thumbprint of its example Ed25519 key."""
    x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
    raw = base64.urlsafe_b64decode(x + "=")
    public = Ed25519PublicKey.from_public_bytes(raw)
    assert thumbprint(public) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_public_key_text_round_trip() -> None:
    public = KEY.public_key()
    text = public_key_to_text(public)
    assert base64.b64decode(text) == public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    assert thumbprint(public_key_from_text(text)) == thumbprint(public)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("not base64!", "base64 of 32 raw Ed25519 bytes", id="not base64"),
        pytest.param("QUJD\n", "base64 of 32 raw Ed25519 bytes", id="newline"),
        pytest.param("QUJ", "base64 of 32 raw Ed25519 bytes", id="bad padding"),
        pytest.param("", "32 bytes, not 0", id="empty"),
        pytest.param(base64.b64encode(b"\1" * 31).decode(), "32 bytes, not 31", id="31 bytes"),
        pytest.param(base64.b64encode(b"\1" * 33).decode(), "32 bytes, not 33", id="33 bytes"),
        pytest.param(base64.b64encode(b"\1" * 64).decode(), "32 bytes, not 64", id="64 bytes"),
    ],
)
def test_public_key_from_text_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        public_key_from_text(text)


# Another JOSE implementation agrees (joserfc)

JOSERFC_EDDSA = pytest.mark.filterwarnings(
    # joserfc follows RFC 9864, which deprecates the polymorphic "EdDSA" for "Ed25519"; the
    # contract names EdDSA (RFC 8037), which joserfc still verifies.
    "ignore:EdDSA is deprecated"
)


def joserfc_key(key: Ed25519PrivateKey, private: bool) -> Any:
    jwk = pytest.importorskip("joserfc.jwk")
    if private:
        pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    else:
        pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    return jwk.OKPKey.import_key(pem)


@JOSERFC_EDDSA
def test_joserfc_computes_the_same_kid() -> None:
    assert joserfc_key(KEY, private=False).thumbprint() == thumbprint(KEY.public_key())


@JOSERFC_EDDSA
@pytest.mark.parametrize("make", [envelope, receipt], ids=["envelope", "receipt"])
def test_a_jws_we_make_verifies_in_joserfc(make: Callable[[], Envelope | StatusReceipt]) -> None:
    jws = pytest.importorskip("joserfc.jws")
    model = make()
    key = KEY if isinstance(model, Envelope) else KEYS[C]
    signed = sign_document(model, key) if isinstance(model, Envelope) else sign_receipt(model, key)
    verified = jws.deserialize_json(
        json.loads(signed.body), joserfc_key(key, private=False), algorithms=["EdDSA"]
    )
    assert verified.payload == signed.payload
    assert verified.headers()["kid"] == thumbprint(key.public_key())
    with pytest.raises(Exception, match="signature"):
        jws.deserialize_json(
            json.loads(signed.body), joserfc_key(STRANGER_KEY, private=False), algorithms=["EdDSA"]
        )


@JOSERFC_EDDSA
def test_our_stamp_verifies_in_joserfc() -> None:
    jws = pytest.importorskip("joserfc.jws")
    text = sign_compact(b'{"kind":"document"}', HUB_KEY, STAMP_TYP)
    verified = jws.deserialize_compact(
        text, joserfc_key(HUB_KEY, private=False), algorithms=["EdDSA"]
    )
    assert verified.payload == b'{"kind":"document"}'
    assert verified.headers()["typ"] == STAMP_TYP


@JOSERFC_EDDSA
@pytest.mark.parametrize("typ", [DOCUMENT_TYP, "application/dochub-document+json"])
def test_a_jws_joserfc_makes_authenticates_in_ours(typ: str) -> None:
    jws = pytest.importorskip("joserfc.jws")
    private = joserfc_key(KEY, private=True)
    payload = json.dumps(hand_written_envelope(), indent=1).encode()
    made = jws.serialize_json(
        {"protected": {"alg": "EdDSA", "kid": private.thumbprint(), "typ": typ}},
        payload,
        private,
        algorithms=["EdDSA"],
    )
    assert set(made) == {"protected", "payload", "signature"}  # flattened
    opened = accepted(json.dumps(made).encode())
    assert opened.payload == payload
    assert opened.signer == A


@JOSERFC_EDDSA
def test_a_receipt_joserfc_makes_authenticates_in_ours() -> None:
    jws = pytest.importorskip("joserfc.jws")
    private = joserfc_key(KEYS[C], private=True)
    model = receipt()
    payload = model.model_dump_json(indent=2).encode()
    made = jws.serialize_json(
        {"protected": {"alg": "EdDSA", "kid": private.thumbprint(), "typ": RECEIPT_TYP}},
        payload,
        private,
        algorithms=["EdDSA"],
    )
    opened = accepted(json.dumps(made).encode(), StatusReceipt)
    assert opened.signer == C
    assert opened.model == model
