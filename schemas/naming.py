"""Names of the exchanges, queues and routing keys under one namespace.

Every name starts with the namespace, so that several hubs and parallel test runs share one broker
without meeting. Hub and agencies both read their names from here.
"""

import re
from dataclasses import dataclass
from typing import Final

NAMESPACE_PATTERN: Final = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
_NAMESPACE_RE = re.compile(NAMESPACE_PATTERN)

DOCUMENT_ROUTING_KEY: Final = "document"
STATUS_ROUTING_KEY: Final = "status"

JWS_CONTENT_TYPE: Final = "application/jose+json"
DOCUMENT_MESSAGE_TYPE: Final = "dochub.envelope"
STATUS_MESSAGE_TYPE: Final = "dochub.status"
REJECTED_MESSAGE_TYPE: Final = "dochub.rejected"


@dataclass(frozen=True)
class Names:
    namespace: str

    def __post_init__(self) -> None:
        if not _NAMESPACE_RE.match(self.namespace):
            raise ValueError(
                f"namespace {self.namespace!r} must match {NAMESPACE_PATTERN} "
                "(letters, digits, '-' and '_', at most 64 characters)"
            )

    @property
    def ingress_exchange(self) -> str:
        return f"{self.namespace}.ingress"

    @property
    def ingress_queue(self) -> str:
        return f"{self.namespace}.ingress"

    @property
    def unrouted_exchange(self) -> str:
        """The ingress exchange's alternate exchange: what the ingress cannot route by its routing
        key (neither ``document`` nor ``status``) goes through it to the ingress queue, where the
        hub refuses it as ``unknown_kind``."""
        return f"{self.namespace}.ingress-unrouted"

    @property
    def delivery_exchange(self) -> str:
        return f"{self.namespace}.delivery"

    @property
    def status_exchange(self) -> str:
        return f"{self.namespace}.status"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.namespace}.dead-letter"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.namespace}.dead-letter"

    def inbox_queue(self, agency_id: str) -> str:
        return f"{self.namespace}.inbox.{agency_id}"

    def status_queue(self, agency_id: str) -> str:
        return f"{self.namespace}.status.{agency_id}"

    def agency_user(self, agency_id: str) -> str:
        """The RabbitMQ user of an agency, which ``dochub provision`` creates: messages it
        publishes carry this ``user_id``, checked by the broker."""
        return f"{self.namespace}.{agency_id}"

    @property
    def hub_user(self) -> str:
        """The RabbitMQ user of the hub itself, which ``dochub provision`` creates."""
        return f"{self.namespace}.hub"
