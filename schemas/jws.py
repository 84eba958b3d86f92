"""JWS (RFC 7515) with EdDSA over Ed25519 (RFC 8037): how documents, receipts and the hub's
routing stamps are signed.

What is signed is the payload's bytes exactly as they were sent: nobody re-serialises a signed
object before verifying it, so any JSON writer in any language produces a valid document.

- Documents and receipts travel as the flattened JSON serialisation (RFC 7515 §7.2.2), the whole
  message body: ``{"protected": ..., "payload": ..., "signature": ...}``.
- The hub's routing stamp travels as the compact serialisation (§7.1) in an AMQP header.
- The protected header holds ``alg`` (``EdDSA``), ``kid`` (the RFC 7638 thumbprint of the
  signer's public key) and ``typ`` (what the payload is, so one kind cannot pass for another).
- Every part is base64url without padding (§2).
"""

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALGORITHM: Final = "EdDSA"
DOCUMENT_TYP: Final = "dochub-document+json"
RECEIPT_TYP: Final = "dochub-receipt+json"
STAMP_TYP: Final = "dochub-stamp+json"

_BASE64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_MEMBERS: Final = frozenset({"protected", "payload", "signature"})


class DuplicateMember(ValueError):
    """A JSON object names one member twice: parsers disagree on which one counts."""


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):
        names = [name for name, _ in pairs]
        twice = sorted({name for name in names if names.count(name) > 1})
        raise DuplicateMember(f"a JSON object names {', '.join(twice)[:100]} more than once")
    return data


_UNIQUE_MEMBERS = json.JSONDecoder(object_pairs_hook=_unique_members)
"""Made once: ``json.loads`` with a hook makes a decoder at every call."""


def loads_unique(text: str | bytes) -> Any:
    """JSON as I-JSON (RFC 7493) wants it: UTF-8, and no object naming a member twice."""
    if isinstance(text, bytes):
        text = text.decode("utf-8")  # strictly: json.loads(bytes) would guess UTF-16 or UTF-32
    if text.startswith("\ufeff"):  # as json.loads says it
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _UNIQUE_MEMBERS.decode(text)


class JwsError(ValueError):
    """Not a JWS that DocHub can check. ``unsigned`` when the signature is missing altogether."""

    def __init__(self, message: str, *, unsigned: bool = False) -> None:
        super().__init__(message)
        self.unsigned = unsigned


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str, what: str) -> bytes:
    """Strict base64url without padding, as RFC 7515 §2 writes it."""
    if not _BASE64URL.match(text) or len(text) % 4 == 1:
        raise JwsError(f"{what} is not base64url without padding (RFC 7515 §2)")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise JwsError(f"{what} is not base64url without padding (RFC 7515 §2)") from exc


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def thumbprint(key: Ed25519PublicKey) -> str:
    """The key id: the RFC 7638 JWK thumbprint (SHA-256) of the public key, base64url."""
    jwk = f'{{"crv":"Ed25519","kty":"OKP","x":"{b64url_encode(raw_public_key(key))}"}}'
    return b64url_encode(hashlib.sha256(jwk.encode("ascii")).digest())


@dataclass(frozen=True, slots=True)
class Jws:
    """A parsed JWS, its parts kept exactly as received."""

    protected: str
    payload: str
    signature: str
    header: dict[str, Any]
    payload_bytes: bytes
    signature_bytes: bytes

    @property
    def kid(self) -> str:
        return str(self.header["kid"])

    def verify(self, key: Ed25519PublicKey) -> bool:
        signing_input = f"{self.protected}.{self.payload}".encode("ascii")
        try:
            key.verify(self.signature_bytes, signing_input)
        except InvalidSignature:
            return False
        return True


_HEADERS: dict[tuple[bytes, str], str] = {}


def _protected_header(key: Ed25519PrivateKey, typ: str) -> str:
    """The encoded protected header, made once per key and ``typ``: the hub stamps every
    message it routes."""
    public = raw_public_key(key.public_key())
    cached = _HEADERS.get((public, typ))
    if cached is None:
        header = {"alg": ALGORITHM, "kid": thumbprint(key.public_key()), "typ": typ}
        cached = b64url_encode(json.dumps(header, separators=(",", ":")).encode("ascii"))
        if len(_HEADERS) < 1024:
            _HEADERS[(public, typ)] = cached
    return cached


