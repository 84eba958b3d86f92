"""``dochub``: one command line for the hub, agencies, replays and statistics.

Commands only parse their arguments, set up logging and hand over to the packages. Whatever a
command raises ends it here, as one line on stderr and an exit code (``dochub.errors``).
"""

from typing import Annotated, Any

import typer
from typer._click.core import Context  # typer vendors click; its group class takes these
from typer._click.exceptions import NoArgsIsHelpError
from typer.core import TyperGroup

from dochub import __version__
from dochub.agency_commands import app as agency_app
from dochub.dlq_commands import app as dlq_app
from dochub.errors import DEBUG_KEY, report
from dochub.hub_commands import app as hub_app
from dochub.loadtest_commands import loadtest
from dochub.namespace_commands import app as namespace_app
from dochub.provision_commands import provision
from dochub.replay_commands import simulate, stats
from dochub.top_commands import top
from dochub.trace_commands import documents, trace
from hub.event_loop import install_uvloop


class Commands(TyperGroup):
    """The root command: its subcommands' errors and usage mistakes each end in one line."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: Context | None = None, **extra: Any
    ) -> Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except typer.TyperException as exc:
            raise typer.Exit(_usage_mistake(exc)) from exc

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort):
            raise
        except typer.TyperException as exc:
            raise typer.Exit(_usage_mistake(exc)) from exc
        except (Exception, KeyboardInterrupt) as exc:
            raise typer.Exit(report(exc, debug=bool(ctx.meta.get(DEBUG_KEY)))) from exc


def _usage_mistake(exc: typer.TyperException) -> int:
    """click's own usage errors (a missing option, a value of the wrong type) on one line, with
    where to look; the bare command still prints its help."""
    if isinstance(exc, NoArgsIsHelpError):
        raise exc
    context = getattr(exc, "ctx", None)
    where = f"; see '{context.command_path} --help'" if isinstance(context, Context) else ""
    message = " ".join(exc.format_message().replace("Value error, ", "").split()).rstrip(".")
    typer.echo(f"error: {message}{where}", err=True)
    return exc.exit_code


app = typer.Typer(
    cls=Commands,
    help="DocHub: a document-exchange hub for government agencies, on RabbitMQ.\n\n"
    "Exit codes: 0 done, 1 failed (the command ran and its outcome is wrong), 2 a usage mistake, "
    "3 a timeout, 4 refused by the hub or the broker, 5 a setting, file or key that cannot be "
    "used, 6 RabbitMQ unreachable, 7 the ledger unavailable, 130 interrupted (Ctrl-C). An error "
    "is one line on stderr; dochub --debug COMMAND ... adds its traceback.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts say "[env DOCHUB_...]", which rich would take for markup
)
app.add_typer(hub_app, name="hub")
app.add_typer(agency_app, name="agency")
app.command("simulate")(simulate)
app.command("stats")(stats)
app.command("loadtest")(loadtest)
app.command("provision")(provision)
app.add_typer(namespace_app, name="namespace")
app.command("top")(top)
app.command("trace")(trace)
app.command("documents")(documents)
app.add_typer(dlq_app, name="dlq")


def _print_version(value: bool) -> None:
    if value:
        print(f"dochub {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit"
        ),
    ] = False,
    debug: Annotated[
        bool,
        typer.Option(
            "--debug",
            help="Print the traceback of an error, not only its one line: dochub "
            "--debug COMMAND ...",
        ),
    ] = False,
) -> None:
    """DocHub: agencies send signed documents; the hub checks, routes and counts them."""
    ctx.meta[DEBUG_KEY] = debug


def main() -> None:
    install_uvloop()
    app()
