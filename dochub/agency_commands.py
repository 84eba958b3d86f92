"""``dochub agency ...``: keys, and sending and receiving as one agency from the shell."""

import asyncio
import datetime as dt
import json
import mimetypes
from collections.abc import Coroutine
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console

from agency_client import AgencyClient, AgencyClientError, load_signing_key, write_key_pair
from dochub.agency_settings import AgencySettings
from dochub.logging import configure_logging
from dochub.settings_io import settings_from
from hub.errors import RegistryError
from hub.registry import load_registry
from schemas.agency_id import AgencyKind, is_agency_id
from schemas.contract import describe_validation_error
from schemas.directory import AgencyDirectory, AgencyEntry
from schemas.envelope import (
    Attachment,
    DocumentCode,
    DocumentType,
    Envelope,
    PromulgationInfo,
    Signer,
    Urgency,
)
from schemas.receipt import StatusCode, StatusReceipt

app = typer.Typer(help="Act as one agency: keys, send, listen.", no_args_is_help=True)
REFUSED_BY_HUB = 4
"""The exit code of ``send`` when the hub refused the document."""
out = Console()
err = Console(stderr=True)

AmqpUrl = Annotated[str | None, typer.Option(help="Broker URL [env DOCHUB_AMQP_URL]")]
Namespace = Annotated[str | None, typer.Option(help="Hub namespace [env DOCHUB_NAMESPACE]")]
AgencyIdOption = Annotated[
    str | None, typer.Option("--agency-id", help="This agency's id [env DOCHUB_AGENCY_ID]")
]
KeyOption = Annotated[
    Path | None,
    typer.Option("--key", help="This agency's private key, PEM [env DOCHUB_AGENCY_KEY]"),
]
RegistryOption = Annotated[
    Path | None, typer.Option(help="Agency directory, TOML [env DOCHUB_REGISTRY]")
]
LogFormatOption = Annotated[str | None, typer.Option(help="auto, json or console")]


