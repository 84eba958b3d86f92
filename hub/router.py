"""The hub router: steps 1 to 4 of a document's path, one micro-batch at a time.

A worker takes what its prefetch window holds, inspects every message, records the batch in the
ledger in one transaction, publishes (documents to their recipients, receipts to the document's
sender, each byte for byte with the hub's signed stamp beside it; refusals to the dead-letter
exchange, with a status 02 signed by the hub to the agency that signed the input), waits for the
broker's confirms, marks the ledger, and only then acks, with ``multiple=True`` when all went well.

While the ledger does not answer (another process holds its lock, its file cannot be written), the
worker holds its batch unacked and retries, logging ``ledger_unavailable`` at each attempt and
``ledger_recovered`` once it answers: nothing is acked that the ledger has not recorded.
"""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeVar

import structlog
from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    HeadersType,
)
from aio_pika.exceptions import (
    AMQPError,
    ChannelInvalidStateError,
    ChannelNotFoundEntity,
    DeliveryError,
    PublishError,
)
from aiormq import Channel as UnderlayChannel
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pamqp.commands import Basic

from hub.errors import LedgerError
from hub.inspection import DocumentInput, Publishers, ReceiptInput, Refusal, inspect
from hub.ledger import Admitted, Completion, Disposition, Ledger
from hub.registry import Registry
from hub.throughput import Counts, ThroughputMeter
from hub.topology import Topology
from schemas.jws import STAMP_TYP, sign_compact
from schemas.naming import (
    DOCUMENT_MESSAGE_TYPE,
    JWS_CONTENT_TYPE,
    REJECTED_MESSAGE_TYPE,
    STATUS_MESSAGE_TYPE,
)
from schemas.receipt import RefusedInput, StatusCode, StatusReceipt
from schemas.rejection import (
    DETAIL_HEADER,
    DOCUMENT_ID_HEADER,
    INPUT_SHA256_HEADER,
    KIND_HEADER,
    REASON_HEADER,
    SENDER_HEADER,
)
from schemas.signing import sign_receipt
from schemas.stamp import STAMP_HEADER, Stamp

log = structlog.get_logger("hub.router")

_HUB_RECEIPT_NAMESPACE = uuid.UUID("6f1c2a52-3d0e-4c5e-9a57-1d7c8b3e2f40")
_CONFIRM_TIMEOUT_S = 60.0
_CANCEL_TIMEOUT_S = 5.0
_POLL_S = 0.2
_SETUP_RETRY_S = 0.5
_SETUP_RETRY_MAX_S = 5.0
_MAX_HEADER_TEXT = 1000
_LEDGER_RETRY_FIRST_S = 0.5
_LEDGER_RETRY_MAX_S = 5.0

T = TypeVar("T")

WorkKey = tuple[str, ...]
"""What one routing publishes: a document, a lifecycle step or a refusal."""


@dataclass(frozen=True, slots=True)
class _Received:
    message: AbstractIncomingMessage
    arrived: float


@dataclass(frozen=True, slots=True)
class RouterOptions:
    batch_max: int
    prefetch: int
    max_message_bytes: int
    node: str
    """How the hub names itself in its stamps."""
    publishers: Publishers


@dataclass(frozen=True, slots=True)
class _Exchanges:
    delivery: str
    status: str
    dead_letter: str

    @classmethod
    def of(cls, topology: Topology) -> "_Exchanges":
        names = topology.names
        return cls(names.delivery_exchange, names.status_exchange, names.dead_letter_exchange)


class _StoppedWaiting(Exception):
    """The hub stopped while the worker waited for its ledger: the batch stays unacked, and the
    broker redelivers it when the channel closes."""


