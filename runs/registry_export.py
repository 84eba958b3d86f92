"""A run's agency directory and its hub's key, written for an external hub (``--export-registry``):
both files, or neither."""

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from hub.errors import ConfigurationError
from schemas.directory import AgencyDirectory


def write_registry(directory: AgencyDirectory, hub_key: Ed25519PrivateKey, path: Path) -> Path:
    """Write ``directory`` to ``path`` and the hub's key beside it (``PATH.hub.key``, mode 0600),
    both or neither; return the key's path."""
    key_path = path.with_suffix(".hub.key")
    pem = hub_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    if not path.parent.is_dir():
        raise ConfigurationError(
            f"--export-registry {path}: the folder {path.parent} does not exist; create it first"
        )
    staged = [
        (key_path.with_name(f".{key_path.name}.tmp"), key_path),
        (path.with_name(f".{path.name}.tmp"), path),
    ]
    try:
        staged[0][0].touch(mode=0o600)
        staged[0][0].chmod(0o600)
        staged[0][0].write_bytes(pem)
        staged[1][0].write_text(directory.to_toml(), encoding="utf-8")
        for temporary, final in staged:
            temporary.replace(final)
    except OSError as exc:
        where = exc.filename2 or exc.filename or path
        raise ConfigurationError(
            f"--export-registry {path}: cannot write {where} ({exc.strerror})"
        ) from exc
    finally:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
    return key_path
