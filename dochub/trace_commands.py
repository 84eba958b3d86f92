"""``dochub trace`` and ``dochub documents``: one document's story, and finding documents, from the
ledger of a hub that has run (read-only)."""

import asyncio
import datetime as dt
import json
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from dochub.errors import CommandError, UsageError
from dochub.exit_codes import ExitCode
from dochub.logging import configure_logging
from dochub.settings_io import settings_from
from hub.settings import HubSettings
from hub.story import (
    STATUS_CODES,
    STATUS_HELP,
    STATUS_WORDS,
    DocumentStory,
    document_id_of,
    document_story,
    find_documents,
    status_words,
)
from schemas.agency_id import is_agency_id

out = Console(width=None if sys.stdout.isatty() else 120)

LedgerUrl = Annotated[
    str | None, typer.Option(help="The hub's ledger, read only [env DOCHUB_LEDGER_URL]")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables")]


def trace(
    document_id: Annotated[str, typer.Argument(help="The document's id, a UUID")],
    ledger_url: LedgerUrl = None,
    as_json: AsJson = False,
) -> None:
    """One document's story, from the hub's ledger.

    When the hub accepted it (sender, time), its delivery to each recipient, every receipt with
    its code, responder and time, and any refusal of an input that claimed its id, with the
    reason. Times are at the hub's statistics offset (DOCHUB_STATS_UTC_OFFSET_HOURS). The ledger
    is opened read-only and never changed.

    Exit codes: 0 found; 1 the ledger knows no such document; 2 not a document id (a UUID) or
    another usage mistake; 5 a ledger URL that is not sqlite:///PATH; 7 no ledger there, or not
    one that can be read."""
    try:
        wanted = document_id_of(document_id)
    except ValueError as exc:
        raise UsageError(
            f"DOCUMENT_ID {document_id!r} is not a document id: expected a UUID, e.g. "
            "0b1f6a9e-6d3c-4f7e-9a2b-3c4d5e6f7a8b"
        ) from exc
    settings = settings_from(HubSettings, ledger_url=ledger_url)
    configure_logging(settings.log_format, "warning")
    story = asyncio.run(
        document_story(settings.ledger_url, wanted, settings.stats_utc_offset_hours)
    )
    if story is None:
        raise CommandError(
            f"no document {wanted} in the ledger {settings.ledger_url}: never accepted nor "
            "refused there",
            ExitCode.FAILED,
        )
    if as_json:
        print(story.model_dump_json(indent=2))
        return
    _print_story(story, _offset(settings.stats_utc_offset_hours))


def documents(
    sender: Annotated[
        str | None, typer.Option(help="Only documents this agency sent, e.g. 000.00.00.G12")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option(
            help="Only documents accepted (or refused) at or after this: a date YYYY-MM-DD (from "
            "its midnight at the hub's statistics offset) or an ISO time"
        ),
    ] = None,
    status: Annotated[
        str | None, typer.Option(help=f"Only documents whose status is: {STATUS_HELP}")
    ] = None,
    limit: Annotated[
        int, typer.Option(min=1, max=100_000, help="At most this many, latest first")
    ] = 50,
    ledger_url: LedgerUrl = None,
    as_json: AsJson = False,
) -> None:
    """Find documents in the hub's ledger, the latest first.

    A document's status is: refused (the hub never accepted it, only refused inputs that claimed
    its id), in_flight (accepted, not yet confirmed in its recipients' inboxes), routed (in their
    inboxes, no receipt yet), or the code of the latest receipt any recipient sent (01 arrived,
    03 accepted, ... 06 completed, by the receipt's own time). The ledger is opened read-only.

    Exit codes: 0 done (even when nothing matches); 2 a bad --sender, --since or --status, or
    another usage mistake; 5 a ledger URL that is not sqlite:///PATH; 7 no ledger there, or not
    one that can be read."""
    settings = settings_from(HubSettings, ledger_url=ledger_url)
    configure_logging(settings.log_format, "warning")
    if sender is not None and not is_agency_id(sender):
        raise UsageError(
            f"--sender {sender!r} is not an agency id: expected DDD.CC.BB.LNN, e.g. 000.00.00.G12"
        )
    if status is not None and status not in STATUS_WORDS + STATUS_CODES:
        raise UsageError(f"--status {status!r} is not a status: expected {STATUS_HELP}")
    offset = dt.timezone(dt.timedelta(hours=settings.stats_utc_offset_hours))
    start = _since(since, offset) if since is not None else None
    found = asyncio.run(
        find_documents(
            settings.ledger_url, sender, start, status, limit, settings.stats_utc_offset_hours
        )
    )
    if as_json:
        print(json.dumps([summary.model_dump(mode="json") for summary in found], indent=2))
        return
    if not found:
        out.print(f"no document matches in {settings.ledger_url}", highlight=False)
        return
    table = Table(title=f"{len(found)} documents, latest first ({settings.ledger_url})")
    for column in ("document id", "status", "sender", "recipients", "receipts", "accepted"):
        table.add_column(
            column, justify="right" if column in ("recipients", "receipts") else "left"
        )
    for summary in found:
        table.add_row(
            summary.document_id,
            status_words(summary.status),
            summary.sender or "",
            f"{summary.recipients:,}",
            f"{summary.receipts:,}",
            _when(summary.accepted_at),
        )
    out.print(table)


def _since(text: str, offset: dt.timezone) -> dt.datetime:
    try:
        if len(text.strip()) == 10:
            day = dt.date.fromisoformat(text.strip())
            return dt.datetime.combine(day, dt.time(), offset)
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise UsageError(
            f"--since {text!r} is not a date: expected YYYY-MM-DD or an ISO time such as "
            "2026-01-31T08:00:00+07:00"
        ) from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=offset)


