"""Opening a robust connection to RabbitMQ within a stated time and, when it cannot be opened, one
line that says why and what to check. Agencies and the hub both connect through here.

The time covers the TCP connection and the AMQP handshake: RabbitMQ out of file handles accepts
TCP and never answers, and without a bound a client waits for it forever.
"""

import asyncio
import errno
import re
import socket
import ssl
from contextlib import suppress

import aio_pika
from aio_pika.abc import AbstractRobustConnection
from aiormq.exceptions import (
    AMQPConnectionError,
    AMQPError,
    AuthenticationError,
    ConnectionClosed,
    ConnectionNotAllowed,
    IncompatibleProtocolError,
    InvalidFrameError,
    ProbableAuthenticationError,
)
from yarl import URL

from agency_client.errors import CLOSE_TIMEOUT_S
from schemas.urls import BrokerAddress

_GRACE_S = 2.0
"""Beyond the connect timeout, in case a step of the handshake is not covered by aio-pika's."""

_REFUSED_VHOST = re.compile(r"Connection\.OpenOk.*Connection\.Close", re.DOTALL)


class ConnectFailed(Exception):
    """No connection, and why in one line. ``refused``: RabbitMQ answered and said no (the login,
    the virtual host), rather than not answering at all."""

    def __init__(self, message: str, *, refused: bool) -> None:
        super().__init__(message)
        self.refused = refused


async def open_connection(
    address: BrokerAddress, *, name: str, timeout_s: float, reconnect_interval_s: float
) -> AbstractRobustConnection:
    """A connection that reconnects by itself once open (each attempt bounded by ``timeout_s``
    too). Raises ``ConnectFailed`` if the first attempt fails or takes longer than ``timeout_s``;
    cancelled, it closes what it opened."""
    connection = aio_pika.RobustConnection(
        URL(address.url),
        client_properties={"connection_name": name},
        reconnect_interval=reconnect_interval_s,
    )
    try:
        async with asyncio.timeout(timeout_s + _GRACE_S):
            await connection.connect(timeout=timeout_s)
    except BaseException as exc:
        await close_connection(connection)
        if isinstance(exc, AMQPError | OSError):
            refused, reason = _reason(exc, address, timeout_s)
            raise ConnectFailed(reason, refused=refused) from exc
        raise
    return connection


async def close_connection(connection: AbstractRobustConnection) -> None:
    """Close, giving up after ``CLOSE_TIMEOUT_S`` on a broker that went away."""
    with suppress(AMQPError, OSError, RuntimeError):
        async with asyncio.timeout(CLOSE_TIMEOUT_S):
            await connection.close()


def _reason(exc: BaseException, address: BrokerAddress, timeout_s: float) -> tuple[bool, str]:
    """Whether RabbitMQ refused (rather than did not answer), and why, in one line."""
    at = f"RabbitMQ at {address.shown}"
    where = f"{address.host}:{address.port}"
    if isinstance(exc, TimeoutError):
        return False, (
            f"{at} did not complete the connection within {timeout_s:g} s (TCP and AMQP "
            f"handshake): {where} accepts connections but does not answer, as RabbitMQ does when "
            "it runs out of file handles, or it is not RabbitMQ's AMQP port"
        )
    if isinstance(exc, ProbableAuthenticationError | AuthenticationError):
        return True, (
            f"{at} refused the login of user {address.user!r}: check the user name and password "
            "in the broker URL"
        )
    if isinstance(exc, ConnectionNotAllowed) or (
        isinstance(exc, InvalidFrameError) and _REFUSED_VHOST.search(str(exc))
    ):
        return True, (
            f"{at} refused virtual host {address.vhost!r} to user {address.user!r}: it does not "
            "exist or the user has no permission on it (`rabbitmqctl list_vhosts`, "
            "`rabbitmqctl list_user_permissions USER`); the virtual host is the URL's path, "
            "'/' written as %2F"
        )
    cause = exc.__cause__ or exc.__context__
    if isinstance(exc, IncompatibleProtocolError | InvalidFrameError) or isinstance(
        cause, asyncio.IncompleteReadError
    ):
        return False, (
            f"{at}: the server at {where} does not speak AMQP 0-9-1; give RabbitMQ's AMQP port "
            "(5672, or 5671 with amqps://)"
        )
    if isinstance(exc, ConnectionClosed):
        return False, f"{at} closed the connection: {reply_text(exc)}"
    os_error = cause if isinstance(cause, OSError) else exc
    if isinstance(os_error, ssl.SSLError):
        return False, (
            f"{at}: the TLS handshake with {where} failed ({os_error.reason or os_error}); "
            "amqps:// needs RabbitMQ's TLS port (5671), amqp:// its plain one (5672)"
        )
    if isinstance(os_error, socket.gaierror):
        return False, f"{at}: host {address.host!r} not found; check the host in the broker URL"
    if isinstance(os_error, ConnectionRefusedError) or _errno(exc) == errno.ECONNREFUSED:
        return False, (
            f"cannot reach {at}: connection refused on {where}; is RabbitMQ running there, "
            "and is the port right?"
        )
    if isinstance(os_error, OSError) and os_error.strerror:
        return False, f"cannot reach {at}: {os_error.strerror}"
    return False, f"cannot reach {at}: {reply_text(exc)}"


def reply_text(exc: BaseException) -> str:
    """What an AMQP or socket error says, without reprs of frames or objects."""
    if isinstance(exc, AMQPConnectionError | AMQPError) and exc.args:
        return " ".join(str(arg) for arg in exc.args if arg is not None)
    return str(exc) or type(exc).__name__


def _errno(exc: BaseException) -> int | None:
    if isinstance(exc, AMQPConnectionError) and exc.args and isinstance(exc.args[0], int):
        return exc.args[0]
    return None
