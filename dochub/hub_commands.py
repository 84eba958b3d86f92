"""``dochub hub ...``: make the hub's key, run the hub."""

import asyncio
import signal
from pathlib import Path
from typing import Annotated

import structlog
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from agency_client import AgencyClientError, load_signing_key
from agency_client.keys import key_paths
from dochub.errors import DEBUG_KEY, UsageError, exit_code_for
from dochub.logging import configure_logging
from dochub.registration import check_key_folder, directory_to_update, write_registered_keys
from dochub.settings_io import flag_problems, settings_options
from hub.errors import ConfigurationError, HubError
from hub.registry import load_registry
from hub.service import Hub
from hub.settings import HubSettings
from schemas.directory import HubEntry
from schemas.keys import public_key_to_text

app = typer.Typer(help="Make the hub's key; run the hub.", no_args_is_help=True)
log = structlog.get_logger("dochub")


@app.command("keygen")
def keygen(
    registry: Annotated[
        Path, typer.Option(help="The agency directory to add the hub's public key to")
    ] = Path("agencies.toml"),
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the key files")] = Path("keys"),
    name: Annotated[str, typer.Option(help="The hub's name in the directory")] = "DocHub",
    force: Annotated[
        bool, typer.Option(help="Replace an existing hub key, and the directory's [hub] key")
    ] = False,
) -> None:
    """Generate the hub's Ed25519 key pair (hub.key, hub.pub) and list its public key in the
    directory's [hub] table. The hub signs its stamps and refusals with it; agencies check them
    against the directory.

    Nothing is written unless all of it can be. Exit codes: 0 written, 2 a usage mistake (or a
    hub key that exists already, without --force), 5 a folder or directory file that cannot be
    used."""
    check_key_folder(out_dir)
    if not force and any(path.exists() for path in key_paths(out_dir, "hub")):
        raise UsageError(
            f"a hub key exists already in {out_dir}; pass --force to replace it (agencies must "
            "then get the new directory)"
        )
    directory = directory_to_update(registry)
    if not force and directory.hub is not None:
        raise UsageError(
            f"{registry} lists a hub key already; pass --force to replace it (agencies must then "
            "get the new directory)"
        )
    key = Ed25519PrivateKey.generate()
    try:
        entry = HubEntry(name=name, public_key=public_key_to_text(key.public_key()))
    except ValidationError as exc:
        raise UsageError(flag_problems(exc, {"name": "--name"})) from exc
    updated = directory.model_copy(update={"hub": entry})
    files = write_registered_keys(out_dir, "hub", key, registry, updated)
    print(f"hub key: {files.private}\nregistered in {registry}")


@app.command("run")
@settings_options(HubSettings)
def run(ctx: typer.Context, settings: HubSettings) -> None:
    """Declare the topology, then route documents and receipts until Ctrl-C or SIGTERM; serve
    /metrics, /healthz, /readyz and the dashboard on --http-host:--http-port meanwhile.

    Exit codes: 0 stopped by Ctrl-C or SIGTERM, 1 a router worker failed, 2 a usage mistake,
    4 RabbitMQ refused the login, the virtual host or the topology, 5 a setting, registry or key
    that cannot be used (or an HTTP port taken), 6 RabbitMQ unreachable, 7 the ledger
    unavailable."""
    configure_logging(settings.log_format, settings.log_level)
    try:
        asyncio.run(_run(settings))
    except HubError as exc:
        log.error("hub_failed", error=str(exc), exc_info=exc if ctx.meta.get(DEBUG_KEY) else None)
        raise typer.Exit(exit_code_for(exc)) from exc


async def _run(settings: HubSettings) -> None:
    registry = load_registry(settings.registry)
    try:
        key = load_signing_key(settings.hub_key)
    except AgencyClientError as exc:
        raise ConfigurationError(f"{exc} (the hub's key: `dochub hub keygen` makes one)") from exc
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await Hub(settings, registry, key).serve(stop)  # a signal while starting ends the start
