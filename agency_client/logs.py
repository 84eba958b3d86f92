"""How the client logs: through the standard library's ``logging`` (logger ``agency_client``), as
aio-pika does, so that an application that configured nothing sees nothing but warnings on
stderr, and never a line on its stdout.

Each record's message is the event name, and its fields ride in ``extra``; ``dochub``'s own
logging setup renders them as structured fields (structlog's ``ExtraAdder``).
"""

import logging
from typing import Any

_logger = logging.getLogger("agency_client")


def debug(event: str, **fields: Any) -> None:
    _logger.debug(event, extra=fields)


def info(event: str, **fields: Any) -> None:
    _logger.info(event, extra=fields)


def warning(event: str, **fields: Any) -> None:
    _logger.warning(event, extra=fields)
