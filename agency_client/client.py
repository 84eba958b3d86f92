"""``AgencyClient``: how an agency sends documents and receipts through the hub and reads its own.

async with AgencyClient(agency_id, signing_key, directory, amqp_url=...) as client:
    sent = await client.send(envelope)          # signed (JWS), confirmed by the broker
    async for delivery in client.inbox():       # stamped by the hub, signature verified
        await client.send_status(delivery.envelope, StatusCode.ARRIVED)
        await delivery.ack()
"""

import asyncio
import datetime as dt
import time
import weakref
from collections.abc import Awaitable, Callable
from contextlib import suppress
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

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
    ChannelPreconditionFailed,
    DeliveryError,
    PublishError,
)
from aiormq.exceptions import ChannelAccessRefused
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from agency_client import logs
from agency_client.acks import Acks
from agency_client.connection import ConnectFailed, open_connection, reply_text
from agency_client.dedupe import DurableSeenIds, SeenIds, SeenStore
from agency_client.errors import (
    BROKER_ERRORS,
    CLOSE_TIMEOUT_S,
    AccessRefused,
    AgencyClientError,
    BrokerUnavailable,
    DocumentRefused,
    DocumentUnroutable,
    InvalidDocument,
    InvalidSettings,
    NotProvisioned,
    UnknownAgency,
)
from agency_client.incoming import Delivery, Payload, StatusUpdate
from agency_client.subscription import Subscription
from agency_client.verification import Verified, verify_incoming
from schemas import limits
from schemas.contract import describe_validation_error
from schemas.directory import AgencyDirectory
from schemas.envelope import DocumentReference, Envelope, Organ
from schemas.jws import thumbprint
from schemas.naming import (
    DOCUMENT_MESSAGE_TYPE,
    DOCUMENT_ROUTING_KEY,
    JWS_CONTENT_TYPE,
    STATUS_MESSAGE_TYPE,
    STATUS_ROUTING_KEY,
    Names,
)
from schemas.receipt import Staff, StatusCode, StatusReceipt
from schemas.signing import Signed, sign_document, sign_receipt
from schemas.urls import DEFAULT_CONNECT_TIMEOUT_S, InvalidBrokerUrl, parse_amqp_url

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
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        dedupe_capacity: int = 100_000,
        state_path: Path | None = None,
        user_id: str | None = None,
    ) -> None:
        """``state_path``: a SQLite file where the ids of handled documents and receipts are
        kept, so that none is accepted again after a restart; without it they are kept in
        memory (the ``dedupe_capacity`` most recent). ``user_id``: the broker user the messages
        are published as, by default the user in ``amqp_url``; RabbitMQ refuses any other.
        ``connect_timeout_s``: how long connecting may take, TCP and AMQP handshake together (and
        each reconnection attempt). A setting the client cannot use raises ``InvalidSettings``
        here, before anything connects."""
        entry = directory.by_id.get(agency_id)
        if entry is None:
            raise UnknownAgency(f"{agency_id} is not in the agency directory", agency_id=agency_id)
        if directory.hub is None:
            raise InvalidSettings(
                "the agency directory has no [hub] table with the hub's public key, so nothing "
                "the hub routes could be trusted: use the directory the hub's operator publishes",
                agency_id=agency_id,
            )
        if thumbprint(signing_key.public_key()) != entry.key_id:
            raise InvalidSettings(
                f"the signing key is not the one the directory registers for {agency_id}",
                agency_id=agency_id,
            )
        self.agency_id = agency_id
        self.organ = Organ(id=agency_id, name=entry.name)
        self.directory = directory
        try:
            self.names = Names(namespace)
        except ValueError as exc:
            raise InvalidSettings(str(exc), agency_id=agency_id) from exc
        try:
            self._broker = parse_amqp_url(amqp_url)
        except InvalidBrokerUrl as exc:
            raise InvalidSettings(str(exc), agency_id=agency_id) from exc
        if not connect_timeout_s > 0:
            raise InvalidSettings(
                f"connect_timeout_s must be more than 0 seconds, not {connect_timeout_s}",
                agency_id=agency_id,
            )
        self._key = signing_key
        self._connect_timeout_s = connect_timeout_s
        self._connection_name = connection_name or f"dochub-agency-{agency_id}"
        self._prefetch = prefetch
        self._send_timeout_s = send_timeout_s
        self._reconnect_interval_s = reconnect_interval_s
        self._user_id = user_id or self._broker.user
        self._seen_documents: SeenStore
        self._seen_receipts: SeenStore
        if state_path is not None:
            try:
                self._seen_documents = DurableSeenIds(state_path, "document")
                self._seen_receipts = DurableSeenIds(state_path, "receipt")
            except Exception as exc:  # sqlite3.Error, OSError: one clear error either way
                raise InvalidSettings(
                    f"cannot open the client's state file {state_path}: {exc}", agency_id=agency_id
                ) from exc
        else:
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
        """Connect, and check that a hub has declared this namespace. Raises within about
        ``connect_timeout_s`` (twice that at worst: the connection, then the checks)."""
        try:
            self._connection = await open_connection(
                self._broker,
                name=self._connection_name,
                timeout_s=self._connect_timeout_s,
                reconnect_interval_s=self._reconnect_interval_s,
            )
            async with asyncio.timeout(self._connect_timeout_s):
                await self._require(exchange=self.names.ingress_exchange)
                channel = await self._connection.channel(
                    publisher_confirms=True, on_return_raises=True
                )
                self._ingress = await channel.get_exchange(
                    self.names.ingress_exchange, ensure=False
                )
        except BaseException as exc:
            await self.close()
            if isinstance(exc, ConnectFailed):
                failure = AccessRefused if exc.refused else BrokerUnavailable
                raise failure(str(exc), agency_id=self.agency_id) from exc
            if isinstance(exc, TimeoutError):
                raise BrokerUnavailable(
                    f"RabbitMQ at {self._broker.shown} accepted the connection but did not "
                    f"answer within {self._connect_timeout_s:g} s",
                    agency_id=self.agency_id,
                ) from exc
            if isinstance(exc, BROKER_ERRORS):
                raise BrokerUnavailable(
                    f"RabbitMQ at {self._broker.shown} went away while connecting: "
                    f"{reply_text(exc)}",
                    agency_id=self.agency_id,
                ) from exc
            raise

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

    async def send(self, envelope: Envelope) -> Signed[Envelope]:
        """Sign ``envelope`` and publish it to the hub; return it with its signed bytes once the
        broker has confirmed it. Resending the same envelope is safe: the hub counts it once.
        A hub refusal names the ``sha256`` of what was sent."""
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
        signed = sign_document(envelope, self._key)
        await self._publish(
            DOCUMENT_ROUTING_KEY, signed.body, str(envelope.id), DOCUMENT_MESSAGE_TYPE
        )
        logs.debug("document_sent", document_id=str(envelope.id), agency_id=self.agency_id)
        return signed

    async def send_status(
        self,
        document: Envelope | DocumentReference,
        code: StatusCode,
        description: str = "",
        *,
        staff: Staff | None = None,
        timestamp: dt.datetime | None = None,
    ) -> Signed[StatusReceipt]:
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
        signed = sign_receipt(receipt, self._key)
        await self._publish(STATUS_ROUTING_KEY, signed.body, str(receipt.id), STATUS_MESSAGE_TYPE)
        return signed

    async def refuse(self, delivery: Delivery, description: str) -> Signed[StatusReceipt]:
        """Refuse a delivered document: a status 02 to its sender, then reject it."""
        receipt = await self.send_status(delivery.envelope, StatusCode.REFUSED, description)
        await delivery.reject()
        return receipt

    def inbox(self) -> Subscription[Delivery]:
        """Documents addressed to this agency, stamped by the hub and signed by their senders,
        already-handled ids dropped.

        Iterate it with ``async for``; close it with ``async with`` or ``aclose()``."""
        seen = self._seen_documents

        async def open_message(message: AbstractIncomingMessage, acks: Acks) -> Delivery | None:
            opened = await self._open(message, Envelope, seen)
            if opened is None:
                return None
            return Delivery(opened.signed, opened.stamp, message, seen.add, acks)

        return self._subscribe(self.names.inbox_queue(self.agency_id), open_message)

    def statuses(self) -> Subscription[StatusUpdate]:
        """Status receipts about documents this agency sent, and the hub's refusals of what it
        sent, each signed (by the responder, or by the hub) and stamped by the hub."""
        seen = self._seen_receipts

        async def open_message(message: AbstractIncomingMessage, acks: Acks) -> StatusUpdate | None:
            opened = await self._open(message, StatusReceipt, seen)
            if opened is None:
                return None
            return StatusUpdate(opened.signed, opened.stamp, message, seen.add, acks)

        return self._subscribe(self.names.status_queue(self.agency_id), open_message)

    def _subscribe(
        self,
        queue_name: str,
        open_message: Callable[[AbstractIncomingMessage, Acks], Awaitable[Item | None]],
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
        self, message: AbstractIncomingMessage, model: type[Payload], seen: SeenStore
    ) -> Verified[Payload] | None:
        """The verified payload of a message not handled before; anything else is settled here."""
        verified = verify_incoming(
            message.body, dict(message.headers), model, self.directory, self.agency_id
        )
        if isinstance(verified, str):
            await self._discard(message, "delivery_unverified", verified)
            return None
        if str(verified.signed.model.id) in seen:
            logs.debug(
                "duplicate_dropped",
                message_id=str(verified.signed.model.id),
                agency_id=self.agency_id,
            )
            with suppress(*BROKER_ERRORS):
                await message.ack()
            return None
        return verified

    async def _discard(self, message: AbstractIncomingMessage, event: str, detail: str) -> None:
        """Reject what cannot be trusted: it goes to the dead-letter queue, not to the agency."""
        logs.warning(
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
        except ChannelAccessRefused as exc:
            raise AccessRefused(
                f"the broker refused {self._user_id!r} access to {exchange or queue}: "
                f"only {self.agency_id}'s own queues and the ingress are open to it",
                agency_id=self.agency_id,
            ) from exc
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
            content_type=JWS_CONTENT_TYPE,
            message_id=message_id,
            type=message_type,
            app_id=self.agency_id,
            user_id=self._user_id,
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
            except (ChannelAccessRefused, ChannelPreconditionFailed) as exc:
                raise AccessRefused(
                    f"the broker refused the publish as user {self._user_id!r}: {exc}",
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
                logs.info("send_retrying", message_id=message_id, error=repr(exc))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
