"""``dochub provision``: one RabbitMQ user per agency in the registry, and one for the hub, made
through the broker's management HTTP API (see ``hub/provisioning.py`` for what each may do)."""

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from rich.console import Console
from rich.table import Table

from dochub.errors import UsageError
from dochub.logging import configure_logging
from dochub.settings_io import settings_from
from hub.management import DEFAULT_MANAGEMENT_URL, ManagementClient, vhost_of
from hub.provisioning import Action, CredentialsStore, Outcome, apply, make_plan
from hub.registry import load_registry
from hub.settings import DEFAULT_AMQP_URL, LogFormat
from schemas.naming import NAMESPACE_PATTERN, Names
from schemas.urls import redact_url

out = Console(width=None if sys.stdout.isatty() else 120)


class ProvisionSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCHUB_", frozen=True, extra="ignore")

    amqp_url: str = DEFAULT_AMQP_URL
    namespace: str = Field("dochub", pattern=NAMESPACE_PATTERN)
    registry: Path = Path("agencies.toml")
    management_url: str = DEFAULT_MANAGEMENT_URL
    credentials_dir: Path | None = None
    dry_run: bool = False
    remove_stale: bool = True
    log_format: LogFormat = "auto"


def provision(
    registry: Annotated[
        Path | None, typer.Option(help="Agency registry, TOML [env DOCHUB_REGISTRY]")
    ] = None,
    namespace: Annotated[
        str | None, typer.Option(help="The hub's namespace [env DOCHUB_NAMESPACE]")
    ] = None,
    amqp_url: Annotated[
        str | None,
        typer.Option(
            help="The broker as agencies reach it: host, port and virtual host of every "
            "credentials URL; its user is not used [env DOCHUB_AMQP_URL]"
        ),
    ] = None,
    management_url: Annotated[
        str | None,
        typer.Option(
            help="RabbitMQ's management API, with an administrator's credentials "
            f"[env DOCHUB_MANAGEMENT_URL; default {redact_url(DEFAULT_MANAGEMENT_URL)}]"
        ),
    ] = None,
    credentials_dir: Annotated[
        Path | None,
        typer.Option(
            help="Folder for each user's <user>.amqp-url file (mode 0600), created 0700; "
            "required unless --dry-run [env DOCHUB_CREDENTIALS_DIR]"
        ),
    ] = None,
    dry_run: Annotated[
        bool | None,
        typer.Option(
            "--dry-run", help="Print what would change, and change nothing [env DOCHUB_DRY_RUN]"
        ),
    ] = None,
    remove_stale: Annotated[
        bool | None,
        typer.Option(
            "--remove-stale/--keep-stale",
            help="Delete users of the namespace that are no longer in the registry, and their "
            "files [default: remove] [env DOCHUB_REMOVE_STALE]",
        ),
    ] = None,
    log_format: Annotated[
        str | None, typer.Option(help="auto, json or console [env DOCHUB_LOG_FORMAT]")
    ] = None,
) -> None:
    """Create or update the RabbitMQ users of the hub and of every agency in the registry.

    An agency's user may publish only to the ingress exchange and read only its own inbox and
    status queues; it may declare, bind or delete nothing. The hub's user may do anything in its
    namespace. Running it again changes nothing; users of agencies removed from the registry are
    deleted. Passwords go only to the credentials files, never to the output.

    Exit codes: 0 done, 2 a usage mistake, 5 a registry, file or setting that cannot be used,
    6 the management API cannot be reached or refused a call."""
    settings = settings_from(
        ProvisionSettings,
        registry=registry,
        namespace=namespace,
        amqp_url=amqp_url,
        management_url=management_url,
        credentials_dir=credentials_dir,
        dry_run=dry_run,
        remove_stale=remove_stale,
        log_format=log_format,
    )
    configure_logging(settings.log_format, "warning")
    if settings.credentials_dir is None and not settings.dry_run:
        raise UsageError(
            "missing --credentials-dir (or DOCHUB_CREDENTIALS_DIR), required unless --dry-run"
        )
    agency_ids = load_registry(settings.registry).agency_ids
    store = (
        CredentialsStore(settings.credentials_dir, settings.amqp_url)
        if settings.credentials_dir is not None
        else None
    )
    outcome = asyncio.run(_provision(settings, agency_ids, store))  # errors: dochub.errors
    _print(outcome, settings)


async def _provision(
    settings: ProvisionSettings, agency_ids: list[str], store: CredentialsStore | None
) -> Outcome:
    names = Names(settings.namespace)
    async with ManagementClient(settings.management_url) as management:
        await management.overview()
        myself = await management.whoami()
        existing = [user.name for user in await management.list_users()]
        plan = make_plan(
            names,
            agency_ids,
            existing,
            vhost=vhost_of(settings.amqp_url),
            stored_users=store.users() if store is not None else (),
            remove_stale=settings.remove_stale,
            protected={myself},
        )
        return await apply(plan, management, store, dry_run=settings.dry_run)


_WOULD = {
    Action.CREATED: "would create",
    Action.UPDATED: "would update",
    Action.REMOVED: "would remove",
    Action.UNCHANGED: "unchanged",
    Action.STALE_KEPT: "stale, kept",
}


def _print(outcome: Outcome, settings: ProvisionSettings) -> None:
    """The users and their credentials files; never a password."""
    vhost = vhost_of(settings.amqp_url)
    title = f"RabbitMQ users of namespace {settings.namespace!r} on virtual host {vhost!r}"
    table = Table(title=title + (" (dry run: nothing changed)" if outcome.dry_run else ""))
    for column in ("user", "for", "action", "credentials"):
        table.add_column(column, overflow="fold")
    hub_user = Names(settings.namespace).hub_user
    for user in outcome.users:
        table.add_row(
            user.user,
            "hub" if user.user == hub_user else user.agency_id or "",
            _WOULD[user.action] if outcome.dry_run else user.action.value,
            str(user.credentials) if user.credentials is not None else "",
        )
    out.print(table)
    counts = ", ".join(
        f"{outcome.count(action)} {action.value}"
        for action in (Action.CREATED, Action.UPDATED, Action.REMOVED, Action.UNCHANGED)
    )
    kept = outcome.count(Action.STALE_KEPT)
    where = (
        f"; credentials in {settings.credentials_dir}"
        if settings.credentials_dir is not None
        else "; passwords not checked (no --credentials-dir)"
    )
    out.print(
        ("dry run, would be: " if outcome.dry_run else "")
        + counts
        + (f", {kept} stale kept" if kept else "")
        + where,
        highlight=False,
    )
