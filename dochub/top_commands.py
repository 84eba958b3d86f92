"""``dochub top``: a live terminal view of a running hub, for servers without a browser.

It polls the hub's ``GET /api/snapshot`` (the dashboard's data) once a second and redraws;
``dochub.top_view`` lays the frame out.
"""

import time
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.live import Live

from dochub.errors import CommandError, UsageError
from dochub.exit_codes import ExitCode
from dochub.top_view import frame
from hub.settings import HubSettings

SNAPSHOT_PATH = "/api/snapshot"
DEFAULT_URL = f"http://127.0.0.1:{HubSettings.model_fields['http_port'].default}"


class HubUnreachable(Exception):
    """No answer from the hub's HTTP port: refused, timed out, cut."""


def top(
    url: Annotated[
        str,
        typer.Option(
            "--url",
            help="The hub's HTTP address: its DOCHUB_HTTP_HOST and DOCHUB_HTTP_PORT",
        ),
    ] = DEFAULT_URL,
    once: Annotated[
        bool, typer.Option("--once", help="Print one frame and exit, without redrawing")
    ] = False,
    interval_s: Annotated[
        float, typer.Option("--interval", min=0.2, max=60.0, help="Seconds between two frames")
    ] = 1.0,
    timeout_s: Annotated[
        float,
        typer.Option(
            "--timeout", min=0.1, max=600.0, help="Seconds to wait for the hub's first answer"
        ),
    ] = 5.0,
) -> None:
    """Show a running hub's figures live in the terminal: throughput, route latency, queue
    depths and consumers (a queue with messages and no consumer in red), the busiest agencies,
    refusals and dead letters by reason, the statistics table and health. Ctrl-C quits.

    Exit codes: 0 done, 2 a usage mistake, 5 the address answers but is not a hub's HTTP port,
    6 the hub does not answer within --timeout. A hub lost later shows as unreachable while top
    retries."""
    address = _address(url)
    console = Console()
    with httpx.Client(follow_redirects=False) as client:
        snapshot = _first_snapshot(client, address, timeout_s)
        if once:
            console.print(frame(snapshot, url=address, width=console.width))
            return
        try:
            _watch(client, console, address, snapshot, interval_s, timeout_s)
        except KeyboardInterrupt:
            return


def _watch(
    client: httpx.Client,
    console: Console,
    address: str,
    snapshot: dict[str, Any],
    interval_s: float,
    timeout_s: float,
) -> None:
    lost_since: str | None = None
    with Live(
        frame(snapshot, url=address, width=console.width),
        console=console,
        screen=console.is_terminal,
        auto_refresh=False,
    ) as live:
        while True:
            time.sleep(interval_s)
            problem = None
            try:
                snapshot = _snapshot(client, address, min(timeout_s, interval_s * 5))
                lost_since = None
            except (HubUnreachable, CommandError) as exc:
                lost_since = lost_since or time.strftime("%H:%M:%S")
                problem = f"unreachable since {lost_since}, retrying: {exc}"
            live.update(
                frame(snapshot, url=address, problem=problem, width=console.width), refresh=True
            )


def _address(url: str) -> str:
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise UsageError(f"--url {url!r}: expected http://HOST:PORT, e.g. {DEFAULT_URL}")
    return url.rstrip("/")


def _first_snapshot(client: httpx.Client, address: str, timeout_s: float) -> dict[str, Any]:
    """The hub's snapshot, trying again until ``timeout_s`` has passed."""
    deadline = time.monotonic() + timeout_s
    while True:
        remaining = deadline - time.monotonic()
        try:
            return _snapshot(client, address, max(remaining, 0.1))
        except HubUnreachable as exc:
            if time.monotonic() + 0.5 >= deadline:
                raise CommandError(
                    f"the hub at {address} did not answer within {timeout_s:g} s ({exc}); is it "
                    "running, with its HTTP port there (DOCHUB_HTTP_PORT)? If not, give its --url",
                    ExitCode.BROKER_UNAVAILABLE,
                ) from exc
        time.sleep(0.5)


def _snapshot(client: httpx.Client, address: str, timeout_s: float) -> dict[str, Any]:
    """One snapshot; ``HubUnreachable`` if no answer, ``CommandError`` (configuration) for an
    answer that is not a hub's snapshot."""
    try:
        answer = client.get(address + SNAPSHOT_PATH, timeout=timeout_s)
    except httpx.TransportError as exc:
        raise HubUnreachable(str(exc) or type(exc).__name__) from exc
    not_a_hub = (
        f"{address}{SNAPSHOT_PATH} answered {{}}: is {address} a DocHub hub's HTTP port "
        "(DOCHUB_HTTP_PORT)?"
    )
    if answer.status_code != httpx.codes.OK:
        raise CommandError(not_a_hub.format(f"HTTP {answer.status_code}"), ExitCode.CONFIGURATION)
    try:
        snapshot = answer.json()
    except ValueError as exc:
        raise CommandError(not_a_hub.format("something not JSON"), ExitCode.CONFIGURATION) from exc
    if not isinstance(snapshot, dict) or "totals" not in snapshot:
        raise CommandError(not_a_hub.format("JSON that is no snapshot"), ExitCode.CONFIGURATION)
    return snapshot
