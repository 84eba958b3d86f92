"""Write the conformance vectors of the DocHub wire contract 2.0 (``docs/contract.md``).

    python conformance/generate.py [--out DIR]      (DIR defaults to conformance/vectors)

Every key is derived from a fixed label and Ed25519 signatures are deterministic (RFC 8032), so a
second run writes byte-identical files; ``tests/unit/test_conformance.py`` checks that it does.

The payloads are written here as literal JSON text, never serialised from the Python models: the
vectors show the forms other JSON writers produce (``toISOString()`` timestamps, ``+00:00``,
upper-case UUIDs, members left out, any key order and white space), and the hub must take them as
they are. The verdicts are written by hand from the contract, not computed by the hub: the tests
check that the hub gives them. ``conformance/README.md`` describes the files.
"""

import argparse
import base64
import hashlib
import hmac
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.agency_id import AgencyKind
from schemas.directory import AgencyDirectory, AgencyEntry, HubEntry
from schemas.jws import DOCUMENT_TYP, RECEIPT_TYP, STAMP_TYP, b64url_encode, raw_public_key
from schemas.jws import thumbprint as rfc7638_thumbprint
from schemas.keys import public_key_to_text
from schemas.limits import MAX_MESSAGE_BYTES
from schemas.rejection import RejectionReason as R

NAMESPACE: Final = "conf"
DEFAULT_OUT: Final = Path(__file__).resolve().parent / "vectors"
SEED_LABEL: Final = "DocHub conformance vectors 2.0, key "
"""A key's 32-byte Ed25519 seed is SHA-256 of this label followed by the key's name."""
SIGNER_USER: Final = "<the signer's broker user>"
"""The default publisher of a hub vector: the broker user of the agency whose key signed it."""
SMALL_LIMIT: Final = 1024
"""The hub's ``max_message_bytes`` in the oversize vectors (the smallest a hub may set)."""


# --- Keys ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Party:
    name: str
    agency_id: str | None
    display: str
    kind: AgencyKind | None
    registered: bool

    @property
    def label(self) -> str:
        return SEED_LABEL + self.name

    @property
    def seed(self) -> bytes:
        return hashlib.sha256(self.label.encode("utf-8")).digest()

    @property
    def key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    @property
    def kid(self) -> str:
        return rfc7638_thumbprint(self.key.public_key())

    @property
    def user(self) -> str:
        return f"{NAMESPACE}.{self.agency_id or 'hub'}"

    @property
    def organ(self) -> str:
        """The party as an organ of a payload, in the compact form of most vectors."""
        return f'{{"id":"{self.agency_id}","name":"{self.display}"}}'


PARTIES: Final = {
    "A": Party("A", "000.00.00.G12", "Cơ quan A", AgencyKind.MINISTRY, True),
    "B": Party("B", "000.00.00.H29", "Cơ quan B", AgencyKind.PROVINCE, True),
    "C": Party("C", "000.00.00.G01", "Cơ quan C", AgencyKind.GOVERNMENT_AGENCY, True),
    "STRANGER": Party("STRANGER", "000.00.00.G77", "Cơ quan lạ", None, False),
    "HUB": Party("HUB", None, "DocHub conformance hub", None, True),
}
A, B, C, STRANGER, HUB = (PARTIES[name] for name in ("A", "B", "C", "STRANGER", "HUB"))
UNREGISTERED_RECIPIENT: Final = "000.00.00.H98"


def keys_file() -> dict[str, Any]:
    keys: dict[str, Any] = {}
    for party in PARTIES.values():
        public = raw_public_key(party.key.public_key())
        keys[party.name] = {
            "agency_id": party.agency_id,
            "registered": party.registered,
            "broker_user": party.user,
            "seed_label": party.label,
            "private_seed": b64url_encode(party.seed),
            "public_key": public_key_to_text(party.key.public_key()),
            "kid": party.kid,
            "jwk": {
                "kty": "OKP",
                "crv": "Ed25519",
                "x": b64url_encode(public),
                "d": b64url_encode(party.seed),
                "kid": party.kid,
            },
        }
    return {
        "about": (
            "Test keys of the DocHub conformance vectors. Never use them for anything else: their "
            "private halves are published here."
        ),
        "derivation": (
            "private_seed is SHA-256 of the UTF-8 seed_label; it is the 32-byte Ed25519 private "
            "key (RFC 8032). public_key is standard base64 of the 32 raw public-key bytes, as the "
            "agency directory lists it; kid is its RFC 7638 thumbprint; jwk is the key as a JWK "
            "(RFC 8037), private part d included, for JOSE libraries."
        ),
        "namespace": NAMESPACE,
        "trusted_users": [],
        "hub_node": f"hub:{NAMESPACE}",
        "keys": keys,
    }


def directory_toml() -> str:
    directory = AgencyDirectory(
        hub=HubEntry(name=HUB.display, public_key=public_key_to_text(HUB.key.public_key())),
        agencies=[
            AgencyEntry.for_key(party.agency_id, party.display, party.kind, party.key.public_key())
            for party in (A, B, C)
            if party.agency_id is not None and party.kind is not None
        ],
    )
    return directory.to_toml()


# --- Signing ------------------------------------------------------------------------------------


def b64(text: str) -> str:
    return b64url_encode(text.encode("utf-8"))


def header(party: Party, typ: str) -> str:
    return f'{{"alg":"EdDSA","kid":"{party.kid}","typ":"{typ}"}}'


@dataclass(frozen=True, slots=True)
class Jws:
    """One JWS, its parts as text: the protected header's JSON, the payload's JSON, and the
    base64url members as they appear in the body."""

    signer: Party
    protected: str
    payload: str
    protected_b64: str
    payload_b64: str
    signature: str

    @property
    def signing_input(self) -> str:
        return f"{self.protected_b64}.{self.payload_b64}"

    @property
    def body(self) -> str:
        """The flattened serialisation, written as the reference implementation writes it."""
        return flattened(self.protected_b64, self.payload_b64, self.signature)

    @property
    def compact(self) -> str:
        return f"{self.signing_input}.{self.signature}"

    def fields(self) -> dict[str, Any]:
        return {
            "signer": self.signer.name,
            "protected": self.protected,
            "payload_json": self.payload,
            "signing_input": self.signing_input,
            "signature": self.signature,
        }


def sign(party: Party, payload: str, typ: str, protected: str | None = None) -> Jws:
    protected = header(party, typ) if protected is None else protected
    protected_b64, payload_b64 = b64(protected), b64(payload)
    signature = party.key.sign(f"{protected_b64}.{payload_b64}".encode("ascii"))
    return Jws(party, protected, payload, protected_b64, payload_b64, b64url_encode(signature))


