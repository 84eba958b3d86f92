"""Real services for the tests, found in the order the design brief gives:

1. the URL in ``DOCHUB_TEST_AMQP_URL``;
2. otherwise a RabbitMQ container from testcontainers, when a Docker engine answers;
3. otherwise the local default, ``127.0.0.1:5672``, when it answers;
4. otherwise the test fails, saying how to start a broker. Nothing is skipped silently.
"""

import logging
import os
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import structlog

LOCAL_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
HOW_TO_START = (
    "no RabbitMQ for the integration tests: set DOCHUB_TEST_AMQP_URL=amqp://user:pass@host:5672/, "
    "start a Docker engine for testcontainers, or start a local broker with "
    "`rabbitmq-server -detached` (Debian package rabbitmq-server)"
)


def _answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 5672), 2):
            return True
    except OSError:
        return False


def _docker_engine_answers() -> bool:
    """Whether a Docker engine listens, checked with a plain socket first: the docker library
    leaks a socket when it finds no engine."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    parts = urlsplit(host)
    try:
        if parts.scheme == "unix":
            with socket.socket(socket.AF_UNIX) as probe:
                probe.settimeout(2)
                probe.connect(parts.path)
        else:
            with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 2375), 2):
                pass
    except OSError:
        return False
    import docker  # type: ignore[import-untyped]

    try:
        client = docker.from_env(timeout=3)
    except Exception:
        return False
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    from_env = os.environ.get("DOCHUB_TEST_AMQP_URL")
    if from_env:
        if not _answers(from_env):
            pytest.fail(f"DOCHUB_TEST_AMQP_URL={from_env} does not answer. {HOW_TO_START}")
        yield from_env
        return
    if _docker_engine_answers():
        from testcontainers.rabbitmq import RabbitMqContainer

        with RabbitMqContainer("rabbitmq:3.13-alpine") as container:
            host = container.get_container_host_ip()
            port = container.get_exposed_port(5672)
            yield f"amqp://guest:guest@{host}:{port}/"
        return
    if _answers(LOCAL_AMQP_URL):
        yield LOCAL_AMQP_URL
        return
    pytest.fail(HOW_TO_START)


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """``configure_logging`` (the CLI calls it) changes process-wide state: put structlog and the
    root logger back after each test."""
    structlog_config = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    structlog.reset_defaults()
    structlog.configure(**structlog_config)
    root.handlers = handlers
    root.setLevel(level)
