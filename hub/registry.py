"""The hub's agency registry: the agency directory file, loaded once at start."""

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from hub.errors import RegistryError
from schemas.contract import describe_validation_error
from schemas.directory import AgencyDirectory, AgencyEntry


class Registry:
    """Who may send through the hub, and the key each one signs with."""

    def __init__(self, directory: AgencyDirectory) -> None:
        self.directory = directory
        self._by_id = directory.by_id
        self._by_key_id = directory.by_key_id

    def __len__(self) -> int:
        return len(self._by_id)

    def __contains__(self, agency_id: object) -> bool:
        return agency_id in self._by_id

    @property
    def agency_ids(self) -> list[str]:
        return list(self._by_id)

    def get(self, agency_id: str) -> AgencyEntry | None:
        return self._by_id.get(agency_id)

    def key_owner(self, kid: str) -> tuple[str, Ed25519PublicKey] | None:
        """The agency that signs with key ``kid``. The hub's own key is not among them: nothing
        the hub receives may be signed by it."""
        entry = self._by_key_id.get(kid)
        return (entry.id, entry.verify_key) if entry is not None else None


def load_registry(path: Path, *, require_agencies: bool = True) -> Registry:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RegistryError(f"cannot read the agency registry {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise RegistryError(f"the agency registry {path} is not UTF-8 text: {exc}") from exc
    try:
        directory = AgencyDirectory.from_toml(text)
    except ValueError as exc:  # tomllib.TOMLDecodeError and pydantic's ValidationError
        detail = describe_validation_error(exc) if isinstance(exc, ValidationError) else str(exc)
        raise RegistryError(f"the agency registry {path} is invalid: {detail}") from exc
    if require_agencies and not directory.agencies:
        raise RegistryError(f"the agency registry {path} lists no agencies")
    return Registry(directory)
