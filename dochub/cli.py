"""``dochub``: one command line for the hub, agencies, replays and statistics.

Commands only parse their arguments, set up logging and hand over to the packages.
"""

from typing import Annotated

import typer

from dochub import __version__
from dochub.agency_commands import app as agency_app
from dochub.hub_commands import app as hub_app
from dochub.provision_commands import provision
from dochub.replay_commands import simulate, stats

app = typer.Typer(
    help="DocHub: a document-exchange hub for government agencies, on RabbitMQ.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts say "[env DOCHUB_...]", which rich would take for markup
)
app.add_typer(hub_app, name="hub")
app.add_typer(agency_app, name="agency")
app.command("simulate")(simulate)
app.command("stats")(stats)
app.command("provision")(provision)


def _print_version(value: bool) -> None:
    if value:
        print(f"dochub {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit"
        ),
    ] = False,
) -> None:
    """DocHub: agencies send signed documents; the hub checks, routes and counts them."""


def main() -> None:
    app()
