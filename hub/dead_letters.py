"""Browse, replay and purge a namespace's dead-letter queue.

Reading never loses or reorders a message: each is fetched with ``basic.get`` and held unacked on
a channel of its own; closing the channel returns every message it held, in order. Each browse
counts as a delivery (``x-delivery-count``); the dead-letter queue is a quorum queue declared with
no delivery limit (``hub.topology``), which on RabbitMQ 3.x means none, so browsing never drops a
message there. (RabbitMQ 4 gives a quorum queue a default limit of 20: on it, the dead-letter
queue needs its limit lifted.)

A replay publishes each selected message with publisher confirms, and acks it off the dead-letter
queue only once the broker confirmed the copy and, for a refusal of the hub when its ledger can be
read, once the ledger shows the hub accepted it: the hub drops the copy of an input it refuses
again (that refusal is counted already), so its dead letter must stay. A message whose replay
failed, or was not accepted in time, stays where it was.
A purge acks only the selected messages. Both act only on what the dead-letter queue held when they
began, and only on the messages the caller confirmed (by SHA-256), never on one that arrived since.

Every broker call is bounded by the connect timeout; a broker that stops answering ends the
command with a ``BrokerError``, and the messages held return to the queue when the connection
closes.
"""

import asyncio
import datetime as dt
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Collection, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog
from aio_pika import DeliveryMode, Message
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractRobustConnection
from aio_pika.exceptions import AMQPError, ChannelNotFoundEntity, DeliveryError, PublishError

from agency_client.connection import ConnectFailed, close_connection, open_connection, reply_text
from hub.dead_letter_filters import (
    DeadLetter,
    Selection,
    input_key_of,
    read_dead_letter,
    replay_headers,
    replay_target,
    replay_type,
    replayable,
)
from hub.errors import BrokerError, BrokerRefused, ConfigurationError
from hub.story import accepted_inputs, refusal_times
from schemas.naming import Names
from schemas.urls import BrokerAddress, InvalidBrokerUrl, parse_amqp_url

log = structlog.get_logger("hub.dead_letters")

T = TypeVar("T")
_Held = tuple[DeadLetter, AbstractIncomingMessage]
"""A dead letter and its message, held unacked."""

_PUBLISH_CHUNK = 100
_VERDICT_POLL_S = 0.25
_PROPERTIES = (
    "content_type",
    "content_encoding",
    "delivery_mode",
    "priority",
    "correlation_id",
    "reply_to",
    "expiration",
    "message_id",
    "timestamp",
    "type",
    "user_id",
    "app_id",
)


@dataclass(frozen=True, slots=True)
class DeadLetterQueue:
    """Where the dead letters are: a broker, a namespace, and how long a broker call may take."""

    amqp_url: str
    namespace: str
    timeout_s: float
    ledger_url: str | None = None
    """A hub's ledger, read for when the hub dead-lettered each refusal (its messages carry no
    time) and, on a replay, for whether the hub accepted each copy; None: those ages are unknown,
    and a replayed refusal leaves the queue once the broker confirmed its copy."""
    verdict_wait_s: float = 10.0
    """How long a replay waits for the ledger to show the hub accepted a replayed refusal."""

    @property
    def names(self) -> Names:
        return Names(self.namespace)


@dataclass(frozen=True, slots=True)
class Browsed:
    queue: str
    depth: int
    """Messages ready in the dead-letter queue when it was read."""
    letters: list[DeadLetter]
    """The first ``limit`` of them, in queue order."""


@dataclass(frozen=True, slots=True)
class Outcome:
    done: list[DeadLetter] = field(default_factory=list)
    """Replayed (confirmed, then removed), or purged."""
    failed: list[tuple[DeadLetter, str]] = field(default_factory=list)
    """Not replayed, with why: still in the dead-letter queue."""
    missing: int = 0
    """Confirmed messages no longer in the queue (another command took them meanwhile)."""
    ingress_consumers: int | None = None
    """Consumers of the ingress queue after a replay: 0 means no hub runs to route it."""
    kept: list[DeadLetter] = field(default_factory=list)
    """Replayed, but the hub had not accepted them in time (refused again?): still in the
    dead-letter queue."""


