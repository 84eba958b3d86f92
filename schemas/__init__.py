"""The DocHub message contract: pydantic models with no I/O, and how they are signed."""

from schemas.agency_id import AGENCY_ID_PATTERN, AgencyId, AgencyKind, is_agency_id
from schemas.contract import SCHEMA_VERSION
from schemas.directory import HUB_SIGNER, AgencyDirectory, AgencyEntry, HubEntry
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
    Signer,
    Urgency,
)
from schemas.jws import thumbprint
from schemas.keys import public_key_from_text, public_key_to_text
from schemas.naming import Names
from schemas.receipt import RefusedInput, Staff, StatusCode, StatusReceipt
from schemas.rejection import RejectionReason
from schemas.signing import (
    Authenticated,
    NotAuthentic,
    Signed,
    authenticate,
    sign_document,
    sign_receipt,
)
from schemas.stamp import Stamp

__all__ = [
    "AGENCY_ID_PATTERN",
    "HUB_SIGNER",
    "SCHEMA_VERSION",
    "AgencyDirectory",
    "AgencyEntry",
    "AgencyId",
    "AgencyKind",
    "Attachment",
    "Authenticated",
    "Business",
    "BusinessKind",
    "DocumentCode",
    "DocumentReference",
    "DocumentType",
    "Envelope",
    "HubEntry",
    "Names",
    "NotAuthentic",
    "Organ",
    "OtherInfo",
    "PromulgationInfo",
    "RefusedInput",
    "RejectionReason",
    "Signed",
    "Signer",
    "Staff",
    "Stamp",
    "StatusCode",
    "StatusReceipt",
    "Urgency",
    "authenticate",
    "is_agency_id",
    "public_key_from_text",
    "public_key_to_text",
    "sign_document",
    "sign_receipt",
    "thumbprint",
]
