"""What an agency checks before it trusts a message from its queues: the hub's stamp, and its
signer's signature over the bytes as received (``agency_client.verification``)."""

import base64
import datetime as dt
import hashlib
import json
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agency_client.verification import Verified, verify_incoming
from schemas import (
    HUB_SIGNER,
    DocumentReference,
    Envelope,
    RefusedInput,
    RejectionReason,
    StatusCode,
    StatusReceipt,
    sign_document,
    sign_receipt,
    thumbprint,
)
from schemas.jws import STAMP_TYP, sign_compact
from schemas.stamp import STAMP_HEADER, Stamp
from tests.factories import (
    HUB_KEY,
    directory_of,
    flattened_jws,
    jws_body,
    make_envelope,
    organ,
    stamp_headers,
)

A, B, C, D = "000.00.00.G01", "000.00.00.G02", "000.00.00.H01", "000.00.00.H02"
KEYS = {agency: Ed25519PrivateKey.generate() for agency in (A, B, C, D)}
STRANGER_KEY = Ed25519PrivateKey.generate()
DIRECTORY = directory_of(KEYS)


def document(sender: str = A, to: tuple[str, ...] = (C, D)) -> Envelope:
    return make_envelope(organ(sender), [organ(agency) for agency in to])


def receipt(about: Envelope, responder: str = C, **fields: Any) -> StatusReceipt:
    data: dict[str, Any] = {
        "document": about.reference(),
        "responder": organ(responder),
        "code": StatusCode.ARRIVED,
    }
    data.update(fields)
    return StatusReceipt(**data)


def hub_refusal(document_reference: DocumentReference | None, body: bytes) -> StatusReceipt:
    """The receipt the hub's router sends the signer of an input it refused."""
    return StatusReceipt(
        document=document_reference,
        responder=None,
        code=StatusCode.REFUSED,
        reason=RejectionReason.UNKNOWN_RECIPIENT,
        refused=RefusedInput(sha256=hashlib.sha256(body).hexdigest(), kind="document"),
        description="not registered: 000.00.00.H98",
    )


def delivered(envelope: Envelope, key: Ed25519PrivateKey | None = None) -> bytes:
    return sign_document(envelope, key or KEYS[envelope.sender.id]).body


def problem(
    body: bytes,
    headers: dict[str, object],
    model: Any,
    agency_id: str,
) -> str:
    result = verify_incoming(body, headers, model, DIRECTORY, agency_id)
    assert isinstance(result, str), result
    return result


# A document in an inbox


def test_a_stamped_signed_document_is_verified() -> None:
    envelope = document()
    body = delivered(envelope)
    result = verify_incoming(
        body, stamp_headers(body, "document", envelope.id, [C, D]), Envelope, DIRECTORY, C
    )
    assert isinstance(result, Verified)
    assert result.signed.model == envelope
    assert result.signed.signer == A
    assert result.signed.body == body
    assert result.stamp.kind == "document"
    assert result.stamp.id == envelope.id
    assert result.stamp.sha256 == hashlib.sha256(body).hexdigest()
    assert result.stamp.to == [C, D]
    assert result.stamp.node == "hub:test"


def test_a_stamp_header_as_bytes_is_read() -> None:
    envelope = document()
    body = delivered(envelope)
    headers = stamp_headers(body, "document", envelope.id, [C])
    raw: dict[str, object] = {STAMP_HEADER: str(headers[STAMP_HEADER]).encode("ascii")}
    assert isinstance(verify_incoming(body, raw, Envelope, DIRECTORY, C), Verified)


def test_without_a_stamp_it_is_refused() -> None:
    envelope = document()
    found = problem(delivered(envelope), {}, Envelope, C)
    assert found == "no hub stamp: the hub did not route it"


@pytest.mark.parametrize("value", [None, 42, ["a.b.c"]])
def test_a_stamp_header_of_another_type_is_no_stamp(value: object) -> None:
    envelope = document()
    found = problem(delivered(envelope), {STAMP_HEADER: value}, Envelope, C)
    assert found == "no hub stamp: the hub did not route it"


@pytest.mark.parametrize(
    "key", [pytest.param(KEYS[A], id="the sender's key"), pytest.param(STRANGER_KEY, id="stranger")]
)
def test_a_stamp_by_another_key_is_refused(key: Ed25519PrivateKey) -> None:
    envelope = document()
    body = delivered(envelope)
    headers = stamp_headers(body, "document", envelope.id, [C], key=key)
    assert problem(body, headers, Envelope, C) == "the hub stamp is not signed by the hub's key"