class Router:
    def __init__(
        self,
        topology: Topology,
        registry: Registry,
        ledger: Ledger,
        meter: ThroughputMeter,
        options: RouterOptions,
        hub_key: Ed25519PrivateKey,
    ) -> None:
        self._hub_key = hub_key
        self._topology = topology
        self._registry = registry
        self._ledger = ledger
        self._meter = meter
        self._options = options
        self._stopping = asyncio.Event()
        self._publishing: set[WorkKey] = set()
        """What a worker of this hub is publishing now: another copy (a resend, a redelivery) that
        reaches another worker meanwhile is only acked, not published twice."""

    def stop(self) -> None:
        """Stop taking new messages; workers finish what they hold, then return."""
        self._stopping.set()

    async def work(self, channel: AbstractChannel) -> None:
        """Consume the ingress queue on ``channel`` until ``stop()``."""
        buffer: asyncio.Queue[_Received] = asyncio.Queue()

        async def on_message(message: AbstractIncomingMessage) -> None:
            buffer.put_nowait(_Received(message, time.monotonic()))

        consuming = await self._start_consuming(channel, on_message)
        if consuming is None:
            return
        queue, exchanges, consumer_tag = consuming
        cancelled = False
        while True:
            if self._stopping.is_set() and not cancelled:
                if not channel.is_closed:
                    with suppress(
                        AMQPError, ChannelInvalidStateError, ConnectionError, TimeoutError
                    ):
                        # A robust channel waits, unbounded, for a broker that went away.
                        async with asyncio.timeout(_CANCEL_TIMEOUT_S):
                            await queue.cancel(consumer_tag)
                cancelled = True
            try:
                first = await asyncio.wait_for(buffer.get(), timeout=_POLL_S)
            except TimeoutError:
                if cancelled:
                    return
                continue
            batch = [first]
            while len(batch) < self._options.batch_max and not buffer.empty():
                batch.append(buffer.get_nowait())
            try:
                await self._route(channel, exchanges, batch)
            except _StoppedWaiting:
                return

    async def _start_consuming(
        self,
        channel: AbstractChannel,
        on_message: Callable[[AbstractIncomingMessage], Awaitable[None]],
    ) -> tuple[AbstractQueue, _Exchanges, str] | None:
        """Set the channel up and start consuming; a broker that goes away meanwhile is waited
        for (the robust channel reconnects), not a reason for the worker to die. ``None`` when
        the hub stops first."""
        delay = _SETUP_RETRY_S
        while not self._stopping.is_set():
            try:
                await channel.set_qos(prefetch_count=self._options.prefetch)
                # Declared (passively), not merely named: a robust channel restores the
                # consumers of the queues it declared, and only those, when it reconnects.
                names = self._topology.names
                queue = await channel.declare_queue(names.ingress_queue, passive=True)
                return queue, _Exchanges.of(self._topology), await queue.consume(on_message)
            except ChannelNotFoundEntity:
                raise  # the namespace was deleted under the hub: waiting would not bring it back
            except (AMQPError, ChannelInvalidStateError, ConnectionError, TimeoutError) as exc:
                log.warning("worker_setup_retrying", error=repr(exc), retry_in_s=delay)
                await self._rest(delay)
                delay = min(delay * 2, _SETUP_RETRY_MAX_S)
        return None

    async def _route(
        self, channel: AbstractChannel, exchanges: _Exchanges, batch: list[_Received]
    ) -> None:
        verdicts = [
            inspect(
                item.message.routing_key or "",
                item.message.body,
                item.message.user_id,
                self._registry,
                self._options.publishers,
                self._options.max_message_bytes,
            )
            for item in batch
        ]
        admitted = self._claim(
            await self._until_answered("admit", lambda: self._ledger.admit(verdicts), len(batch))
        )
        claimed = [_work_key(item) for item in admitted if item.disposition is not Disposition.DONE]
        failed: set[int] = set()
        try:
            publishing: list[tuple[int, Awaitable[object]]] = []
            publisher = _Publisher(channel, exchanges)
            for index, item in enumerate(admitted):
                if item.disposition is not Disposition.DONE:
                    publishing += [
                        (index, publish)
                        for publish in self._publishes(publisher, item, batch[index])
                    ]
            results = await asyncio.gather(
                *(publish for _, publish in publishing), return_exceptions=True
            )
            for (index, _), result in zip(publishing, results, strict=True):
                if isinstance(result, BaseException):
                    failed.add(index)
                    await self._on_publish_failure(channel, admitted[index], result)
            completion = _completion(admitted, failed)
            await self._until_answered(
                "complete", lambda: self._ledger.complete(completion), len(batch)
            )
        finally:
            self._publishing.difference_update(claimed)
        await _settle(batch, failed)
        self._record(batch, admitted, failed)

    async def _until_answered(
        self, operation: str, call: Callable[[], Awaitable[T]], held: int
    ) -> T:
        """``call`` the ledger until it answers, waiting longer after each failure, up to
        ``_LEDGER_RETRY_MAX_S``. Raises ``_StoppedWaiting`` if the hub stops first."""
        delay = _LEDGER_RETRY_FIRST_S
        since: float | None = None
        attempts = 0
        while True:
            attempts += 1
            started = time.monotonic()
            try:
                result = await call()
            except LedgerError as exc:
                now = time.monotonic()
                since = started if since is None else since
                log.warning(
                    "ledger_unavailable",
                    operation=operation,
                    error=str(exc),
                    unavailable_s=round(now - since, 1),
                    attempts=attempts,
                    retry_in_s=delay,
                    messages_held=held,
                )
                await self._rest(delay)
                if self._stopping.is_set():
                    log.warning("ledger_wait_stopped", operation=operation, messages_unacked=held)
                    raise _StoppedWaiting from exc
                delay = min(delay * 2, _LEDGER_RETRY_MAX_S)
                continue
            if since is not None:
                log.info(
                    "ledger_recovered",
                    operation=operation,
                    unavailable_s=round(time.monotonic() - since, 1),
                    attempts=attempts,
                )
            return result

    async def _rest(self, seconds: float) -> None:
        """Wait ``seconds`` before trying again, or less if the hub stops meanwhile."""
        with suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    def _claim(self, admitted: list[Admitted]) -> list[Admitted]:
        """Take what this batch is to publish, unless another worker is publishing it already (it
        holds a copy recorded but not yet completed, which the ledger calls pending)."""
        claimed = []
        for item in admitted:
            if item.disposition is not Disposition.DONE:
                key = _work_key(item)
                if key in self._publishing:
                    item = replace(item, disposition=Disposition.DONE)
                else:
                    self._publishing.add(key)
            claimed.append(item)
        return claimed

    def _publishes(
        self, publisher: "_Publisher", item: Admitted, received: _Received
    ) -> list[Awaitable[object]]:
        verdict = item.verdict
        if isinstance(verdict, DocumentInput):
            envelope = verdict.envelope
            recipients = envelope.recipient_ids
            # The body goes out as it came in: its sha256 is the input key inspection computed.
            headers = self._stamped("document", envelope.id, verdict.input_key, recipients)
            if len(recipients) > 1:
                headers["CC"] = [*recipients[1:]]
            properties = _properties(str(envelope.id), DOCUMENT_MESSAGE_TYPE, headers)
            return [publisher.publish("delivery", recipients[0], verdict.body, properties)]
        if isinstance(verdict, ReceiptInput):
            assert item.relay_to is not None  # the ledger names the sender of every relayed receipt
            return [
                self._status_publish(
                    publisher, verdict.receipt.id, verdict.body, verdict.input_key, item.relay_to
                )
            ]
        return self._refusal_publishes(publisher, verdict, received.message)

    def _stamped(
        self, kind: Literal["document", "status"], id: uuid.UUID, sha256: str, to: list[str]
    ) -> dict[str, Any]:
        """The headers carrying the hub's signed stamp for the body whose hex digest is
        ``sha256``."""
        stamp = Stamp.now(kind, id, sha256, to, self._options.node)
        return {
            STAMP_HEADER: sign_compact(stamp.model_dump_json().encode(), self._hub_key, STAMP_TYP)
        }

    def _status_publish(
        self,
        publisher: "_Publisher",
        receipt_id: uuid.UUID,
        body: bytes,
        sha256: str,
        agency_id: str,
    ) -> Awaitable[object]:
        headers = self._stamped("status", receipt_id, sha256, [agency_id])
        properties = _properties(str(receipt_id), STATUS_MESSAGE_TYPE, headers)
        return publisher.publish("status", agency_id, body, properties)

    def _refusal_publishes(
        self, publisher: "_Publisher", refusal: Refusal, message: AbstractIncomingMessage
    ) -> list[Awaitable[object]]:
        headers: dict[str, str] = {
            REASON_HEADER: refusal.reason.value,
            DETAIL_HEADER: refusal.detail[:_MAX_HEADER_TEXT],
            KIND_HEADER: refusal.kind,
            SENDER_HEADER: refusal.notify or "",
            DOCUMENT_ID_HEADER: str(refusal.document.id) if refusal.document else "",
            INPUT_SHA256_HEADER: refusal.input_key,
        }
        dead_letter = Basic.Properties(
            headers=dict(headers),
            content_type=message.content_type,
            message_id=message.message_id,
            message_type=REJECTED_MESSAGE_TYPE,
            delivery_mode=_PERSISTENT,
            priority=0,
        )
        publishes: list[Awaitable[object]] = [
            publisher.publish("dead_letter", refusal.reason.value, message.body, dead_letter)
        ]
        if refusal.notify is not None:
            receipt = StatusReceipt(
                id=uuid.uuid5(_HUB_RECEIPT_NAMESPACE, refusal.input_key),
                document=refusal.document,
                responder=None,
                code=StatusCode.REFUSED,
                reason=refusal.reason,
                refused=RefusedInput(sha256=refusal.input_key, kind=_refused_kind(refusal.kind)),
                description=refusal.detail[:_MAX_HEADER_TEXT],
            )
            signed = sign_receipt(receipt, self._hub_key)
            publishes.append(
                self._status_publish(
                    publisher, receipt.id, signed.body, signed.sha256, refusal.notify
                )
            )
        return publishes

    async def _on_publish_failure(
        self, channel: AbstractChannel, item: Admitted, error: BaseException
    ) -> None:
        verdict = item.verdict
        fields: dict[str, object] = {"error": repr(error)}
        if isinstance(verdict, DocumentInput):
            fields |= {
                "document_id": str(verdict.envelope.id),
                "agency_id": verdict.envelope.sender.id,
            }
        if isinstance(error, PublishError):
            log.error("route_unroutable", **fields)
            await self._redeclare_destinations(channel, item)
        elif isinstance(error, DeliveryError):
            log.error("route_refused_by_broker", **fields)
        else:
            log.error("route_failed", **fields)

    async def _redeclare_destinations(self, channel: AbstractChannel, item: Admitted) -> None:
        """A queue the registry promises is gone (deleted by hand?): declare it again, so the
        message, back in the ingress queue, routes on its next delivery."""
        verdict = item.verdict
        agencies: list[str] = []
        if isinstance(verdict, DocumentInput):
            agencies = verdict.envelope.recipient_ids
        elif item.relay_to is not None:
            agencies = [item.relay_to]
        elif isinstance(verdict, Refusal) and verdict.notify is not None:
            agencies = [verdict.notify]
        with suppress(AMQPError, ChannelInvalidStateError, ConnectionError):
            for agency in agencies:
                await self._topology.declare_agency(channel, agency)
            log.warning("topology_redeclared", agencies=agencies)

    def _record(self, batch: list[_Received], admitted: list[Admitted], failed: set[int]) -> None:
        counts = Counts()
        for index, item in enumerate(admitted):
            if index in failed:
                continue
            verdict = item.verdict
            if item.disposition is not Disposition.NEW:
                counts.duplicates += 1
            elif isinstance(verdict, DocumentInput):
                envelope = verdict.envelope
                counts.documents += 1
                counts.deliveries += len(envelope.recipients)
                counts.documents_by_sender[envelope.sender.id] += 1
                counts.documents_by_recipient.update(envelope.recipient_ids)
            elif isinstance(verdict, ReceiptInput):
                counts.receipts += 1
                counts.receipts_by_status[verdict.receipt.code.value] += 1
            else:
                counts.rejections += 1
                counts.rejections_by_reason[verdict.reason.value] += 1
                log.warning(
                    "input_refused",
                    reason=verdict.reason.value,
                    detail=verdict.detail,
                    kind=verdict.kind,
                    document_id=str(verdict.document.id) if verdict.document else None,
                    agency_id=verdict.notify,
                    input_sha256=verdict.input_key,
                )
        now = time.monotonic()
        self._meter.record(counts, [now - item.arrived for item in batch])


