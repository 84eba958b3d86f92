"""A consumer of one of the agency's queues, as an async iterator that is closed explicitly (or by
``async with``, or when the client closes), never left to the garbage collector. Its acks are
coalesced (``agency_client.acks``)."""

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress
from types import TracebackType
from typing import Generic, TypeVar

from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from aiormq.exceptions import ChannelAccessRefused

from agency_client.acks import Acks
from agency_client.errors import BROKER_ERRORS, CLOSE_TIMEOUT_S, AccessRefused

Item = TypeVar("Item")

_CLOSED = None


class Subscription(Generic[Item]):
    def __init__(
        self,
        open_channel: Callable[[], Awaitable[tuple[AbstractChannel, AbstractQueue]]],
        open_message: Callable[[AbstractIncomingMessage, Acks], Awaitable[Item | None]],
    ) -> None:
        """``open_message``: the item a message is, handed out and settled through the acks
        given; or None, the message settled already (dropped, rejected)."""
        self._open_channel = open_channel
        self._open_message = open_message
        self._acks = Acks()
        self._buffer: asyncio.Queue[AbstractIncomingMessage | None] = asyncio.Queue()
        self._channel: AbstractChannel | None = None
        self._queue: AbstractQueue | None = None
        self._consumer_tag: str | None = None
        self._closed = False

    def __aiter__(self) -> "Subscription[Item]":
        return self

    async def __anext__(self) -> Item:
        if self._consumer_tag is None and not self._closed:
            await self._start()
        while not self._closed:
            if self._buffer.empty():
                await self._acks.flush()  # nothing to hand out meanwhile: ack what was handled
            message = await self._buffer.get()
            if message is _CLOSED:
                break
            item = await self._open_message(message, self._acks)
            if item is not None:
                self._acks.taken(message)
                return item
        raise StopAsyncIteration

    async def __aenter__(self) -> "Subscription[Item]":
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop consuming. Messages taken but not acked go back to the queue."""
        if self._closed:
            return
        self._closed = True
        self._buffer.put_nowait(_CLOSED)
        with suppress(*BROKER_ERRORS):  # TimeoutError among them: the broker may be away
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await self._acks.close()
                if self._queue is not None and self._consumer_tag is not None:
                    await self._queue.cancel(self._consumer_tag)
                if self._channel is not None:
                    await self._channel.close()

    async def _start(self) -> None:
        self._channel, self._queue = await self._open_channel()

        async def on_message(message: AbstractIncomingMessage) -> None:
            self._buffer.put_nowait(message)

        try:
            self._consumer_tag = await self._queue.consume(on_message)
        except ChannelAccessRefused as exc:
            raise AccessRefused(
                f"the broker refused consuming {self._queue.name}: an agency's broker user may "
                "read only its own inbox and status queue"
            ) from exc
