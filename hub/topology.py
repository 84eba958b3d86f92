"""The exchanges and queues of one namespace, declared by the hub at start.

    ingress (direct) ─document, status─▶ ingress queue ─▶ hub router
       └─ any other key ─▶ ingress-unrouted (fanout) ─▶ ingress queue   (refused: unknown_kind)
    delivery (direct) ─agency id─▶ inbox.<agency>      (documents for the agency)
    status (direct)   ─agency id─▶ status.<agency>     (receipts about the agency's documents)
    dead-letter (fanout) ─▶ dead-letter queue   (refusals; messages over the delivery limit)

Every queue is a quorum queue. All but the dead-letter queue carry a delivery limit and dead-letter
at least once, which needs ``reject-publish`` overflow: a full ingress queue refuses new documents
(the sender's ``send()`` raises) instead of dropping old ones.

The ingress's alternate exchange keeps a message with an unknown routing key from being dropped by
the broker unheard of: the hub refuses it into the dead-letter queue like any other bad input.
Declare arguments cannot change on an existing exchange or queue: a namespace declared with other
ones (by an older hub) must be deleted before this topology can be declared on it.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aio_pika import ExchangeType
from aio_pika.abc import AbstractChannel

from schemas.naming import DOCUMENT_ROUTING_KEY, STATUS_ROUTING_KEY, Names


@dataclass(frozen=True, slots=True)
class QueuePolicy:
    delivery_limit: int = 5
    ingress_max_length: int = 1_000_000
    agency_queue_max_length: int = 100_000


class Topology:
    def __init__(self, names: Names, policy: QueuePolicy) -> None:
        self.names = names
        self.policy = policy

    def _arguments(self, max_length: int | None = None) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "x-queue-type": "quorum",
            "x-delivery-limit": self.policy.delivery_limit,
            "x-dead-letter-exchange": self.names.dead_letter_exchange,
            "x-dead-letter-strategy": "at-least-once",
            "x-overflow": "reject-publish",
        }
        if max_length is not None:
            arguments["x-max-length"] = max_length
        return arguments

    async def declare(self, channel: AbstractChannel, agency_ids: Iterable[str]) -> None:
        names = self.names
        dead_letter = await channel.declare_exchange(
            names.dead_letter_exchange, ExchangeType.FANOUT, durable=True
        )
        dead_letter_queue = await channel.declare_queue(
            names.dead_letter_queue, durable=True, arguments={"x-queue-type": "quorum"}
        )
        await dead_letter_queue.bind(dead_letter)
        unrouted = await channel.declare_exchange(
            names.unrouted_exchange, ExchangeType.FANOUT, durable=True
        )
        ingress = await channel.declare_exchange(
            names.ingress_exchange,
            ExchangeType.DIRECT,
            durable=True,
            arguments={"alternate-exchange": names.unrouted_exchange},
        )
        ingress_queue = await channel.declare_queue(
            names.ingress_queue,
            durable=True,
            arguments=self._arguments(max_length=self.policy.ingress_max_length),
        )
        for routing_key in (DOCUMENT_ROUTING_KEY, STATUS_ROUTING_KEY):
            await ingress_queue.bind(ingress, routing_key)
        await ingress_queue.bind(unrouted)
        await channel.declare_exchange(names.delivery_exchange, ExchangeType.DIRECT, durable=True)
        await channel.declare_exchange(names.status_exchange, ExchangeType.DIRECT, durable=True)
        for agency_id in agency_ids:
            await self.declare_agency(channel, agency_id)

    async def declare_agency(self, channel: AbstractChannel, agency_id: str) -> None:
        names = self.names
        for exchange, queue_name in (
            (names.delivery_exchange, names.inbox_queue(agency_id)),
            (names.status_exchange, names.status_queue(agency_id)),
        ):
            queue = await channel.declare_queue(
                queue_name,
                durable=True,
                arguments=self._arguments(max_length=self.policy.agency_queue_max_length),
            )
            await queue.bind(exchange, agency_id)

    async def delete(self, channel: AbstractChannel, agency_ids: Iterable[str]) -> None:
        """Remove every queue and exchange of the namespace, messages included."""
        names = self.names
        queues = [names.ingress_queue, names.dead_letter_queue]
        for agency_id in agency_ids:
            queues += [names.inbox_queue(agency_id), names.status_queue(agency_id)]
        for queue in queues:
            await channel.queue_delete(queue)
        for exchange in (
            names.ingress_exchange,
            names.unrouted_exchange,
            names.delivery_exchange,
            names.status_exchange,
            names.dead_letter_exchange,
        ):
            await channel.exchange_delete(exchange)


async def queue_depth(channel: AbstractChannel, queue_name: str) -> int:
    """Messages ready in a queue now, read with a passive declare on the underlying channel: a
    robust channel's ``declare_queue`` answers a repeated passive declare with the queue it
    declared first, and that queue's first reading."""
    underlay = await channel.get_underlay_channel()
    declared = await underlay.queue_declare(queue_name, passive=True)
    return int(declared.message_count or 0)