class _Publisher:
    """Publishes of one batch, straight on the channel's AMQP channel: no aio-pika message object
    per publish, and no wait for the socket to drain after each (the confirm is awaited)."""

    def __init__(self, channel: AbstractChannel, exchanges: _Exchanges) -> None:
        self._channel = channel
        self._exchanges = exchanges
        self._underlay: UnderlayChannel | None = None

    async def publish(
        self,
        exchange: Literal["delivery", "status", "dead_letter"],
        routing_key: str,
        body: bytes,
        properties: Basic.Properties,
    ) -> object:
        if self._underlay is None:
            if self._channel.is_closed:
                raise ChannelInvalidStateError(f"{self._channel!r} closed")
            underlay = await self._channel.get_underlay_channel()
            assert isinstance(underlay, UnderlayChannel)  # aio-pika's channels are aiormq's
            self._underlay = underlay
        return await self._underlay.basic_publish(
            body,
            exchange=getattr(self._exchanges, exchange),
            routing_key=routing_key,
            properties=properties,
            mandatory=True,
            timeout=_CONFIRM_TIMEOUT_S,
            wait=False,
        )


_PERSISTENT = 2


def _properties(message_id: str, message_type: str, headers: HeadersType) -> Basic.Properties:
    return Basic.Properties(
        headers=headers,
        content_type=JWS_CONTENT_TYPE,
        message_id=message_id,
        message_type=message_type,
        delivery_mode=_PERSISTENT,
        priority=0,
        app_id="dochub-hub",
    )


