"""An SQLite connection on a thread of its own, to which the event loop hands whole pieces of work.

A transaction is one trip to the thread, however many statements it runs: the loop wakes once per
transaction, not once per statement as with a connection that awaits each statement.
"""

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, TypeVar

T = TypeVar("T")


class SqliteThread:
    """One connection, used only on its one thread: calls run there in the order they are made."""

    def __init__(self, connection: sqlite3.Connection, executor: ThreadPoolExecutor) -> None:
        self._connection = connection
        self._executor = executor

    @classmethod
    async def connect(cls, database: str) -> "SqliteThread":
        """``database``: a file's path, or a ``file:`` URI. Statements run in autocommit mode:
        the work handed to ``run`` begins and ends its own transactions."""
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dochub-sqlite")
        try:
            connection = await asyncio.get_running_loop().run_in_executor(
                executor,
                partial(
                    sqlite3.connect,
                    database,
                    isolation_level=None,
                    uri=database.startswith("file:"),
                    check_same_thread=False,
                ),
            )
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(connection, executor)

    async def run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        """``work(connection)`` on the connection's thread. If the caller is cancelled, the work
        still runs to its end there, and what comes after it waits for that."""
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, work, self._connection
        )

    async def execute(self, sql: str, parameters: Sequence[Any] = ()) -> None:
        await self.run(partial(_execute, sql=sql, parameters=parameters))

    async def fetchall(self, sql: str, parameters: Sequence[Any] = ()) -> list[Any]:
        return await self.run(partial(_fetchall, sql=sql, parameters=parameters))

    async def close(self) -> None:
        try:
            await self.run(sqlite3.Connection.close)
        finally:
            self._executor.shutdown(wait=False)


def _execute(connection: sqlite3.Connection, *, sql: str, parameters: Sequence[Any]) -> None:
    connection.execute(sql, parameters)


def _fetchall(connection: sqlite3.Connection, *, sql: str, parameters: Sequence[Any]) -> list[Any]:
    return connection.execute(sql, parameters).fetchall()