async def browse(queue: DeadLetterQueue, limit: int) -> Browsed:
    """Read the first ``limit`` dead letters, leaving every one in the queue, in order."""
    async with _connected(queue) as connection:
        channel = await _bounded(connection.channel(), queue, "open a channel")
        try:
            depth, held = await _take(channel, queue, limit)
            letters = await _with_times(queue, [letter for letter, _ in held])
        finally:
            await _close(channel)  # returns every message held, unacked
    log.info("dead_letters_browsed", namespace=queue.namespace, depth=depth, read=len(letters))
    return Browsed(queue.names.dead_letter_queue, depth, letters)


async def replay(
    queue: DeadLetterQueue, selection: Selection, confirmed: Collection[str]
) -> Outcome:
    """Re-publish the dead letters ``selection`` picks and ``confirmed`` (their SHA-256s, as
    often as each was confirmed) names, each where it was going (``replay_target``), as the broker
    user of the URL; remove each from the dead-letter queue once its copy is confirmed, and
    accepted by the hub where the ledger can tell (``_settle``). Refusals no fix can undo
    (``replayable``) are left where they are."""
    wanted = Counter(confirmed)
    names = queue.names
    async with _connected(queue) as connection:
        reader = await _bounded(connection.channel(), queue, "open a channel")
        publisher = await _bounded(
            connection.channel(publisher_confirms=True, on_return_raises=True),
            queue,
            "open a channel",
        )
        try:
            _, held = await _take(reader, queue, None)
            chosen = [
                (letter, message)
                for letter, message in await _chosen(queue, held, selection, wanted)
                if replayable(letter)
            ]
            published, failed = await _publish_all(publisher, queue, chosen)
            done, kept = await _settle(queue, published)
            consumers = await _consumers(reader, queue, names.ingress_queue)
        finally:
            await _close(publisher)
            await _close(reader)
    return Outcome(done, failed, sum(wanted.values()) - len(chosen), consumers, kept)


async def _publish_all(
    channel: AbstractChannel, queue: DeadLetterQueue, chosen: list[_Held]
) -> tuple[list[_Held], list[tuple[DeadLetter, str]]]:
    """Publish each chosen letter's copy: those the broker confirmed, and those it did not."""
    published: list[_Held] = []
    failed: list[tuple[DeadLetter, str]] = []
    for start in range(0, len(chosen), _PUBLISH_CHUNK):
        chunk = chosen[start : start + _PUBLISH_CHUNK]
        results = await asyncio.gather(
            *(_publish(channel, queue, letter) for letter, _ in chunk), return_exceptions=True
        )
        for held, result in zip(chunk, results, strict=True):
            letter = held[0]
            if isinstance(result, BaseException):
                failed.append((letter, _why(result)))
                log.warning(
                    "dead_letter_replay_failed",
                    id=letter.id,
                    reason=letter.reason,
                    error=_why(result),
                )
            else:
                published.append(held)
    return published, failed


