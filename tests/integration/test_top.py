"""``dochub top`` against a real hub's HTTP port, as a subprocess (the hub runs in the test's
event loop): one frame with the hub's namespace and figures, a live view that says so when the
hub goes away, and one line with exit 6 when nothing answers."""

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import httpx

from dochub.exit_codes import ExitCode
from tests.factories import make_envelope
from tests.integration.conftest import ClientFactory, FakeAgency, HubFactory
from tests.integration.waiting import until

DOCHUB = Path(sys.executable).parent / "dochub"
WIDE = {**os.environ, "COLUMNS": "160", "PYTHONUTF8": "1"}


async def run_top(*args: str, within_s: float = 20.0) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        str(DOCHUB),
        "top",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=WIDE,
    )
    out, err = await asyncio.wait_for(process.communicate(), within_s)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def documents_shown(url: str) -> int:
    async with httpx.AsyncClient(timeout=5) as http:
        answer = await http.get(f"{url}/api/snapshot")
        answer.raise_for_status()
        return int(answer.json()["totals"]["documents"])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_one_frame_shows_the_hub_its_figures_and_agency_names(
    hub_factory: HubFactory, agencies: list[FakeAgency], client_for: ClientFactory
) -> None:
    hub = await hub_factory(http_port=0)
    url = f"http://127.0.0.1:{hub.http_port}"
    sender_agency, recipient_agency = agencies[0], agencies[1]
    sender = await client_for(sender_agency)
    sent = 3
    for _ in range(sent):
        await sender.send(make_envelope(sender.organ, [sender.organ_of(recipient_agency.id)]))
    await until(lambda: documents_shown(url), lambda shown: shown == sent, within_s=10)

    code, out, err = await run_top("--url", url, "--once")

    assert (code, err) == (ExitCode.OK, "")
    assert hub.names.namespace in out
    documents = next(
        line.split() for line in out.splitlines() if line.strip().startswith("documents")
    )
    assert documents[1] == str(sent)
    assert sender_agency.name in out
    assert recipient_agency.name in out
    assert hub.names.inbox_queue(recipient_agency.id) in out  # filling, nobody consumes it


async def test_an_address_that_is_not_a_hub_is_one_line_and_exit_5(
    hub_factory: HubFactory,
) -> None:
    hub = await hub_factory(http_port=0)

    code, out, err = await run_top("--url", f"http://127.0.0.1:{hub.http_port}/healthz", "--once")

    assert code == ExitCode.CONFIGURATION
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("error: ")
    assert "HTTP 404" in err


async def test_no_hub_is_one_line_and_exit_6_within_the_timeout() -> None:
    url = f"http://127.0.0.1:{free_port()}"

    code, out, err = await run_top("--url", url, "--once", "--timeout", "1", within_s=10)

    assert code == ExitCode.BROKER_UNAVAILABLE
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"error: the hub at {url} did not answer within 1 s")


class Output:
    """A subprocess's output, read as it comes so that the process never blocks on a full pipe."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self.data = b""
        self._reading = asyncio.create_task(self._read(stream))

    async def _read(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            self.data += chunk

    async def shows(self, text: str, within_s: float = 15.0) -> None:
        async def read() -> bytes:
            return self.data

        await until(read, lambda data: text.encode() in data, within_s)

    async def end(self) -> str:
        await asyncio.wait_for(self._reading, 10)
        return self.data.decode()


async def test_the_live_view_says_when_the_hub_goes_away_and_quits_on_ctrl_c(
    hub_factory: HubFactory,
) -> None:
    hub = await hub_factory(http_port=0)
    process = await asyncio.create_subprocess_exec(
        str(DOCHUB),
        "top",
        "--url",
        f"http://127.0.0.1:{hub.http_port}",
        "--interval",
        "0.3",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**WIDE, "TTY_COMPATIBLE": "1"},  # rich draws every frame, as on a terminal
    )
    assert process.stdout is not None
    assert process.stderr is not None
    out, err = Output(process.stdout), Output(process.stderr)
    try:
        await out.shows(hub.names.namespace)
        await hub.stop()
        await out.shows("unreachable since")
        assert process.returncode is None, "top ended when the hub went away"
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), 10)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    assert (process.returncode, await err.end()) == (ExitCode.OK, "")
    await out.end()
