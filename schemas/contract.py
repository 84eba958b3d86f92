"""The base of every model in the contract: frozen, strict about unknown fields, bytes as base64."""

import base64
import datetime as dt
import math
import re
from typing import Annotated, Final, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    ValidationError,
    WithJsonSchema,
)

SCHEMA_VERSION: Final = "2.0"
SchemaVersion = Literal["2.0"]
"""Contract 2.0: documents and receipts are JWS (see ``jws.py``). 1.0 embedded its own signature
in the envelope and is refused as ``unsupported_version``."""


class Contract(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        ser_json_bytes="base64",
        val_json_bytes="base64",
        use_enum_values=False,
    )


BASE64URL_PATTERN: Final = r"^[A-Za-z0-9_-]*={0,2}$"


def _base64url_text(value: object) -> object:
    if not isinstance(value, str):
        return value
    if not re.match(BASE64URL_PATTERN, value):
        raise ValueError("not base64url: use the URL-safe alphabet ('-' and '_', not '+' and '/')")
    unpadded = value.rstrip("=")
    if len(unpadded) % 4 == 1:
        raise ValueError("not base64url: its length cannot be that of any bytes")
    return base64.urlsafe_b64decode(unpadded + "=" * (-len(unpadded) % 4))


def base64url_bytes(min_bytes: int, max_bytes: int) -> tuple[BeforeValidator, WithJsonSchema]:
    """A bytes field as it travels: base64url text, padded or not. Its JSON Schema's length bounds
    are those of the encoded text, not of the bytes."""
    return BeforeValidator(_base64url_text), WithJsonSchema(
        {
            "type": "string",
            "contentEncoding": "base64url",
            "pattern": BASE64URL_PATTERN,
            "minLength": (4 * min_bytes + 2) // 3,
            "maxLength": 4 * math.ceil(max_bytes / 3),
        }
    )


_RFC3339 = re.compile(
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
_UUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")


def _rfc3339(value: object) -> object:
    if not isinstance(value, str):
        return value
    if not _RFC3339.match(value):
        raise ValueError(
            "not an RFC 3339 timestamp: YYYY-MM-DDTHH:MM:SS, optional fraction, then Z or ±HH:MM"
        )
    return dt.datetime.fromisoformat(value.upper())


def _hyphenated_uuid(value: object) -> object:
    if not isinstance(value, str):
        return value
    if not _UUID.match(value):
        raise ValueError("not a UUID in its 8-4-4-4-12 hexadecimal form")
    return UUID(value)


def _not_a_boolean(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("a number, not true or false")
    return value


NotBoolean = BeforeValidator(_not_a_boolean)
"""For integer enums: JSON's true and false are not 1 and 0."""

Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339)]
"""An RFC 3339 timestamp with its offset; in JSON, nothing looser (no Unix seconds, no missing
seconds, no ``+0700``)."""
WireUuid = Annotated[UUID, BeforeValidator(_hyphenated_uuid)]
"""A UUID as 8-4-4-4-12 hex digits, in either case; in JSON, nothing looser (no ``urn:uuid:``)."""


def describe_validation_error(exc: ValidationError, limit: int = 5) -> str:
    """A one-line account of what failed validation, for error messages and dead-letter headers."""
    parts = []
    for error in exc.errors(include_url=False)[:limit]:
        where = ".".join(str(part) for part in error["loc"]) or "(root)"
        parts.append(f"{where}: {error['msg']}")
    more = exc.error_count() - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)
