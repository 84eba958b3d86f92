"""A new key pair and its listing in the agency directory file, written together or not at all.

The directory file is checked before any key is written (its folder exists, it parses), it is
replaced whole (a temporary file, then a rename), and if that fails the key files are put back as
they were.
"""

import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agency_client import AgencyClientError, KeyFiles, write_key_pair
from agency_client.keys import PUBLIC_MODE, write_atomically
from dochub.errors import CommandError
from dochub.exit_codes import ExitCode
from hub.errors import RegistryError
from hub.registry import load_registry
from schemas.directory import AgencyDirectory


def check_key_folder(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise CommandError(
            f"--out {folder} is a file: give the folder for the key files", ExitCode.CONFIGURATION
        )


def directory_to_update(path: Path) -> AgencyDirectory:
    """The directory in ``path``, or an empty one if there is no such file yet, once it is sure
    that ``path`` can be written."""
    folder = path.parent
    if not folder.is_dir():
        state = "is not a folder" if folder.exists() else "does not exist"
        raise RegistryError(
            f"cannot write the agency registry {path}: its folder {folder} {state}; create the "
            "folder, or give another --registry"
        )
    if path.is_dir():
        raise RegistryError(f"the agency registry {path} is a folder: give a TOML file's path")
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise RegistryError(f"cannot write the agency registry {path}: permission denied")
    if not path.exists():
        return AgencyDirectory()
    return load_registry(path, require_agencies=False).directory


def write_directory(path: Path, directory: AgencyDirectory) -> None:
    mode = path.stat().st_mode & 0o777 if path.exists() else PUBLIC_MODE
    try:
        write_atomically(path, directory.to_toml().encode("utf-8"), mode)
    except OSError as exc:
        raise RegistryError(f"cannot write the agency registry {path}: {exc.strerror}") from exc


def write_registered_keys(
    folder: Path,
    name: str,
    key: Ed25519PrivateKey,
    registry: Path | None,
    directory: AgencyDirectory | None,
) -> KeyFiles:
    """``key`` into ``folder`` as ``<name>.key`` and ``<name>.pub``, replacing any there; then
    ``directory`` into ``registry`` (if given). Either both are written, or neither."""

    def register(_: KeyFiles) -> None:
        if registry is not None and directory is not None:
            write_directory(registry, directory)

    try:
        return write_key_pair(folder, name, overwrite=True, key=key, then=register)
    except AgencyClientError as exc:
        raise CommandError(f"--out {folder}: {exc}", ExitCode.CONFIGURATION) from exc
