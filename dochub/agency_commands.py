"""``dochub agency ...``: keys, and sending and receiving as one agency from the shell."""

import asyncio
import datetime as dt
import json
import mimetypes
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError
from rich.console import Console

from agency_client import (
    AgencyClient,
    AgencyClientError,
    InvalidDocument,
    UnknownAgency,
    load_signing_key,
)
from agency_client.keys import key_paths
from dochub.agency_settings import AgencySettings
from dochub.errors import CommandError, UsageError
from dochub.exit_codes import ExitCode
from dochub.logging import configure_logging
from dochub.registration import check_key_folder, directory_to_update, write_registered_keys
from dochub.settings_io import flag_problems, settings_options
from dochub.signals import run_stoppable
from hub.errors import RegistryError
from hub.registry import load_registry
from schemas import limits
from schemas.agency_id import AgencyKind, is_agency_id
from schemas.directory import AgencyDirectory, AgencyEntry
from schemas.envelope import (
    Attachment,
    DocumentCode,
    DocumentType,
    Envelope,
    Organ,
    PromulgationInfo,
    Signer,
    Urgency,
)
from schemas.receipt import StatusCode, StatusReceipt
from schemas.signing import sign_document

app = typer.Typer(help="Act as one agency: keys, send, listen.", no_args_is_help=True)
out = Console()
AGENCY_ID_FORM = "expected DDD.CC.BB.LNN, e.g. 000.00.00.G12"
MIB = 1024 * 1024


@app.command("keygen")
def keygen(
    agency_id: Annotated[str, typer.Argument(help="The agency's id, e.g. 000.00.00.G12")],
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for the key files")] = Path("keys"),
    registry: Annotated[
        Path | None,
        typer.Option(
            help="Add the agency to this directory file (created if missing, in a folder that "
            "exists)"
        ),
    ] = None,
    name: Annotated[str | None, typer.Option(help="The agency's name, for --registry")] = None,
    kind: Annotated[AgencyKind, typer.Option(help="The kind of body, for --registry")] = (
        AgencyKind.OTHER
    ),
    force: Annotated[
        bool, typer.Option(help="Replace existing key files, and the agency's directory entry")
    ] = False,
) -> None:
    """Generate an Ed25519 key pair; print the public key, or add it to a directory file.

    Nothing is written unless all of it can be: the keys are not left behind when the directory
    cannot be written. Exit codes: 0 written, 2 a usage mistake (or a key or entry that exists
    already, without --force), 5 a folder or directory file that cannot be used."""
    if not is_agency_id(agency_id):
        raise UsageError(f"{agency_id} is not an agency id: {AGENCY_ID_FORM}")
    if registry is not None and not name:
        raise UsageError("--registry needs --name, the agency's name in the directory")
    check_key_folder(out_dir)
    if not force and any(path.exists() for path in key_paths(out_dir, agency_id)):
        raise UsageError(
            f"a key for {agency_id} exists already in {out_dir}; pass --force to replace it"
        )
    key = Ed25519PrivateKey.generate()
    updated = None
    if registry is not None:
        assert name is not None
        directory = directory_to_update(registry)
        if not force and agency_id in directory.by_id:
            raise UsageError(
                f"{agency_id} is in {registry} already; pass --force to replace its key"
            )
        updated = _with_agency(directory, agency_id, name, kind, key)
    files = write_registered_keys(out_dir, agency_id, key, registry, updated)
    out.print(f"private key: {files.private}", highlight=False, soft_wrap=True)
    out.print(f"public key:  {files.public}", highlight=False, soft_wrap=True)
    if registry is None:
        out.print(
            f"add to the agency directory: public_key = {files.public_text!r}",
            highlight=False,
            soft_wrap=True,
        )
    else:
        out.print(f"registered {agency_id} in {registry}", highlight=False, soft_wrap=True)


def _with_agency(
    directory: AgencyDirectory,
    agency_id: str,
    name: str,
    kind: AgencyKind,
    key: Ed25519PrivateKey,
) -> AgencyDirectory:
    kept = [existing for existing in directory.agencies if existing.id != agency_id]
    try:
        entry = AgencyEntry.for_key(agency_id, name, kind, key.public_key())
        return AgencyDirectory(hub=directory.hub, agencies=[*kept, entry])
    except ValidationError as exc:
        raise UsageError(flag_problems(exc, {"name": "--name"})) from exc


@app.command("send")
@settings_options(AgencySettings)
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
    wait_timeout: Annotated[float, typer.Option(min=0, help="Seconds to wait for receipts")] = 30.0,
    *,
    settings: AgencySettings,
) -> None:
    """Sign and send one document; then print each status receipt as it comes back.

    Exit codes: 0 sent (and, with --wait, every recipient answered), 1 not sent (the error says
    why), 2 a usage mistake (a flag missing or wrong, a document over the limits), 3 no answer
    within --wait-timeout, 4 refused: by the hub (its status 02 is printed) or by the broker,
    5 a setting, key or directory that cannot be used, 6 RabbitMQ unreachable, 130 and 143
    stopped by SIGINT and SIGTERM."""
    configure_logging(settings.log_format, settings.log_level)
    for index, recipient in enumerate(to):
        if not is_agency_id(recipient):
            raise UsageError(f"--to {recipient} is not an agency id: {AGENCY_ID_FORM}")
        if recipient in to[:index]:
            raise UsageError(f"--to {recipient} is given twice: name each recipient once")
    attachments = _attachments(attach or [])
    signing_key = _signing_key(settings)
    client = _client(settings, signing_key)
    try:
        envelope = Envelope(
            sender=client.organ,
            recipients=[_recipient(client, agency, settings.registry) for agency in to],
            code=DocumentCode(number=number, notation=notation),
            document_type=document_type,
            subject=subject,
            content=content,
            promulgation=PromulgationInfo(place=place, date=dt.date.today()),
            signer=Signer(full_name=signer),
            urgency=Urgency(urgency),
            attachments=attachments,
        )
    except ValidationError as exc:
        raise UsageError(flag_problems(exc, DOCUMENT_FLAGS)) from exc
    size = len(sign_document(envelope, signing_key).body)
    if size > limits.MAX_MESSAGE_BYTES:
        raise UsageError(
            f"the signed document is {size:,} bytes, more than the "
            f"{limits.MAX_MESSAGE_BYTES // MIB} MiB a message may carry: attach less (--attach)"
        )
    try:
        code = run_stoppable(_send(client, envelope, wait_timeout if wait else None))
    except InvalidDocument as exc:
        raise CommandError(f"not sent: {exc}", ExitCode.FAILED) from exc
    raise typer.Exit(code)


