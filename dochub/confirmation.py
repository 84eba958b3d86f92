"""Asking before a command changes what a user has, unless ``--yes`` says it may."""

import sys

import typer

from dochub.errors import CommandError, UsageError
from dochub.exit_codes import ExitCode


def confirm(question: str, *, no_terminal: str, declined: str) -> None:
    """Ask ``question`` on the terminal; a usage error ``no_terminal`` when there is none to ask
    on, a failure ``declined`` when the answer is no."""
    if not sys.stdin.isatty():
        raise UsageError(no_terminal)
    if not typer.confirm(question):
        raise CommandError(declined, ExitCode.FAILED)
