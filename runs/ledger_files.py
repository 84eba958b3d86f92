"""The ledger a run writes or reads, and the rule that keeps a user's ledgers safe: a run counts
only in a ledger that holds nothing yet, and never deletes one (nor its -wal or -shm).

An embedded run without a ledger of its own writes a new file each time, under ``simulations/``,
so that runs can follow one another and every ledger stays readable afterwards."""

import datetime as dt
from pathlib import Path
from typing import Final

from hub.errors import ConfigurationError, LedgerError
from hub.ledger import Totals
from hub.ledger_url import open_ledger
from hub.sqlite_ledger import sqlite_path

SIMULATIONS_FOLDER: Final = Path("simulations")
"""Where an embedded run keeps its new ledger when given none, under the current folder."""
_PENDING_SUFFIXES: Final = ("-wal", "-journal")
"""Beside a ledger, the files that hold data not yet in it."""


def new_ledger_url(run_id: str, now: dt.datetime, folder: Path = SIMULATIONS_FOLDER) -> str:
    """A new ledger's URL for the run ``run_id`` started at ``now``:
    ``FOLDER/<UTC yyyymmddThhmmssZ>-<run_id>.db``."""
    stamp = now.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{stamp}-{run_id}.db"
    return f"sqlite:///{path if path.is_absolute() else f'./{path}'}"


def holds_data(totals: Totals) -> bool:
    """Anything counted: a document, a refused input, a receipt."""
    return bool(totals.received or totals.deliveries or totals.receipt_messages)


def nothing_at(ledger_url: str) -> bool:
    """No file at all, or an empty one (what ``touch`` leaves), with nothing beside it waiting
    to be written into it."""
    path = Path(sqlite_path(ledger_url))
    return not _pending(path) and _no_file_or_empty(path)


async def require_empty_ledger(ledger_url: str, utc_offset: dt.timedelta, fix: str) -> None:
    """Refuse, in one line that ends with ``fix``, a ledger that holds data or is not a DocHub
    ledger at all. It is only read (opened read-only), and nothing is created."""
    path = Path(sqlite_path(ledger_url))
    pending = _pending(path)
    if _no_file_or_empty(path):
        if not pending:
            return
        # Opening it, even read-only, lets SQLite judge that file, and perhaps drop it.
        raise ConfigurationError(
            f"the ledger {ledger_url} cannot be used: {pending[0]} beside it holds data not yet "
            f"written into it; {fix}"
        )
    try:
        ledger = await open_ledger(ledger_url, utc_offset, read_only=True)
    except LedgerError as exc:
        raise ConfigurationError(
            f"the ledger {ledger_url} cannot be used: the file exists, and it is not an empty "
            f"DocHub ledger ({_reason(exc)}); {fix}"
        ) from exc
    try:
        totals = await ledger.totals()
    finally:
        await ledger.close()
    refuse_data(ledger_url, totals, fix)


def refuse_data(ledger_url: str, totals: Totals, fix: str) -> None:
    """Refuse, in one line that ends with ``fix``, a ledger whose ``totals`` count anything."""
    if holds_data(totals):
        raise ConfigurationError(
            f"the ledger {ledger_url} is not empty ({totals.accepted:,} documents, "
            f"{totals.rejected:,} refused inputs): {fix}"
        )


def _pending(path: Path) -> list[Path]:
    """The files beside ``path`` that hold data not yet in it."""
    beside = [Path(f"{path}{suffix}") for suffix in _PENDING_SUFFIXES]
    return [file for file in beside if file.is_file() and file.stat().st_size]


def _no_file_or_empty(path: Path) -> bool:
    return not path.exists() or (path.is_file() and path.stat().st_size == 0)


def _reason(exc: LedgerError) -> str:
    """The error's cause, without the fix it carries (a hub's, not a run's)."""
    return str(exc).split(": ")[0]
