"""``dochub dlq list|show|replay|purge``: the dead letters of a namespace, read without losing any,
replayed after a fix, or removed (``hub/dead_letters.py`` does the work)."""

import asyncio
import dataclasses
import datetime as dt
import json
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from dochub.confirmation import confirm
from dochub.errors import CommandError, UsageError
from dochub.exit_codes import ExitCode
from dochub.logging import configure_logging
from dochub.settings_io import settings_from
from hub.dead_letter_filters import (
    BROKER_REASONS,
    DeadLetter,
    Selection,
    format_age,
    parse_duration,
    replay_target,
    replayable,
    selected,
)
from hub.dead_letters import Browsed, DeadLetterQueue, Outcome, browse, purge, replay
from hub.settings import HubSettings
from hub.sqlite_ledger import sqlite_path

app = typer.Typer(
    help="The dead letters of a namespace: list, show, replay after a fix, purge.",
    no_args_is_help=True,
)
out = Console(width=None if sys.stdout.isatty() else 120)

READ_ALL = 1_000_000
"""At most this many dead letters are read for show, replay and purge."""
BODY_SHOWN = 2000

Namespace = Annotated[str | None, typer.Option(help="The hub's namespace [env DOCHUB_NAMESPACE]")]
AmqpUrl = Annotated[str | None, typer.Option(help="The broker [env DOCHUB_AMQP_URL]")]
LedgerUrl = Annotated[
    str | None,
    typer.Option(
        help="The hub's ledger, read only: when the hub refused each message (refusals carry no "
        "time) and, for replay, whether it accepted each copy [env DOCHUB_LEDGER_URL; unused if "
        "there is no ledger there]"
    ),
]
Reasons = Annotated[
    list[str] | None,
    typer.Option(
        "--reason",
        help="Only dead letters with this reason (repeatable): a refusal reason of the contract "
        f"(unknown_recipient, unknown_sender, ...) or RabbitMQ's ({', '.join(BROKER_REASONS)})",
    ),
]
Senders = Annotated[
    list[str] | None,
    typer.Option(
        "--sender",
        help="Only dead letters from this agency (repeatable): the agency told of the refusal, "
        "else the sender the message claims",
    ),
]
OlderThan = Annotated[
    str | None,
    typer.Option(
        help="Only dead letters older than this: 30m, 2h, 7d, 1h30m (unknown age: left out)"
    ),
]
Ids = Annotated[
    list[str] | None,
    typer.Argument(help="Ids of dead letters, as `dochub dlq list` shows them (optional)"),
]
Yes = Annotated[bool, typer.Option("--yes", help="Do it without asking")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON")]


@app.command("list")
def list_dead_letters(
    reason: Reasons = None,
    sender: Senders = None,
    older_than: OlderThan = None,
    limit: Annotated[int, typer.Option(min=1, help="Read at most this many, from the head")] = 1000,
    namespace: Namespace = None,
    amqp_url: AmqpUrl = None,
    ledger_url: LedgerUrl = None,
    as_json: AsJson = False,
) -> None:
    """List the dead letters, one row each, in queue order.

    Each with its id (the start of its body's SHA-256), reason, sender, the routing key it came
    with, age and size. Reading leaves every message in the queue, in its order.

    Exit codes: 0 done; 2 a usage mistake; 5 no such namespace, or a setting that cannot be used;
    6 RabbitMQ unreachable or not answering in time; 7 a ledger given that cannot be read."""
    queue, selection = _queue_and_selection(
        namespace, amqp_url, ledger_url, reason, sender, older_than, None
    )
    browsed = asyncio.run(browse(queue, limit))
    now = dt.datetime.now(dt.UTC)
    shown = selected(browsed.letters, selection, now)
    if as_json:
        print(
            json.dumps(
                {
                    "queue": browsed.queue,
                    "depth": browsed.depth,
                    "read": len(browsed.letters),
                    "dead_letters": [_summary(letter, now) for letter in shown],
                },
                indent=2,
            )
        )
        return
    if shown:
        table = Table(title=f"dead letters of {browsed.queue}")
        for column in ("#", "id", "reason", "sender", "routing key", "age", "size", "document"):
            table.add_column(column, justify="right" if column in ("#", "size") else "left")
        for letter in shown:
            table.add_row(
                str(letter.position),
                letter.id,
                letter.reason,
                letter.sender or "",
                letter.kind,
                format_age(letter.age(now)),
                f"{letter.size:,}",
                letter.document_id or "",
            )
        out.print(table)
    out.print(_count_line(browsed, len(shown), selection), highlight=False, soft_wrap=True)


@app.command("show")
def show(
    dead_letter_id: Annotated[str, typer.Argument(help="Its id, as `dochub dlq list` shows it")],
    body: Annotated[bool, typer.Option("--body", help="Print the whole body")] = False,
    namespace: Namespace = None,
    amqp_url: AmqpUrl = None,
    ledger_url: LedgerUrl = None,
    as_json: AsJson = False,
) -> None:
    """Show one dead letter: its headers, its properties and its body.

    The body is cut at 2,000 characters unless --body. Reading leaves it in the queue.

    Exit codes: 0 shown; 1 no such dead letter; 2 a usage mistake; 5 no such namespace; 6 RabbitMQ
    unreachable or not answering in time."""
    queue, selection = _queue_and_selection(
        namespace, amqp_url, ledger_url, None, None, None, [dead_letter_id]
    )
    browsed = asyncio.run(browse(queue, READ_ALL))
    now = dt.datetime.now(dt.UTC)
    found = selected(browsed.letters, selection, now)
    if not found:
        raise CommandError(
            f"no dead letter {dead_letter_id} in {browsed.queue} ({browsed.depth:,} there): "
            "`dochub dlq list` shows their ids",
            ExitCode.FAILED,
        )
    if as_json:
        print(json.dumps([_details(letter, now, body) for letter in found], indent=2))
        return
    for letter in found:
        target = replay_target(letter, queue.names)
        out.print(
            f"dead letter {letter.id} (#{letter.position} of {browsed.depth:,} in {browsed.queue})",
            highlight=False,
        )
        facts = {
            "reason": letter.reason,
            "detail": letter.detail,
            "from": "the hub (a refusal)" if letter.origin == "hub" else "RabbitMQ",
            "sender": letter.sender or "",
            "routing key": letter.kind,
            "document id": letter.document_id or "",
            "age": format_age(letter.age(now)),
            "dead-lettered at": letter.died_at.isoformat() if letter.died_at else "unknown",
            "delivered before": str(letter.redelivered),
            "sha256": letter.sha256,
            "replay goes to": f"exchange {target.exchange!r}, routing key {target.routing_key!r}",
        }
        _print_pairs("", facts)
        _print_pairs("headers", {name: _shown(value) for name, value in letter.headers.items()})
        _print_pairs(
            "properties", {name: _shown(value) for name, value in letter.properties.items()}
        )
        text, cut = _body_text(letter, body)
        suffix = f" (first {BODY_SHOWN:,} characters; --body for all)" if cut else ""
        out.print(f"body: {letter.size:,} bytes{suffix}", highlight=False)
        out.print(text, highlight=False, markup=False, soft_wrap=True)


@app.command("replay")
def replay_dead_letters(
    ids: Ids = None,
    reason: Reasons = None,
    sender: Senders = None,
    older_than: OlderThan = None,
    yes: Yes = False,
    wait: Annotated[
        float,
        typer.Option(
            min=0,
            max=600,
            help="How long to wait, in seconds, for the ledger to show the hub accepted the "
            "replayed refusals",
        ),
    ] = 10.0,
    namespace: Namespace = None,
    amqp_url: AmqpUrl = None,
    ledger_url: LedgerUrl = None,
) -> None:
    """Replay dead letters after a fix (an agency added to the registry...), after asking.

    A refusal goes back into the ingress exchange with the routing key it came with, its body
    byte for byte, published as the broker user of --amqp-url (the hub must trust it:
    --trusted-users); a message RabbitMQ dead-lettered from an agency's queue goes back into that
    queue. Each is removed from the dead-letter queue only once the broker confirmed its copy
    and, for a refusal, once the hub's ledger (--ledger-url) shows the hub accepted it: the hub
    drops a copy it refuses again (that refusal is counted already), so such a dead letter stays.
    Without a ledger to read, a refusal is removed once the broker confirmed its copy. The ledger
    counts a document once however often it is replayed.

    Only refusals a fix can undo are replayed (unknown_recipient, unknown_sender,
    sender_mismatch, user_mismatch, oversize, unknown_document), and RabbitMQ's dead letters; the
    others stay.

    Exit codes: 0 replayed (or nothing matched); 1 some were not replayed or not accepted (they
    stay), or not confirmed; 2 a usage mistake (no terminal to ask on and no --yes); 5 no such
    namespace; 6 RabbitMQ unreachable or not answering in time; 7 a ledger that cannot be
    read."""
    queue, selection = _queue_and_selection(
        namespace, amqp_url, ledger_url, reason, sender, older_than, ids
    )
    queue = dataclasses.replace(queue, verdict_wait_s=wait)
    chosen = _confirmed(queue, selection, yes, "Replay", replayable)
    if not chosen:
        return
    if queue.ledger_url is None:
        out.print(
            "note: no ledger to read (--ledger-url): each refusal leaves the dead-letter queue "
            "once the broker confirmed its copy, whatever the hub then makes of it",
            highlight=False,
            soft_wrap=True,
        )
    outcome = asyncio.run(replay(queue, selection, [letter.sha256 for letter in chosen]))
    _report(outcome, "replayed", queue)
    for letter in outcome.kept:
        out.print(
            f"kept: {letter.id} ({letter.reason}): the hub had not accepted its copy within "
            f"{wait:g} s (is the fix in, and a hub running?); it stays in the dead-letter queue",
            highlight=False,
            soft_wrap=True,
        )
    if outcome.ingress_consumers == 0:
        out.print(
            f"note: nothing consumes {queue.names.ingress_queue}: the replayed refusals wait "
            "there until a hub runs",
            highlight=False,
            soft_wrap=True,
        )
    if outcome.failed or outcome.kept:
        raise typer.Exit(ExitCode.FAILED)


@app.command("purge")
def purge_dead_letters(
    ids: Ids = None,
    reason: Reasons = None,
    sender: Senders = None,
    older_than: OlderThan = None,
    yes: Yes = False,
    namespace: Namespace = None,
    amqp_url: AmqpUrl = None,
    ledger_url: LedgerUrl = None,
) -> None:
    """Remove dead letters for good, after asking (or with --yes).

    Only those the filters and ids select; the others stay, in order.

    Exit codes: 0 purged (or nothing matched); 1 not confirmed; 2 a usage mistake (no terminal to
    ask on and no --yes); 5 no such namespace; 6 RabbitMQ unreachable or not answering in time."""
    queue, selection = _queue_and_selection(
        namespace, amqp_url, ledger_url, reason, sender, older_than, ids
    )
    chosen = _confirmed(queue, selection, yes, "Remove for good")
    if not chosen:
        return
    outcome = asyncio.run(purge(queue, selection, [letter.sha256 for letter in chosen]))
    _report(outcome, "purged", queue)


def _queue_and_selection(
    namespace: str | None,
    amqp_url: str | None,
    ledger_url: str | None,
    reasons: list[str] | None,
    senders: list[str] | None,
    older_than: str | None,
    ids: list[str] | None,
) -> tuple[DeadLetterQueue, Selection]:
    settings = settings_from(
        HubSettings, namespace=namespace, amqp_url=amqp_url, ledger_url=ledger_url
    )
    configure_logging(settings.log_format, "warning")
    try:
        selection = Selection(
            reasons=frozenset(reasons or ()),
            senders=frozenset(senders or ()),
            older_than=parse_duration(older_than) if older_than is not None else None,
            ids=tuple(wanted.strip().lower() for wanted in ids or ()),
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    ledger: str | None = settings.ledger_url
    if ledger_url is None and not _ledger_exists(settings.ledger_url):
        ledger = None  # the default ledger is not here: ages of refusals stay unknown
    queue = DeadLetterQueue(
        amqp_url=settings.amqp_url,
        namespace=settings.namespace,
        timeout_s=settings.connect_timeout_s,
        ledger_url=ledger,
    )
    return queue, selection


def _ledger_exists(ledger_url: str) -> bool:
    try:
        return ledger_url.startswith("sqlite:") and Path(sqlite_path(ledger_url)).is_file()
    except ValueError:
        return False


def _confirmed(
    queue: DeadLetterQueue,
    selection: Selection,
    yes: bool,
    action: str,
    acts_on: Callable[[DeadLetter], bool] = lambda _: True,
) -> list[DeadLetter]:
    """The dead letters selected now that ``acts_on`` accepts, once the operator agreed (or gave
    --yes)."""
    browsed = asyncio.run(browse(queue, READ_ALL))
    matching = selected(browsed.letters, selection, dt.datetime.now(dt.UTC))
    chosen = [letter for letter in matching if acts_on(letter)]
    left = Counter(letter.reason for letter in matching if not acts_on(letter))
    if left:
        reasons = ", ".join(f"{count} {reason}" for reason, count in sorted(left.items()))
        out.print(
            f"left alone: {reasons}: the hub would refuse the same bytes again and, having "
            "counted that refusal already, drop them; `dochub dlq purge` removes them",
            highlight=False,
            soft_wrap=True,
        )
    if not chosen:
        out.print(_count_line(browsed, 0, selection), highlight=False, soft_wrap=True)
        return []
    what = (
        f"{len(chosen):,} of the {browsed.depth:,} dead letters of {browsed.queue} "
        f"({selection.describe()})"
    )
    if not yes:
        confirm(
            f"{action} {what}?",
            no_terminal=f"{action.lower()} {what} needs confirmation: there is no terminal to "
            "ask on; pass --yes",
            declined="nothing done",
        )
    return chosen


def _report(outcome: Outcome, verb: str, queue: DeadLetterQueue) -> None:
    for letter, why in outcome.failed:
        out.print(f"not {verb}: {letter.id} ({letter.reason}): {why}; it stays", highlight=False)
    line = f"{verb} {len(outcome.done):,} dead letters of {queue.names.dead_letter_queue}"
    if outcome.failed:
        line += f"; {len(outcome.failed):,} failed and stay there"
    if outcome.kept:
        line += f"; {len(outcome.kept):,} not accepted by the hub in time stay there"
    if outcome.missing:
        line += f"; {outcome.missing:,} were no longer there"
    out.print(line, highlight=False, soft_wrap=True)


def _count_line(browsed: Browsed, matching: int, selection: Selection) -> str:
    read = len(browsed.letters)
    line = f"{browsed.depth:,} dead letters in {browsed.queue}"
    if read < browsed.depth:
        line += f" ({read:,} read, from the head)"
    if selection.narrowed:
        line += f"; {matching:,} match ({selection.describe()})"
    return line


def _summary(letter: DeadLetter, now: dt.datetime) -> dict[str, Any]:
    age = letter.age(now)
    return {
        "position": letter.position,
        "id": letter.id,
        "sha256": letter.sha256,
        "origin": letter.origin,
        "reason": letter.reason,
        "detail": letter.detail,
        "sender": letter.sender,
        "routing_key": letter.kind,
        "document_id": letter.document_id,
        "died_in": letter.died_in,
        "dead_lettered_at": letter.died_at.isoformat() if letter.died_at else None,
        "age_s": round(age.total_seconds(), 1) if age is not None else None,
        "size": letter.size,
        "delivered_before": letter.redelivered,
    }


def _details(letter: DeadLetter, now: dt.datetime, whole_body: bool) -> dict[str, Any]:
    text, cut = _body_text(letter, whole_body)
    return _summary(letter, now) | {
        "headers": {name: _shown(value) for name, value in letter.headers.items()},
        "properties": {name: _shown(value) for name, value in letter.properties.items()},
        "body": text,
        "body_truncated": cut,
    }


def _body_text(letter: DeadLetter, whole: bool) -> tuple[str, bool]:
    text = letter.body.decode("utf-8", "replace")
    if whole or len(text) <= BODY_SHOWN:
        return text, False
    return text[:BODY_SHOWN], True


def _shown(value: object) -> Any:
    """A header or property value as JSON can hold it."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_shown(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _shown(item) for key, item in value.items()}
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _print_pairs(title: str, pairs: dict[str, Any]) -> None:
    if title:
        out.print(f"{title}:", highlight=False)
    for name, value in pairs.items():
        shown = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        out.print(f"  {name}: {shown}", highlight=False, markup=False, soft_wrap=True)
