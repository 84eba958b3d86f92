"""An agency's Ed25519 key pair on disk: the private key as unencrypted PKCS#8 PEM, readable by
its owner only, and the public key as the base64 text the agency directory keeps.

Key files are written whole or not at all (a temporary file, then a rename), and a pair is
written together with whatever must go with it (``then``), or not at all."""

import os
import tempfile
from collections.abc import Callable
from contextlib import suppress
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

PRIVATE_MODE = 0o600
PUBLIC_MODE = 0o644


@dataclass(frozen=True, slots=True)
class KeyFiles:
    private: Path
    public: Path
    public_text: str


def key_paths(folder: Path, agency_id: str) -> tuple[Path, Path]:
    """Where ``write_key_pair`` puts the private and the public key of ``agency_id``."""
    return folder / f"{agency_id}.key", folder / f"{agency_id}.pub"


def write_key_pair(
    folder: Path,
    agency_id: str,
    *,
    overwrite: bool = False,
    key: Ed25519PrivateKey | None = None,
    then: Callable[[KeyFiles], None] | None = None,
) -> KeyFiles:
    """Write ``key`` (a new one by default) into ``folder`` as ``<id>.key`` and ``<id>.pub``.

    ``then`` is called once both files are written, to record the public key elsewhere (an
    agency directory); if it raises, the key files are put back as they were (removed, or their
    former content restored) before its error goes on."""
    private_path, public_path = key_paths(folder, agency_id)
    if not overwrite and (private_path.exists() or public_path.exists()):
        raise AgencyClientError(
            f"{private_path} or {public_path} exists already; pass overwrite to replace it",
            agency_id=agency_id,
        )
    modes = {private_path: PRIVATE_MODE, public_path: PUBLIC_MODE}
    made = [path for path in (folder, *folder.parents) if not path.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        before = {path: _content(path) for path in modes}
    except OSError as exc:
        raise AgencyClientError(
            f"cannot write keys into {folder}: {exc.strerror}", agency_id=agency_id
        ) from exc
    key = key or Ed25519PrivateKey.generate()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    public_text = public_key_to_text(key.public_key())
    files = KeyFiles(private_path, public_path, public_text)
    try:
        try:
            write_atomically(private_path, pem, modes[private_path])
            write_atomically(public_path, (public_text + "\n").encode("ascii"), modes[public_path])
        except OSError as exc:
            raise AgencyClientError(
                f"cannot write keys into {folder}: {exc.strerror}", agency_id=agency_id
            ) from exc
        if then is not None:
            then(files)
    except BaseException:
        _put_back(before, modes)
        for path in made:  # the folders this call made, deepest first
            with suppress(OSError):
                path.rmdir()
        raise
    return files


def write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Replace ``path`` by ``data`` with file mode ``mode``: a reader sees the old file or the
    new one, never a part of it."""
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as file:
            os.fchmod(file.fileno(), mode)
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(temporary)
        raise


def _content(path: Path) -> bytes | None:
    return path.read_bytes() if path.exists() else None


def _put_back(before: dict[Path, bytes | None], modes: dict[Path, int]) -> None:
    for path, content in before.items():
        with suppress(OSError):
            if content is None:
                path.unlink(missing_ok=True)
            else:
                write_atomically(path, content, modes[path])


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
