"""The namespaces on a broker, seen and removed through RabbitMQ's management API.

A namespace's resources are the queues and exchanges whose names start with the namespace and a
dot: ``dochub.ingress`` is in ``dochub``, ``dochub2.ingress`` is not. A namespace counts as
DocHub's when at least one of its names has a shape a hub declares (``NS.ingress``,
``NS.inbox.<agency>``, ...); other dotted names on the broker are not listed. The broker's own
``amq.*`` exchanges belong to no namespace.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from hub.management import ManagementClient, QueueInfo
from schemas.naming import NAMESPACE_PATTERN, Names

_RESERVED: Final = "amq."
"""The broker's own exchanges: never a namespace's, never deleted."""


def _shapes() -> tuple[frozenset[str], tuple[str, ...]]:
    """The names a hub declares, less the namespace: whole names, and prefixes of per-agency
    names."""
    names = Names("x")
    fixed = (
        names.ingress_exchange,
        names.ingress_queue,
        names.unrouted_exchange,
        names.delivery_exchange,
        names.status_exchange,
        names.dead_letter_exchange,
        names.dead_letter_queue,
    )
    prefixes = (names.inbox_queue(""), names.status_queue(""))
    return frozenset(name[2:] for name in fixed), tuple(prefix[2:] for prefix in prefixes)


_WHOLE, _PREFIXES = _shapes()
_NAMESPACE = re.compile(NAMESPACE_PATTERN)


@dataclass(frozen=True, slots=True)
class Namespace:
    """One namespace's queues and exchanges on a virtual host."""

    name: str
    queues: tuple[QueueInfo, ...]
    exchanges: tuple[str, ...]

    @property
    def messages(self) -> int:
        return sum(queue.messages for queue in self.queues)

    @property
    def consumers(self) -> int:
        return sum(queue.consumers for queue in self.queues)

    @property
    def empty(self) -> bool:
        return not self.queues and not self.exchanges


def in_namespace(namespace: str, name: str) -> bool:
    return name.startswith(namespace + ".")


def namespace_of(name: str) -> str | None:
    """The namespace of a name a hub declares; None for any other name."""
    namespace, dot, rest = name.partition(".")
    if not dot or name.startswith(_RESERVED) or not _NAMESPACE.match(namespace):
        return None
    if rest in _WHOLE or any(rest.startswith(p) and len(rest) > len(p) for p in _PREFIXES):
        return namespace
    return None


def namespace(name: str, queues: Iterable[QueueInfo], exchanges: Iterable[str]) -> Namespace:
    """What of the broker's queues and exchanges is in the namespace ``name``."""
    return Namespace(
        name,
        tuple(sorted((q for q in queues if in_namespace(name, q.name)), key=lambda q: q.name)),
        tuple(sorted(e for e in exchanges if in_namespace(name, e))),
    )


def namespaces(queues: Iterable[QueueInfo], exchanges: Iterable[str]) -> list[Namespace]:
    """Every DocHub namespace among the broker's queues and exchanges, by name."""
    queues, exchanges = list(queues), list(exchanges)
    names = {namespace_of(name) for name in [*(q.name for q in queues), *exchanges]}
    return [namespace(name, queues, exchanges) for name in sorted(n for n in names if n)]


async def read_namespace(api: ManagementClient, vhost: str, name: str) -> Namespace:
    return namespace(name, await api.list_queues(vhost), await api.list_exchanges(vhost))


async def read_namespaces(api: ManagementClient, vhost: str) -> list[Namespace]:
    return namespaces(await api.list_queues(vhost), await api.list_exchanges(vhost))


async def delete_namespace(api: ManagementClient, vhost: str, found: Namespace) -> Namespace:
    """Delete the queues (messages included), then the exchanges, of a namespace read before;
    what was deleted (a name someone else deleted meanwhile is left out)."""
    queues = [queue for queue in found.queues if await api.delete_queue(vhost, queue.name)]
    exchanges = [name for name in found.exchanges if await api.delete_exchange(vhost, name)]
    return Namespace(found.name, tuple(queues), tuple(exchanges))