def test_a_stamp_under_the_hubs_kid_signed_by_another_key_is_refused() -> None:
    envelope = document()
    body = delivered(envelope)
    stamp = Stamp.now("document", envelope.id, hashlib.sha256(body).hexdigest(), [C], "hub:x")
    members = flattened_jws(
        stamp.model_dump_json().encode(),
        STRANGER_KEY,
        STAMP_TYP,
        kid=thumbprint(HUB_KEY.public_key()),
    )
    compact = f"{members['protected']}.{members['payload']}.{members['signature']}"
    found = problem(body, {STAMP_HEADER: compact}, Envelope, C)
    assert found == "the hub stamp is not signed by the hub's key"


def test_a_stamp_about_other_bytes_is_refused() -> None:
    """The hub's stamp for one body cannot vouch for another, even with the same id."""
    envelope = document()
    body = delivered(envelope)
    other_body = json.dumps(json.loads(body), indent=1).encode()  # same JWS, other bytes
    headers = stamp_headers(other_body, "document", envelope.id, [C])
    assert problem(body, headers, Envelope, C) == "the hub stamp is about other bytes"


def test_a_stamp_naming_another_agency_is_refused() -> None:
    envelope = document()
    body = delivered(envelope)
    headers = stamp_headers(body, "document", envelope.id, [D])
    assert problem(body, headers, Envelope, C) == f"the hub stamp does not name {C}"


def test_a_status_stamp_on_a_document_is_refused() -> None:
    envelope = document()
    body = delivered(envelope)
    headers = stamp_headers(body, "status", envelope.id, [C])
    assert problem(body, headers, Envelope, C) == "the hub stamped it as status, not document"


def test_a_document_stamp_on_a_receipt_is_refused() -> None:
    made = receipt(document())
    body = sign_receipt(made, KEYS[C]).body
    headers = stamp_headers(body, "document", made.id, [A])
    assert problem(body, headers, StatusReceipt, A) == "the hub stamped it as document, not status"


def test_a_stamp_about_another_id_is_refused() -> None:
    envelope = document()
    body = delivered(envelope)
    other = uuid.uuid4()
    headers = stamp_headers(body, "document", other, [C])
    found = problem(body, headers, Envelope, C)
    assert found == f"the hub's stamp is about {other}, the message is {envelope.id}"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("not a jws", id="one part"),
        pytest.param("a.b.c", id="not base64url JSON"),
        pytest.param(sign_compact(b"{}", HUB_KEY, "dochub-document+json"), id="document typ"),
    ],
)
def test_a_stamp_that_is_not_a_stamp_jws_is_refused(text: str) -> None:
    envelope = document()
    found = problem(delivered(envelope), {STAMP_HEADER: text}, Envelope, C)
    assert found.startswith("the hub stamp is not valid: ")


def test_a_hub_signed_stamp_with_an_invalid_payload_is_refused() -> None:
    envelope = document()
    body = delivered(envelope)
    text = sign_compact(b'{"kind": "document"}', HUB_KEY, STAMP_TYP)
    found = problem(body, {STAMP_HEADER: text}, Envelope, C)
    assert found.startswith("the hub stamp is not valid: ")
    assert "Field required" in found


def test_without_the_hubs_key_nothing_is_trusted() -> None:
    envelope = document()
    body = delivered(envelope)
    headers = stamp_headers(body, "document", envelope.id, [C])
    directory = DIRECTORY.model_copy(update={"hub": None})
    found = verify_incoming(body, headers, Envelope, directory, C)
    assert found == "the directory has no [hub] key to check the hub's stamp with"


def test_a_stamped_document_not_addressed_to_this_agency_is_refused() -> None:
    envelope = document(to=(D,))
    body = delivered(envelope)
    headers = stamp_headers(body, "document", envelope.id, [C])
    assert problem(body, headers, Envelope, C) == f"not addressed to {C}"


def test_a_stamped_document_with_a_bad_signature_is_refused() -> None:
    signed = sign_document(document(), KEYS[A])
    tampered = signed.model.model_copy(update={"subject": "Đã bị sửa"})
    members = json.loads(signed.body)
    members["payload"] = (
        base64.urlsafe_b64encode(tampered.model_dump_json().encode()).decode().rstrip("=")
    )
    body = jws_body(members)
    found = problem(body, stamp_headers(body, "document", tampered.id, [C]), Envelope, C)
    assert found.startswith("bad_signature: ")


def test_a_stamped_document_signed_by_another_agency_is_refused() -> None:
    envelope = document(sender=A)
    body = delivered(envelope, key=KEYS[B])
    found = problem(body, stamp_headers(body, "document", envelope.id, [C]), Envelope, C)
    assert found.startswith("sender_mismatch: ")


