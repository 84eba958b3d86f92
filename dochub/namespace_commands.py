"""``dochub namespace list|delete``: the namespaces on a broker, and removing one that is left
over, through RabbitMQ's management API (``hub/namespaces.py`` says what belongs to one)."""

import asyncio
import json
import sys
from typing import Annotated

import typer
from pydantic_settings import BaseSettings, SettingsConfigDict
from rich.console import Console
from rich.table import Table

from dochub.confirmation import confirm
from dochub.errors import CommandError, UsageError
from dochub.exit_codes import ExitCode
from dochub.logging import configure_logging
from dochub.settings_io import settings_from
from hub.management import DEFAULT_MANAGEMENT_URL, ManagementClient, NodeFiles, vhost_of
from hub.namespaces import Namespace, delete_namespace, read_namespace, read_namespaces
from hub.settings import DEFAULT_AMQP_URL, LogFormat
from schemas.naming import Names
from schemas.urls import redact_url

app = typer.Typer(
    help="The namespaces on the broker: list them, delete one left over.", no_args_is_help=True
)
out = Console(width=None if sys.stdout.isatty() else 120)

NAMESPACE_FORM = "a namespace: expected letters, digits, '-' and '_', at most 64, e.g. dochub"
FILES_PER_QUORUM_QUEUE = 3
"""File handles a quorum queue holds on its RabbitMQ node, about."""


class NamespaceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DOCHUB_", frozen=True, extra="ignore")

    amqp_url: str = DEFAULT_AMQP_URL
    management_url: str = DEFAULT_MANAGEMENT_URL
    log_format: LogFormat = "auto"


AmqpUrl = Annotated[
    str | None,
    typer.Option(help="The broker; only its virtual host is used [env DOCHUB_AMQP_URL]"),
]
ManagementUrl = Annotated[
    str | None,
    typer.Option(
        help="RabbitMQ's management API, with an administrator's credentials "
        f"[env DOCHUB_MANAGEMENT_URL; default {redact_url(DEFAULT_MANAGEMENT_URL)}]"
    ),
]


@app.command("list")
def list_namespaces(
    amqp_url: AmqpUrl = None,
    management_url: ManagementUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table")] = False,
) -> None:
    """List the namespaces on the broker, with their queue counts.

    Each DocHub namespace on the virtual host of --amqp-url, with its queues, exchanges, messages
    and consumers, and the broker's file handles in use (a quorum queue holds about 3).

    Exit codes: 0 done, 2 a usage mistake, 5 a setting that cannot be used, 6 the management API
    cannot be reached or refused a call."""
    settings = _settings(amqp_url, management_url)
    vhost = vhost_of(settings.amqp_url)
    found, files = asyncio.run(_read_all(settings.management_url, vhost))
    if as_json:
        print(json.dumps(_as_json(vhost, found, files), indent=2))
        return
    if not found:
        out.print(f"no DocHub namespace on virtual host {vhost!r}", highlight=False)
    else:
        table = Table(title=f"DocHub namespaces on virtual host {vhost!r}")
        for column in ("namespace", "queues", "exchanges", "messages", "consumers"):
            table.add_column(column, justify="left" if column == "namespace" else "right")
        for namespace in found:
            table.add_row(
                namespace.name,
                f"{len(namespace.queues):,}",
                f"{len(namespace.exchanges):,}",
                f"{namespace.messages:,}",
                f"{namespace.consumers:,}",
            )
        out.print(table)
    for node in files:
        out.print(
            f"{node.node}: {node.used:,} of {node.limit:,} file handles in use (a quorum queue "
            f"holds about {FILES_PER_QUORUM_QUEUE})",
            highlight=False,
            soft_wrap=True,
        )


@app.command("delete")
def delete(
    namespace: Annotated[str, typer.Argument(help="The namespace, e.g. sim-0123456789")],
    yes: Annotated[bool, typer.Option("--yes", help="Delete without asking")] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Delete even while consumers read its queues")
    ] = False,
    amqp_url: AmqpUrl = None,
    management_url: ManagementUrl = None,
) -> None:
    """Delete a namespace's queues and exchanges, after asking.

    Every queue (with its messages) and exchange whose name starts with NAMESPACE and a dot.
    A namespace whose queues have consumers (a hub or agencies running) is kept unless --force.
    Broker users made by `dochub provision` are left alone.

    Exit codes: 0 deleted, 1 no such namespace or not confirmed, 2 a usage mistake (no terminal
    to ask on and no --yes; consumers and no --force), 5 a setting that cannot be used, 6 the
    management API cannot be reached or refused a call."""
    try:
        Names(namespace)
    except ValueError as exc:
        raise UsageError(f"NAMESPACE {namespace!r} is not {NAMESPACE_FORM}") from exc
    settings = _settings(amqp_url, management_url)
    vhost = vhost_of(settings.amqp_url)
    found = asyncio.run(_read_one(settings.management_url, vhost, namespace))
    if found.empty:
        raise CommandError(
            f"no queue or exchange on virtual host {vhost!r} starts with {namespace + '.'!r}: "
            "`dochub namespace list` shows the namespaces there",
            ExitCode.FAILED,
        )
    what = (
        f"{len(found.queues)} queues ({found.messages:,} messages) and {len(found.exchanges)} "
        f"exchanges of namespace {namespace!r} on virtual host {vhost!r}"
    )
    if found.consumers and not force:
        raise UsageError(
            f"{found.consumers} consumers read the queues of namespace {namespace!r} (a hub or "
            "agencies running?): stop them first, or pass --force"
        )
    if not yes:
        confirm(
            f"Delete {what}?",
            no_terminal=f"not deleting {what} without confirmation: there is no terminal to ask "
            "on; pass --yes",
            declined="nothing deleted",
        )
    deleted = asyncio.run(_delete(settings.management_url, vhost, found))
    for queue in deleted.queues:
        out.print(f"deleted queue {queue.name} ({queue.messages:,} messages)", highlight=False)
    for exchange in deleted.exchanges:
        out.print(f"deleted exchange {exchange}", highlight=False)
    out.print(
        f"deleted {len(deleted.queues)} queues ({deleted.messages:,} messages) and "
        f"{len(deleted.exchanges)} exchanges of namespace {namespace!r}",
        highlight=False,
        soft_wrap=True,
    )


def _settings(amqp_url: str | None, management_url: str | None) -> NamespaceSettings:
    settings = settings_from(NamespaceSettings, amqp_url=amqp_url, management_url=management_url)
    configure_logging(settings.log_format, "warning")
    return settings


async def _read_all(url: str, vhost: str) -> tuple[list[Namespace], list[NodeFiles]]:
    async with ManagementClient(url) as api:
        await api.overview()
        return await read_namespaces(api, vhost), await api.file_handles()


async def _read_one(url: str, vhost: str, namespace: str) -> Namespace:
    async with ManagementClient(url) as api:
        await api.overview()
        return await read_namespace(api, vhost, namespace)


async def _delete(url: str, vhost: str, found: Namespace) -> Namespace:
    async with ManagementClient(url) as api:
        return await delete_namespace(api, vhost, found)


def _as_json(vhost: str, found: list[Namespace], files: list[NodeFiles]) -> dict[str, object]:
    return {
        "vhost": vhost,
        "namespaces": [
            {
                "namespace": namespace.name,
                "queues": len(namespace.queues),
                "exchanges": len(namespace.exchanges),
                "messages": namespace.messages,
                "consumers": namespace.consumers,
            }
            for namespace in found
        ],
        "file_handles": [
            {"node": node.node, "used": node.used, "limit": node.limit} for node in files
        ],
    }
