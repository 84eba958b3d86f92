"""The ids an agency has already handled, so a redelivered message is dropped, not handled twice.

``SeenIds`` keeps the most recent ids in memory: a restart forgets them. ``DurableSeenIds`` keeps
them in a SQLite file, so that a document acked before a restart is not accepted again after it.
"""

import sqlite3
from collections import OrderedDict
from pathlib import Path
from typing import Protocol


class SeenStore(Protocol):
    def __contains__(self, message_id: object) -> bool: ...

    def add(self, message_id: str) -> None: ...

    def close(self) -> None: ...


class SeenIds:
    """The most recent ``capacity`` ids, oldest forgotten first."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, message_id: str) -> None:
        self._ids[message_id] = None
        self._ids.move_to_end(message_id)
        while len(self._ids) > self._capacity:
            self._ids.popitem(last=False)

    def close(self) -> None:
        self._ids.clear()


class DurableSeenIds:
    """Every id handled, in a SQLite file of the agency's, written before the broker hears the
    ack: if the process dies between the two, the redelivered copy is dropped, not handled
    twice."""

    def __init__(self, path: Path, kind: str) -> None:
        self._kind = kind
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS handled (kind TEXT NOT NULL, id TEXT NOT NULL, "
            "PRIMARY KEY (kind, id)) WITHOUT ROWID"
        )

    def __contains__(self, message_id: object) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM handled WHERE kind = ? AND id = ?", (self._kind, str(message_id))
        ).fetchone()
        return row is not None

    def add(self, message_id: str) -> None:
        self._db.execute(
            "INSERT OR IGNORE INTO handled (kind, id) VALUES (?, ?)", (self._kind, message_id)
        )

    def close(self) -> None:
        self._db.close()
