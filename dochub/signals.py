"""Commands that end cleanly on SIGINT and SIGTERM: their work is cancelled, so that every
``async with`` closes what it opened (unacked messages go back to the broker), and the command
exits 128 + the signal's number with one line."""

import asyncio
import signal
from collections.abc import Coroutine
from typing import Any

import typer

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def run_stoppable(work: Coroutine[Any, Any, int]) -> int:
    """``asyncio.run(work)``, cancelled by the first SIGINT or SIGTERM."""
    return asyncio.run(_until_signalled(work))


async def _until_signalled(work: Coroutine[Any, Any, int]) -> int:
    task = asyncio.ensure_future(work)
    loop = asyncio.get_running_loop()
    received: list[signal.Signals] = []

    def on_signal(signum: signal.Signals) -> None:
        if not received:
            received.append(signum)
            task.cancel()

    for signum in _STOP_SIGNALS:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        return await task
    except asyncio.CancelledError:
        if not received:
            raise
        typer.echo(f"error: interrupted by {received[0].name}", err=True)
        raise typer.Exit(128 + received[0]) from None
    finally:
        for signum in _STOP_SIGNALS:
            loop.remove_signal_handler(signum)
