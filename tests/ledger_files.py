"""Ledger files in the states an operator can leave them in: locked by another process, made
read-only or immutable, or something else than a ledger; and what a file looked like, to show that
a command left it as it was."""

import asyncio
import hashlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

COMPANIONS = ("-wal", "-shm", "-journal")

_LOCKER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
sys.stdin.readline()
db.execute("ROLLBACK")
"""


@dataclass(frozen=True)
class Fingerprint:
    """A file's bytes and modification time, and which of SQLite's companion files lie beside
    it."""

    sha256: str
    mtime_ns: int
    companions: tuple[str, ...]

    @classmethod
    def of(cls, path: Path) -> "Fingerprint":
        return cls(
            hashlib.sha256(path.read_bytes()).hexdigest(),
            path.stat().st_mtime_ns,
            tuple(suffix for suffix in COMPANIONS if Path(f"{path}{suffix}").exists()),
        )


@asynccontextmanager
async def locked(path: Path) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """Another process holds the ledger's write lock (``BEGIN EXCLUSIVE``) until the function
    this yields is awaited, or the block ends."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        _LOCKER,
        str(path),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    stdin = process.stdin

    async def release() -> None:
        if not stdin.is_closing():
            stdin.close()
        assert await asyncio.wait_for(process.wait(), 10) == 0

    try:
        line = await asyncio.wait_for(process.stdout.readline(), 10)
        assert line.strip() == b"locked", line
        yield release
        await release()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@contextmanager
def unwritable(*paths: Path) -> Iterator[None]:
    """No process of this user can write ``paths`` within the block: made immutable (``chattr
    +i``) when the tests run as root, whom file modes do not stop; made read-only otherwise."""
    if os.geteuid() != 0:
        modes = {path: path.stat().st_mode for path in paths}
        for path in paths:
            path.chmod(0o444)
        try:
            yield
        finally:
            for path, mode in modes.items():
                path.chmod(mode)
        return
    made = _chattr("+i", paths)
    if made.returncode != 0:
        _chattr("-i", paths)
        pytest.fail(
            f"chattr +i failed ({made.stderr.strip()}): as root, only an immutable file is "
            "unwritable; run the tests as another user, or where root may use chattr "
            "(CAP_LINUX_IMMUTABLE)"
        )
    try:
        yield
    finally:
        undone = _chattr("-i", paths)
        assert undone.returncode == 0, undone.stderr


def _chattr(change: str, paths: tuple[Path, ...]) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(  # noqa: S603 - fixed arguments, the test's own files
        ["chattr", change, *paths],  # noqa: S607 - e2fsprogs' chattr, wherever PATH has it
        capture_output=True,
        text=True,
        check=False,
    )
