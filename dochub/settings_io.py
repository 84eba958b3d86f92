"""Settings from flags or ``DOCHUB_*`` variables; a flag that was given wins over the variable."""

from typing import Any, TypeVar

import typer
from pydantic import ValidationError
from pydantic_settings import BaseSettings

from schemas.contract import describe_validation_error

SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def settings_from(cls: type[SettingsT], **flags: Any) -> SettingsT:
    given = {name: value for name, value in flags.items() if value is not None}
    try:
        return cls(**given)
    except ValidationError as exc:
        raise typer.BadParameter(
            f"invalid setting ({describe_validation_error(exc)}); "
            "check the flags and the DOCHUB_* environment variables"
        ) from exc