async def _settle(
    queue: DeadLetterQueue, published: list[_Held]
) -> tuple[list[DeadLetter], list[DeadLetter]]:
    """Remove each replayed letter from the dead-letter queue once its copy is confirmed and,
    for a refusal with a ledger to read, once the hub has accepted and routed it: a copy the hub
    refuses again, it drops (that refusal is counted already), so its dead letter must stay.
    What was removed, and what stays (the hub did not accept it within ``verdict_wait_s``)."""
    awaiting: dict[int, tuple[str, str, str]] = {}
    if queue.ledger_url is not None:
        for index, (letter, _) in enumerate(published):
            key = input_key_of(letter)
            if key is not None:
                awaiting[index] = (key.kind, key.id, key.content_hash)
    checked = set(awaiting)
    removed: list[DeadLetter] = []

    async def remove(index: int) -> None:
        letter, message = published[index]
        await _bounded(message.ack(), queue, "remove a replayed message")
        removed.append(letter)
        log.info(
            "dead_letter_replayed",
            id=letter.id,
            reason=letter.reason,
            document_id=letter.document_id,
            agency_id=letter.sender,
            target=replay_target(letter, queue.names).exchange or letter.died_in,
            checked_in_ledger=index in checked,
        )

    for index in range(len(published)):
        if index not in awaiting:
            await remove(index)
    deadline = time.monotonic() + queue.verdict_wait_s
    while awaiting and queue.ledger_url is not None:
        accepted = await accepted_inputs(queue.ledger_url, list(awaiting.values()))
        for index in [i for i, key in awaiting.items() if key in accepted]:
            del awaiting[index]
            await remove(index)
        if not awaiting or time.monotonic() >= deadline:
            break
        await asyncio.sleep(_VERDICT_POLL_S)
    kept = [published[index][0] for index in sorted(awaiting)]
    for letter in kept:
        log.warning(
            "dead_letter_kept", id=letter.id, reason=letter.reason, wait_s=queue.verdict_wait_s
        )
    return removed, kept


async def purge(
    queue: DeadLetterQueue, selection: Selection, confirmed: Collection[str]
) -> Outcome:
    """Remove the dead letters ``selection`` picks and ``confirmed`` names; leave the rest."""
    wanted = Counter(confirmed)
    async with _connected(queue) as connection:
        channel = await _bounded(connection.channel(), queue, "open a channel")
        try:
            _, held = await _take(channel, queue, None)
            chosen = await _chosen(queue, held, selection, wanted)
            for letter, message in chosen:
                await _bounded(message.ack(), queue, "remove a message")
                log.info("dead_letter_purged", id=letter.id, reason=letter.reason)
        finally:
            await _close(channel)
    return Outcome([letter for letter, _ in chosen], [], sum(wanted.values()) - len(chosen))


async def _chosen(
    queue: DeadLetterQueue,
    held: list[_Held],
    selection: Selection,
    wanted: Counter[str],
) -> list[_Held]:
    letters = await _with_times(queue, [letter for letter, _ in held])
    now = dt.datetime.now(dt.UTC)
    remaining = Counter(wanted)
    chosen = []
    for letter, (_, message) in zip(letters, held, strict=True):
        if remaining[letter.sha256] > 0 and selection.matches(letter, now):
            remaining[letter.sha256] -= 1
            chosen.append((letter, message))
    return chosen


async def _take(
    channel: AbstractChannel, queue: DeadLetterQueue, limit: int | None
) -> tuple[int, list[_Held]]:
    """The depth of the dead-letter queue, and up to ``limit`` of the messages it held then,
    each held unacked on ``channel``."""
    name = queue.names.dead_letter_queue
    try:
        declared = await _bounded(channel.declare_queue(name, passive=True), queue, "find " + name)
    except ChannelNotFoundEntity as exc:
        raise ConfigurationError(
            f"no dead-letter queue {name} on the broker: is there a namespace "
            f"{queue.namespace!r} (a hub has run on it)? `dochub namespace list` shows them"
        ) from exc
    depth = int(declared.declaration_result.message_count or 0)
    count = depth if limit is None else min(depth, limit)
    held: list[_Held] = []
    for position in range(1, count + 1):
        message = await _bounded(
            declared.get(no_ack=False, fail=False, timeout=queue.timeout_s), queue, "read " + name
        )
        if message is None:  # another consumer took the rest
            break
        held.append(
            (read_dead_letter(position, message.body, message.headers, _props(message)), message)
        )
    return depth, held


