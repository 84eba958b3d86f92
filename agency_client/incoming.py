"""What an agency receives: a verified document or status receipt, to ack or reject explicitly."""

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from aio_pika.abc import AbstractIncomingMessage

from agency_client import logs
from agency_client.acks import Acks
from agency_client.errors import BROKER_ERRORS
from schemas.envelope import Envelope
from schemas.receipt import StatusReceipt
from schemas.signing import Authenticated
from schemas.stamp import Stamp

Payload = TypeVar("Payload", Envelope, StatusReceipt)


class Incoming(Generic[Payload]):
    def __init__(
        self,
        signed: Authenticated[Payload],
        stamp: Stamp,
        message: AbstractIncomingMessage,
        on_handled: Callable[[str], None],
        acks: Acks,
    ) -> None:
        self.signed: Authenticated[Payload] = signed
        """The payload with the exact bytes it came in, and who signed it."""
        self.stamp = stamp
        """The hub's routing stamp: when and by which hub it was routed."""
        self._message = message
        self._on_handled = on_handled
        self._acks = acks

    @property
    def payload(self) -> Payload:
        payload: Payload = self.signed.model
        return payload

    @property
    def headers(self) -> dict[str, object]:
        """The AMQP headers it came with, the hub's stamp among them: with ``signed.body``, the
        message exactly as received, to archive."""
        return dict(self._message.headers)

    @property
    def redelivered(self) -> bool:
        """The broker delivered it before, and it was not acked then."""
        return bool(self._message.redelivered)

    async def ack(self) -> None:
        """Handled: its id is recorded, so a redelivered copy is dropped, and the broker is told
        with the subscription's next coalesced ack (within ``acks.ACK_DELAY_S``)."""
        self._on_handled(str(self.payload.id))
        await self._acks.handled(self._message)

    async def reject(self) -> None:
        """Refuse it: it goes to the hub's dead-letter queue and is not redelivered."""
        self._on_handled(str(self.payload.id))
        self._acks.settled(self._message)
        await _settle(self._message.reject(requeue=False), str(self.payload.id))

    async def release(self) -> None:
        """Not handled this time: the broker delivers it again (to the dead-letter queue once
        the hub's delivery limit is reached)."""
        self._acks.settled(self._message)
        await _settle(self._message.nack(requeue=True), str(self.payload.id))


class Delivery(Incoming[Envelope]):
    """A document addressed to this agency: its sender's signature and the hub's stamp verified."""

    @property
    def envelope(self) -> Envelope:
        return self.payload


class StatusUpdate(Incoming[StatusReceipt]):
    """A status receipt about a document this agency sent, or the hub's refusal of one of its
    inputs: its signer's signature and the hub's stamp verified."""

    @property
    def receipt(self) -> StatusReceipt:
        return self.payload


async def _settle(settling: Awaitable[None], message_id: str) -> None:
    try:
        await settling
    except BROKER_ERRORS as exc:
        # The channel is gone: the broker redelivers, and the id is marked handled.
        logs.warning("settle_lost", message_id=message_id, error=repr(exc))