def _print_story(story: DocumentStory, zone: str) -> None:
    headline = f"document {story.document_id}: {status_words(story.status)}"
    if story.sender:
        headline += f", from {story.sender}"
    if story.sent_at is not None:
        headline += f", sent {_when(story.sent_at)} {zone} by its sender's clock"
    out.print(headline, highlight=False, soft_wrap=True)
    timeline = Table(title=f"timeline (times {zone})")
    for column in ("time", "event", "agency", "detail"):
        timeline.add_column(column)
    for event in story.timeline:
        timeline.add_row(_when(event.at), event.event, event.agency or "", event.detail)
    out.print(timeline)
    if story.deliveries:
        deliveries = Table(title="recipients")
        for column in ("recipient", "delivered", "latest status"):
            deliveries.add_column(column)
        for delivery in story.deliveries:
            deliveries.add_row(
                delivery.recipient,
                _when(delivery.delivered_at) if delivery.delivered_at else "in flight",
                status_words(delivery.latest_code) if delivery.latest_code else "no receipt yet",
            )
        out.print(deliveries)
    if story.receipts:
        receipts = Table(title="receipts")
        for column in ("code", "meaning", "responder", "at", "relayed", "receipt id"):
            receipts.add_column(column, no_wrap=column in ("at", "relayed", "receipt id"))
        for receipt in story.receipts:
            receipts.add_row(
                receipt.code,
                receipt.meaning + ("" if receipt.counted else " (step counted before)"),
                receipt.responder,
                _when(receipt.at or receipt.recorded_at),
                _when(receipt.relayed_at) if receipt.relayed_at else "in flight",
                receipt.receipt_id,
            )
        out.print(receipts)
    for refusal in story.refusals:
        told = f", {refusal.told} told" if refusal.told else ", nobody told"
        out.print(
            f"refused {_when(refusal.received_at)} {zone}: {refusal.reason} "
            f"({refusal.detail}){told}; input sha256 {refusal.input_sha256}",
            highlight=False,
            soft_wrap=True,
        )


def _when(moment: dt.datetime | None) -> str:
    """A time at the offset the story was read at, which the tables' titles name."""
    if moment is None:
        return ""
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _offset(hours: int) -> str:
    return f"UTC{hours:+d}" if hours else "UTC"
