"""The agency directory: who may use the hub, and the public key each one signs with.

The hub loads it as its registry; agencies load the same file to verify what they receive. It is
kept as TOML::

    schema_version = "2.0"

    [hub]
    name = "DocHub"
    public_key = "base64 of the 32 raw Ed25519 bytes of the hub's key"

    [[agencies]]
    id = "000.00.00.G12"
    name = "Bộ Nội vụ"
    kind = "ministry"
    public_key = "base64 of the 32 raw Ed25519 bytes"
"""

import json
import tomllib
from functools import cached_property
from typing import Annotated, Self

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import AfterValidator, Field, model_validator

from schemas.agency_id import AgencyId, AgencyKind
from schemas.contract import Contract, SchemaVersion
from schemas.envelope import Name
from schemas.jws import thumbprint
from schemas.keys import public_key_from_text, public_key_to_text

HUB_SIGNER = "hub"
"""Who signed, when it is the hub's key: the signer of stamps and of the hub's own receipts."""


def _valid_public_key(text: str) -> str:
    public_key_from_text(text)
    return text


PublicKeyText = Annotated[str, AfterValidator(_valid_public_key)]


class _KeyHolder(Contract):
    public_key: PublicKeyText

    @cached_property
    def verify_key(self) -> Ed25519PublicKey:
        return public_key_from_text(self.public_key)

    @cached_property
    def key_id(self) -> str:
        """The ``kid`` of its signatures: the RFC 7638 thumbprint of the key."""
        return thumbprint(self.verify_key)


class HubEntry(_KeyHolder):
    """The hub itself: it signs its routing stamps and its own refusals with this key."""

    name: Name = "DocHub"


class AgencyEntry(_KeyHolder):
    id: AgencyId
    name: Name
    kind: AgencyKind

    @classmethod
    def for_key(
        cls, agency_id: str, name: str, kind: AgencyKind, key: Ed25519PublicKey
    ) -> "AgencyEntry":
        """The entry that registers ``key`` as the public key of ``agency_id``."""
        return cls(id=agency_id, name=name, kind=kind, public_key=public_key_to_text(key))


class AgencyDirectory(Contract):
    schema_version: SchemaVersion = "2.0"
    hub: HubEntry | None = None
    """The hub's key. Agencies need it to trust what they receive; ``dochub hub keygen`` adds
    it."""
    agencies: list[AgencyEntry] = Field(default_factory=list, max_length=100_000)

    @model_validator(mode="after")
    def _unique(self) -> Self:
        seen_ids: set[str] = set()
        seen_keys: set[str] = {self.hub.public_key} if self.hub is not None else set()
        for entry in self.agencies:
            if entry.id in seen_ids:
                raise ValueError(f"agency {entry.id} is listed more than once")
            if entry.public_key in seen_keys:
                raise ValueError(
                    f"agency {entry.id} shares its public key with another agency or the hub"
                )
            seen_ids.add(entry.id)
            seen_keys.add(entry.public_key)
        return self

    @classmethod
    def from_toml(cls, text: str) -> "AgencyDirectory":
        return cls.model_validate(tomllib.loads(text))

    def to_toml(self) -> str:
        lines = [f'schema_version = "{self.schema_version}"']
        if self.hub is not None:
            lines += [
                "",
                "[hub]",
                f"name = {_toml_string(self.hub.name)}",
                f"public_key = {_toml_string(self.hub.public_key)}",
            ]
        for entry in self.agencies:
            lines += [
                "",
                "[[agencies]]",
                f"id = {_toml_string(entry.id)}",
                f"name = {_toml_string(entry.name)}",
                f"kind = {_toml_string(entry.kind.value)}",
                f"public_key = {_toml_string(entry.public_key)}",
            ]
        return "\n".join(lines) + "\n"

    @cached_property
    def by_id(self) -> dict[str, AgencyEntry]:
        return {entry.id: entry for entry in self.agencies}

    @cached_property
    def by_key_id(self) -> dict[str, AgencyEntry]:
        return {entry.key_id: entry for entry in self.agencies}

    def __contains__(self, agency_id: object) -> bool:
        return agency_id in self.by_id

    def key_owner(self, kid: str) -> tuple[str, Ed25519PublicKey] | None:
        """Who signs with key ``kid``: an agency id, or ``HUB_SIGNER`` for the hub's key."""
        if self.hub is not None and kid == self.hub.key_id:
            return HUB_SIGNER, self.hub.verify_key
        entry = self.by_key_id.get(kid)
        return (entry.id, entry.verify_key) if entry is not None else None


def _toml_string(value: str) -> str:
    # JSON's string escapes are a subset of TOML's basic-string escapes; TOML also forbids a raw
    # DEL, which JSON leaves as it is.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
