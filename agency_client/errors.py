"""Errors an agency sees. aio-pika and aiormq errors never leave the client untranslated.

    AgencyClientError
    ├── InvalidSettings         a setting the client cannot start with (the broker URL, the
    │                           namespace, a key the directory does not list, the state file)
    ├── BrokerUnavailable       RabbitMQ cannot be reached, or did not complete the connection
    │                           within the connect timeout, or stayed away longer than the
    │                           send timeout
    ├── AccessRefused           the broker refused this agency's user the action (wrong
    │                           credentials, a virtual host it may not use, another agency's
    │                           queue, a forged user_id)
    ├── NotProvisioned          the hub has not declared this namespace or this agency's queues
    ├── UnknownAgency           an agency id that the directory does not list
    ├── InvalidDocument         the document breaks the contract and was not sent
    ├── DocumentRefused         the broker refused the message (the hub's ingress queue is full)
    └── DocumentUnroutable      the broker could route the message nowhere

Each carries ``document_id`` and ``agency_id`` where they are known.
"""

from uuid import UUID

from aio_pika.exceptions import AMQPError, ChannelInvalidStateError

BROKER_ERRORS = (AMQPError, ChannelInvalidStateError, ConnectionError, OSError, TimeoutError)
"""What the broker's client raises when RabbitMQ is away or a channel is gone."""

CLOSE_TIMEOUT_S = 5.0
"""How long closing waits for the broker, which may be away."""


class AgencyClientError(Exception):
    def __init__(
        self,
        message: str,
        *,
        document_id: UUID | str | None = None,
        agency_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.document_id = str(document_id) if document_id is not None else None
        self.agency_id = agency_id


class InvalidSettings(AgencyClientError):
    pass


class BrokerUnavailable(AgencyClientError):
    pass


class AccessRefused(AgencyClientError):
    pass


class NotProvisioned(AgencyClientError):
    pass


class UnknownAgency(AgencyClientError):
    pass


class InvalidDocument(AgencyClientError):
    pass


class DocumentRefused(AgencyClientError):
    pass


class DocumentUnroutable(AgencyClientError):
    pass
