"""Broker URLs as both hub and agencies print them (never with a password), the user in one, and
the one check of an AMQP URL that both make before connecting."""

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

DEFAULT_BROKER_USER = "guest"
"""The user of an AMQP URL that names none, as aio-pika connects."""

DEFAULT_CONNECT_TIMEOUT_S = 10.0
"""How long connecting to RabbitMQ may take, the TCP connection and the AMQP handshake together.
A broker out of file handles accepts TCP and never answers: this is how long it takes to say so."""

AMQP_PORTS = {"amqp": 5672, "amqps": 5671}
_EXAMPLE = "amqp://USER:PASSWORD@HOST:5672/VHOST"


class InvalidBrokerUrl(ValueError):
    """An AMQP URL that cannot be connected to; the message names it (password hidden) and how to
    write it."""


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where an AMQP URL connects: what error messages name."""

    url: str
    host: str
    port: int
    vhost: str
    user: str
    tls: bool

    @property
    def shown(self) -> str:
        """The URL, password hidden."""
        return redact_url(self.url)


def parse_amqp_url(url: str) -> BrokerAddress:
    """Check an AMQP URL before anything connects with it: scheme ``amqp`` or ``amqps``, a host,
    a port from 1 to 65535 (default 5672, 5671 with TLS), and the virtual host it names (the
    path after the first ``/``, percent-decoded: ``%2F`` is ``/``; none is ``/``)."""
    shown = redact_url(url)
    if any(character.isspace() for character in url):
        raise InvalidBrokerUrl(
            f"the broker URL {shown!r} contains white space: write it as {_EXAMPLE}"
        )
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise InvalidBrokerUrl(
            f"the broker URL {shown!r} is malformed ({exc}): write it as {_EXAMPLE}"
        ) from exc
    scheme = parts.scheme.lower()
    if scheme not in AMQP_PORTS:
        raise InvalidBrokerUrl(
            f"the broker URL {shown!r} is not an AMQP URL: it must start with amqp:// (or "
            f"amqps:// for TLS), as in {_EXAMPLE}"
        )
    if not parts.hostname:
        raise InvalidBrokerUrl(f"the broker URL {shown!r} names no host: write it as {_EXAMPLE}")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port is None:
        port = AMQP_PORTS[scheme]
    elif not 1 <= port <= 65535:
        raise InvalidBrokerUrl(
            f"the broker URL {shown!r} has no valid port: give a number from 1 to 65535 after "
            f"the host, as in {_EXAMPLE} (RabbitMQ listens on 5672, 5671 with TLS)"
        )
    path = parts.path
    vhost = "/" if path in ("", "/") else unquote(path[1:])
    return BrokerAddress(
        url=url,
        host=parts.hostname,
        port=port,
        vhost=vhost,
        user=unquote(parts.username or "") or DEFAULT_BROKER_USER,
        tls=scheme == "amqps",
    )


def broker_user(url: str) -> str:
    """The broker user an AMQP URL connects as: the ``user_id`` its messages must carry."""
    try:
        username = urlsplit(url).username
    except ValueError:
        username = None
    return unquote(username or "") or DEFAULT_BROKER_USER


_PASSWORD = re.compile(r"(//[^/@:]*:)[^/]*@")


def redact_url(url: str) -> str:
    """The URL with its password as ``***``, even a URL too malformed to parse."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return _PASSWORD.sub(r"\1***@", url, count=1)
    if password is None:
        return url
    netloc = parts.netloc.replace(f":{password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
