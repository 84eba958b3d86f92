"""Settings from flags or ``DOCHUB_*`` variables; a flag that was given wins over the variable.

A setting that is missing or wrong is reported by its flag and its variable, never by the
settings' field name: ``missing --agency-id (or DOCHUB_AGENCY_ID)``.
"""

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

import typer
from pydantic import ValidationError
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings

from dochub.errors import UsageError
from schemas.agency_id import AGENCY_ID_PATTERN
from schemas.naming import NAMESPACE_PATTERN
from schemas.urls import parse_amqp_url

SettingsT = TypeVar("SettingsT", bound=BaseSettings)
R = TypeVar("R")

ENV_PREFIX = "DOCHUB_"
_FLAGS = {"agency_key": "--key", "throughput_interval_s": "--throughput-interval"}
"""Flags not spelt as their setting: every other setting ``a_b`` is the flag ``--a-b``."""
_FORMS = {
    AGENCY_ID_PATTERN: "an agency id: expected DDD.CC.BB.LNN, e.g. 000.00.00.G12",
    NAMESPACE_PATTERN: "a namespace: expected up to 64 letters, digits, '-' and '_', e.g. dochub",
    r"^\S+$": "one word: expected no spaces",
}
"""What a value that fails a pattern should look like, in words rather than the regex."""
_CHECKS: dict[str, Callable[[str], object]] = {"amqp_url": parse_amqp_url}
"""Settings checked before anything uses them; a check raises ValueError with the fix."""


def settings_from(cls: type[SettingsT], **flags: Any) -> SettingsT:
    """``cls`` from the flags given (``None``: not given) over the ``DOCHUB_*`` variables. The
    keys of ``flags`` are the settings this command has flags for."""
    given = {name: value for name, value in flags.items() if value is not None}
    try:
        settings = cls(**given)
    except ValidationError as exc:
        problems = [_problem(error, given, flags) for error in exc.errors(include_url=False)]
        raise UsageError("; ".join(dict.fromkeys(problems))) from exc
    for setting, check in _CHECKS.items():
        value = getattr(settings, setting, None)
        if isinstance(value, str):
            try:
                check(value)
            except ValueError as exc:
                source = flag_of(setting) if setting in given else variable_of(setting)
                raise UsageError(f"{source}: {exc}") from exc
    return settings


def flag_problems(exc: ValidationError, flags: Mapping[str, str]) -> str:
    """``exc`` on one line, each error named by the flag that gave the value: ``flags`` maps a
    field (``subject``) or a field of a field (``code.number``) to its flag."""
    problems = []
    for error in exc.errors(include_url=False):
        path = [str(part) for part in error["loc"] if isinstance(part, str)]
        flag = flags.get(".".join(path[:2])) or flags.get(path[0] if path else "")
        message = _message(error)
        problems.append(f"{flag}: {message}" if flag else message)
    return "; ".join(dict.fromkeys(problems))


def flag_of(setting: str) -> str:
    return _FLAGS.get(setting, "--" + setting.replace("_", "-"))


def variable_of(setting: str) -> str:
    return ENV_PREFIX + setting.upper()


def _problem(error: ErrorDetails, given: dict[str, Any], flags: dict[str, Any]) -> str:
    setting = str(error["loc"][0]) if error["loc"] else ""
    if error["type"] == "missing":
        if setting in flags:
            return f"missing {flag_of(setting)} (or {variable_of(setting)})"
        return f"missing {variable_of(setting)}"
    if setting in given:
        source = f"{flag_of(setting)} {given[setting]}"
    else:
        source = f"{variable_of(setting)}={error['input']}"
    form = _form(error)
    if form is not None:
        return f"{source} is not {form}"
    return f"{source}: {_message(error)}"


def _form(error: ErrorDetails) -> str | None:
    """The accepted form of a value that failed a pattern, in words, if the pattern has them."""
    if error["type"] != "string_pattern_mismatch":
        return None
    return _FORMS.get(str((error.get("ctx") or {}).get("pattern", "")))


def _message(error: ErrorDetails) -> str:
    form = _form(error)
    if form is not None:
        return f"not {form}"
    message = error["msg"].removeprefix("Value error, ")
    return message[:1].lower() + message[1:]


def settings_options(
    cls: type[BaseSettings], fields: Sequence[str] | None = None
) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """Give the decorated command one option for each of ``fields`` of ``cls`` (all of them by
    default), derived from the field: its flag (``flag_of``), its type, its docstring as help,
    ending in ``[env DOCHUB_...]``. The command takes ``settings``: ``cls`` from the options
    given over the variables (``settings_from``)."""
    names = list(cls.model_fields if fields is None else fields)

    def decorate(command: Callable[..., R]) -> Callable[..., R]:
        signature = inspect.signature(command)
        kept = [p for p in signature.parameters.values() if p.name != "settings"]
        options = [
            inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=_option(cls, name)
            )
            for name in names
        ]

        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> R:
            given = {name: kwargs.pop(name, None) for name in names}
            return command(*args, settings=settings_from(cls, **given), **kwargs)

        parameters = [*kept, *options]
        run.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]
        run.__annotations__ = {p.name: p.annotation for p in parameters}
        return run

    return decorate


def _option(cls: type[BaseSettings], name: str) -> Any:
    field = cls.model_fields[name]
    description = " ".join((field.description or name.replace("_", " ")).split())
    option = typer.Option(flag_of(name), help=f"{description} [env {variable_of(name)}]")
    return Annotated[_option_type(field.annotation) | None, option]


def _option_type(annotation: Any) -> Any:
    """What the command line reads for a setting of type ``annotation``: its own type when
    click knows it, text otherwise (pydantic then reads it as the environment's text)."""
    if get_origin(annotation) in (Union, UnionType):
        present = [arg for arg in get_args(annotation) if arg is not type(None)]
        annotation = present[0] if len(present) == 1 else str
    if annotation in (str, int, float, bool, Path):
        return annotation
    return str
