"""A run's ledger: a new file per embedded run, and the rule that a run counts only in a ledger
that holds nothing yet, and leaves every other one exactly as it was."""

import datetime as dt
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.errors import ConfigurationError
from hub.inspection import Refusal, inspect
from hub.registry import Registry
from hub.sqlite_ledger import SqliteLedger, sqlite_path
from runs.ledger_files import new_ledger_url, nothing_at, require_empty_ledger
from schemas import limits
from tests.factories import TRUSTING, directory_of
from tests.ledger_files import Fingerprint

UTC7 = dt.timedelta(hours=7)
FIX = "give another --ledger-url"


def url_of(path: Path) -> str:
    return f"sqlite:///{path}"


async def ledger_with_one_refusal(path: Path) -> None:
    """A hub's ledger that has counted one input: a message that is not a document."""
    registry = Registry(directory_of({"000.00.00.G01": Ed25519PrivateKey.generate()}))
    verdict = inspect("document", b"not json", None, registry, TRUSTING, limits.MAX_MESSAGE_BYTES)
    assert isinstance(verdict, Refusal)
    ledger = await SqliteLedger.open(url_of(path), UTC7)
    try:
        await ledger.admit([verdict])
        assert (await ledger.totals()).rejected == 1
    finally:
        await ledger.close()


def test_a_new_ledger_is_named_by_its_utc_start_and_run_id() -> None:
    started = dt.datetime(2022, 7, 1, 3, 4, 5, tzinfo=dt.timezone(UTC7))
    url = new_ledger_url("a1b2c3", started)
    assert url == "sqlite:///./simulations/20220630T200405Z-a1b2c3.db"
    assert sqlite_path(url) == "./simulations/20220630T200405Z-a1b2c3.db"


def test_a_new_ledger_in_an_absolute_folder(tmp_path: Path) -> None:
    url = new_ledger_url("run", dt.datetime(2026, 1, 2, tzinfo=dt.UTC), tmp_path)
    assert sqlite_path(url) == str(tmp_path / "20260102T000000Z-run.db")


def test_runs_a_moment_apart_get_ledgers_of_their_own() -> None:
    started = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
    assert new_ledger_url("one", started) != new_ledger_url("two", started)
    assert new_ledger_url("one", started) != new_ledger_url(
        "one", started + dt.timedelta(seconds=1)
    )


async def test_no_file_and_an_empty_file_are_empty_ledgers(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    await require_empty_ledger(url_of(missing), UTC7, FIX)
    assert not missing.exists(), "checking a ledger must create nothing"

    touched = tmp_path / "touched.db"
    touched.touch()
    before = Fingerprint.of(touched)
    assert nothing_at(url_of(touched))
    await require_empty_ledger(url_of(touched), UTC7, FIX)
    assert Fingerprint.of(touched) == before


async def test_a_hub_ledger_that_counted_nothing_yet_may_be_used(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    await (await SqliteLedger.open(url_of(path), UTC7)).close()
    before = Fingerprint.of(path)
    assert not nothing_at(url_of(path))
    await require_empty_ledger(url_of(path), UTC7, FIX)
    assert Fingerprint.of(path) == before


async def test_a_ledger_that_holds_data_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    await ledger_with_one_refusal(path)
    before = Fingerprint.of(path)
    with pytest.raises(ConfigurationError, match=r"is not empty .*1 refused inputs") as refused:
        await require_empty_ledger(url_of(path), UTC7, FIX)
    assert str(refused.value).endswith(FIX)
    assert Fingerprint.of(path) == before


async def test_a_file_that_is_no_ledger_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"somebody's data")
    before = Fingerprint.of(path)
    with pytest.raises(ConfigurationError, match="not an empty DocHub ledger"):
        await require_empty_ledger(url_of(path), UTC7, FIX)
    assert Fingerprint.of(path) == before
    assert path.read_bytes() == b"somebody's data"


async def test_a_write_ahead_log_beside_an_empty_file_is_data(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    path.touch()
    log = tmp_path / "hub.db-wal"
    log.write_bytes(b"pages not yet in the ledger")
    assert not nothing_at(url_of(path))
    with pytest.raises(ConfigurationError, match=r"hub\.db-wal beside it holds data"):
        await require_empty_ledger(url_of(path), UTC7, FIX)
    assert log.read_bytes() == b"pages not yet in the ledger"
