"""Errors the hub raises.

    HubError
    ├── ConfigurationError      a setting or file the hub cannot start with
    │   └── RegistryError       the agency registry file is missing or invalid
    ├── LedgerError             the ledger cannot be opened or written
    └── BrokerError             RabbitMQ is unreachable, or did not answer in time
        ├── BrokerRefused       RabbitMQ answered and refused: the login, the virtual host, a
        │                       permission, or a topology declared with other arguments
        └── ManagementError     RabbitMQ's management HTTP API is unreachable or refused a call

Each carries ``document_id`` and ``agency_id`` where they are known.
"""


class HubError(Exception):
    def __init__(
        self, message: str, *, document_id: str | None = None, agency_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.document_id = document_id
        self.agency_id = agency_id


class ConfigurationError(HubError):
    pass


class RegistryError(ConfigurationError):
    pass


class LedgerError(HubError):
    pass


class BrokerError(HubError):
    pass


class BrokerRefused(BrokerError):
    pass


class ManagementError(BrokerError):
    pass