def flattened(protected: str, payload: str, signature: str) -> str:
    return f'{{"protected":"{protected}","payload":"{payload}","signature":"{signature}"}}'


def replaced(text: str, old: str, new: str) -> str:
    """``text`` with its one occurrence of ``old`` replaced."""
    if text.count(old) != 1:
        raise ValueError(f"{old!r} occurs {text.count(old)} times")
    return text.replace(old, new)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- Payloads -----------------------------------------------------------------------------------


def doc_id(number: int) -> str:
    return f"d0c0ee00-2026-4c25-9a00-{number:012d}"


def receipt_id(number: int) -> str:
    return f"4ece1b70-2026-4c25-9a00-{number:012d}"


def minimal_document(number: int, sender: Party = A, to: str | None = None) -> str:
    """A document with only its required members, written compactly."""
    recipients = to if to is not None else f"[{B.organ}]"
    return (
        f'{{"id":"{doc_id(number)}","sender":{sender.organ},"recipients":{recipients},'
        '"code":{"number":"123","notation":"QĐ-CQA"},"document_type":"cong_van",'
        '"subject":"Về việc thử nghiệm trục liên thông văn bản",'
        '"promulgation":{"place":"Hà Nội","date":"2026-11-24"},'
        '"signer":{"full_name":"Nguyễn Văn An"},"sent_at":"2026-11-25T03:00:00Z"}'
    )


DOCUMENT_MINIMAL: Final = minimal_document(1)
REFERENCE_1: Final = (
    f'{{"id":"{doc_id(1)}","sender":"000.00.00.G12","code":"123/QĐ-CQA",'
    '"promulgation_date":"2026-11-24"}'
)

DOCUMENT_JAVASCRIPT: Final = (
    # What JSON.stringify writes, with new Date().toISOString() and crypto.randomUUID().
    f'{{"schema_version":"2.0","id":"{doc_id(2)}","sender":{A.organ},"recipients":[{B.organ}],'
    '"code":{"number":"45","notation":"TB-CQA"},"document_type":"thong_bao",'
    '"subject":"Thông báo lịch họp","promulgation":{"place":"Hà Nội","date":"2026-11-25"},'
    '"signer":{"full_name":"Trần Thị Bình","function":"Chánh Văn phòng"},'
    '"sent_at":"2026-11-25T03:00:00.123Z"}'
)

DOCUMENT_OFFSET: Final = replaced(
    replaced(DOCUMENT_MINIMAL, doc_id(1), doc_id(3)),
    '"sent_at":"2026-11-25T03:00:00Z"',
    '"sent_at":"2026-11-25T03:00:00+00:00"',
)

DOCUMENT_ZERO_MILLISECONDS: Final = replaced(
    replaced(DOCUMENT_MINIMAL, doc_id(1), doc_id(4)),
    '"sent_at":"2026-11-25T03:00:00Z"',
    '"sent_at":"2026-11-25T03:00:00.000Z"',
)

DOCUMENT_UPPERCASE_ID: Final = replaced(DOCUMENT_MINIMAL, doc_id(1), doc_id(5).upper())

DOCUMENT_KEY_ORDER_WHITESPACE: Final = (
    # Members in another order, indented with tabs and CRLF line ends, \u escapes and an escaped
    # solidus, optional members given as null, and the time in +07:00.
    "{\r\n"
    '\t"sent_at" : "2026-11-25T10:00:00+07:00",\r\n'
    '\t"signer" : { "full_name" : "Nguy\\u1ec5n V\\u0103n An", "competence" : "", '
    '"function" : "" },\r\n'
    '\t"subject" : "V\\u1ec1 vi\\u1ec7c th\\u1eed nghi\\u1ec7m (l\\u1ea7n 2\\/3)",\r\n'
    '\t"recipients" : [ { "name" : "Cơ quan B", "id" : "000.00.00.H29" } ],\r\n'
    '\t"promulgation" : { "date" : "2026-11-24", "place" : "Hà Nội" },\r\n'
    '\t"document_type" : "cong_van",\r\n'
    '\t"code" : { "notation" : "QĐ-CQA", "number" : "124" },\r\n'
    '\t"content" : null,\r\n'
    '\t"due_date" : null,\r\n'
    '\t"response_for" : null,\r\n'
    '\t"other_info" : null,\r\n'
    '\t"sender" : { "name" : "Cơ quan A", "id" : "000.00.00.G12" },\r\n'
    f'\t"id" : "{doc_id(6)}",\r\n'
    '\t"schema_version" : "2.0"\r\n'
    "}\r\n"
)

ATTACHMENT_BYTES: Final = bytes([0xFB, 0xEF, 0xFF]) + "Biên bản họp".encode()
ATTACHMENT_PADDED: Final = base64.urlsafe_b64encode(ATTACHMENT_BYTES).decode("ascii")
ATTACHMENT_UNPADDED: Final = ATTACHMENT_PADDED.rstrip("=")
ATTACHMENT_STANDARD: Final = base64.standard_b64encode(ATTACHMENT_BYTES).decode("ascii")
ATTACHMENT_SHA256: Final = hashlib.sha256(ATTACHMENT_BYTES).hexdigest()
assert ATTACHMENT_PADDED.endswith("="), "shows padding"
assert {"-", "_"} <= set(ATTACHMENT_PADDED), "shows the URL-safe alphabet"
assert {"+", "/"} <= set(ATTACHMENT_STANDARD), "shows the standard alphabet"


def attachment(content: str) -> str:
    return (
        f'{{"name":"bien-ban.bin","media_type":"application/octet-stream",'
        f'"size":{len(ATTACHMENT_BYTES)},"sha256":"{ATTACHMENT_SHA256}","content":"{content}"}}'
    )


DOCUMENT_EVERY_MEMBER: Final = (
    f'{{"schema_version":"2.0","id":"{doc_id(7)}","sender":{A.organ},'
    f'"recipients":[{B.organ},{C.organ}],'
    '"code":{"number":"07","notation":"KH-CQA"},"document_type":"ke_hoach",'
    '"subject":"Kế hoạch triển khai năm 2027","content":"Nội dung kế hoạch…",'
    '"promulgation":{"place":"Hà Nội","date":"2026-11-20"},'
    '"signer":{"competence":"KT. BỘ TRƯỞNG","function":"Thứ trưởng","full_name":"Lê Văn Cường"},'
    '"urgency":2,"due_date":"2026-12-31",'
    '"business":{"kind":0,"reference":null,"reason":""},'
    f'"response_for":{REFERENCE_1},'
    '"other_info":{"page_count":12,"copies":3,"appendixes":1},'
    '"attachments":['
    + attachment(ATTACHMENT_UNPADDED)[:-1]
    + ',"description":"Biên bản, nội dung kèm theo"},'
    '{"name":"ke-hoach.pdf","description":"","media_type":"application/pdf","size":2097152,'
    '"sha256":"' + "0" * 64 + '","content":null}],'
    '"sent_at":"2026-11-25T03:00:00.5+00:00"}'
)