def _work_key(item: Admitted) -> WorkKey:
    verdict = item.verdict
    if isinstance(verdict, DocumentInput):
        return ("document", str(verdict.envelope.id))
    if isinstance(verdict, ReceiptInput):
        return ("receipt", str(verdict.receipt.id))
    return ("refusal", verdict.input_key)


def _refused_kind(kind: str) -> Literal["document", "status"]:
    return "status" if kind == "status" else "document"


def _completion(admitted: list[Admitted], failed: set[int]) -> Completion:
    documents: list[uuid.UUID] = []
    receipts: list[str] = []
    refusals: list[str] = []
    for index, item in enumerate(admitted):
        if index in failed or item.disposition is Disposition.DONE:
            continue
        verdict = item.verdict
        if isinstance(verdict, DocumentInput):
            documents.append(verdict.envelope.id)
        elif isinstance(verdict, ReceiptInput):
            receipts.append(str(verdict.receipt.id))
        else:
            refusals.append(verdict.input_key)
    return Completion(documents, receipts, refusals)


async def _settle(batch: list[_Received], failed: set[int]) -> None:
    """Ack what was routed; requeue what was not. A lost channel needs neither: the broker
    redelivers, and the ledger knows the redelivery."""
    try:
        if not failed:
            await batch[-1].message.ack(multiple=True)
            return
        for index, item in enumerate(batch):
            if index in failed:
                await item.message.nack(requeue=True)
            else:
                await item.message.ack()
    except (AMQPError, ChannelInvalidStateError, ConnectionError) as exc:
        log.warning("ack_lost", error=repr(exc), messages=len(batch))
