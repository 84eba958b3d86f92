"""Acks of one subscription, coalesced: one ``basic.ack`` with ``multiple=True`` stands for every
delivery, oldest first, that the agency has handled, instead of one frame per message.

A delivery is acked only once handled (``handled``), and a multiple ack covers only a run of
handled deliveries with nothing unhandled before it: a message still being handled, taken earlier,
is not covered by it: those handled after it are acked one by one. Rejects and releases go at
once, one by one. The pending acks go out when enough have gathered, when the subscription has
nothing more to hand out, a short while after the first of them at the latest, and when it
closes.

The handled ids are recorded (``DurableSeenIds`` writes them to disk) before ``handled`` returns,
so a copy redelivered because its ack had not gone out yet when the process died is dropped.
"""

import asyncio
from collections import OrderedDict
from contextlib import suppress
from typing import Final

from aio_pika.abc import AbstractIncomingMessage
from aiormq import Channel

from agency_client import logs
from agency_client.errors import BROKER_ERRORS

ACK_BATCH: Final = 32
"""Handled deliveries that are acked at once, without waiting any longer."""
ACK_DELAY_S: Final = 0.05
"""The longest a handled delivery waits for its ack to go out."""


class Acks:
    def __init__(self) -> None:
        self._taken: OrderedDict[int, AbstractIncomingMessage | None] = OrderedDict()
        """Deliveries handed out and not yet acked, by delivery tag, oldest first; the message
        once handled, None before."""
        self._channel: object = None
        self._handled = 0
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task[None] | None = None

    def taken(self, message: AbstractIncomingMessage) -> None:
        """``message`` is handed to the agency, to be acked, rejected or released."""
        tag = message.delivery_tag
        if tag is None:
            return
        if message.channel is not self._channel:
            # A new AMQP channel (the connection came back): the old one's deliveries are void,
            # the broker delivers them again.
            self._taken.clear()
            self._handled = 0
            self._channel = message.channel
        self._taken[tag] = None

    async def handled(self, message: AbstractIncomingMessage) -> None:
        """Ack ``message``, now or with the next coalesced ack."""
        tag = message.delivery_tag
        if tag is None or message.channel is not self._channel or tag not in self._taken:
            return  # settled already, or taken on a channel that is gone
        if self._taken[tag] is None:
            self._taken[tag] = message
            self._handled += 1
        if self._handled >= ACK_BATCH:
            await self.flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(ACK_DELAY_S, self._flush_later)

    def settled(self, message: AbstractIncomingMessage) -> None:
        """``message`` was rejected or released, one by one: no ack of it."""
        tag = message.delivery_tag
        if tag is None or message.channel is not self._channel or tag not in self._taken:
            return
        if self._taken.pop(tag) is not None:
            self._handled -= 1

    async def flush(self) -> None:
        """Ack the oldest handled deliveries, up to the first one not handled, in one frame; and
        those handled after that one, each in its own: none waits for a slower one."""
        self._cancel_timer()
        run: list[AbstractIncomingMessage] = []
        while self._taken:
            tag, message = next(iter(self._taken.items()))
            if message is None:
                break
            del self._taken[tag]
            run.append(message)
        later = [message for message in self._taken.values() if message is not None]
        for message in later:
            assert message.delivery_tag is not None
            del self._taken[message.delivery_tag]
        self._handled = 0
        acks = [(run[-1], True)] if run else []
        acks += [(message, False) for message in later]
        try:
            for message, multiple in acks:
                await _ack(message, multiple)
        except BROKER_ERRORS as exc:
            # The channel is gone: the broker redelivers, and the ids are marked handled.
            logs.warning("settle_lost", messages=len(run) + len(later), error=repr(exc))

    async def close(self) -> None:
        """Send what is pending; nothing is left waiting for a timer."""
        with suppress(*BROKER_ERRORS):
            await self.flush()
        if self._flushing is not None:
            await asyncio.wait([self._flushing])

    def _flush_later(self) -> None:
        self._timer = None
        if self._flushing is None or self._flushing.done():
            self._flushing = asyncio.ensure_future(self.flush())

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


async def _ack(message: AbstractIncomingMessage, multiple: bool) -> None:
    """Queue the ack frame, without waiting for the socket: the frames of one flush are queued
    with nothing between them, so that no other ack (a multiple one) can overtake them."""
    channel = message.channel
    assert isinstance(channel, Channel)  # aio-pika's channels are aiormq's
    assert message.delivery_tag is not None  # taken() kept only deliveries with a tag
    await channel.basic_ack(message.delivery_tag, multiple=multiple, wait=False)
