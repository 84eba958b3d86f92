"""Logging, set up once per process (by the CLI, and by the child processes of a run): structlog,
JSON when not on a TTY, readable on a TTY.

The standard library's loggers (aio-pika's reconnects, ``agency_client``'s events) go through the
same renderer.
"""

import logging
import sys
from typing import TextIO

import structlog

from hub.settings import LogFormat, LogLevel


def _exception_in_one_line(
    logger: object, method: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    """A library's record with an exception (aiormq's dropped connections, say) keeps the
    exception as one ``error`` field: tracebacks are for ``--log-level debug``."""
    exc_info = event_dict.pop("exc_info", None)
    if exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, tuple) and exc_info[1] is not None:
        error = exc_info[1]
        event_dict.setdefault("error", " ".join(f"{type(error).__name__}: {error}".split()))
    return event_dict


def configure_logging(
    log_format: LogFormat = "auto", level: LogLevel = "info", stream: TextIO | None = None
) -> None:
    stream = stream or sys.stderr
    console = log_format == "console" or (log_format == "auto" and stream.isatty())
    renderer: structlog.types.Processor = (
        structlog.dev.ConsoleRenderer(colors=stream.isatty())
        if console
        else structlog.processors.JSONRenderer(ensure_ascii=False)
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    if not console:
        shared.append(structlog.processors.format_exc_info)
    level_number = logging.getLevelNamesMapping()[level.upper()]
    structlog.configure(
        processors=[*shared, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(level_number),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_logger_name,
                structlog.stdlib.ExtraAdder(),  # agency_client's fields ride in `extra`
                *([] if level == "debug" else [_exception_in_one_line]),
                *shared,
            ],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(max(level_number, logging.WARNING))
    # The client library logs its events through the standard library: shown at the CLI's level.
    logging.getLogger("agency_client").setLevel(level_number)
    # aiormq logs every failed connection attempt as an error; the hub and the client report the
    # failure themselves, once, with what to do about it.
    logging.getLogger("aiormq.connection").setLevel(logging.CRITICAL)
