"""``dochub`` run as a process of its own by a test: bounded, and stopped with SIGTERM (a run then
deletes its namespaces), SIGKILL after ``STOP_S``, when it takes too long or the test ends
meanwhile."""

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import pytest

from schemas.urls import broker_user

DOCHUB = str(Path(sys.executable).parent / "dochub")
STOP_S = 20.0
"""How long a run may take to stop on SIGTERM (and delete its namespaces)."""


def stop_group(pid: int) -> None:
    """SIGTERM to a process group, SIGKILL after ``STOP_S``; the process is reaped by whoever
    started it."""
    for signum in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signum)
        for _ in range(int(STOP_S * 10)):
            if not _running(pid):
                return
            time.sleep(0.1)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie has stopped: only its parent's wait is missing
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def run_dochub(
    command: str,
    cwd: Path,
    amqp_url: str,
    arguments: Sequence[str],
    timeout_s: float,
    started: Callable[[int], object] = lambda pid: None,
) -> subprocess.CompletedProcess[str]:
    """``dochub COMMAND ARGUMENTS`` in a session of its own, told ``started`` its pid; the test
    fails when it has no end within ``timeout_s``."""
    process = subprocess.Popen(  # noqa: S603 - our own console script, fixed arguments
        [DOCHUB, command, *arguments],
        cwd=cwd,
        env={**os.environ, "DOCHUB_AMQP_URL": amqp_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    started(process.pid)
    try:
        stdout, stderr = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        stop_group(process.pid)
        stdout, stderr = process.communicate()
        pytest.fail(f"dochub {command} {' '.join(arguments)}: no end within {timeout_s} s")
    finally:
        if process.poll() is None:
            stop_group(process.pid)
            process.communicate()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@contextlib.asynccontextmanager
async def hub_run(
    amqp_url: str,
    namespace: str,
    registry: Path,
    ledger: str,
    started: Callable[[int], object] = lambda pid: None,
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``dochub hub run`` as a user starts it on an exported registry (its key beside it), once it
    has started, told ``started`` its pid; killed at the end if it still runs."""
    process = await asyncio.create_subprocess_exec(
        DOCHUB,
        *("hub", "run", "--registry", str(registry), "--ledger-url", ledger),
        *("--hub-key", str(registry.with_suffix(".hub.key"))),  # written by --export-registry
        env={
            **os.environ,
            "DOCHUB_TRUSTED_USERS": broker_user(amqp_url),  # the run's agencies share it
            "DOCHUB_AMQP_URL": amqp_url,
            "DOCHUB_NAMESPACE": namespace,
            "DOCHUB_LOG_FORMAT": "json",
            "DOCHUB_HTTP_PORT": "0",  # a free port: other hubs may run beside it
        },
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    started(process.pid)
    assert process.stderr is not None
    try:
        logged: list[bytes] = []
        async with asyncio.timeout(30):
            while b'"hub_started"' not in (line := await process.stderr.readline()):
                if not line:
                    pytest.fail(f"dochub hub run ended: {b''.join(logged).decode()[-2000:]}")
                logged.append(line)
        yield process
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
