"""The base of every model in the contract: frozen, strict about unknown fields, bytes as base64."""

import math
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, WithJsonSchema

SCHEMA_VERSION: Final = "1.0"
SchemaVersion = Literal["1.0"]


class Contract(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        ser_json_bytes="base64",
        val_json_bytes="base64",
        use_enum_values=False,
    )


def base64_json_schema(min_bytes: int, max_bytes: int) -> WithJsonSchema:
    """The JSON Schema of a bytes field as it travels: base64url text, whose length bounds are
    those of the encoded text, not of the bytes."""
    return WithJsonSchema(
        {
            "type": "string",
            "format": "base64url",
            "minLength": 4 * math.ceil(min_bytes / 3),
            "maxLength": 4 * math.ceil(max_bytes / 3),
        }
    )


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
