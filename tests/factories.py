"""Builders of valid contract objects for tests; override any field by keyword."""

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from hub.inspection import Publishers, Verdict, inspect
from hub.registry import Registry
from schemas import (
    AgencyDirectory,
    AgencyEntry,
    AgencyKind,
    DocumentCode,
    DocumentType,
    Envelope,
    HubEntry,
    Names,
    Organ,
    PromulgationInfo,
    Signer,
    StatusReceipt,
    limits,
    public_key_to_text,
    sign_document,
    sign_receipt,
)
from schemas.jws import STAMP_TYP, b64url_decode, b64url_encode, sign_compact, thumbprint
from schemas.stamp import STAMP_HEADER, Stamp

HUB_KEY = Ed25519PrivateKey.generate()
"""The hub's key in the directories tests build."""
TEST_USER = "guest"
"""The broker user the tests publish as; the tests' hubs trust it to publish for any agency."""
TRUSTING = Publishers(Names("test"), frozenset({TEST_USER}))


def organ(agency_id: str, name: str | None = None) -> Organ:
    return Organ(id=agency_id, name=name or f"Cơ quan {agency_id}")


def make_envelope(sender: Organ, recipients: list[Organ], **overrides: Any) -> Envelope:
    fields: dict[str, Any] = {
        "sender": sender,
        "recipients": recipients,
        "code": DocumentCode(number="123", notation="QĐ-TTg"),
        "document_type": DocumentType.DECISION,
        "subject": "Về việc triển khai thử nghiệm trục liên thông văn bản",
        "promulgation": PromulgationInfo(place="Hà Nội", date=dt.date(2022, 6, 30)),
        "signer": Signer(
            competence="KT. BỘ TRƯỞNG", function="Thứ trưởng", full_name="Nguyễn Văn A"
        ),
    }
    fields.update(overrides)
    return Envelope(**fields)


def write_hub_key(path: Path, key: Ed25519PrivateKey = HUB_KEY) -> Path:
    """The hub's key as ``dochub hub run --hub-key`` reads it."""
    path.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    return path


def hub_entry(key: Ed25519PrivateKey = HUB_KEY) -> HubEntry:
    return HubEntry(public_key=public_key_to_text(key.public_key()))


def directory_of(
    keys: Mapping[str, Ed25519PrivateKey], hub_key: Ed25519PrivateKey = HUB_KEY
) -> AgencyDirectory:
    """A directory registering each agency's key, its kind read from the id's level-1 letter,
    and the hub's key."""
    kinds = {"G": AgencyKind.MINISTRY, "H": AgencyKind.PROVINCE}
    return AgencyDirectory(
        hub=hub_entry(hub_key),
        agencies=[
            AgencyEntry.for_key(
                agency_id,
                f"Cơ quan {agency_id}",
                kinds.get(agency_id[-3], AgencyKind.OTHER),
                key.public_key(),
            )
            for agency_id, key in keys.items()
        ],
    )


Model = TypeVar("Model", Envelope, StatusReceipt)


def payload_of(body: bytes, model: type[Model]) -> Model:
    """The model a message body (a flattened JWS) carries, its signature unchecked."""
    data = json.loads(body)
    return model.model_validate_json(b64url_decode(data["payload"], "the payload"))


def signed_body(model: Envelope | StatusReceipt, key: Ed25519PrivateKey) -> bytes:
    """``model`` signed with ``key``, as the message body that carries it."""
    if isinstance(model, Envelope):
        return sign_document(model, key).body
    return sign_receipt(model, key).body


def inspected(
    routing_key: str,
    model: Envelope | StatusReceipt,
    key: Ed25519PrivateKey,
    registry: Registry,
    user_id: str | None = TEST_USER,
) -> Verdict:
    """What the hub's inspection makes of ``model``, signed with ``key``."""
    body = signed_body(model, key)
    return inspect(routing_key, body, user_id, registry, TRUSTING, limits.MAX_MESSAGE_BYTES)


def flattened_jws(
    payload: bytes,
    key: Ed25519PrivateKey,
    typ: str,
    /,
    **header: object,
) -> dict[str, str]:
    """The members of a flattened JWS of ``payload`` signed by ``key``, its protected header
    ``{"alg": "EdDSA", "kid": <key's thumbprint>, "typ": typ}`` with ``header`` merged in (a
    value of ``None`` leaves that parameter out). For bodies the library would never write."""
    fields: dict[str, object] = {"alg": "EdDSA", "kid": thumbprint(key.public_key()), "typ": typ}
    fields.update(header)
    protected = b64url_encode(
        json.dumps({k: v for k, v in fields.items() if v is not None}).encode()
    )
    encoded = b64url_encode(payload)
    signature = b64url_encode(key.sign(f"{protected}.{encoded}".encode("ascii")))
    return {"protected": protected, "payload": encoded, "signature": signature}


def jws_body(members: Mapping[str, object]) -> bytes:
    return json.dumps(members).encode()


def stamp_headers(
    body: bytes,
    kind: Literal["document", "status"],
    message_id: UUID,
    to: Sequence[str],
    key: Ed25519PrivateKey = HUB_KEY,
    *,
    sha256: str | None = None,
) -> dict[str, object]:
    """The headers the hub puts on ``body`` when it routes it: its signed stamp, as
    ``hub.router`` makes it."""
    stamp = Stamp.now(
        kind, message_id, sha256 or hashlib.sha256(body).hexdigest(), list(to), "hub:test"
    )
    return {STAMP_HEADER: sign_compact(stamp.model_dump_json().encode(), key, STAMP_TYP)}
