"""The DocHub message contract: pydantic models with no I/O."""

from schemas.agency_id import AGENCY_ID_PATTERN, AgencyId, AgencyKind, is_agency_id
from schemas.canonical import canonical_bytes, content_hash
from schemas.contract import SCHEMA_VERSION
from schemas.directory import AgencyDirectory, AgencyEntry
from schemas.envelope import (
    Attachment,
    Business,
    BusinessKind,
    DocumentCode,
    DocumentReference,
    DocumentType,
    Envelope,
    Organ,
    OtherInfo,
    PromulgationInfo,
    Signature,
    Signer,
    TraceHop,
    Urgency,
)
from schemas.naming import Names
from schemas.receipt import Staff, StatusCode, StatusReceipt
from schemas.rejection import RejectionReason
from schemas.signing import key_id, public_key_from_text, public_key_to_text, sign, verify

__all__ = [
    "AGENCY_ID_PATTERN",
    "SCHEMA_VERSION",
    "AgencyDirectory",
    "AgencyEntry",
    "AgencyId",
    "AgencyKind",
    "Attachment",
    "Business",
    "BusinessKind",
    "DocumentCode",
    "DocumentReference",
    "DocumentType",
    "Envelope",
    "Names",
    "Organ",
    "OtherInfo",
    "PromulgationInfo",
    "RejectionReason",
    "Signature",
    "Signer",
    "Staff",
    "StatusCode",
    "StatusReceipt",
    "TraceHop",
    "Urgency",
    "canonical_bytes",
    "content_hash",
    "is_agency_id",
    "key_id",
    "public_key_from_text",
    "public_key_to_text",
    "sign",
    "verify",
]