@app.command("keygen")
def keygen(
    agency_id: Annotated[str, typer.Argument(help="The agency's id, e.g. 000.00.00.G12")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the key files")] = Path("keys"),
    registry: Annotated[
        Path | None,
        typer.Option(help="Add the agency to this directory file (created if missing)"),
    ] = None,
    name: Annotated[str | None, typer.Option(help="The agency's name, for --registry")] = None,
    kind: Annotated[AgencyKind, typer.Option(help="The kind of body, for --registry")] = (
        AgencyKind.OTHER
    ),
    force: Annotated[bool, typer.Option(help="Replace existing key files")] = False,
) -> None:
    """Generate an Ed25519 key pair; print the public key, or add it to a directory file."""
    if not is_agency_id(agency_id):
        raise typer.BadParameter(f"{agency_id!r} is not in the format DDD.CC.BB.LNN")
    if registry is not None and not name:
        raise typer.BadParameter("--registry needs --name")
    directory = (
        _load_directory(registry, require_agencies=False)
        if registry is not None and registry.exists()
        else AgencyDirectory(agencies=[])
    )
    if not force and any(
        path.exists() for path in (out_dir / f"{agency_id}.key", out_dir / f"{agency_id}.pub")
    ):
        raise typer.BadParameter(
            f"a key for {agency_id} exists already in {out_dir}; pass --force to replace it"
        )
    files = write_key_pair(out_dir, agency_id, overwrite=True)
    out.print(f"private key: {files.private}")
    out.print(f"public key:  {files.public}")
    if registry is None:
        out.print(f"add to the agency directory: public_key = {files.public_text!r}")
        return
    assert name is not None
    entry = AgencyEntry(id=agency_id, name=name, kind=kind, public_key=files.public_text)
    kept = [existing for existing in directory.agencies if existing.id != agency_id]
    try:
        updated = AgencyDirectory(hub=directory.hub, agencies=[*kept, entry])
    except ValidationError as exc:
        raise typer.BadParameter(describe_validation_error(exc)) from exc
    registry.write_text(updated.to_toml(), encoding="utf-8")
    out.print(f"registered {agency_id} in {registry}")


@app.command("send")
def send(
    to: Annotated[list[str], typer.Option("--to", help="A recipient's id; repeat for several")],
    subject: Annotated[str, typer.Option(help="Subject (trích yếu)")],
    number: Annotated[str, typer.Option(help="Document number, e.g. 123")],
    notation: Annotated[str, typer.Option(help="Notation, e.g. QĐ-TTg")],
    signer: Annotated[str, typer.Option(help="Full name of the signer")],
    document_type: Annotated[DocumentType, typer.Option("--type")] = DocumentType.OFFICIAL_LETTER,
    urgency: Annotated[int, typer.Option(min=0, max=4, help="0 normal .. 4 flash")] = 0,
    place: Annotated[str, typer.Option(help="Place of promulgation")] = "Hà Nội",
    content: Annotated[str | None, typer.Option(help="Body text")] = None,
    attach: Annotated[
        list[Path] | None, typer.Option(help="A file to attach inline; repeat for several")
    ] = None,
    wait: Annotated[
        bool,
        typer.Option(
            help="Print receipts until every recipient has answered (accepted, refused or "
            "beyond), or the hub refuses the document"
        ),
    ] = True,
    wait_timeout: Annotated[float, typer.Option(help="Seconds to wait for receipts")] = 30.0,
    agency_id: AgencyIdOption = None,
    key: KeyOption = None,
    registry: RegistryOption = None,
    amqp_url: AmqpUrl = None,
    namespace: Namespace = None,
    log_format: LogFormatOption = None,
) -> None:
    """Sign and send one document; then print each status receipt as it comes back.

    Exit codes: 0 sent (and, with --wait, every recipient answered), 1 not sent (the error says
    why), 2 a usage error, 3 no answer within --wait-timeout, 4 the hub refused it (its status 02
    is printed)."""
    settings = _settings(agency_id, key, registry, amqp_url, namespace, log_format)
    client = _client(settings)
    try:
        envelope = Envelope(
            sender=client.organ,
            recipients=[client.organ_of(agency) for agency in to],
            code=DocumentCode(number=number, notation=notation),
            document_type=document_type,
            subject=subject,
            content=content,
            promulgation=PromulgationInfo(place=place, date=dt.date.today()),
            signer=Signer(full_name=signer),
            urgency=Urgency(urgency),
            attachments=[_attachment(path) for path in attach or []],
        )
    except ValidationError as exc:
        _fail(f"invalid document: {describe_validation_error(exc)}")
    except AgencyClientError as exc:
        _fail(str(exc))
    raise typer.Exit(_run(_send(client, envelope, wait_timeout if wait else None)))


def _attachment(path: Path) -> Attachment:
    try:
        content = path.read_bytes()
    except OSError as exc:
        _fail(f"cannot read {path}: {exc.strerror}")
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return Attachment.inline(path.name, media_type, content)


async def _send(client: AgencyClient, envelope: Envelope, wait_s: float | None) -> int:
    """Send, then (unless ``wait_s`` is None) print receipts until every recipient has answered
    beyond 01: 0 then, 4 if the hub refused the document, 3 on timeout."""
    async with client:
        sent = await client.send(envelope)
        _print_json(
            {
                "event": "sent",
                "document_id": str(envelope.id),
                "to": envelope.recipient_ids,
                "sha256": sent.sha256,
            }
        )
        if wait_s is None:
            return 0
        waiting = set(envelope.recipient_ids)
        try:
            async with asyncio.timeout(wait_s), client.statuses() as updates:
                async for update in updates:
                    receipt = update.receipt
                    if receipt.refused is not None:
                        if receipt.refused.sha256 != sent.sha256:
                            continue  # the refusal of something else: left for later
                        await update.ack()
                        _print_json(_receipt_fields(receipt))
                        return REFUSED_BY_HUB
                    if receipt.document is None or receipt.document.id != envelope.id:
                        continue  # about another document: left in the queue for later
                    await update.ack()
                    _print_json(_receipt_fields(receipt))
                    if receipt.responder is not None and receipt.code is not StatusCode.ARRIVED:
                        waiting.discard(receipt.responder.id)
                    if not waiting:
                        return 0
        except TimeoutError:
            _print_json({"event": "timeout", "waiting_for": sorted(waiting)})
            return 3
    return 0


@app.command("listen")
def listen(
    count: Annotated[int | None, typer.Option(help="Stop after this many documents")] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Stop after this many seconds without a document")
    ] = None,
    receipt: Annotated[
        list[StatusCode] | None,
        typer.Option(help="Receipts to send back for each document, in order [default: 01 03]"),
    ] = None,
    agency_id: AgencyIdOption = None,
    key: KeyOption = None,
    registry: RegistryOption = None,
    amqp_url: AmqpUrl = None,
    namespace: Namespace = None,
    log_format: LogFormatOption = None,
) -> None:
    """Print each verified document as it arrives, answer with receipts, and ack it."""
    settings = _settings(agency_id, key, registry, amqp_url, namespace, log_format)
    codes = receipt or [StatusCode.ARRIVED, StatusCode.ACCEPTED]
    raise typer.Exit(_run(_listen(settings, count, timeout, codes)))