def test_a_stamped_document_signed_by_the_hub_is_refused() -> None:
    envelope = document(sender=A)
    body = delivered(envelope, key=HUB_KEY)
    found = problem(body, stamp_headers(body, "document", envelope.id, [C]), Envelope, C)
    assert found.startswith("sender_mismatch: ")


def test_a_stamped_contract_1_0_body_is_refused() -> None:
    data = json.loads(document().model_dump_json())
    data["schema_version"] = "1.0"
    body = json.dumps(data).encode()
    found = problem(body, stamp_headers(body, "document", uuid.UUID(data["id"]), [C]), Envelope, C)
    assert found.startswith("unsupported_version: ")


# A receipt in a status queue


def test_a_stamped_receipt_about_my_document_is_verified() -> None:
    made = receipt(document(sender=A), responder=C, code=StatusCode.ACCEPTED)
    body = sign_receipt(made, KEYS[C]).body
    result = verify_incoming(
        body, stamp_headers(body, "status", made.id, [A]), StatusReceipt, DIRECTORY, A
    )
    assert isinstance(result, Verified)
    assert result.signed.model == made
    assert result.signed.signer == C
    assert result.stamp.kind == "status"


def test_a_receipt_about_another_agencys_document_is_refused() -> None:
    made = receipt(document(sender=B))
    body = sign_receipt(made, KEYS[C]).body
    found = problem(body, stamp_headers(body, "status", made.id, [A]), StatusReceipt, A)
    assert found == f"about a document of {B}"


def test_a_receipt_signed_by_another_agency_than_its_responder_is_refused() -> None:
    made = receipt(document(sender=A), responder=C)
    body = sign_receipt(made, KEYS[D]).body
    found = problem(body, stamp_headers(body, "status", made.id, [A]), StatusReceipt, A)
    assert found.startswith("sender_mismatch: ")


def test_a_hub_refusal_signed_by_the_hubs_key_is_accepted() -> None:
    envelope = document(sender=A, to=(C, "000.00.00.H98"))
    refused_body = delivered(envelope)
    made = hub_refusal(envelope.reference(), refused_body)
    body = sign_receipt(made, HUB_KEY).body
    result = verify_incoming(
        body, stamp_headers(body, "status", made.id, [A]), StatusReceipt, DIRECTORY, A
    )
    assert isinstance(result, Verified)
    assert result.signed.signer == HUB_SIGNER
    assert result.signed.model.issued_by_hub
    assert result.signed.model.refused is not None
    assert result.signed.model.refused.sha256 == hashlib.sha256(refused_body).hexdigest()


def test_a_hub_refusal_of_an_input_whose_id_was_unreadable_is_accepted() -> None:
    made = hub_refusal(None, b"whatever was published")
    body = sign_receipt(made, HUB_KEY).body
    result = verify_incoming(
        body, stamp_headers(body, "status", made.id, [A]), StatusReceipt, DIRECTORY, A
    )
    assert isinstance(result, Verified)
    assert result.signed.signer == HUB_SIGNER


def test_a_hub_refusal_about_another_agencys_document_is_refused() -> None:
    made = hub_refusal(document(sender=B).reference(), b"x")
    body = sign_receipt(made, HUB_KEY).body
    found = problem(body, stamp_headers(body, "status", made.id, [A]), StatusReceipt, A)
    assert found == f"about a document of {B}"


def test_an_agency_signed_receipt_without_a_responder_is_refused() -> None:
    """Only the hub's key may sign a receipt with no responder."""
    made = hub_refusal(document(sender=A).reference(), b"x")
    body = sign_receipt(made, KEYS[C]).body
    found = problem(body, stamp_headers(body, "status", made.id, [A]), StatusReceipt, A)
    assert found.startswith("sender_mismatch: ")
    assert C in found


def test_a_hub_signed_receipt_with_a_responder_is_refused() -> None:
    """The hub's key cannot speak for an agency."""
    made = receipt(document(sender=A), responder=C)
    body = sign_receipt(made, HUB_KEY).body
    found = problem(body, stamp_headers(body, "status", made.id, [A]), StatusReceipt, A)
    assert found.startswith("sender_mismatch: ")


def test_the_stamp_keeps_the_hubs_hop_out_of_the_signed_bytes() -> None:
    """Routing adds nothing to the body: the same signed bytes, with a stamp beside them."""
    envelope = document()
    body = delivered(envelope)
    first = stamp_headers(body, "document", envelope.id, [C])
    later = stamp_headers(body, "document", envelope.id, [C])
    for headers in (first, later):
        result = verify_incoming(body, headers, Envelope, DIRECTORY, C)
        assert isinstance(result, Verified)
        assert result.signed.body == body
        assert result.stamp.routed_at <= dt.datetime.now(dt.UTC)
