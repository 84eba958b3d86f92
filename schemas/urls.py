"""Broker URLs as both hub and agencies print them (never with a password), and the user in one."""

from urllib.parse import unquote, urlsplit, urlunsplit

DEFAULT_BROKER_USER = "guest"
"""The user of an AMQP URL that names none, as aio-pika connects."""


def broker_user(url: str) -> str:
    """The broker user an AMQP URL connects as: the ``user_id`` its messages must carry."""
    return unquote(urlsplit(url).username or "") or DEFAULT_BROKER_USER


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