DOCUMENT_PADDED_ATTACHMENT: Final = replaced(
    replaced(DOCUMENT_MINIMAL, doc_id(1), doc_id(8)),
    ',"sent_at"',
    f',"attachments":[{attachment(ATTACHMENT_PADDED)}],"sent_at"',
)

DOCUMENT_RECALL: Final = replaced(
    replaced(DOCUMENT_MINIMAL, doc_id(1), doc_id(9)),
    ',"sent_at"',
    f',"business":{{"kind":1,"reference":{REFERENCE_1},"reason":"Ban hành nhầm"}},"sent_at"',
)


def receipt(
    number: int, responder: Party, code: str, timestamp: str, extra: str = "", about: int = 1
) -> str:
    return (
        f'{{"schema_version":"2.0","id":"{receipt_id(number)}",'
        f'"document":{{"id":"{doc_id(about)}","sender":"000.00.00.G12"}},'
        f'"responder":{responder.organ},"code":"{code}"{extra},"timestamp":"{timestamp}"}}'
    )


RECEIPT_ARRIVED: Final = receipt(1, B, "01", "2026-11-25T10:05:00+07:00")
RECEIPT_REFUSED: Final = receipt(
    2,
    B,
    "02",
    "2026-11-25T03:06:00.250Z",
    ',"description":"Không đúng thẩm quyền giải quyết","staff":{"full_name":"Phạm Thị Dung",'
    '"department":"Văn phòng","email":"van.thu@cqb.example","phone":"+84 24 0000 0000"}',
)
RECEIPT_UPPERCASE: Final = replaced(
    replaced(receipt(3, B, "03", "2026-11-25T03:07:00Z"), doc_id(1), doc_id(1).upper()),
    receipt_id(3),
    receipt_id(3).upper(),
)


# --- Vectors ------------------------------------------------------------------------------------

HUB_ORDER: Final = (
    "name",
    "description",
    "routing_key",
    "user_id",
    "max_message_bytes",
    "signer",
    "kid_of",
    "protected",
    "payload_json",
    "signing_input",
    "signed_instead",
    "hmac_key",
    "signature",
    "body",
    "body_base64",
    "body_sha256",
    "precondition",
    "verdict",
)
DELIVERY_ORDER: Final = (
    "name",
    "description",
    "queue",
    "agency",
    "signer",
    "protected",
    "payload_json",
    "signing_input",
    "signature",
    "body",
    "body_sha256",
    "stamp",
    "headers",
    "verdict",
)