async def _listen(
    settings: AgencySettings, count: int | None, idle_s: float | None, codes: list[StatusCode]
) -> int:
    received = 0
    async with _client(settings) as client:
        documents = client.inbox()
        while count is None or received < count:
            try:
                async with asyncio.timeout(idle_s):
                    delivery = await anext(documents)
            except (TimeoutError, StopAsyncIteration):
                break
            envelope = delivery.envelope
            _print_json(
                {
                    "event": "received",
                    "document_id": str(envelope.id),
                    "from": envelope.sender.id,
                    "code": str(envelope.code),
                    "type": envelope.document_type.value,
                    "subject": envelope.subject,
                    "attachments": [a.name for a in envelope.attachments],
                    "signature": "verified",
                    "routed_at": delivery.stamp.routed_at.isoformat(),
                }
            )
            for code in codes:
                await client.send_status(envelope, code)
            await delivery.ack()
            received += 1
    return 0


def _settings(
    agency_id: str | None,
    key: Path | None,
    registry: Path | None,
    amqp_url: str | None,
    namespace: str | None,
    log_format: str | None,
) -> AgencySettings:
    settings = settings_from(
        AgencySettings,
        agency_id=agency_id,
        agency_key=key,
        registry=registry,
        amqp_url=amqp_url,
        namespace=namespace,
        log_format=log_format,
    )
    configure_logging(settings.log_format, settings.log_level)
    return settings


def _client(settings: AgencySettings) -> AgencyClient:
    try:
        return AgencyClient(
            settings.agency_id,
            load_signing_key(settings.agency_key),
            _load_directory(settings.registry),
            amqp_url=settings.amqp_url,
            namespace=settings.namespace,
            state_path=settings.agency_state,
        )
    except AgencyClientError as exc:
        raise typer.BadParameter(str(exc)) from exc


def _load_directory(path: Path, *, require_agencies: bool = True) -> AgencyDirectory:
    try:
        return load_registry(path, require_agencies=require_agencies).directory
    except RegistryError as exc:
        raise typer.BadParameter(str(exc)) from exc


def _fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {message}", highlight=False)
    raise typer.Exit(1)


def _run(work: Coroutine[Any, Any, int]) -> int:
    """Run an agency's work; its errors end the command with their message, not a traceback."""
    try:
        return asyncio.run(work)
    except AgencyClientError as exc:
        _fail(str(exc))


def _receipt_fields(receipt: StatusReceipt) -> dict[str, object]:
    return {
        "event": "status",
        "document_id": str(receipt.document.id) if receipt.document else None,
        "from": receipt.responder.id if receipt.responder else "hub",
        "code": receipt.code.value,
        "meaning": receipt.code.name.lower(),
        "reason": receipt.reason.value if receipt.reason else None,
        "description": receipt.description,
        "refused_sha256": receipt.refused.sha256 if receipt.refused else None,
    }


def _print_json(fields: dict[str, object]) -> None:
    print(json.dumps(fields, ensure_ascii=False))