DOCUMENT_FLAGS = {
    "recipients": "--to",
    "number": "--number",
    "notation": "--notation",
    "document_type": "--type",
    "subject": "--subject",
    "content": "--content",
    "place": "--place",
    "full_name": "--signer",
    "urgency": "--urgency",
    "attachments": "--attach",
}
"""The flag of ``send`` that gives each field of the envelope and of the parts it is made of
(the document code, the signer, the promulgation)."""


def _recipient(client: AgencyClient, agency_id: str, registry: Path) -> Organ:
    try:
        return client.organ_of(agency_id)
    except UnknownAgency as exc:
        raise CommandError(
            f"not sent: --to {agency_id} is not in the agency directory {registry}; check the id, "
            "or get the hub's current directory",
            ExitCode.FAILED,
        ) from exc


def _attachments(paths: list[Path]) -> list[Attachment]:
    if len(paths) > limits.MAX_ATTACHMENTS:
        raise UsageError(
            f"--attach is given {len(paths)} times: a document carries at most "
            f"{limits.MAX_ATTACHMENTS} attachments"
        )
    return [_attachment(path) for path in paths]


def _attachment(path: Path) -> Attachment:
    limit = limits.MAX_INLINE_ATTACHMENT_BYTES
    try:
        size = path.stat().st_size
        if size > limit:
            raise UsageError(
                f"--attach {path} is {size:,} bytes, more than the {limit // MIB} MiB "
                f"({limit:,} bytes) an attachment may have"
            )
        content = path.read_bytes()
    except OSError as exc:
        raise CommandError(
            f"--attach {path}: cannot read it: {exc.strerror}", ExitCode.CONFIGURATION
        ) from exc
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    try:
        return Attachment.inline(path.name, media_type, content)
    except ValidationError as exc:
        problems = flag_problems(exc, {"name": "its name", "content": "its content"})
        raise UsageError(f"--attach {path}: {problems}") from exc


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
                        return ExitCode.REFUSED
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
            return ExitCode.TIMEOUT
    return 0


@app.command("listen")
@settings_options(AgencySettings)
def listen(
    count: Annotated[int | None, typer.Option(help="Stop after this many documents")] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Stop after this many seconds without a document")
    ] = None,
    receipt: Annotated[
        list[StatusCode] | None,
        typer.Option(help="Receipts to send back for each document, in order [default: 01 03]"),
    ] = None,
    *,
    settings: AgencySettings,
) -> None:
    """Print each verified document as it arrives, answer with receipts, and ack it.

    Exit codes: 0 stopped after --count documents or --timeout seconds without one, 2 a usage
    mistake, 4 the broker refused this agency's user, 5 a setting, key or directory that cannot
    be used (or no hub on the namespace), 6 RabbitMQ unreachable, 130 and 143 stopped by SIGINT
    and SIGTERM."""
    configure_logging(settings.log_format, settings.log_level)
    codes = receipt or [StatusCode.ARRIVED, StatusCode.ACCEPTED]
    client = _client(settings, _signing_key(settings))
    raise typer.Exit(run_stoppable(_listen(client, count, timeout, codes)))


async def _listen(
    client: AgencyClient, count: int | None, idle_s: float | None, codes: list[StatusCode]
) -> int:
    received = 0
    async with client:
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


def _signing_key(settings: AgencySettings) -> Ed25519PrivateKey:
    try:
        return load_signing_key(settings.agency_key)
    except AgencyClientError as exc:
        raise CommandError(
            f"{exc} (--key or DOCHUB_AGENCY_KEY; `dochub agency keygen` makes one)",
            ExitCode.CONFIGURATION,
        ) from exc


def _client(settings: AgencySettings, key: Ed25519PrivateKey) -> AgencyClient:
    """The agency's client, not yet connected."""
    registry = settings.registry
    try:
        directory = load_registry(registry).directory
    except RegistryError as exc:
        raise RegistryError(f"{exc} (--registry or DOCHUB_REGISTRY)") from exc
    try:
        return AgencyClient(
            settings.agency_id,
            key,
            directory,
            amqp_url=settings.amqp_url,
            namespace=settings.namespace,
            state_path=settings.agency_state,
            connect_timeout_s=settings.connect_timeout_s,
        )
    except UnknownAgency as exc:
        raise CommandError(
            f"--agency-id {settings.agency_id} is not in the agency directory {registry}: "
            f"register it (dochub agency keygen {settings.agency_id} --registry {registry} "
            "--name NAME), or give the directory that lists it",
            ExitCode.CONFIGURATION,
        ) from exc


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
