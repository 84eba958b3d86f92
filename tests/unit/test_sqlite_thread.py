"""An SQLite connection on a thread of its own: work runs there, in order, and ends even when its
caller is cancelled."""

import asyncio
import sqlite3
import threading
from functools import partial
from pathlib import Path

import pytest

from hub.sqlite_thread import SqliteThread


def insert(connection: sqlite3.Connection, *, n: int) -> None:
    connection.execute("INSERT INTO t VALUES (?)", (n,))


async def test_work_runs_on_one_thread_of_its_own_in_the_order_it_is_given(
    tmp_path: Path,
) -> None:
    db = await SqliteThread.connect(str(tmp_path / "a.db"))
    try:
        threads = await asyncio.gather(*(db.run(lambda _: threading.get_ident()) for _ in range(5)))
        assert len(set(threads)) == 1
        assert threads[0] != threading.get_ident()
        await db.run(lambda c: c.execute("CREATE TABLE t (n INTEGER)"))
        await asyncio.gather(*(db.run(partial(insert, n=n)) for n in range(20)))
        rows = await db.run(lambda c: c.execute("SELECT n FROM t").fetchall())
        assert [n for (n,) in rows] == list(range(20))
    finally:
        await db.close()


async def test_an_error_of_the_work_reaches_its_caller_and_the_connection_goes_on(
    tmp_path: Path,
) -> None:
    db = await SqliteThread.connect(str(tmp_path / "a.db"))
    try:
        with pytest.raises(sqlite3.OperationalError, match="no such table"):
            await db.run(lambda c: c.execute("SELECT * FROM missing"))
        assert await db.run(lambda c: c.execute("SELECT 1").fetchone()) == (1,)
    finally:
        await db.close()


async def test_work_whose_caller_is_cancelled_still_runs_to_its_end(tmp_path: Path) -> None:
    db = await SqliteThread.connect(str(tmp_path / "a.db"))
    started, finish = threading.Event(), threading.Event()

    def slow(connection: sqlite3.Connection) -> None:
        started.set()
        finish.wait(5)
        connection.execute("CREATE TABLE made_anyway (n INTEGER)")

    try:
        task = asyncio.create_task(db.run(slow))
        await asyncio.to_thread(started.wait, 5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        finish.set()
        tables = await db.run(
            lambda c: c.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        )
        assert tables == [("made_anyway",)]
    finally:
        await db.close()


async def test_a_database_that_cannot_be_opened_raises_and_leaves_no_thread(
    tmp_path: Path,
) -> None:
    before = {thread.name for thread in threading.enumerate()}
    with pytest.raises(sqlite3.OperationalError):
        await SqliteThread.connect(str(tmp_path / "no-such-folder" / "a.db"))
    await asyncio.sleep(0.1)
    after = {thread.name for thread in threading.enumerate()}
    assert not {name for name in after - before if name.startswith("dochub-sqlite")}


async def test_a_closed_connection_takes_no_more_work(tmp_path: Path) -> None:
    db = await SqliteThread.connect(str(tmp_path / "a.db"))
    await db.close()
    with pytest.raises(RuntimeError, match="shutdown"):
        await db.run(lambda c: c.execute("SELECT 1"))
