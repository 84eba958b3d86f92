"""The CLI's logging: JSON lines off a terminal, readable text on one, one level for structlog and
the standard library's loggers alike."""

import io
import json
import logging
import re
import subprocess
import sys
from typing import Any

import pytest
import structlog

from dochub.logging import configure_logging
from hub.settings import LogFormat, LogLevel

ANSI = re.compile(r"\x1b\[[0-9;]*m")


class TtyStream(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def lines_of(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    """Every line of ``stream`` as a JSON object; fails if any line is not one."""
    records = []
    for line in lines_of(stream):
        record = json.loads(line)
        assert isinstance(record, dict), line
        records.append(record)
    return records


def is_json(line: str) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def test_auto_off_a_terminal_is_one_json_object_per_line() -> None:
    stream = io.StringIO()
    configure_logging("auto", "info", stream)
    log = structlog.get_logger("hub")
    log.info("hub_started", namespace="dochub", agencies=2, ledger="sqlite:///./dochub.db")
    log.warning("input_refused", reason="unknown_recipient", detail="not registered: Bộ")

    first, second = json_lines(stream)
    assert first["event"] == "hub_started"
    assert first["level"] == "info"
    assert first["namespace"] == "dochub"
    assert first["agencies"] == 2
    assert first["ledger"] == "sqlite:///./dochub.db"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", first["timestamp"])
    assert second["event"] == "input_refused"
    assert second["level"] == "warning"
    assert second["reason"] == "unknown_recipient"
    assert second["detail"] == "not registered: Bộ"
    assert "not registered: Bộ" in stream.getvalue()  # not escaped to \\u sequences


def test_fields_stay_fields_not_a_formatted_string() -> None:
    stream = io.StringIO()
    configure_logging("json", "info", stream)
    structlog.get_logger().info("throughput", documents_per_s=12.5, ingress_depth=None)
    (record,) = json_lines(stream)
    assert record["event"] == "throughput"
    assert record["documents_per_s"] == 12.5
    assert record["ingress_depth"] is None
    assert set(record) == {"event", "level", "timestamp", "documents_per_s", "ingress_depth"}


def test_an_exception_stays_on_one_json_line() -> None:
    stream = io.StringIO()
    configure_logging("auto", "info", stream)
    try:
        raise RuntimeError("the ledger is locked")
    except RuntimeError:
        structlog.get_logger().exception("hub_failed", attempt=3)
    (record,) = json_lines(stream)
    assert record["event"] == "hub_failed"
    assert record["level"] == "error"
    assert record["attempt"] == 3
    assert "Traceback" in record["exception"]
    assert "RuntimeError: the ledger is locked" in record["exception"]


@pytest.mark.parametrize(
    ("log_format", "stream_type", "json_expected"),
    [
        ("auto", io.StringIO, True),
        ("auto", TtyStream, False),
        ("json", io.StringIO, True),
        ("json", TtyStream, True),
        ("console", io.StringIO, False),
        ("console", TtyStream, False),
    ],
)
def test_format_follows_the_setting_and_the_terminal(
    log_format: LogFormat, stream_type: type[io.StringIO], json_expected: bool
) -> None:
    stream = stream_type()
    configure_logging(log_format, "info", stream)
    structlog.get_logger().info("hub_started", namespace="ns-1", workers=2)
    (line,) = lines_of(stream)
    assert is_json(line) is json_expected
    if not json_expected:
        plain = ANSI.sub("", line)
        assert "hub_started" in plain
        assert "namespace=ns-1" in plain
        assert "workers=2" in plain
        assert "info" in plain


def test_console_on_a_terminal_has_colours_and_off_one_has_none() -> None:
    tty, plain = TtyStream(), io.StringIO()
    configure_logging("console", "info", tty)
    structlog.get_logger().info("hub_started")
    configure_logging("console", "info", plain)
    structlog.get_logger().info("hub_started")
    assert ANSI.search(tty.getvalue())
    assert not ANSI.search(plain.getvalue())
    assert "hub_started" in plain.getvalue()


@pytest.mark.parametrize(
    ("level", "kept"),
    [
        ("debug", ["debug", "info", "warning", "error"]),
        ("info", ["info", "warning", "error"]),
        ("warning", ["warning", "error"]),
        ("error", ["error"]),
    ],
)
def test_the_level_filters_structlog_events(level: LogLevel, kept: list[str]) -> None:
    stream = io.StringIO()
    configure_logging("json", level, stream)
    log = structlog.get_logger()
    log.debug("at_debug")
    log.info("at_info")
    log.warning("at_warning")
    log.error("at_error")
    records = json_lines(stream)
    assert [record["level"] for record in records] == kept
    assert [record["event"] for record in records] == [f"at_{name}" for name in kept]


def test_stdlib_records_go_through_the_same_json_renderer() -> None:
    stream = io.StringIO()
    configure_logging("auto", "info", stream)
    logging.getLogger("aio_pika").warning("connection to %s lost, reconnecting", "127.0.0.1")
    (record,) = json_lines(stream)
    assert record["event"] == "connection to 127.0.0.1 lost, reconnecting"
    assert record["level"] == "warning"
    assert record["logger"] == "aio_pika"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z", record["timestamp"])


def test_stdlib_exceptions_are_one_line_in_the_json_object() -> None:
    """A library's exception is one ``error`` field, never a traceback (issue 8: tracebacks only
    when asked for)."""
    stream = io.StringIO()
    configure_logging("json", "info", stream)
    try:
        raise ConnectionResetError("peer went away")
    except ConnectionResetError:
        logging.getLogger("aiormq").exception("channel closed")
    (record,) = json_lines(stream)
    assert record["event"] == "channel closed"
    assert record["level"] == "error"
    assert record["error"] == "ConnectionResetError: peer went away"
    assert "exception" not in record
    assert "Traceback" not in stream.getvalue()


def test_stdlib_exceptions_keep_their_traceback_at_debug_level() -> None:
    stream = io.StringIO()
    configure_logging("json", "debug", stream)
    try:
        raise ConnectionResetError("peer went away")
    except ConnectionResetError:
        logging.getLogger("aiormq").exception("channel closed")
    (record,) = json_lines(stream)
    assert "ConnectionResetError: peer went away" in record["exception"]


def test_stdlib_records_render_as_console_on_a_terminal() -> None:
    stream = TtyStream()
    configure_logging("auto", "info", stream)
    logging.getLogger("aio_pika").error("broker unreachable")
    (line,) = lines_of(stream)
    assert not is_json(line)
    assert "broker unreachable" in ANSI.sub("", line)


@pytest.mark.parametrize(
    ("level", "stdlib_kept"),
    [
        # The libraries' info chatter is kept out even at info: the root logger stays at warning.
        ("debug", ["warning", "error"]),
        ("info", ["warning", "error"]),
        ("warning", ["warning", "error"]),
        ("error", ["error"]),
    ],
)
def test_the_level_filters_stdlib_records(level: LogLevel, stdlib_kept: list[str]) -> None:
    stream = io.StringIO()
    configure_logging("json", level, stream)
    library = logging.getLogger("aio_pika")
    library.debug("at_debug")
    library.info("at_info")
    library.warning("at_warning")
    library.error("at_error")
    assert [record["level"] for record in json_lines(stream)] == stdlib_kept


def test_configuring_again_replaces_the_root_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("json", "info", first)
    configure_logging("json", "info", second)
    assert len(logging.getLogger().handlers) == 1
    logging.getLogger("aio_pika").warning("once")
    structlog.get_logger().info("twice")
    assert first.getvalue() == ""
    assert [record["event"] for record in json_lines(second)] == ["once", "twice"]


def test_default_stream_is_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("auto", "info")
    structlog.get_logger().info("to_stderr", n=1)
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert json.loads(line)["event"] == "to_stderr"


# The agency client logs through the standard library, never to stdout


def test_agency_client_loggers_are_stdlib_loggers_named_agency_client(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from agency_client import logs

    assert isinstance(logs._logger, logging.Logger)
    assert logs._logger.name == "agency_client"
    with caplog.at_level(logging.DEBUG, logger="agency_client"):
        logs.debug("document_sent", document_id="d1")
        logs.info("send_retrying", message_id="m1")
        logs.warning("delivery_unverified", message_id="m2", detail="no hub stamp")
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        ("agency_client", "DEBUG", "document_sent"),
        ("agency_client", "INFO", "send_retrying"),
        ("agency_client", "WARNING", "delivery_unverified"),
    ]
    assert caplog.records[2].__dict__["detail"] == "no hub stamp"


def test_the_agency_client_does_not_use_structlog() -> None:
    code = (
        "import sys, agency_client, agency_client.client, agency_client.verification, "
        "agency_client.dedupe, agency_client.logs; print('structlog' in sys.modules)"
    )
    completed = subprocess.run(  # noqa: S603 - our interpreter, fixed code
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert completed.stdout == "False\n"


def test_the_agency_client_without_logging_configured_prints_nothing_to_stdout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from agency_client import logs

    logs.debug("document_sent", document_id="d1")
    logs.info("send_retrying", message_id="m1")
    logs.warning("delivery_unverified", message_id="m2", detail="no hub stamp")
    assert capsys.readouterr().out == ""


CLIENT_WITHOUT_LOGGING = """
import asyncio
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from agency_client import AgencyClient
from schemas import AgencyDirectory, AgencyEntry, AgencyKind, HubEntry, public_key_to_text

key = Ed25519PrivateKey.generate()
directory = AgencyDirectory(
    hub=HubEntry(public_key=public_key_to_text(Ed25519PrivateKey.generate().public_key())),
    agencies=[AgencyEntry.for_key("000.00.00.G01", "A", AgencyKind.MINISTRY, key.public_key())],
)
client = AgencyClient("000.00.00.G01", key, directory)


class Message:
    body = b"not a message the hub routed"
    headers = {}
    message_id = "m1"

    async def reject(self, requeue=False):
        pass


async def main():
    from schemas import Envelope
    from agency_client.dedupe import SeenIds
    assert await client._open(Message(), Envelope, SeenIds(10)) is None

asyncio.run(main())
"""


def test_a_fresh_process_using_the_client_without_logging_prints_nothing_to_stdout() -> None:
    """An application that configured no logging: the client's warning (a message it refused)
    may reach stderr through logging's last resort, never stdout."""
    completed = subprocess.run(  # noqa: S603 - our interpreter, fixed code
        [sys.executable, "-c", CLIENT_WITHOUT_LOGGING],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == ""
    assert "delivery_unverified" in completed.stderr


def test_the_cli_logging_renders_the_agency_clients_fields() -> None:
    """``agency_client.logs``: fields ride in ``extra`` and dochub's logging setup renders them
    as structured fields."""
    from agency_client import logs

    stream = io.StringIO()
    configure_logging("json", "info", stream)
    logs.warning(
        "delivery_unverified", message_id="m1", agency_id="000.00.00.G01", detail="no hub stamp"
    )
    (record,) = json_lines(stream)
    assert record["event"] == "delivery_unverified"
    assert record["logger"] == "agency_client"
    assert record["message_id"] == "m1"
    assert record["agency_id"] == "000.00.00.G01"
    assert record["detail"] == "no hub stamp"
