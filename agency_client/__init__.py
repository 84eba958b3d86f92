"""What an agency imports to exchange documents through a DocHub hub."""

from agency_client.client import DEFAULT_AMQP_URL, AgencyClient
from agency_client.errors import (
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
from agency_client.incoming import Delivery, Incoming, StatusUpdate
from agency_client.keys import KeyFiles, load_signing_key, write_key_pair
from agency_client.subscription import Subscription

__all__ = [
    "DEFAULT_AMQP_URL",
    "AccessRefused",
    "AgencyClient",
    "AgencyClientError",
    "BrokerUnavailable",
    "Delivery",
    "DocumentRefused",
    "DocumentUnroutable",
    "Incoming",
    "InvalidDocument",
    "InvalidSettings",
    "KeyFiles",
    "NotProvisioned",
    "StatusUpdate",
    "Subscription",
    "UnknownAgency",
    "load_signing_key",
    "write_key_pair",
]