def ordered(vector: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    unknown = vector.keys() - set(order)
    if unknown:
        raise ValueError(f"{vector['name']}: unknown fields {sorted(unknown)}")
    return {name: vector[name] for name in order if name in vector}


def accepted_document(id: str, to: list[Party]) -> dict[str, Any]:
    return {
        "accepted": True,
        "kind": "document",
        "id": id.lower(),
        "duplicate": False,
        "deliver_to": [party.agency_id for party in to],
    }


def accepted_receipt(id: str, relay_to: Party) -> dict[str, Any]:
    return {
        "accepted": True,
        "kind": "status",
        "id": id.lower(),
        "duplicate": False,
        "relay_to": relay_to.agency_id,
    }


def duplicate(kind: str, id: str) -> dict[str, Any]:
    return {"accepted": True, "kind": kind, "id": id.lower(), "duplicate": True}


def refused(
    reason: R, notify: Party | None = None, document_id: str | None = None
) -> dict[str, Any]:
    return {
        "reason": reason.value,
        "notify": notify.agency_id if notify is not None else None,
        "document_id": document_id.lower() if document_id is not None else None,
    }


class Vectors:
    def __init__(self) -> None:
        self.hub: dict[str, dict[str, Any]] = {}
        self.delivery: dict[str, dict[str, Any]] = {}

    def add(
        self,
        name: str,
        description: str,
        verdict: dict[str, Any],
        *,
        jws: Jws | None = None,
        body: str | bytes | None = None,
        routing_key: str = "document",
        user: str | Party | None = SIGNER_USER,
        max_bytes: int = MAX_MESSAGE_BYTES,
        precondition: tuple[str, ...] = (),
        omit: tuple[str, ...] = (),
        **fields: Any,
    ) -> str:
        if name in self.hub:
            raise ValueError(f"two vectors named {name}")
        vector: dict[str, Any] = {
            "name": name,
            "description": description,
            "routing_key": routing_key,
        }
        if isinstance(user, Party):
            vector["user_id"] = user.user
        elif user == SIGNER_USER:
            if jws is None:
                raise ValueError(f"{name}: no signer, so name the user")
            vector["user_id"] = jws.signer.user
        else:
            vector["user_id"] = user
        vector["max_message_bytes"] = max_bytes
        if jws is not None:
            vector |= jws.fields()
        vector |= fields
        for field in omit:
            del vector[field]
        text = body if body is not None else (jws.body if jws is not None else None)
        if text is None:
            raise ValueError(f"{name}: no body")
        raw = text if isinstance(text, bytes) else text.encode("utf-8")
        try:
            vector["body"] = raw.decode("utf-8")
        except UnicodeDecodeError:
            vector["body_base64"] = base64.standard_b64encode(raw).decode("ascii")
        vector["body_sha256"] = hashlib.sha256(raw).hexdigest()
        for earlier in precondition:
            if earlier not in self.hub:
                raise ValueError(f"{name}: precondition {earlier} is not an earlier vector")
        if precondition:
            vector["precondition"] = list(precondition)
        vector["verdict"] = verdict
        self.hub[name] = ordered(vector, HUB_ORDER)
        return name

    def body_of(self, name: str) -> str:
        return str(self.hub[name]["body"])

    def add_delivery(
        self,
        name: str,
        description: str,
        *,
        queue: str,
        agency: Party,
        jws: Jws,
        body: str,
        stamp: Jws | None,
        accepted: bool,
        rule: str | None = None,
    ) -> None:
        vector: dict[str, Any] = {
            "name": name,
            "description": description,
            "queue": queue,
            "agency": agency.agency_id,
            **jws.fields(),
            "body": body,
            "body_sha256": sha256_hex(body),
        }
        if stamp is not None:
            vector["stamp"] = {**stamp.fields(), "compact": stamp.compact}
            vector["headers"] = {"x-dochub-stamp": stamp.compact}
        else:
            vector["headers"] = {}
        vector["verdict"] = {"accepted": True} if accepted else {"accepted": False, "rule": rule}
        self.delivery[name] = ordered(vector, DELIVERY_ORDER)


def stamp_payload(kind: str, id: str, body: str, to: list[Party], routed_at: str) -> str:
    to_list = ",".join(f'"{party.agency_id}"' for party in to)
    return (
        f'{{"schema_version":"2.0","kind":"{kind}","id":"{id}","sha256":"{sha256_hex(body)}",'
        f'"to":[{to_list}],"routed_at":"{routed_at}","node":"hub:{NAMESPACE}"}}'
    )


def build() -> Vectors:
    v = Vectors()
    _accepted(v)
    _refused_before_the_signature(v)
    _refused_payloads(v)
    _refused_senders(v)
    _refused_by_the_ledger(v)
    _deliveries(v)
    return v


def _accepted(v: Vectors) -> None:
    v.add(
        "document-minimal",
        "A document with only its required members (schema_version left out too), from A to B.",
        accepted_document(doc_id(1), [B]),
        jws=sign(A, DOCUMENT_MINIMAL, DOCUMENT_TYP),
    )
    v.add(
        "document-javascript",
        "As a JavaScript agency writes it: JSON.stringify, sent_at from toISOString() (.123Z), "
        "optional members left out.",
        accepted_document(doc_id(2), [B]),
        jws=sign(A, DOCUMENT_JAVASCRIPT, DOCUMENT_TYP),
    )
    v.add(
        "document-offset-timestamp",
        'sent_at with the offset written "+00:00" instead of "Z".',
        accepted_document(doc_id(3), [B]),
        jws=sign(A, DOCUMENT_OFFSET, DOCUMENT_TYP),
    )
    v.add(
        "document-zero-milliseconds",
        'sent_at with zero milliseconds written out (".000Z").',
        accepted_document(doc_id(4), [B]),
        jws=sign(A, DOCUMENT_ZERO_MILLISECONDS, DOCUMENT_TYP),
    )
    v.add(
        "document-uppercase-uuid",
        "The id in upper case. UUIDs are compared as UUIDs; the hub names it in lower case.",
        accepted_document(doc_id(5), [B]),
        jws=sign(A, DOCUMENT_UPPERCASE_ID, DOCUMENT_TYP),
    )
    v.add(
        "document-key-order-whitespace",
        "Members in another order, tabs and CRLF, \\u escapes and an escaped solidus, nullable "
        "members given as null, sent_at in +07:00: signed as written, accepted as written.",
        accepted_document(doc_id(6), [B]),
        jws=sign(A, DOCUMENT_KEY_ORDER_WHITESPACE, DOCUMENT_TYP),
    )
    v.add(
        "document-every-member",
        "Every optional member, two recipients (delivered in their order), an inline attachment "
        "in base64url without padding and one described only by size and sha256.",
        accepted_document(doc_id(7), [B, C]),
        jws=sign(A, DOCUMENT_EVERY_MEMBER, DOCUMENT_TYP),
    )
    v.add(
        "document-attachment-padded",
        "Inline attachment content in base64url with '=' padding (allowed inside the payload; "
        "the JWS members themselves are never padded).",
        accepted_document(doc_id(8), [B]),
        jws=sign(A, DOCUMENT_PADDED_ATTACHMENT, DOCUMENT_TYP),
    )
    v.add(
        "document-recall",
        "Business kind 1 (recall) with the reference it needs; its code is number/notation.",
        accepted_document(doc_id(9), [B]),
        jws=sign(A, DOCUMENT_RECALL, DOCUMENT_TYP),
    )
    typ_variant = (
        f'{{"typ":"application/DocHub-Document+JSON","alg":"EdDSA","kid":"{A.kid}",'
        '"x-note":"unknown header parameters are ignored"}'
    )
    v.add(
        "document-protected-header-variants",
        "typ with the application/ prefix and in mixed case, members in another order, and an "
        "extra header parameter: all allowed.",
        accepted_document(doc_id(10), [B]),
        jws=sign(A, minimal_document(10), DOCUMENT_TYP, typ_variant),
    )
    v.add(
        "receipt-arrived",
        "B's receipt 01 (arrived) about document-minimal, its timestamp in +07:00: relayed to A.",
        accepted_receipt(receipt_id(1), A),
        jws=sign(B, RECEIPT_ARRIVED, RECEIPT_TYP),
        routing_key="status",
        precondition=("document-minimal",),
    )
    v.add(
        "receipt-refused-by-agency",
        "B refuses document-minimal (code 02): an agency's refusal has its reason in "
        "description, and no reason or refused member. Staff filled in.",
        accepted_receipt(receipt_id(2), A),
        jws=sign(B, RECEIPT_REFUSED, RECEIPT_TYP),
        routing_key="status",
        precondition=("document-minimal",),
    )
    v.add(
        "receipt-uppercase-ids",
        "B's receipt 03 with its own id and the document's id in upper case: the document is "
        "found all the same.",
        accepted_receipt(receipt_id(3), A),
        jws=sign(B, RECEIPT_UPPERCASE, RECEIPT_TYP),
        routing_key="status",
        precondition=("document-minimal",),
    )
    minimal = sign(A, DOCUMENT_MINIMAL, DOCUMENT_TYP)
    v.add(
        "document-resent-duplicate",
        "document-minimal sent again after it was routed: the same payload bytes and signature "
        "in a body laid out differently. The hub acks it and publishes nothing.",
        duplicate("document", doc_id(1)),
        jws=minimal,
        body=(
            f'{{ "signature": "{minimal.signature}",\n  "payload": "{minimal.payload_b64}",\n'
            f'  "protected": "{minimal.protected_b64}" }}\n'
        ),
        precondition=("document-minimal",),
    )
    v.add(
        "receipt-resent-duplicate",
        "receipt-arrived sent again, byte for byte, after it was relayed: acked, not relayed.",
        duplicate("status", receipt_id(1)),
        jws=sign(B, RECEIPT_ARRIVED, RECEIPT_TYP),
        routing_key="status",
        precondition=("document-minimal", "receipt-arrived"),
    )


def _refused_before_the_signature(v: Vectors) -> None:
    v.add(
        "malformed-not-json",
        "The body is not JSON.",
        refused(R.MALFORMED),
        body="Xin chào, this is not JSON",
        user=A,
    )
    minimal = sign(A, minimal_document(11), DOCUMENT_TYP)
    body = minimal.body.encode("ascii")
    v.add(
        "malformed-not-utf8",
        "A JWS body with one byte (0xFF) that is not UTF-8.",
        refused(R.MALFORMED),
        body=body[:15] + b"\xff" + body[16:],
        user=A,
    )
    v.add(
        "schema-invalid-not-a-jws",
        "The envelope published bare, unsigned, instead of as the payload of a JWS.",
        refused(R.SCHEMA_INVALID),
        body=minimal_document(12),
        user=A,
    )
    v.add(
        "schema-invalid-json-array",
        "JSON, but an array, not an object.",
        refused(R.SCHEMA_INVALID),
        body="[]",
        user=A,
    )
    payload = minimal_document(13)
    while len(payload.encode()) % 3 == 0:
        payload += " "
    protected = header(A, DOCUMENT_TYP)
    padded = base64.urlsafe_b64encode(payload.encode()).decode("ascii")
    signing_input = f"{b64(protected)}.{padded}"
    signature = b64url_encode(A.key.sign(signing_input.encode("ascii")))
    v.add(
        "schema-invalid-padded-base64url",
        "The payload member is base64url with '=' padding, which RFC 7515 forbids (the "
        "signature is over the padded text, as sent).",
        refused(R.SCHEMA_INVALID),
        body=flattened(b64(protected), padded, signature),
        user=A,
        signer="A",
        protected=protected,
        payload_json=payload,
        signing_input=signing_input,
        signature=signature,
    )
    none_header = f'{{"alg":"none","kid":"{A.kid}","typ":"{DOCUMENT_TYP}"}}'
    none_input = f"{b64(none_header)}.{b64(minimal_document(14))}"
    v.add(
        "schema-invalid-alg-none",
        'An unsecured JWS: alg "none" and an empty signature.',
        refused(R.SCHEMA_INVALID),
        body=flattened(b64(none_header), b64(minimal_document(14)), ""),
        user=A,
        protected=none_header,
        payload_json=minimal_document(14),
        signing_input=none_input,
        signature="",
    )
    hs_header = f'{{"alg":"HS256","kid":"{A.kid}","typ":"{DOCUMENT_TYP}"}}'
    hs_input = f"{b64(hs_header)}.{b64(minimal_document(15))}"
    hmac_key = raw_public_key(A.key.public_key())
    hs_signature = b64url_encode(
        hmac.new(hmac_key, hs_input.encode("ascii"), hashlib.sha256).digest()
    )
    v.add(
        "schema-invalid-alg-hs256",
        "alg HS256, the HMAC keyed with A's public key (the algorithm-confusion attack): only "
        "EdDSA is accepted.",
        refused(R.SCHEMA_INVALID),
        body=flattened(b64(hs_header), b64(minimal_document(15)), hs_signature),
        user=A,
        protected=hs_header,
        payload_json=minimal_document(15),
        signing_input=hs_input,
        hmac_key=b64url_encode(hmac_key),
        signature=hs_signature,
    )
    v.add(
        "schema-invalid-receipt-typ-on-document",
        "A document signed with typ dochub-receipt+json and published as a document: one kind "
        "cannot pass for another.",
        refused(R.SCHEMA_INVALID),
        jws=sign(A, minimal_document(16), RECEIPT_TYP),
    )
    v.add(
        "schema-invalid-document-typ-on-status",
        "A receipt signed with typ dochub-document+json and published as a status.",
        refused(R.SCHEMA_INVALID),
        jws=sign(B, receipt(4, B, "01", "2026-11-25T03:05:00Z"), DOCUMENT_TYP),
        routing_key="status",
    )
    crit_header = (
        f'{{"alg":"EdDSA","kid":"{A.kid}","typ":"{DOCUMENT_TYP}","crit":["exp"],"exp":1795000000}}'
    )
    v.add(
        "schema-invalid-crit",
        "A protected header with crit: no critical parameters are understood.",
        refused(R.SCHEMA_INVALID),
        jws=sign(A, minimal_document(17), DOCUMENT_TYP, crit_header),
    )
    duplicated_alg = f'{{"alg":"none","alg":"EdDSA","kid":"{A.kid}","typ":"{DOCUMENT_TYP}"}}'
    v.add(
        "schema-invalid-duplicate-header-member",
        "A protected header naming alg twice: parsers disagree on which counts (RFC 7493).",
        refused(R.SCHEMA_INVALID),
        jws=sign(A, minimal_document(90), DOCUMENT_TYP, duplicated_alg),
    )
    twice = sign(A, minimal_document(91), DOCUMENT_TYP)
    v.add(
        "schema-invalid-duplicate-body-member",
        "A body naming signature twice (the same value): refused on principle (RFC 7493).",
        refused(R.SCHEMA_INVALID),
        jws=twice,
        body=twice.body[:-1] + f',"signature":"{twice.signature}"}}',
    )
    subject_twice = minimal_document(93).replace(
        '"subject":', '"subject":"Thông báo thứ nhất","subject":', 1
    )
    v.add(
        "schema-invalid-duplicate-payload-member",
        "A's valid signature over a payload naming subject twice: A is told, with no document.",
        refused(R.SCHEMA_INVALID, A),
        jws=sign(A, subject_twice, DOCUMENT_TYP),
    )
    v.add(
        "malformed-utf16",
        "A valid JWS body written in UTF-16: JSON, but not UTF-8.",
        refused(R.MALFORMED),
        body=sign(A, minimal_document(94), DOCUMENT_TYP).body.encode("utf-16"),
        user=A,
    )
    signed = sign(A, minimal_document(18), DOCUMENT_TYP)
    v.add(
        "schema-invalid-unprotected-header",
        "An unprotected header member beside the three (its kid is not covered by the signature).",
        refused(R.SCHEMA_INVALID),
        jws=signed,
        body=(
            f'{{"protected":"{signed.protected_b64}","header":{{"kid":"{A.kid}"}},'
            f'"payload":"{signed.payload_b64}","signature":"{signed.signature}"}}'
        ),
    )
    signed = sign(A, minimal_document(19), DOCUMENT_TYP)
    v.add(
        "schema-invalid-general-serialisation",
        "The general JSON serialisation (a signatures array) instead of the flattened one.",
        refused(R.SCHEMA_INVALID),
        jws=signed,
        body=(
            f'{{"payload":"{signed.payload_b64}","signatures":[{{"protected":'
            f'"{signed.protected_b64}","signature":"{signed.signature}"}}]}}'
        ),
    )
    v.add(
        "schema-invalid-missing-kid",
        "A protected header without kid.",
        refused(R.SCHEMA_INVALID),
        jws=sign(
            A, minimal_document(20), DOCUMENT_TYP, f'{{"alg":"EdDSA","typ":"{DOCUMENT_TYP}"}}'
        ),
    )
    signed = sign(A, minimal_document(21), DOCUMENT_TYP)
    v.add(
        "schema-invalid-extra-member",
        "A fourth member in the body.",
        refused(R.SCHEMA_INVALID),
        jws=signed,
        body=signed.body[:-1] + ',"trace":[]}',
    )
    v.add(
        "unsupported-version-1-0-body",
        "A contract 1.0 message: a bare envelope with its own signature member.",
        refused(R.UNSUPPORTED_VERSION),
        body=(
            '{"schema_version":"1.0","id":"' + doc_id(22) + '","sender":' + A.organ + ","
            '"recipients":[' + B.organ + '],"code":{"number":"1","notation":"CV-CQA"},'
            '"document_type":"cong_van","subject":"Hợp đồng cũ","promulgation":{"place":"Hà Nội",'
            '"date":"2026-11-24"},"signer":{"full_name":"Nguyễn Văn An"},'
            '"sent_at":"2026-11-25T03:00:00Z","trace":[],"signature":{"algorithm":"ed25519",'
            '"key_id":"0123456789abcdef","value":"' + "A" * 86 + '=="}}'
        ),
        user=A,
    )
    v.add(
        "unknown-kind",
        "A valid document published with routing key 'documents'.",
        refused(R.UNKNOWN_KIND),
        jws=sign(A, minimal_document(23), DOCUMENT_TYP),
        routing_key="documents",
    )
    signed = sign(A, minimal_document(24), DOCUMENT_TYP)
    v.add(
        "unsigned-no-signature-member",
        "A JWS without its signature member.",
        refused(R.UNSIGNED),
        jws=signed,
        body=f'{{"protected":"{signed.protected_b64}","payload":"{signed.payload_b64}"}}',
        omit=("signature",),
    )
    signed = sign(A, minimal_document(25), DOCUMENT_TYP)
    v.add(
        "unsigned-empty-signature",
        "A JWS whose signature is the empty string.",
        refused(R.UNSIGNED),
        jws=signed,
        body=flattened(signed.protected_b64, signed.payload_b64, ""),
        signature="",
    )


def _refused_payloads(v: Vectors) -> None:
    v.add(
        "schema-invalid-payload-not-an-envelope",
        "A's valid signature over a JSON object that is not an envelope: A is told, with no "
        "document.",
        refused(R.SCHEMA_INVALID, A),
        jws=sign(A, '{"message":"xin chào"}', DOCUMENT_TYP),
    )
    v.add(
        "schema-invalid-payload-not-json",
        "A's valid signature over a payload that is not JSON.",
        refused(R.SCHEMA_INVALID, A),
        jws=sign(A, "xin chào", DOCUMENT_TYP),
    )
    v.add(
        "schema-invalid-missing-id",
        "No id: the hub never fills one in on the signer's behalf. A is told, with no document.",
        refused(R.SCHEMA_INVALID, A),
        jws=sign(A, replaced(minimal_document(26), f'"id":"{doc_id(26)}",', ""), DOCUMENT_TYP),
    )
    v.add(
        "schema-invalid-missing-sent-at",
        "No sent_at: the hub never fills one in on the signer's behalf.",
        refused(R.SCHEMA_INVALID, A, doc_id(27)),
        jws=sign(
            A,
            replaced(minimal_document(27), ',"sent_at":"2026-11-25T03:00:00Z"', ""),
            DOCUMENT_TYP,
        ),
    )
    v.add(
        "schema-invalid-unknown-member",
        "A member the contract does not define (priority): unknown members are refused.",
        refused(R.SCHEMA_INVALID, A, doc_id(28)),
        jws=sign(
            A, replaced(minimal_document(28), ',"sent_at"', ',"priority":1,"sent_at"'), DOCUMENT_TYP
        ),
    )
    v.add(
        "schema-invalid-standard-base64-attachment",
        "Inline attachment content in standard base64 ('+' and '/'), not base64url.",
        refused(R.SCHEMA_INVALID, A, doc_id(29)),
        jws=sign(
            A,
            replaced(
                minimal_document(29),
                ',"sent_at"',
                f',"attachments":[{attachment(ATTACHMENT_STANDARD)}],"sent_at"',
            ),
            DOCUMENT_TYP,
        ),
    )
    v.add(
        "schema-invalid-receipt-missing-timestamp",
        "A receipt without timestamp. Refused receipts are never answered.",
        refused(R.SCHEMA_INVALID),
        jws=sign(
            B,
            replaced(receipt(5, B, "01", "x"), ',"timestamp":"x"', ""),
            RECEIPT_TYP,
        ),
        routing_key="status",
    )
    v.add(
        "schema-invalid-receipt-reason-from-agency",
        "An agency's receipt with a reason member: only the hub's own refusals carry reason "
        "and refused.",
        refused(R.SCHEMA_INVALID),
        jws=sign(
            B,
            receipt(6, B, "02", "2026-11-25T03:05:00Z", ',"reason":"schema_invalid"'),
            RECEIPT_TYP,
        ),
        routing_key="status",
    )
    v.add(
        "unsupported-version-payload",
        'A valid signature over a payload whose schema_version is "1.0".',
        refused(R.UNSUPPORTED_VERSION, A, doc_id(30)),
        jws=sign(A, '{"schema_version":"1.0",' + minimal_document(30)[1:], DOCUMENT_TYP),
    )
    long_content = "Nội dung dài. " * 80
    v.add(
        "oversize-document",
        f"A valid document of more than {SMALL_LIMIT} bytes, to a hub whose max_message_bytes "
        f"is {SMALL_LIMIT}: still within the contract's 4 MiB, so A is told.",
        refused(R.OVERSIZE, A, doc_id(31)),
        jws=sign(
            A,
            replaced(minimal_document(31), ',"sent_at"', f',"content":"{long_content}","sent_at"'),
            DOCUMENT_TYP,
        ),
        max_bytes=SMALL_LIMIT,
    )
    v.add(
        "oversize-receipt",
        f"A valid receipt of more than {SMALL_LIMIT} bytes, to a hub whose max_message_bytes is "
        f"{SMALL_LIMIT}: a refused receipt tells nobody.",
        refused(R.OVERSIZE),
        jws=sign(
            B,
            receipt(7, B, "05", "2026-11-25T03:05:00Z", f',"description":"{long_content}"'),
            RECEIPT_TYP,
        ),
        routing_key="status",
        max_bytes=SMALL_LIMIT,
    )


def _refused_senders(v: Vectors) -> None:
    v.add(
        "unknown-sender",
        "Signed by a key the hub does not know, claiming a sender (000.00.00.G77) it does not "
        "know.",
        refused(R.UNKNOWN_SENDER),
        jws=sign(STRANGER, minimal_document(40, STRANGER), DOCUMENT_TYP),
    )
    signed = sign(A, minimal_document(41), DOCUMENT_TYP)
    tampered = replaced(signed.payload, "thử nghiệm", "thử nghiệm lại")
    v.add(
        "bad-signature-tampered-payload",
        "A's signature, the payload changed after signing (signed_instead holds what A signed).",
        refused(R.BAD_SIGNATURE),
        body=flattened(signed.protected_b64, b64(tampered), signed.signature),
        user=A,
        signer="A",
        protected=signed.protected,
        payload_json=tampered,
        signing_input=f"{signed.protected_b64}.{b64(tampered)}",
        signed_instead=signed.signing_input,
        signature=signed.signature,
    )
    payload = minimal_document(42)
    protected = header(A, DOCUMENT_TYP)
    wrong = b64url_encode(A.key.sign(payload.encode("utf-8")))
    v.add(
        "bad-signature-over-the-payload-only",
        "A signed the payload's JSON bytes alone, not the ASCII of protected.payload.",
        refused(R.BAD_SIGNATURE),
        body=flattened(b64(protected), b64(payload), wrong),
        user=A,
        signer="A",
        protected=protected,
        payload_json=payload,
        signing_input=f"{b64(protected)}.{b64(payload)}",
        signed_instead=payload,
        signature=wrong,
    )
    v.add(
        "bad-signature-kid-of-another-key",
        "Signed by the stranger's key under A's kid.",
        refused(R.BAD_SIGNATURE),
        jws=sign(STRANGER, minimal_document(43), DOCUMENT_TYP, header(A, DOCUMENT_TYP)),
        kid_of="A",
        user=A,
    )
    v.add(
        "sender-mismatch-b-claims-a",
        "B's key signs a document claiming sender A: B, whose key verified, is told.",
        refused(R.SENDER_MISMATCH, B, doc_id(44)),
        jws=sign(B, minimal_document(44), DOCUMENT_TYP),
    )
    v.add(
        "sender-mismatch-stranger-claims-a",
        "An unregistered key signs a document claiming sender A: nobody is told.",
        refused(R.SENDER_MISMATCH),
        jws=sign(STRANGER, minimal_document(45), DOCUMENT_TYP),
        user=A,
    )
    v.add(
        "user-mismatch-missing-user-id",
        "A's valid document published without the AMQP user_id property.",
        refused(R.USER_MISMATCH, None, doc_id(46)),
        jws=sign(A, minimal_document(46), DOCUMENT_TYP),
        user=None,
    )
    v.add(
        "user-mismatch-other-agency-user",
        "A's valid document published by B's broker user (a replay of A's bytes, say).",
        refused(R.USER_MISMATCH, None, doc_id(47)),
        jws=sign(A, minimal_document(47), DOCUMENT_TYP),
        user=B,
    )
    v.add(
        "user-mismatch-untrusted-guest",
        "A's valid document published by broker user guest, which this hub does not trust "
        "(its trusted_users is empty).",
        refused(R.USER_MISMATCH, None, doc_id(48)),
        jws=sign(A, minimal_document(48), DOCUMENT_TYP),
        user="guest",
    )
    v.add(
        "user-mismatch-receipt",
        "B's valid receipt published by A's broker user.",
        refused(R.USER_MISMATCH),
        jws=sign(B, receipt(8, B, "01", "2026-11-25T03:05:00Z"), RECEIPT_TYP),
        routing_key="status",
        user=A,
    )
    to = f'[{B.organ},{{"id":"{UNREGISTERED_RECIPIENT}","name":"Cơ quan chưa đăng ký"}}]'
    v.add(
        "unknown-recipient",
        f"A document to B and to {UNREGISTERED_RECIPIENT}, which is not in the directory: "
        "the signer is told.",
        refused(R.UNKNOWN_RECIPIENT, A, doc_id(49)),
        jws=sign(A, minimal_document(49, to=to), DOCUMENT_TYP),
    )


def _refused_by_the_ledger(v: Vectors) -> None:
    reformatted = DOCUMENT_MINIMAL.replace('":', '": ')
    v.add(
        "id-conflict-document",
        "document-minimal's id and members, written with other white space: other payload "
        "bytes are another document, and its id is taken.",
        refused(R.ID_CONFLICT, A, doc_id(1)),
        jws=sign(A, reformatted, DOCUMENT_TYP),
        precondition=("document-minimal",),
    )
    v.add(
        "id-conflict-document-uppercase-id",
        "document-minimal with its id in upper case: the same id (compared as a UUID), other "
        "bytes.",
        refused(R.ID_CONFLICT, A, doc_id(1)),
        jws=sign(A, replaced(DOCUMENT_MINIMAL, doc_id(1), doc_id(1).upper()), DOCUMENT_TYP),
        precondition=("document-minimal",),
    )
    v.add(
        "id-conflict-receipt",
        "receipt-arrived's id on a receipt with other content (code 03): nobody is told.",
        refused(R.ID_CONFLICT),
        jws=sign(B, receipt(1, B, "03", "2026-11-25T10:05:00+07:00"), RECEIPT_TYP),
        routing_key="status",
        precondition=("document-minimal", "receipt-arrived"),
    )
    v.add(
        "unknown-document",
        "B's receipt about a document the hub never accepted.",
        refused(R.UNKNOWN_DOCUMENT),
        jws=sign(B, receipt(9, B, "01", "2026-11-25T03:05:00Z", about=99), RECEIPT_TYP),
        routing_key="status",
    )
    v.add(
        "unknown-document-wrong-sender",
        "B's receipt about document-minimal naming C as its sender (A sent it).",
        refused(R.UNKNOWN_DOCUMENT),
        jws=sign(
            B,
            replaced(
                receipt(10, B, "01", "2026-11-25T03:05:00Z"),
                '"sender":"000.00.00.G12"',
                '"sender":"000.00.00.G01"',
            ),
            RECEIPT_TYP,
        ),
        routing_key="status",
        precondition=("document-minimal",),
    )
    v.add(
        "not-a-recipient",
        "C's receipt about document-minimal, which was addressed to B only.",
        refused(R.NOT_A_RECIPIENT),
        jws=sign(C, receipt(11, C, "01", "2026-11-25T03:05:00Z"), RECEIPT_TYP),
        routing_key="status",
        precondition=("document-minimal",),
    )


def hub_refusal(number: int, document: str, reason: R, description: str, refused_body: str) -> str:
    return (
        f'{{"schema_version":"2.0","id":"{receipt_id(number)}","document":{document},'
        f'"responder":null,"code":"02","description":"{description}","reason":"{reason.value}",'
        f'"refused":{{"sha256":"{sha256_hex(refused_body)}","kind":"document"}},'
        '"timestamp":"2026-11-25T03:00:01.204518Z","staff":null}'
    )


def _deliveries(v: Vectors) -> None:
    inbox_b = f"{NAMESPACE}.inbox.{B.agency_id}"
    status_a = f"{NAMESPACE}.status.{A.agency_id}"
    routed_at = "2026-11-25T03:00:01.204518Z"
    minimal = sign(A, DOCUMENT_MINIMAL, DOCUMENT_TYP)
    body = v.body_of("document-minimal")

    def stamp(
        kind: str,
        id: str,
        covered: str,
        to: list[Party],
        signer: Party = HUB,
        typ: str = STAMP_TYP,
    ) -> Jws:
        return sign(signer, stamp_payload(kind, id, covered, to, routed_at), typ)

    v.add_delivery(
        "delivery-document",
        "document-minimal in B's inbox with the hub's stamp: B accepts it.",
        queue=inbox_b,
        agency=B,
        jws=minimal,
        body=body,
        stamp=stamp("document", doc_id(1), body, [B]),
        accepted=True,
    )
    upper = sign(A, DOCUMENT_UPPERCASE_ID, DOCUMENT_TYP)
    v.add_delivery(
        "delivery-document-uppercase-id",
        "document-uppercase-uuid in B's inbox: the stamp names the id in lower case, the payload "
        "in upper case; the same UUID, so B accepts it.",
        queue=inbox_b,
        agency=B,
        jws=upper,
        body=upper.body,
        stamp=stamp("document", doc_id(5), upper.body, [B]),
        accepted=True,
    )
    arrived = sign(B, RECEIPT_ARRIVED, RECEIPT_TYP)
    v.add_delivery(
        "delivery-receipt",
        "receipt-arrived relayed to A's status queue with the hub's stamp: A accepts it.",
        queue=status_a,
        agency=A,
        jws=arrived,
        body=arrived.body,
        stamp=stamp("status", receipt_id(1), arrived.body, [A]),
        accepted=True,
    )
    unknown_recipient = v.body_of("unknown-recipient")
    reference_49 = (
        f'{{"id":"{doc_id(49)}","sender":"000.00.00.G12","code":"123/QĐ-CQA",'
        '"promulgation_date":"2026-11-24"}'
    )
    refusal = sign(
        HUB,
        hub_refusal(
            20,
            reference_49,
            R.UNKNOWN_RECIPIENT,
            f"not registered: {UNREGISTERED_RECIPIENT}",
            unknown_recipient,
        ),
        RECEIPT_TYP,
    )
    v.add_delivery(
        "delivery-hub-refusal",
        "The hub's refusal of unknown-recipient: a receipt signed by the hub's key, responder "
        "null, code 02, reason and refused.sha256 (the SHA-256 of the refused body). Stamped kind "
        "status, to A, the agency told: A accepts it.",
        queue=status_a,
        agency=A,
        jws=refusal,
        body=refusal.body,
        stamp=stamp("status", receipt_id(20), refusal.body, [A]),
        accepted=True,
    )
    missing_id = v.body_of("schema-invalid-missing-id")
    no_document = sign(
        HUB,
        hub_refusal(21, "null", R.SCHEMA_INVALID, "id: Field required", missing_id),
        RECEIPT_TYP,
    )
    v.add_delivery(
        "delivery-hub-refusal-no-document",
        "The hub's refusal of schema-invalid-missing-id: document is null, since no id could be "
        "read; match it by refused.sha256. A accepts it.",
        queue=status_a,
        agency=A,
        jws=no_document,
        body=no_document.body,
        stamp=stamp("status", receipt_id(21), no_document.body, [A]),
        accepted=True,
    )
    forged = sign(
        B,
        hub_refusal(22, REFERENCE_1, R.UNKNOWN_RECIPIENT, "forged", body),
        RECEIPT_TYP,
    )
    v.add_delivery(
        "delivery-forged-hub-refusal",
        "A refusal (responder null) signed by B's key, not the hub's, even with a valid stamp: "
        "A rejects it.",
        queue=status_a,
        agency=A,
        jws=forged,
        body=forged.body,
        stamp=stamp("status", receipt_id(22), forged.body, [A]),
        accepted=False,
        rule="body-signer",
    )
    rejected: list[tuple[str, str, Jws | None, str]] = [
        ("delivery-no-stamp", "No x-dochub-stamp header.", None, "stamp-missing"),
        (
            "delivery-stamp-wrong-typ",
            "The stamp's typ is dochub-document+json: the typ rule holds for stamps too.",
            stamp("document", doc_id(1), body, [B], typ=DOCUMENT_TYP),
            "stamp-typ",
        ),
        (
            "delivery-stamp-by-agency-key",
            "A stamp signed by A's key, not the hub's.",
            stamp("document", doc_id(1), body, [B], signer=A),
            "stamp-signature",
        ),
        (
            "delivery-stamp-wrong-kind",
            "A stamp of kind status on a message in an inbox.",
            stamp("status", doc_id(1), body, [B]),
            "stamp-kind",
        ),
        (
            "delivery-stamp-other-body",
            "A stamp whose sha256 is that of another body (document-javascript's).",
            stamp("document", doc_id(1), v.body_of("document-javascript"), [B]),
            "stamp-sha256",
        ),
        (
            "delivery-stamp-not-addressed",
            "A stamp naming C, on a message in B's inbox.",
            stamp("document", doc_id(1), body, [C]),
            "stamp-to",
        ),
        (
            "delivery-stamp-other-id",
            "A stamp about another id than the payload's.",
            stamp("document", doc_id(2), body, [B]),
            "stamp-id",
        ),
    ]
    for name, description, stamped, rule in rejected:
        v.add_delivery(
            name,
            f"document-minimal in B's inbox. {description} B rejects it.",
            queue=inbox_b,
            agency=B,
            jws=minimal,
            body=body,
            stamp=stamped,
            accepted=False,
            rule=rule,
        )
    v.add(
        "sender-mismatch-hub-signed-receipt",
        "delivery-hub-refusal's body published to the ingress: nothing the hub receives may be "
        "signed by the hub's key, which is no agency's.",
        refused(R.SENDER_MISMATCH),
        jws=refusal,
        routing_key="status",
        user=HUB,
    )


# --- Writing ------------------------------------------------------------------------------------


def dump(data: object) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def write(out: Path) -> list[Path]:
    vectors = build()
    for folder in ("hub", "delivery"):
        shutil.rmtree(out / folder, ignore_errors=True)
        (out / folder).mkdir(parents=True)
    files = {
        out / "keys.json": dump(keys_file()),
        out / "directory.toml": directory_toml(),
    }
    for name, vector in vectors.hub.items():
        files[out / "hub" / f"{name}.json"] = dump(vector)
    for name, vector in vectors.delivery.items():
        files[out / "delivery" / f"{name}.json"] = dump(vector)
    for path, text in files.items():
        path.write_bytes(text.encode("utf-8"))
    return sorted(files)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write them")
    args = parser.parse_args(argv)
    written = write(args.out)
    print(f"{len(written)} files written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