def _signature(key: Ed25519PrivateKey, protected: str, payload: str) -> str:
    return b64url_encode(key.sign(f"{protected}.{payload}".encode("ascii")))


def sign_flattened(payload: bytes, key: Ed25519PrivateKey, typ: str) -> bytes:
    """The flattened JSON serialisation of ``payload`` signed by ``key``: a message body."""
    protected = _protected_header(key, typ)
    encoded = b64url_encode(payload)
    signature = _signature(key, protected, encoded)
    return json.dumps(
        {"protected": protected, "payload": encoded, "signature": signature},
        separators=(",", ":"),
    ).encode("ascii")


def sign_compact(payload: bytes, key: Ed25519PrivateKey, typ: str) -> str:
    protected = _protected_header(key, typ)
    encoded = b64url_encode(payload)
    return f"{protected}.{encoded}.{_signature(key, protected, encoded)}"


def parse_flattened(data: dict[str, Any], typ: str) -> Jws:
    """Check the shape of a flattened JWS (already parsed from JSON) and decode its parts."""
    if "signatures" in data:
        raise JwsError("the general JWS serialisation is not accepted: send the flattened one")
    if "header" in data:
        raise JwsError("an unprotected JWS header is not accepted: use the protected header")
    if "signature" not in data and "payload" in data:
        raise JwsError("the JWS has no signature", unsigned=True)
    missing = sorted(_MEMBERS - data.keys())
    if missing:
        raise JwsError(f"not a flattened JWS: missing {', '.join(missing)}")
    extra = sorted(data.keys() - _MEMBERS)
    if extra:
        raise JwsError(f"not a flattened JWS: unexpected member {', '.join(extra)}")
    parts = [data["protected"], data["payload"], data["signature"]]
    if not all(isinstance(part, str) for part in parts):
        raise JwsError("the JWS members protected, payload and signature are strings")
    return _decode(parts[0], parts[1], parts[2], typ)


def parse_compact(text: str, typ: str) -> Jws:
    parts = text.split(".")
    if len(parts) != 3:
        raise JwsError("a compact JWS has three parts separated by '.'")
    return _decode(parts[0], parts[1], parts[2], typ)


def _decode(protected: str, payload: str, signature: str, typ: str) -> Jws:
    header_bytes = b64url_decode(protected, "the protected header")
    try:
        header = loads_unique(header_bytes)
    except DuplicateMember as exc:
        raise JwsError(f"the protected header: {exc}") from exc
    except (ValueError, RecursionError) as exc:
        raise JwsError("the protected header is not UTF-8 JSON") from exc
    if not isinstance(header, dict):
        raise JwsError("the protected header is not a JSON object")
    if header.get("alg") != ALGORITHM:
        raise JwsError(f"alg must be {ALGORITHM!r} (RFC 8037), not {header.get('alg')!r}")
    if "crit" in header:
        raise JwsError("no critical header parameters ('crit') are understood")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise JwsError("the protected header needs kid, the signer's key thumbprint")
    if _media_type(header.get("typ")) != typ:
        raise JwsError(f"typ must be {typ!r}, not {header.get('typ')!r}")
    signature_bytes = b64url_decode(signature, "the signature")
    if not signature:
        raise JwsError("the JWS has an empty signature", unsigned=True)
    if len(signature_bytes) != 64:
        raise JwsError(f"an Ed25519 signature is 64 bytes, not {len(signature_bytes)}")
    payload_bytes = b64url_decode(payload, "the payload")
    return Jws(protected, payload, signature, header, payload_bytes, signature_bytes)


def _media_type(typ: object) -> str | None:
    """``typ`` compared as RFC 7515 §4.1.9 says: case-insensitively, ``application/`` optional."""
    if not isinstance(typ, str):
        return None
    lowered = typ.lower()
    return lowered.removeprefix("application/")
