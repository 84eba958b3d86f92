"""The simulated agencies in a process of their own: ``python -m dochub.fleet_process``.

It takes the log level as its one argument and reads a ``FleetConfig`` as one JSON line on stdin.
It writes JSON lines on stdout: one ``{"progress": <FleetProgress>}`` per progress report, and at
the end ``{"result": <FleetResult>}`` or, when the agencies could not run,
``{"error": {"type": <AgencyClientError class name>, "message": ...}}``. Logs go to stderr.

It stops, closing its connections, on SIGTERM or SIGINT and when its stdin reaches end of file:
the parent keeps stdin open for as long as it wants the agencies to run, and the operating system
closes it when the parent dies, even by SIGKILL. A pipe's end of file is portable to every Unix,
unlike Linux's ``PR_SET_PDEATHSIG``, and needs no polling.
"""

import asyncio
import json
import logging
import os
import signal
import sys
from typing import Any, Literal, get_args

from pydantic import BaseModel

from agency_client import AgencyClientError
from dochub.logging import configure_logging
from hub.settings import LogLevel
from simulator.fleet import FleetConfig, FleetProgress, FleetResult, run_fleet

STOPPED = 3
"""Exit code of the child when told to stop (end of stdin, or a signal) before its end."""
FAILED = 1
"""Exit code of the child when the agencies could not run (an ``error`` line says why)."""


_CONNECTION_LOGGERS = ("aiormq", "aio_pika")


class FleetError(BaseModel):
    type: str
    message: str


class FleetMessage(BaseModel):
    """One line of the child's stdout: exactly one of the three is set."""

    progress: FleetProgress | None = None
    result: FleetResult | None = None
    error: FleetError | None = None


def encode(message: FleetMessage) -> str:
    return message.model_dump_json(exclude_none=True)


def main() -> None:
    configure_logging("json", _log_level(sys.argv[1:]))
    config = FleetConfig.model_validate_json(sys.stdin.buffer.readline())
    try:
        outcome = asyncio.run(_run(config))
    except AgencyClientError as exc:
        _write(FleetMessage(error=FleetError(type=type(exc).__name__, message=str(exc))))
        sys.exit(FAILED)
    if outcome == "stopped":
        sys.exit(STOPPED)
    _write(FleetMessage(result=outcome))


def _log_level(arguments: list[str]) -> LogLevel:
    levels: tuple[LogLevel, ...] = get_args(LogLevel)
    return next((level for level in levels if arguments == [level]), "warning")


async def _run(config: FleetConfig) -> FleetResult | Literal["stopped"]:
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

    def report(progress: FleetProgress) -> None:
        if not _write(FleetMessage(progress=progress)):
            stop()  # nobody reads any more: the parent is gone

    try:
        return await run_fleet(config, report)
    except asyncio.CancelledError:
        if stop_requested:
            return "stopped"
        raise


def _write(message: FleetMessage) -> bool:
    """Write one line to the parent; False if the pipe is closed."""
    try:
        print(encode(message), flush=True)
    except BrokenPipeError:
        _silence_stdout()
        return False
    return True


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null, so that the interpreter's final flush
    does not complain of it."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def parse(line: str) -> FleetMessage:
    return FleetMessage.model_validate(json.loads(line))


if __name__ == "__main__":
    main()
