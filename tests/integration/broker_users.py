"""RabbitMQ users for tests: the management API beside the test broker, and removing every user
of a test's namespace afterwards."""

import os
from urllib.parse import quote, unquote, urlsplit

import pytest

from hub.errors import ManagementError
from hub.management import ManagementClient
from hub.provisioning import in_namespace
from schemas.naming import Names

MANAGEMENT_PORT = 15672


def management_url_for(amqp_url: str) -> str:
    """``DOCHUB_TEST_MANAGEMENT_URL`` if set; otherwise the test broker's host on port 15672,
    with the credentials of its AMQP URL."""
    from_env = os.environ.get("DOCHUB_TEST_MANAGEMENT_URL")
    if from_env:
        return from_env
    parts = urlsplit(amqp_url)
    user = quote(unquote(parts.username or "guest"), safe="")
    password = quote(unquote(parts.password or "guest"), safe="")
    return f"http://{user}:{password}@{parts.hostname or '127.0.0.1'}:{MANAGEMENT_PORT}/"


async def require_management(url: str) -> None:
    """Fail the test, saying how to fix it, when the management API does not answer."""
    try:
        async with ManagementClient(url) as management:
            await management.overview()
    except ManagementError as exc:
        pytest.fail(
            f"{exc}. The broker tests need RabbitMQ's management API: enable it with "
            "`rabbitmq-plugins enable rabbitmq_management` (.ci/run does), or set "
            "DOCHUB_TEST_MANAGEMENT_URL=http://user:pass@host:15672/"
        )


async def remove_users(url: str, names: Names) -> list[str]:
    """Delete every user of the namespace; the names deleted."""
    async with ManagementClient(url) as management:
        users = [user.name for user in await management.list_users()]
        removed = [user for user in users if in_namespace(names, user)]
        for user in removed:
            await management.delete_user(user)
    return removed
