"""How a command ends on an error: one line on stderr and an exit code by the error's type.

Every command raises; ``dochub.cli`` catches what escapes and calls ``report``. The traceback is
printed only with ``dochub --debug``.
"""

import sqlite3
import sys
import traceback

from aio_pika.exceptions import AMQPError

from agency_client.errors import (
    AccessRefused,
    AgencyClientError,
    BrokerUnavailable,
    DocumentRefused,
    DocumentUnroutable,
    InvalidDocument,
)
from dochub.exit_codes import ExitCode
from hub.errors import BrokerError, BrokerRefused, ConfigurationError, HubError, LedgerError
from runs.errors import RunError, RunInterrupted, RunUsageError

DEBUG_KEY = "dochub.debug"
"""Where the root command keeps ``--debug``, in the click context's ``meta`` that every
subcommand shares."""
INTERRUPTED = 130
"""The shell's code for a command ended by Ctrl-C (128 + SIGINT)."""


class CommandError(Exception):
    """A command's own refusal, with the exit code it ends with."""

    def __init__(self, message: str, code: ExitCode) -> None:
        super().__init__(message)
        self.code = code


class UsageError(CommandError):
    """A flag or an argument is wrong or missing: the message names it, and the accepted form."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ExitCode.USAGE)


_BY_TYPE: list[tuple[type[BaseException], ExitCode]] = [
    # Subclasses before their bases: the first match wins.
    (LedgerError, ExitCode.LEDGER_UNAVAILABLE),
    (ConfigurationError, ExitCode.CONFIGURATION),
    (BrokerRefused, ExitCode.REFUSED),
    (BrokerError, ExitCode.BROKER_UNAVAILABLE),
    (HubError, ExitCode.FAILED),
    (RunUsageError, ExitCode.USAGE),
    (RunError, ExitCode.FAILED),  # a run that could not go to its end
    (BrokerUnavailable, ExitCode.BROKER_UNAVAILABLE),
    (AccessRefused, ExitCode.REFUSED),
    (DocumentRefused, ExitCode.REFUSED),
    (InvalidDocument, ExitCode.FAILED),
    (DocumentUnroutable, ExitCode.FAILED),
    (AgencyClientError, ExitCode.CONFIGURATION),  # a key, a directory, a namespace, an agency id
    (sqlite3.Error, ExitCode.LEDGER_UNAVAILABLE),
    (AMQPError, ExitCode.BROKER_UNAVAILABLE),
    (TimeoutError, ExitCode.TIMEOUT),
    (ConnectionError, ExitCode.BROKER_UNAVAILABLE),
    (OSError, ExitCode.CONFIGURATION),  # a file or folder the command cannot use
]


def exit_code_for(exc: BaseException) -> int:
    if isinstance(exc, CommandError):
        return exc.code
    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTED
    if isinstance(exc, RunInterrupted):
        return 128 + exc.signal  # as the shell reports a command a signal ended
    for kind, code in _BY_TYPE:
        if isinstance(exc, kind):
            return code
    return ExitCode.FAILED


def one_line(exc: BaseException, *, debug: bool = False) -> str:
    """What went wrong, on one line, without the ``error:`` prefix."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    if isinstance(exc, CommandError | HubError | AgencyClientError | RunError):
        text = str(exc)
    elif isinstance(exc, OSError) and exc.strerror:
        where = " -> ".join(str(name) for name in (exc.filename, exc.filename2) if name)
        text = f"{where}: {exc.strerror}" if where else exc.strerror
    elif isinstance(exc, sqlite3.Error | AMQPError | OSError):
        text = f"{type(exc).__name__}: {exc}"
    else:
        text = f"internal error: {type(exc).__name__}: {exc}"
        if not debug:
            text += "; rerun with --debug for the traceback"
    return " ".join(text.split())


def report(exc: BaseException, *, debug: bool) -> int:
    """Print ``exc`` on stderr as one line (after its traceback with ``--debug``); return the
    command's exit code."""
    if debug:
        traceback.print_exception(exc, file=sys.stderr)
    print(f"error: {one_line(exc, debug=debug)}", file=sys.stderr, flush=True)
    return exit_code_for(exc)
