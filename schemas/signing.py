"""Signed documents and receipts: making them, and reading one back to who signed it.

``authenticate`` is the one reading of a signed message, shared by the hub and the agencies: it
verifies the signature over the payload's bytes as received, then validates those bytes against the
contract, and says which reason refuses anything else. It never re-serialises what was signed.
"""

import hashlib
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import ValidationError

from schemas.contract import describe_validation_error
from schemas.directory import HUB_SIGNER
from schemas.envelope import Envelope
from schemas.jws import (
    DOCUMENT_TYP,
    RECEIPT_TYP,
    DuplicateMember,
    Jws,
    JwsError,
    loads_unique,
    parse_flattened,
    sign_flattened,
)
from schemas.receipt import StatusReceipt
from schemas.rejection import RejectionReason

Model = TypeVar("Model", Envelope, StatusReceipt)


class KeyOwners(Protocol):
    def key_owner(self, kid: str) -> tuple[str, Ed25519PublicKey] | None:
        """The agency id (or ``HUB_SIGNER``) whose key is ``kid``, and that key."""
        ...

    def __contains__(self, agency_id: object) -> bool: ...


@dataclass(frozen=True, slots=True)
class Signed(Generic[Model]):
    """A document or receipt with the exact bytes that carry it: a JWS, the message body."""

    model: Model
    body: bytes
    payload: bytes
    """The signed bytes: the model's JSON as its signer wrote it."""

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the body: what the hub names when it refuses this message."""
        return hashlib.sha256(self.body).hexdigest()

    @property
    def payload_sha256(self) -> str:
        """Hex SHA-256 of the signed bytes: the same document resent has the same."""
        return hashlib.sha256(self.payload).hexdigest()


@dataclass(frozen=True, slots=True)
class Authenticated(Signed[Model]):
    signer: str
    """The agency whose registered key verified the signature, or ``HUB_SIGNER``."""


@dataclass(frozen=True, slots=True)
class NotAuthentic:
    reason: RejectionReason
    detail: str
    signer: str | None = None
    """Set when a registered key did verify the signature: the one agency that may be told."""
    claimed: dict[str, Any] | None = None
    """The payload's JSON, unchecked, when it could be read."""


def _sign(model: Model, key: Ed25519PrivateKey, typ: str) -> Signed[Model]:
    payload = model.model_dump_json().encode()
    return Signed(model, sign_flattened(payload, key, typ), payload)


def sign_document(envelope: Envelope, key: Ed25519PrivateKey) -> Signed[Envelope]:
    return _sign(envelope, key, DOCUMENT_TYP)


def sign_receipt(receipt: StatusReceipt, key: Ed25519PrivateKey) -> Signed[StatusReceipt]:
    return _sign(receipt, key, RECEIPT_TYP)


_TYP = {Envelope: DOCUMENT_TYP, StatusReceipt: RECEIPT_TYP}
WIRE_REQUIRED = {Envelope: ("id", "sent_at"), StatusReceipt: ("id", "timestamp")}
"""Members the models fill in when a program builds one, but that a signed payload must carry:
the hub never fills in an id or a time on a signer's behalf."""


def authenticate(
    body: bytes, model: type[Model], owners: KeyOwners
) -> "Authenticated[Model] | NotAuthentic":
    try:
        data = loads_unique(body)
    except DuplicateMember as exc:
        return NotAuthentic(RejectionReason.SCHEMA_INVALID, str(exc))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        return NotAuthentic(RejectionReason.MALFORMED, f"not UTF-8 JSON: {exc}")
    if not isinstance(data, dict):
        return NotAuthentic(RejectionReason.SCHEMA_INVALID, "not a JSON object")
    if "schema_version" in data and "payload" not in data:
        return NotAuthentic(
            RejectionReason.UNSUPPORTED_VERSION,
            f"schema_version {str(data['schema_version'])[:20]!r} with an embedded signature is "
            "no longer accepted: send a flattened JWS whose payload has schema_version 2.0",
        )
    try:
        jws = parse_flattened(data, _TYP[model])
    except JwsError as exc:
        reason = RejectionReason.UNSIGNED if exc.unsigned else RejectionReason.SCHEMA_INVALID
        return NotAuthentic(reason, str(exc))
    claimed, duplicates = _json_object(jws.payload_bytes)
    claimed_signer = _claimed_signer(model, claimed)
    owner = owners.key_owner(jws.kid)
    if owner is None:
        if claimed_signer is not None and claimed_signer not in owners:
            return NotAuthentic(
                RejectionReason.UNKNOWN_SENDER, f"{claimed_signer} is not registered", None, claimed
            )
        detail = f"signed by an unregistered key (kid {jws.kid[:50]!r})"
        return NotAuthentic(RejectionReason.SENDER_MISMATCH, detail, None, claimed)
    signer, key = owner
    if not jws.verify(key):
        detail = f"the signature by the key of {signer} does not verify"
        return NotAuthentic(RejectionReason.BAD_SIGNATURE, detail, None, claimed)
    if duplicates is not None:
        return NotAuthentic(RejectionReason.SCHEMA_INVALID, f"the payload: {duplicates}", signer)
    return _validated(jws, body, model, signer, claimed)


def _validated(
    jws: Jws, body: bytes, model: type[Model], signer: str, claimed: dict[str, Any] | None
) -> "Authenticated[Model] | NotAuthentic":
    try:
        # Strict: the JSON types the contract states, not pydantic's lax coercions ("1" for 1).
        parsed = model.model_validate_json(jws.payload_bytes, strict=True)
    except ValidationError as exc:
        return NotAuthentic(
            _validation_reason(exc), describe_validation_error(exc), signer, claimed
        )
    missing = [name for name in WIRE_REQUIRED[model] if claimed is None or name not in claimed]
    if missing:
        detail = f"{', '.join(missing)}: Field required"
        return NotAuthentic(RejectionReason.SCHEMA_INVALID, detail, signer, claimed)
    claimed_signer = _signer_of(parsed)
    if claimed_signer != signer:
        detail = f"claims {claimed_signer} but is signed by the key of {signer}"
        return NotAuthentic(RejectionReason.SENDER_MISMATCH, detail, signer, claimed)
    return Authenticated(parsed, body, jws.payload_bytes, signer)


def _signer_of(model: Envelope | StatusReceipt) -> str:
    if isinstance(model, Envelope):
        return model.sender.id
    return model.responder.id if model.responder is not None else HUB_SIGNER


def _claimed_signer(
    model: type[Envelope | StatusReceipt], data: dict[str, Any] | None
) -> str | None:
    field = "sender" if model is Envelope else "responder"
    try:
        return str(data[field]["id"]) if data is not None else None
    except (KeyError, TypeError):
        return None


def _json_object(payload: bytes) -> tuple[dict[str, Any] | None, DuplicateMember | None]:
    """The payload's JSON object, unchecked, if it is one; or the members it names twice."""
    try:
        data = loads_unique(payload)
    except DuplicateMember as exc:
        return None, exc
    except (ValueError, RecursionError):
        return None, None
    return (data if isinstance(data, dict) else None), None


def _validation_reason(exc: ValidationError) -> RejectionReason:
    errors = exc.errors(include_url=False)
    if any(error["type"] == "json_invalid" for error in errors):
        return RejectionReason.SCHEMA_INVALID  # the signed payload is not JSON
    if any(
        error["loc"][:1] == ("schema_version",) and error["type"] == "literal_error"
        for error in errors
    ):
        return RejectionReason.UNSUPPORTED_VERSION
    return RejectionReason.SCHEMA_INVALID
