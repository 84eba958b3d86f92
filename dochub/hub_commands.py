"""``dochub hub ...``: run the hub."""

import asyncio
import signal
from pathlib import Path
from typing import Annotated

import structlog
import typer

from dochub.logging import configure_logging
from dochub.settings_io import settings_from
from hub.errors import HubError
from hub.registry import load_registry
from hub.service import Hub
from hub.settings import HubSettings

app = typer.Typer(help="Run the hub.", no_args_is_help=True)
log = structlog.get_logger("dochub")


@app.command("run")
def run(
    amqp_url: Annotated[str | None, typer.Option(help="Broker URL [env DOCHUB_AMQP_URL]")] = None,
    namespace: Annotated[
        str | None, typer.Option(help="Prefix of every exchange and queue [env DOCHUB_NAMESPACE]")
    ] = None,
    ledger_url: Annotated[
        str | None, typer.Option(help="sqlite:///PATH of the ledger [env DOCHUB_LEDGER_URL]")
    ] = None,
    registry: Annotated[
        Path | None, typer.Option(help="Agency registry, TOML [env DOCHUB_REGISTRY]")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Competing consumers on the ingress [env DOCHUB_WORKERS]")
    ] = None,
    prefetch: Annotated[
        int | None, typer.Option(help="Prefetch window per worker [env DOCHUB_PREFETCH]")
    ] = None,
    batch_max: Annotated[
        int | None, typer.Option(help="Largest micro-batch [env DOCHUB_BATCH_MAX]")
    ] = None,
    throughput_interval_s: Annotated[
        float | None,
        typer.Option(
            "--throughput-interval",
            help="Seconds between throughput logs [env DOCHUB_THROUGHPUT_INTERVAL_S]",
        ),
    ] = None,
    delivery_limit: Annotated[
        int | None,
        typer.Option(
            help="Deliveries before a message is dead-lettered [env DOCHUB_DELIVERY_LIMIT]"
        ),
    ] = None,
    log_format: Annotated[
        str | None, typer.Option(help="auto, json or console [env DOCHUB_LOG_FORMAT]")
    ] = None,
    log_level: Annotated[
        str | None, typer.Option(help="debug, info, warning or error [env DOCHUB_LOG_LEVEL]")
    ] = None,
) -> None:
    """Declare the topology, then route documents and receipts until Ctrl-C or SIGTERM."""
    settings = settings_from(
        HubSettings,
        amqp_url=amqp_url,
        namespace=namespace,
        ledger_url=ledger_url,
        registry=registry,
        workers=workers,
        prefetch=prefetch,
        batch_max=batch_max,
        throughput_interval_s=throughput_interval_s,
        delivery_limit=delivery_limit,
        log_format=log_format,
        log_level=log_level,
    )
    configure_logging(settings.log_format, settings.log_level)
    try:
        asyncio.run(_run(settings))
    except HubError as exc:
        log.error("hub_failed", error=str(exc))
        raise typer.Exit(1) from exc


async def _run(settings: HubSettings) -> None:
    registry = load_registry(settings.registry)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    failure: BaseException | None = None
    async with Hub(settings, registry) as hub:
        stopping = asyncio.create_task(stop.wait())
        failing = asyncio.create_task(hub.wait())
        done, _ = await asyncio.wait({stopping, failing}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        failing.cancel()
        if failing in done:
            failure = failing.exception()
        log.info("hub_stopping")
    if failure is not None:
        raise HubError(f"a router worker failed: {failure!r}") from failure
