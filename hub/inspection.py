"""Step 1 of the router: check one ingress message, with no I/O.

A message is accepted only if it is a well-formed envelope or status receipt, within the size
limit, signed by the key registered for the agency it claims to come from, and (for a document)
addressed only to registered agencies. Everything else becomes a ``Refusal`` naming its reason.
Checks that need the ledger (an id reused, a receipt about an unknown document) happen there.

Who hears of a refused document (``Refusal.notify``, a status 02): the registered agency whose key
signed it, when the signature verifies (for a spoofed sender, the signer, not the agency it posed
as); otherwise, as a best effort, the registered sender the document claims. Nobody hears of a
refused receipt, nor of bytes that are not JSON.
"""

import hashlib
import json
from dataclasses import dataclass
from uuid import UUID

from pydantic import ValidationError

from hub.registry import Registry
from schemas import limits
from schemas.canonical import canonical_bytes
from schemas.contract import describe_validation_error
from schemas.envelope import DocumentReference, Envelope
from schemas.naming import DOCUMENT_ROUTING_KEY, STATUS_ROUTING_KEY
from schemas.receipt import StatusReceipt
from schemas.rejection import RejectionReason
from schemas.signing import verify


@dataclass(frozen=True, slots=True)
class DocumentInput:
    input_key: str
    envelope: Envelope
    content_hash: str


@dataclass(frozen=True, slots=True)
class ReceiptInput:
    input_key: str
    receipt: StatusReceipt


@dataclass(frozen=True, slots=True)
class Refusal:
    input_key: str
    """sha256 of the raw message: the same bytes refused twice are one refusal."""
    kind: str
    reason: RejectionReason
    detail: str
    notify: DocumentReference | None = None
    """The document to send a status 02 about, to its sender, when that sender is registered."""


Verdict = DocumentInput | ReceiptInput | Refusal


