"""Ed25519 signatures over canonical bytes, and the key ids that name a public key.

A key id is the first 16 hex digits of the sha256 of the raw public key. It lets the hub tell a
bad signature (the sender's key, wrong bytes) from a spoofed sender (another agency's key).
"""

import base64
import binascii
import hashlib
from typing import TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from schemas.canonical import canonical_bytes
from schemas.envelope import Envelope, Signature
from schemas.receipt import StatusReceipt

Signed = TypeVar("Signed", Envelope, StatusReceipt)


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def public_key_to_text(key: Ed25519PublicKey) -> str:
    """The form the agency registry keeps: base64 of the 32 raw bytes."""
    return base64.b64encode(raw_public_key(key)).decode()


def public_key_from_text(text: str) -> Ed25519PublicKey:
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError("a public key is base64 of 32 raw Ed25519 bytes") from exc
    if len(raw) != 32:
        raise ValueError(f"a public key is 32 bytes, not {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def key_id(key: Ed25519PublicKey) -> str:
    return hashlib.sha256(raw_public_key(key)).hexdigest()[:16]


def sign(model: Signed, private_key: Ed25519PrivateKey) -> Signed:
    """A copy of ``model`` carrying its signature."""
    signature = Signature(
        key_id=key_id(private_key.public_key()),
        value=private_key.sign(canonical_bytes(model)),
    )
    return model.model_copy(update={"signature": signature})


def verify(
    model: Envelope | StatusReceipt, public_key: Ed25519PublicKey, canonical: bytes | None = None
) -> bool:
    """Whether ``model`` carries a valid signature by ``public_key``. Pass its ``canonical`` bytes
    when they are at hand, to save computing them again."""
    signature = model.signature
    if signature is None or signature.key_id != key_id(public_key):
        return False
    try:
        public_key.verify(signature.value, canonical or canonical_bytes(model))
    except InvalidSignature:
        return False
    return True
