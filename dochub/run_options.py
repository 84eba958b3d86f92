"""The options that ``dochub simulate`` and ``dochub loadtest``, the whole-system runs, share."""

from pathlib import Path
from typing import Annotated

import typer

from runs.namespace_lifecycle import HubMode

HubOption = Annotated[
    HubMode,
    typer.Option(help="embedded: run a hub in this process; external: use a running one"),
]
NamespaceOption = Annotated[
    str | None,
    typer.Option(help="Namespace of the external hub [embedded: a fresh one per run]"),
]
AmqpUrlOption = Annotated[str | None, typer.Option(help="Broker URL [env DOCHUB_AMQP_URL]")]
WorkersOption = Annotated[int, typer.Option(min=1, help="Router workers of the embedded hub")]
JsonOption = Annotated[
    Path | None, typer.Option("--json", help="Write the JSON report to this file")
]
