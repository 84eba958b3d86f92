"""The agency directory: who may use the hub, and the public key each one signs with.

The hub loads it as its registry; agencies load the same file to verify what they receive. It is
kept as TOML::

    schema_version = "1.0"

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
from schemas.signing import key_id, public_key_from_text, public_key_to_text


def _valid_public_key(text: str) -> str:
    public_key_from_text(text)
    return text


PublicKeyText = Annotated[str, AfterValidator(_valid_public_key)]


class AgencyEntry(Contract):
    id: AgencyId
    name: Name
    kind: AgencyKind
    public_key: PublicKeyText

    @classmethod
    def for_key(
        cls, agency_id: str, name: str, kind: AgencyKind, key: Ed25519PublicKey
    ) -> "AgencyEntry":
        """The entry that registers ``key`` as the public key of ``agency_id``."""
        return cls(id=agency_id, name=name, kind=kind, public_key=public_key_to_text(key))

    @cached_property
    def verify_key(self) -> Ed25519PublicKey:
        return public_key_from_text(self.public_key)

    @cached_property
    def key_id(self) -> str:
        return key_id(self.verify_key)


class AgencyDirectory(Contract):
    schema_version: SchemaVersion = "1.0"
    agencies: list[AgencyEntry] = Field(default_factory=list, max_length=100_000)

    @model_validator(mode="after")
    def _unique(self) -> Self:
        seen_ids: set[str] = set()
        seen_keys: set[str] = set()
        for entry in self.agencies:
            if entry.id in seen_ids:
                raise ValueError(f"agency {entry.id} is listed more than once")
            if entry.public_key in seen_keys:
                raise ValueError(f"agency {entry.id} shares its public key with another agency")
            seen_ids.add(entry.id)
            seen_keys.add(entry.public_key)
        return self

    @classmethod
    def from_toml(cls, text: str) -> "AgencyDirectory":
        return cls.model_validate(tomllib.loads(text))

    def to_toml(self) -> str:
        lines = [f'schema_version = "{self.schema_version}"']
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


def _toml_string(value: str) -> str:
    # JSON's string escapes are a subset of TOML's basic-string escapes; TOML also forbids a raw
    # DEL, which JSON leaves as it is.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
