"""An agency's Ed25519 key pair on disk: the private key as unencrypted PKCS#8 PEM, readable by
its owner only, and the public key as the base64 text the agency directory keeps."""

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from agency_client.errors import AgencyClientError
from schemas.keys import public_key_to_text


@dataclass(frozen=True, slots=True)
class KeyFiles:
    private: Path
    public: Path
    public_text: str


def write_key_pair(folder: Path, agency_id: str, *, overwrite: bool = False) -> KeyFiles:
    """Generate a key pair for ``agency_id`` into ``folder`` as ``<id>.key`` and ``<id>.pub``."""
    folder.mkdir(parents=True, exist_ok=True)
    private_path = folder / f"{agency_id}.key"
    public_path = folder / f"{agency_id}.pub"
    if not overwrite and (private_path.exists() or public_path.exists()):
        raise AgencyClientError(
            f"{private_path} or {public_path} exists already; pass overwrite to replace it",
            agency_id=agency_id,
        )
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    descriptor = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # the mode of open() applies only to a file it creates
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    public_text = public_key_to_text(key.public_key())
    public_path.write_text(public_text + "\n", encoding="ascii")
    return KeyFiles(private_path, public_path, public_text)


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise AgencyClientError(f"cannot read the key {path}: {exc.strerror}") from exc
    except (ValueError, TypeError) as exc:
        raise AgencyClientError(f"{path} is not an unencrypted PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise AgencyClientError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return key
