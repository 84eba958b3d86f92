"""Work in a process of its own, spoken to in typed JSON lines: the simulated agencies of a replay,
the generator and agencies of a load test.

The parent writes the child's config as one JSON line on its stdin and keeps stdin open for as
long as it wants the child to run. The child writes one JSON line per message on stdout, each a
member of a pydantic discriminated union (a ``kind`` field tells which); its logs go to stderr.

The child stops, closing its connections, on SIGTERM or SIGINT and when its stdin reaches end of
file: the operating system closes the pipe when the parent dies, even by SIGKILL. A pipe's end of
file is portable to every Unix, unlike Linux's ``PR_SET_PDEATHSIG``, and needs no polling.
"""

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any, Final, Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, TypeAdapter

from agency_client import AgencyClientError
from hub.event_loop import install_uvloop
from hub.logs import configure_logging
from hub.settings import LogLevel

STOPPED: Final = 3
"""Exit code of a child told to stop (end of stdin, or a signal) before its end."""
FAILED: Final = 1
"""Exit code of a child whose work could not run (its last line says why)."""
CHILD_STOP_S: Final = 10.0
"""How long a child may take to close its connections once told to stop."""
_LINE_LIMIT: Final = 1 << 20
_CONNECTION_LOGGERS: Final = ("aiormq", "aio_pika")

M = TypeVar("M")
C = TypeVar("C", bound=BaseModel)
R = TypeVar("R")


class ChildFailed(BaseModel):
    """The child's work could not run: the class name of the error it met, and its message."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["failed"] = "failed"
    type: str
    message: str


# The parent's side


async def run_child(
    module: str,
    arguments: list[str],
    config: BaseModel,
    messages: TypeAdapter[M],
    on_message: Callable[[M], None],
) -> int:
    """Run ``python -m module *arguments`` with ``config`` on its stdin, hand each line it writes
    to ``on_message`` as a ``messages`` value, and return its exit code once its stdout closes. The
    child is stopped (stdin closed, then killed after ``CHILD_STOP_S``) however this ends."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        module,
        *arguments,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        limit=_LINE_LIMIT,
    )
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        process.stdin.write(config.model_dump_json().encode() + b"\n")
        await process.stdin.drain()
        async for line in process.stdout:
            if line.strip():
                on_message(messages.validate_json(line))
        return await process.wait()
    finally:
        await stop_child(process)


async def stop_child(process: asyncio.subprocess.Process) -> None:
    """Close the child's stdin (its signal to stop, if it still runs), wait for it, bounded, then
    kill it."""
    if process.stdin is not None:
        process.stdin.close()
    if process.returncode is None:
        try:
            await asyncio.wait_for(process.wait(), CHILD_STOP_S)
        except TimeoutError:
            process.kill()
            await process.wait()


# The child's side


def child_main(
    config_type: type[C], work: Callable[[C, Callable[[], None]], Awaitable[BaseModel]]
) -> None:
    """The whole of a child's ``main``: logs as JSON on stderr at the level given as its one
    argument (``warning`` by default), its config read from stdin, then ``work(config, stop)``
    run on uvloop until it ends, its result written as the last line, or until it is told to stop
    (exit ``STOPPED``). The agencies' ``AgencyClientError`` is written as ``ChildFailed`` (exit
    ``FAILED``)."""
    levels: tuple[LogLevel, ...] = get_args(LogLevel)
    configure_logging("json", next((lv for lv in levels if sys.argv[1:] == [lv]), "warning"))
    config = read_config(config_type)
    install_uvloop()
    try:
        result = asyncio.run(until_told_to_stop(lambda stop: work(config, stop)))
    except AgencyClientError as exc:
        write_line(ChildFailed(type=type(exc).__name__, message=str(exc)))
        sys.exit(FAILED)
    if result is None:
        sys.exit(STOPPED)
    write_line(result)


def read_config(config_type: type[C]) -> C:
    """The config the parent wrote as the first line of stdin."""
    return config_type.model_validate_json(sys.stdin.buffer.readline())


def write_line(message: BaseModel) -> bool:
    """Write one message to the parent; False if nobody reads any more (the pipe is closed)."""
    try:
        print(message.model_dump_json(), flush=True)
    except BrokenPipeError:
        _silence_stdout()
        return False
    return True


async def until_told_to_stop(work: Callable[[Callable[[], None]], Awaitable[R]]) -> R | None:
    """Run ``work(stop)`` until it ends, or until SIGTERM, SIGINT or the end of stdin (or a call
    of ``stop``, for a child whose parent stopped reading) cancels it: then return None."""
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    stop_requested = False

    def stop(*_: Any) -> None:
        nonlocal stop_requested
        if not stop_requested:
            stop_requested = True
            for name in _CONNECTION_LOGGERS:  # they complain of every RPC and channel cut short
                logging.getLogger(name).setLevel(logging.CRITICAL)
            task.cancel()

    def on_stdin() -> None:
        try:
            data = os.read(sys.stdin.fileno(), 4096)
        except OSError:
            data = b""
        if not data:  # end of file: the parent closed the pipe, or died
            loop.remove_reader(sys.stdin.fileno())
            stop()

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop)
    loop.add_reader(sys.stdin.fileno(), on_stdin)
    try:
        return await work(stop)
    except asyncio.CancelledError:
        if stop_requested:
            return None
        raise
    finally:
        loop.remove_reader(sys.stdin.fileno())
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null, so that the interpreter's final flush
    does not complain of it."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
