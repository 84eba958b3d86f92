"""Ed25519 public keys as the agency directory keeps them: base64 of the 32 raw bytes."""

import base64
import binascii

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from schemas.jws import raw_public_key


def public_key_to_text(key: Ed25519PublicKey) -> str:
    return base64.b64encode(raw_public_key(key)).decode()


def public_key_from_text(text: str) -> Ed25519PublicKey:
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError("a public key is base64 of 32 raw Ed25519 bytes") from exc
    if len(raw) != 32:
        raise ValueError(f"a public key is 32 bytes, not {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)
