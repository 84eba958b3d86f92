"""``AgencyClient``: how an agency sends documents and receipts through the hub and reads its own.

async with AgencyClient(agency_id, signing_key, directory, amqp_url=...) as client:
    sent = await client.send(envelope)          # signed, confirmed by the broker
    async for delivery in client.inbox():       # verified documents addressed to us
        await client.send_status(delivery.envelope, StatusCode.ARRIVED)
        await delivery.ack()
"""

import asyncio
import datetime as dt
import time
import weakref
from collections.abc import Awaitable, Callable
from contextlib import suppress
from types import TracebackType
from typing import Any, TypeVar, cast

import aio_pika
import structlog
from aio_pika import DeliveryMode, Message
from aio_pika.abc import (
    AbstractChannel,
    AbstractExchange,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from aio_pika.exceptions import (
    ChannelClosed,
    ChannelNotFoundEntity,
    DeliveryError,
    PublishError,
)
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from agency_client.dedupe import SeenIds
from agency_client.errors import (
    BROKER_ERRORS,
    CLOSE_TIMEOUT_S,
    AgencyClientError,
    BrokerUnavailable,
    DocumentRefused,
    DocumentUnroutable,
    InvalidDocument,
    NotProvisioned,
    UnknownAgency,
)
from agency_client.incoming import Delivery, Payload, StatusUpdate
from agency_client.subscription import Subscription
from schemas import limits
from schemas.contract import describe_validation_error
from schemas.directory import AgencyDirectory
from schemas.envelope import DocumentReference, Envelope, Organ, TraceHop
from schemas.naming import (
    DOCUMENT_MESSAGE_TYPE,
    DOCUMENT_ROUTING_KEY,
    STATUS_MESSAGE_TYPE,
    STATUS_ROUTING_KEY,
    Names,
)
from schemas.receipt import Staff, StatusCode, StatusReceipt
from schemas.signing import key_id, sign, verify
from schemas.urls import redact_url

log = structlog.get_logger("agency_client")

Item = TypeVar("Item")

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


class AgencyClient:
    def __init__(
        self,
        agency_id: str,
        signing_key: Ed25519PrivateKey,
        directory: AgencyDirectory,
        *,
        amqp_url: str = DEFAULT_AMQP_URL,
        namespace: str = "dochub",
        connection_name: str | None = None,
        prefetch: int = 64,
        send_timeout_s: float = 30.0,
        reconnect_interval_s: float = 5.0,
        dedupe_capacity: int = 100_000,
    ) -> None:
        entry = directory.by_id.get(agency_id)
        if entry is None:
            raise UnknownAgency(f"{agency_id} is not in the agency directory", agency_id=agency_id)
        if key_id(signing_key.public_key()) != entry.key_id:
            raise AgencyClientError(
                f"the signing key is not the one the directory registers for {agency_id}",
                agency_id=agency_id,
            )
        self.agency_id = agency_id
        self.organ = Organ(id=agency_id, name=entry.name)
        self.directory = directory
        try:
            self.names = Names(namespace)
        except ValueError as exc:
            raise AgencyClientError(str(exc), agency_id=agency_id) from exc
        self._key = signing_key
        self._amqp_url = amqp_url
        self._connection_name = connection_name or f"dochub-agency-{agency_id}"
        self._prefetch = prefetch
        self._send_timeout_s = send_timeout_s
        self._reconnect_interval_s = reconnect_interval_s
        self._seen_documents = SeenIds(dedupe_capacity)
        self._seen_receipts = SeenIds(dedupe_capacity)
        self._connection: AbstractRobustConnection | None = None
        self._ingress: AbstractExchange | None = None
        self._subscriptions: weakref.WeakSet[Subscription[Any]] = weakref.WeakSet()

    async def __aenter__(self) -> "AgencyClient":
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def connect(self) -> None:
        try:
            self._connection = await aio_pika.connect_robust(
                self._amqp_url,
                client_properties={"connection_name": self._connection_name},
                reconnect_interval=self._reconnect_interval_s,
            )
            await self._require(exchange=self.names.ingress_exchange)
            channel = await self._connection.channel(publisher_confirms=True, on_return_raises=True)
            self._ingress = await channel.get_exchange(self.names.ingress_exchange, ensure=False)
        except AgencyClientError:
            await self.close()
            raise
        except BROKER_ERRORS as exc:
            await self.close()
            raise BrokerUnavailable(
                f"cannot reach RabbitMQ at {redact_url(self._amqp_url)}: {exc!r}",
                agency_id=self.agency_id,
            ) from exc

    async def close(self) -> None:
        for subscription in list(self._subscriptions):
            await subscription.aclose()
        self._subscriptions.clear()
        if self._connection is not None:
            with suppress(*BROKER_ERRORS):
                async with asyncio.timeout(CLOSE_TIMEOUT_S):
                    await self._connection.close()
        self._connection = None
        self._ingress = None

    def organ_of(self, agency_id: str) -> Organ:
        """The organ (id and name) the directory lists for ``agency_id``."""
        entry = self.directory.by_id.get(agency_id)
        if entry is None:
            raise UnknownAgency(f"{agency_id} is not in the agency directory", agency_id=agency_id)
        return Organ(id=entry.id, name=entry.name)

    async def send(self, envelope: Envelope) -> Envelope:
        """Sign ``envelope`` and publish it to the hub; return the signed envelope once the
        broker has confirmed it. Resending the same envelope is safe: the hub counts it once."""
        if envelope.sender.id != self.agency_id:
            raise InvalidDocument(
                f"the envelope's sender is {envelope.sender.id}, this client is {self.agency_id}",
                document_id=envelope.id,
                agency_id=self.agency_id,
            )
        directory = self.directory.by_id
        unknown = [agency for agency in envelope.recipient_ids if agency not in directory]
        if unknown:
            raise UnknownAgency(
                f"recipients not in the agency directory: {', '.join(unknown)}",
                document_id=envelope.id,
                agency_id=unknown[0],
            )
        if len(envelope.trace) >= limits.MAX_TRACE_HOPS:
            raise InvalidDocument("the trace is full", document_id=envelope.id)
        hop = TraceHop(node=self.agency_id, at=dt.datetime.now(dt.UTC))
        signed = sign(envelope.model_copy(update={"trace": [*envelope.trace, hop]}), self._key)
        await self._publish(
            DOCUMENT_ROUTING_KEY, _body(signed), str(signed.id), DOCUMENT_MESSAGE_TYPE
        )
        log.debug("document_sent", document_id=str(signed.id), agency_id=self.agency_id)
        return signed

    async def send_status(
        self,
        document: Envelope | DocumentReference,
        code: StatusCode,
        description: str = "",
        *,
        staff: Staff | None = None,
        timestamp: dt.datetime | None = None,
    ) -> StatusReceipt:
        """Tell the sender of ``document`` where it stands here; return the signed receipt."""
        reference = document.reference() if isinstance(document, Envelope) else document
        try:
            receipt = StatusReceipt(
                document=reference,
                responder=self.organ,
                code=code,
                description=description,
                staff=staff,
                timestamp=timestamp or dt.datetime.now(dt.UTC),
            )
        except ValidationError as exc:
            raise InvalidDocument(
                f"invalid status receipt: {describe_validation_error(exc)}",
                document_id=reference.id,
                agency_id=self.agency_id,
            ) from exc
        signed = sign(receipt, self._key)
        await self._publish(STATUS_ROUTING_KEY, _body(signed), str(signed.id), STATUS_MESSAGE_TYPE)
        return signed

    async def refuse(self, delivery: Delivery, description: str) -> StatusReceipt:
        """Refuse a delivered document: a status 02 to its sender, then reject it."""
        receipt = await self.send_status(delivery.envelope, StatusCode.REFUSED, description)
        await delivery.reject()
        return receipt

    def inbox(self) -> Subscription[Delivery]:
        """Documents addressed to this agency, signatures verified, already-handled ids dropped.

        Iterate it with ``async for``; close it with ``async with`` or ``aclose()``."""
        seen = self._seen_documents

        async def open_message(message: AbstractIncomingMessage) -> Delivery | None:
            envelope = await self._open(message, Envelope, seen)
            return Delivery(envelope, message, seen.add) if envelope is not None else None

        return self._subscribe(self.names.inbox_queue(self.agency_id), open_message)

    def statuses(self) -> Subscription[StatusUpdate]:
        """Status receipts about documents this agency sent, including the hub's refusals."""
        seen = self._seen_receipts

        async def open_message(message: AbstractIncomingMessage) -> StatusUpdate | None:
            receipt = await self._open(message, StatusReceipt, seen)
            return StatusUpdate(receipt, message, seen.add) if receipt is not None else None

        return self._subscribe(self.names.status_queue(self.agency_id), open_message)

    def _subscribe(
        self,
        queue_name: str,
        open_message: Callable[[AbstractIncomingMessage], Awaitable[Item | None]],
    ) -> Subscription[Item]:
        async def open_channel() -> tuple[AbstractChannel, AbstractQueue]:
            connection = self._connected()
            await self._require(queue=queue_name)
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=self._prefetch)
            # Declared (passively), not merely named: a robust channel restores the consumers of
            # the queues it declared, and only those, when it reconnects.
            return channel, await channel.declare_queue(queue_name, passive=True)

        subscription = Subscription(open_channel, open_message)
        self._subscriptions.add(subscription)
        return subscription

    async def _open(
        self, message: AbstractIncomingMessage, model: type[Payload], seen: SeenIds
    ) -> Payload | None:
        """The verified payload of a message not handled before; anything else is settled here."""
        try:
            payload = cast(Payload, model.model_validate_json(message.body))
        except ValidationError as exc:
            await self._discard(message, "delivery_invalid", describe_validation_error(exc))
            return None
        if str(payload.id) in seen:
            log.debug("duplicate_dropped", message_id=str(payload.id), agency_id=self.agency_id)
            with suppress(*BROKER_ERRORS):
                await message.ack()
            return None
        problem = self._verification_problem(payload)
        if problem is not None:
            await self._discard(message, "delivery_unverified", problem)
            return None
        return payload

    def _verification_problem(self, payload: Envelope | StatusReceipt) -> str | None:
        if isinstance(payload, Envelope):
            if self.agency_id not in payload.recipient_ids:
                return f"not addressed to {self.agency_id}"
            signer = payload.sender.id
        else:
            if payload.document.sender != self.agency_id:
                return f"about a document of {payload.document.sender}"
            if payload.responder is None:
                return None  # the hub's own refusal; only the hub writes to the status queue
            signer = payload.responder.id
        entry = self.directory.by_id.get(signer)
        if entry is None:
            return f"signed by {signer}, who is not in the agency directory"
        if not verify(payload, entry.verify_key):
            return f"the signature of {signer} does not verify"
        return None

    async def _discard(self, message: AbstractIncomingMessage, event: str, detail: str) -> None:
        """Reject what cannot be trusted: it goes to the dead-letter queue, not to the agency."""
        log.warning(
            event,
            message_id=message.message_id,
            agency_id=self.agency_id,
            detail=detail,
        )
        with suppress(*BROKER_ERRORS):
            await message.reject(requeue=False)

    async def _require(self, *, exchange: str | None = None, queue: str | None = None) -> None:
        """Check with passive declares (on a throwaway channel) that the hub set things up."""
        connection = self._connected()
        channel: AbstractChannel = await connection.channel()
        try:
            if exchange is not None:
                await channel.declare_exchange(exchange, passive=True)
            if queue is not None:
                await channel.declare_queue(queue, passive=True)
        except (ChannelNotFoundEntity, ChannelClosed) as exc:
            raise NotProvisioned(
                f"{exchange or queue} does not exist: is a hub running on namespace "
                f"{self.names.namespace!r}, with {self.agency_id} in its registry?",
                agency_id=self.agency_id,
            ) from exc
        finally:
            with suppress(*BROKER_ERRORS):
                await channel.close()

    def _connected(self) -> AbstractRobustConnection:
        if self._connection is None:
            raise AgencyClientError(
                "not connected: use `async with AgencyClient(...)` or await connect() first",
                agency_id=self.agency_id,
            )
        return self._connection

    async def _publish(
        self, routing_key: str, body: bytes, message_id: str, message_type: str
    ) -> None:
        if self._ingress is None:
            self._connected()
        assert self._ingress is not None
        if len(body) > limits.MAX_MESSAGE_BYTES:
            raise InvalidDocument(
                f"{len(body)} bytes, more than the hub's limit of {limits.MAX_MESSAGE_BYTES}",
                document_id=message_id,
                agency_id=self.agency_id,
            )
        message = Message(
            body,
            content_type="application/json",
            message_id=message_id,
            type=message_type,
            app_id=self.agency_id,
            delivery_mode=DeliveryMode.PERSISTENT,
        )
        deadline = time.monotonic() + self._send_timeout_s
        backoff = 0.1
        while True:
            remaining = deadline - time.monotonic()
            try:
                await self._ingress.publish(
                    message, routing_key, mandatory=True, timeout=max(remaining, 0.1)
                )
                return
            except PublishError as exc:
                raise DocumentUnroutable(
                    f"the broker could not route it: is a hub declared on namespace "
                    f"{self.names.namespace!r}?",
                    document_id=message_id,
                    agency_id=self.agency_id,
                ) from exc
            except DeliveryError as exc:
                raise DocumentRefused(
                    "the broker refused it: the hub's ingress queue is full",
                    document_id=message_id,
                    agency_id=self.agency_id,
                ) from exc
            except BROKER_ERRORS as exc:
                if time.monotonic() + backoff >= deadline:
                    raise BrokerUnavailable(
                        f"RabbitMQ did not confirm within {self._send_timeout_s}s: {exc!r}",
                        document_id=message_id,
                        agency_id=self.agency_id,
                    ) from exc
                log.info("send_retrying", message_id=message_id, error=repr(exc))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)


def _body(model: Envelope | StatusReceipt) -> bytes:
    return model.model_dump_json().encode()
