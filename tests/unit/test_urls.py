"""The one check of an AMQP URL before anything connects, and how URLs are shown."""

import aiormq
import pytest

from schemas.urls import InvalidBrokerUrl, broker_user, parse_amqp_url, redact_url


@pytest.mark.parametrize(
    ("url", "host", "port", "vhost", "user", "tls"),
    [
        ("amqp://guest:guest@127.0.0.1:5672/", "127.0.0.1", 5672, "/", "guest", False),
        ("amqp://guest:guest@127.0.0.1:5672", "127.0.0.1", 5672, "/", "guest", False),
        ("amqp://rabbit.example", "rabbit.example", 5672, "/", "guest", False),
        ("amqps://u:p@rabbit.example/", "rabbit.example", 5671, "/", "u", True),
        ("AMQP://u:p@rabbit.example:5673/prod", "rabbit.example", 5673, "prod", "u", False),
        ("amqp://u:p@h/%2F", "h", 5672, "/", "u", False),
        ("amqp://u:p@h/my%20vhost", "h", 5672, "my vhost", "u", False),
        (
            "amqp://dochub.000.00.00.G12:p%40ss@h:5672/",
            "h",
            5672,
            "/",
            "dochub.000.00.00.G12",
            False,
        ),
        ("amqp://u:p@[::1]:5672/", "::1", 5672, "/", "u", False),
        ("amqp://u:p@h:5672/?heartbeat=30", "h", 5672, "/", "u", False),
    ],
)
def test_a_valid_url_names_where_it_connects(
    url: str, host: str, port: int, vhost: str, user: str, tls: bool
) -> None:
    address = parse_amqp_url(url)
    assert (address.host, address.port, address.vhost, address.user, address.tls) == (
        host,
        port,
        vhost,
        user,
        tls,
    )
    assert address.url == url


@pytest.mark.parametrize(
    "url",
    [
        "amqp://guest:guest@127.0.0.1:5672/",
        "amqps://u:p@rabbit.example/",
        "amqp://u:p@h:5673/%2F",
        "amqp://u:p@h/my%20vhost",
        "amqp://u:p@h/prod",
    ],
)
async def test_the_vhost_and_port_are_the_ones_aiormq_connects_to(url: str) -> None:
    """What error messages name is what the client really asks RabbitMQ for."""
    address = parse_amqp_url(url)
    connection = aiormq.Connection(url)
    assert (connection.url.host, connection.url.port, connection.vhost) == (
        address.host,
        address.port,
        address.vhost,
    )


@pytest.mark.parametrize(
    ("url", "phrase"),
    [
        ("notaurl", "is not an AMQP URL: it must start with amqp://"),
        ("http://127.0.0.1:5672/", "is not an AMQP URL"),
        ("https://guest:guest@127.0.0.1:15672/", "is not an AMQP URL"),
        ("127.0.0.1:5672", "is not an AMQP URL"),
        ("", "is not an AMQP URL"),
        ("amqp://guest:guest@127.0.0.1:abc/", "has no valid port: give a number from 1 to 65535"),
        ("amqp://guest:guest@127.0.0.1:0/", "has no valid port"),
        ("amqp://guest:guest@127.0.0.1:65536/", "has no valid port"),
        ("amqp://guest:guest@127.0.0.1:-1/", "has no valid port"),
        ("amqp://guest:guest@:5672/", "names no host"),
        ("amqp:///", "names no host"),
        ("amqp://guest:guest@[::1/", "is malformed"),
        ("amqp://guest:guest@127.0.0.1:5672/ ", "contains white space"),
    ],
)
def test_an_unusable_url_is_one_line_naming_it_and_the_fix(url: str, phrase: str) -> None:
    with pytest.raises(InvalidBrokerUrl) as raised:
        parse_amqp_url(url)
    message = str(raised.value)
    assert phrase in message
    assert "\n" not in message
    assert "amqp://USER:PASSWORD@HOST:5672/VHOST" in message, "the message shows the form"
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize(
    "url",
    [
        "amqp://guest:s3cret@127.0.0.1:abc/",
        "http://guest:s3cret@127.0.0.1:5672/",
        "amqp://guest:s3cret@[::1/",
        "amqp://guest:s3cret@:5672/",
    ],
)
def test_the_password_never_appears_in_the_message(url: str) -> None:
    with pytest.raises(InvalidBrokerUrl) as raised:
        parse_amqp_url(url)
    assert "s3cret" not in str(raised.value)
    assert "guest:***@" in str(raised.value)


def test_redact_url_hides_the_password_even_of_a_malformed_url() -> None:
    assert redact_url("amqp://u:pw@h:5672/v") == "amqp://u:***@h:5672/v"
    assert redact_url("amqp://u:pw@[::1/") == "amqp://u:***@[::1/"
    assert redact_url("amqp://u@h/") == "amqp://u@h/"
    assert redact_url("notaurl") == "notaurl"


def test_broker_user_of_any_url() -> None:
    assert broker_user("amqp://dochub.hub:pw@h/") == "dochub.hub"
    assert broker_user("amqp://h/") == "guest"
    assert broker_user("amqp://a%40b:pw@[::1/") == "guest"  # malformed: no user can be read
