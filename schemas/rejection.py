"""Why the hub refuses an input: the codes it writes in dead-letter headers and in status 02
receipts, and the names of those headers."""

from enum import StrEnum
from typing import Final


class RejectionReason(StrEnum):
    MALFORMED = "malformed"
    """Not UTF-8 JSON at all."""
    SCHEMA_INVALID = "schema_invalid"
    """JSON, but not a flattened JWS, or a signed payload that is not a valid envelope or receipt
    (a missing field, a value out of its limits)."""
    UNSUPPORTED_VERSION = "unsupported_version"
    """A payload of another contract version, or a contract 1.0 message."""
    OVERSIZE = "oversize"
    UNKNOWN_KIND = "unknown_kind"
    """Published to the ingress with a routing key that is neither a document nor a status."""
    UNKNOWN_SENDER = "unknown_sender"
    UNSIGNED = "unsigned"
    """A JWS without a signature."""
    BAD_SIGNATURE = "bad_signature"
    SENDER_MISMATCH = "sender_mismatch"
    """Signed with a key that is not the claimed sender's: a spoofed sender."""
    USER_MISMATCH = "user_mismatch"
    """Published by another broker user than the one of the agency that signed it."""
    UNKNOWN_RECIPIENT = "unknown_recipient"
    ID_CONFLICT = "id_conflict"
    """A document id the hub has already seen with different content."""
    UNKNOWN_DOCUMENT = "unknown_document"
    """A status receipt about a document the hub never accepted."""
    NOT_A_RECIPIENT = "not_a_recipient"
    """A status receipt from an agency the document was not addressed to."""


REASON_HEADER: Final = "x-dochub-reason"
DETAIL_HEADER: Final = "x-dochub-detail"
SENDER_HEADER: Final = "x-dochub-sender"
DOCUMENT_ID_HEADER: Final = "x-dochub-document-id"
KIND_HEADER: Final = "x-dochub-kind"
INPUT_SHA256_HEADER: Final = "x-dochub-input-sha256"