async def _with_times(queue: DeadLetterQueue, letters: list[DeadLetter]) -> list[DeadLetter]:
    """The letters, the hub's refusals given the time the ledger records for them."""
    untimed = [letter.sha256 for letter in letters if letter.died_at is None]
    if queue.ledger_url is None or not untimed:
        return letters
    times = await refusal_times(queue.ledger_url, untimed)
    return [letter.with_time(times.get(letter.sha256)) for letter in letters]


async def _publish(channel: AbstractChannel, queue: DeadLetterQueue, letter: DeadLetter) -> None:
    target = replay_target(letter, queue.names)
    properties = letter.properties
    message = Message(
        letter.body,
        headers=replay_headers(letter),
        content_type=_optional(properties.get("content_type")),
        content_encoding=_optional(properties.get("content_encoding")),
        message_id=_optional(properties.get("message_id")),
        correlation_id=_optional(properties.get("correlation_id")),
        timestamp=properties.get("timestamp"),
        type=replay_type(letter),
        app_id=_optional(properties.get("app_id")),
        user_id=parse_amqp_url(queue.amqp_url).user,
        delivery_mode=DeliveryMode.PERSISTENT,
    )
    exchange = (
        channel.default_exchange
        if target.exchange == ""
        else await channel.get_exchange(target.exchange, ensure=False)
    )
    await exchange.publish(message, target.routing_key, mandatory=True, timeout=queue.timeout_s)


async def _consumers(channel: AbstractChannel, queue: DeadLetterQueue, name: str) -> int | None:
    with suppress(AMQPError, TimeoutError, BrokerError):
        declared = await _bounded(channel.declare_queue(name, passive=True), queue, "find " + name)
        return int(declared.declaration_result.consumer_count or 0)
    return None


@asynccontextmanager
async def _connected(queue: DeadLetterQueue) -> AsyncIterator[AbstractRobustConnection]:
    address = _address(queue.amqp_url)
    try:
        connection = await open_connection(
            address,
            name=f"dochub dlq {queue.namespace}",
            timeout_s=queue.timeout_s,
            reconnect_interval_s=queue.timeout_s,
        )
    except ConnectFailed as exc:
        failure = BrokerRefused if exc.refused else BrokerError
        raise failure(f"{exc} (--amqp-url or DOCHUB_AMQP_URL)") from exc
    try:
        yield connection
    finally:
        await close_connection(connection)


async def _bounded(call: Awaitable[T], queue: DeadLetterQueue, what: str) -> T:
    try:
        async with asyncio.timeout(queue.timeout_s):
            return await call
    except TimeoutError as exc:
        raise BrokerError(
            f"RabbitMQ did not answer within {queue.timeout_s:g} s when asked to {what}; "
            "nothing more was done, and the messages held return to the dead-letter queue"
        ) from exc
    except ChannelNotFoundEntity:
        raise
    except (AMQPError, OSError) as exc:
        raise BrokerError(f"RabbitMQ failed to {what}: {reply_text(exc)}") from exc


async def _close(channel: AbstractChannel) -> None:
    with suppress(AMQPError, OSError, TimeoutError, RuntimeError):
        async with asyncio.timeout(5.0):
            await channel.close()


def _props(message: AbstractIncomingMessage) -> Mapping[str, Any]:
    return {
        name: getattr(message, name)
        for name in _PROPERTIES
        if getattr(message, name, None) is not None
    }


def _optional(value: object) -> str | None:
    return None if value is None else str(value)


def _why(error: BaseException) -> str:
    if isinstance(error, PublishError):
        return "unroutable: no queue took it (is the namespace's topology complete?)"
    if isinstance(error, DeliveryError):
        return f"the broker refused it ({reply_text(error)}; a full queue?)"
    if isinstance(error, TimeoutError):
        return "no confirm in time"
    return reply_text(error)


def _address(amqp_url: str) -> BrokerAddress:
    try:
        return parse_amqp_url(amqp_url)
    except InvalidBrokerUrl as exc:
        raise ConfigurationError(f"{exc} (--amqp-url or DOCHUB_AMQP_URL)") from exc