def input_key(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def inspect(routing_key: str, body: bytes, registry: Registry, max_bytes: int) -> Verdict:
    key = input_key(body)
    if routing_key not in (DOCUMENT_ROUTING_KEY, STATUS_ROUTING_KEY):
        return Refusal(
            key, routing_key, RejectionReason.UNKNOWN_KIND, f"routing key {routing_key!r}"
        )
    if len(body) > max_bytes:
        return _oversize(key, routing_key, body, registry, max_bytes)
    if routing_key == DOCUMENT_ROUTING_KEY:
        return _inspect_document(key, body, registry)
    return _inspect_receipt(key, body, registry)


def _oversize(
    key: str, routing_key: str, body: bytes, registry: Registry, max_bytes: int
) -> Refusal:
    """A message over the hub's limit. A document still within the contract's limit is read, so
    that its sender hears why it was refused (its ``send()`` succeeded: the client only knows the
    contract's limit, not this hub's)."""
    notify = None
    if routing_key == DOCUMENT_ROUTING_KEY and len(body) <= limits.MAX_MESSAGE_BYTES:
        verdict = _inspect_document(key, body, registry)
        if isinstance(verdict, DocumentInput):
            notify = verdict.envelope.reference()
        elif isinstance(verdict, Refusal):
            notify = verdict.notify
    detail = f"{len(body)} bytes, more than the limit of {max_bytes}"
    return Refusal(key, routing_key, RejectionReason.OVERSIZE, detail, notify)


def _inspect_document(key: str, body: bytes, registry: Registry) -> Verdict:
    kind = DOCUMENT_ROUTING_KEY
    try:
        envelope = Envelope.model_validate_json(body)
    except ValidationError as exc:
        reason = _parse_failure_reason(exc)
        notify = _claimed(body, registry) if reason is not RejectionReason.MALFORMED else None
        return Refusal(key, kind, reason, describe_validation_error(exc), notify)
    notify = envelope.reference() if envelope.sender.id in registry else None
    if len(envelope.trace) >= limits.MAX_TRACE_HOPS:
        detail = f"the trace already has {len(envelope.trace)} hops, the hub cannot add its own"
        return Refusal(key, kind, RejectionReason.SCHEMA_INVALID, detail, notify)
    canonical = canonical_bytes(envelope)
    refusal = _check_signer(envelope, canonical, envelope.sender.id, registry)
    if refusal is not None:
        reason, detail = refusal
        if reason is RejectionReason.SENDER_MISMATCH:
            notify = _proven_signer(envelope, canonical, registry) or notify
        return Refusal(key, kind, reason, detail, notify)
    unknown = [agency for agency in envelope.recipient_ids if agency not in registry]
    if unknown:
        detail = f"not registered: {', '.join(unknown[:10])}"
        return Refusal(key, kind, RejectionReason.UNKNOWN_RECIPIENT, detail, notify)
    return DocumentInput(key, envelope, hashlib.sha256(canonical).hexdigest())


def _inspect_receipt(key: str, body: bytes, registry: Registry) -> Verdict:
    kind = STATUS_ROUTING_KEY
    try:
        receipt = StatusReceipt.model_validate_json(body)
    except ValidationError as exc:
        return Refusal(key, kind, _parse_failure_reason(exc), describe_validation_error(exc))
    if receipt.responder is None:
        detail = "only the hub issues receipts without a responder"
        return Refusal(key, kind, RejectionReason.SCHEMA_INVALID, detail)
    refusal = _check_signer(receipt, canonical_bytes(receipt), receipt.responder.id, registry)
    if refusal is not None:
        return Refusal(key, kind, *refusal)
    return ReceiptInput(key, receipt)


def _check_signer(
    model: Envelope | StatusReceipt, canonical: bytes, claimed: str, registry: Registry
) -> tuple[RejectionReason, str] | None:
    entry = registry.get(claimed)
    if entry is None:
        return RejectionReason.UNKNOWN_SENDER, f"{claimed} is not registered"
    if model.signature is None:
        return RejectionReason.UNSIGNED, f"no signature from {claimed}"
    owner = registry.owner_of_key(model.signature.key_id)
    if owner is None or owner.id != claimed:
        signer = owner.id if owner is not None else "an unregistered key"
        return RejectionReason.SENDER_MISMATCH, f"claims {claimed} but is signed by {signer}"
    if not verify(model, entry.verify_key, canonical):
        return RejectionReason.BAD_SIGNATURE, f"the signature of {claimed} does not verify"
    return None


def _proven_signer(
    envelope: Envelope, canonical: bytes, registry: Registry
) -> DocumentReference | None:
    """For a spoofed sender: the registered agency whose key really signed the envelope. It is
    the one to hear of the refusal; the agency it posed as sent nothing and is not told."""
    assert envelope.signature is not None  # a spoofed sender is only found on a signed envelope
    owner = registry.owner_of_key(envelope.signature.key_id)
    if owner is None or not verify(envelope, owner.verify_key, canonical):
        return None
    return envelope.reference().model_copy(update={"sender": owner.id})


def _parse_failure_reason(exc: ValidationError) -> RejectionReason:
    errors = exc.errors(include_url=False)
    if any(error["type"] == "json_invalid" for error in errors):
        return RejectionReason.MALFORMED
    if any(
        error["loc"][:1] == ("schema_version",) and error["type"] == "literal_error"
        for error in errors
    ):
        return RejectionReason.UNSUPPORTED_VERSION
    return RejectionReason.SCHEMA_INVALID


def _claimed(body: bytes, registry: Registry) -> DocumentReference | None:
    """Best effort, for a JSON document that failed validation: the id and registered sender it
    claims, so that the sender hears of the refusal. Unauthenticated: the signature could not be
    checked on an invalid envelope."""
    try:
        data = json.loads(body)
        document_id = UUID(str(data["id"]))
        sender = str(data["sender"]["id"])
    except (ValueError, TypeError, KeyError, RecursionError):
        return None
    if sender not in registry:
        return None
    return DocumentReference(id=document_id, sender=sender)
