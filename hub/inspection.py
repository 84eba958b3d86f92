"""Step 1 of the router: check one ingress message, with no I/O.

A message is accepted only if it is a JWS within the size limit, signed by the registered key of
the agency it claims to come from (``schemas.signing.authenticate``), published by that agency's
broker user (or a user the hub trusts to publish for any agency), and (for a document) addressed
only to registered agencies. Everything else becomes a ``Refusal`` naming its reason. Checks that
need the ledger (an id reused, a receipt about an unknown document) happen there.

Who hears of a refused document (``Refusal.notify``, a status 02): only the registered agency whose
key verified the signature, the one agency that provably sent it. Input that no registered key
authenticated tells nobody anything; nor does a refused receipt, nor a message published by
another broker user than its signer's (it may be a replay of someone else's bytes).
"""

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from hub.registry import Registry
from schemas import limits
from schemas.envelope import DocumentReference, Envelope
from schemas.naming import DOCUMENT_ROUTING_KEY, STATUS_ROUTING_KEY, Names
from schemas.receipt import StatusReceipt
from schemas.rejection import RejectionReason
from schemas.signing import Authenticated, NotAuthentic, authenticate


@dataclass(frozen=True, slots=True)
class DocumentInput:
    input_key: str
    envelope: Envelope
    content_hash: str
    """sha256 of the signed payload: the same document resent has the same."""
    body: bytes
    """The sender's JWS, which the hub forwards byte for byte."""


@dataclass(frozen=True, slots=True)
class ReceiptInput:
    input_key: str
    receipt: StatusReceipt
    content_hash: str
    body: bytes


@dataclass(frozen=True, slots=True)
class Refusal:
    input_key: str
    """sha256 of the raw message: the same bytes refused twice are one refusal."""
    kind: str
    reason: RejectionReason
    detail: str
    notify: str | None = None
    """The agency to send a status 02 to: the one whose registered key signed the input."""
    document: DocumentReference | None = None
    """The document the input claims to be, when it could be read."""


Verdict = DocumentInput | ReceiptInput | Refusal


@dataclass(frozen=True, slots=True)
class Publishers:
    """Which broker user may publish for which agency."""

    names: Names
    trusted_users: Collection[str] = ()
    """Users that may publish for any agency (a simulator's fleet, a local trial as guest)."""

    def problem(self, user_id: str | None, agency_id: str) -> str | None:
        if user_id is not None and user_id in self.trusted_users:
            return None
        expected = self.names.agency_user(agency_id)
        if user_id == expected:
            return None
        if user_id is None:
            return f"no user_id: {agency_id} publishes as broker user {expected}"
        return f"published by broker user {user_id!r}, not {expected!r} of {agency_id}"


def input_key(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def inspect(
    routing_key: str,
    body: bytes,
    user_id: str | None,
    registry: Registry,
    publishers: Publishers,
    max_bytes: int,
) -> Verdict:
    key = input_key(body)
    if routing_key not in (DOCUMENT_ROUTING_KEY, STATUS_ROUTING_KEY):
        return Refusal(
            key, routing_key, RejectionReason.UNKNOWN_KIND, f"routing key {routing_key!r}"
        )
    if len(body) > max_bytes:
        return _oversize(key, routing_key, body, user_id, registry, publishers, max_bytes)
    if routing_key == DOCUMENT_ROUTING_KEY:
        return _inspect_document(key, body, user_id, registry, publishers)
    return _inspect_receipt(key, body, user_id, registry, publishers)


def _oversize(
    key: str,
    routing_key: str,
    body: bytes,
    user_id: str | None,
    registry: Registry,
    publishers: Publishers,
    max_bytes: int,
) -> Refusal:
    """A message over the hub's limit. A document still within the contract's limit is read, so
    that its signer hears why it was refused (its ``send()`` succeeded: the client only knows the
    contract's limit, not this hub's)."""
    notify = document = None
    if routing_key == DOCUMENT_ROUTING_KEY and len(body) <= limits.MAX_MESSAGE_BYTES:
        verdict = _inspect_document(key, body, user_id, registry, publishers)
        if isinstance(verdict, DocumentInput):
            notify, document = verdict.envelope.sender.id, verdict.envelope.reference()
        elif isinstance(verdict, Refusal):
            notify, document = verdict.notify, verdict.document
    detail = f"{len(body)} bytes, more than the limit of {max_bytes}"
    return Refusal(key, routing_key, RejectionReason.OVERSIZE, detail, notify, document)


def _inspect_document(
    key: str, body: bytes, user_id: str | None, registry: Registry, publishers: Publishers
) -> Verdict:
    kind = DOCUMENT_ROUTING_KEY
    opened = authenticate(body, Envelope, registry)
    if isinstance(opened, NotAuthentic):
        return _refusal(key, kind, opened)
    envelope = opened.model
    problem = publishers.problem(user_id, opened.signer)
    if problem is not None:
        return Refusal(
            key, kind, RejectionReason.USER_MISMATCH, problem, None, envelope.reference()
        )
    unknown = [agency for agency in envelope.recipient_ids if agency not in registry]
    if unknown:
        detail = f"not registered: {', '.join(unknown[:10])}"
        return Refusal(
            key,
            kind,
            RejectionReason.UNKNOWN_RECIPIENT,
            detail,
            opened.signer,
            envelope.reference(),
        )
    return DocumentInput(key, envelope, opened.payload_sha256, body)


def _inspect_receipt(
    key: str, body: bytes, user_id: str | None, registry: Registry, publishers: Publishers
) -> Verdict:
    kind = STATUS_ROUTING_KEY
    opened: Authenticated[StatusReceipt] | NotAuthentic = authenticate(
        body, StatusReceipt, registry
    )
    if isinstance(opened, NotAuthentic):
        return Refusal(key, kind, opened.reason, opened.detail)
    problem = publishers.problem(user_id, opened.signer)
    if problem is not None:
        return Refusal(key, kind, RejectionReason.USER_MISMATCH, problem)
    return ReceiptInput(key, opened.model, opened.payload_sha256, body)


def _refusal(key: str, kind: str, failure: NotAuthentic) -> Refusal:
    """A document that failed authentication or validation. Only a proven signer is told, about
    the document id its input claims."""
    document = None
    if failure.signer is not None:
        document = _claimed_reference(failure.claimed, failure.signer)
    return Refusal(key, kind, failure.reason, failure.detail, failure.signer, document)


def _claimed_reference(data: dict[str, Any] | None, signer: str) -> DocumentReference | None:
    try:
        return DocumentReference(id=UUID(str(data["id"])), sender=signer) if data else None
    except (ValueError, TypeError, KeyError):
        return None
