"""The base of every model in the contract: frozen, strict about unknown fields, bytes as base64."""

from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

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
