"""A small client of RabbitMQ's management HTTP API: the users and permissions that
``dochub provision`` keeps, and the queues and exchanges that ``dochub namespace`` lists and
deletes.

The URL carries the credentials in its userinfo (``http://user:password@host:15672/``); a path
after the port is the management plugin's ``path_prefix``, if the broker sets one. Every call is
bounded by a timeout, and every failure is a :class:`ManagementError` with one line that names
the URL (without its password) and the fix; a URL that is not http(s) is a
:class:`ConfigurationError`.
"""

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Self
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import httpx

from hub.errors import ConfigurationError, ManagementError
from schemas.urls import redact_url

DEFAULT_MANAGEMENT_URL: Final = "http://guest:guest@127.0.0.1:15672/"
TIMEOUT_S: Final = 10.0
ENABLE_HINT: Final = "enable it: rabbitmq-plugins enable rabbitmq_management"


@dataclass(frozen=True, slots=True)
class Permissions:
    """A user's permissions on one virtual host: regular expressions over resource names."""

    configure: str
    write: str
    read: str


@dataclass(frozen=True, slots=True)
class UserInfo:
    """A user as the broker lists it. The password is known only by its salted hash."""

    name: str
    tags: tuple[str, ...]
    password_hash: str
    hashing_algorithm: str


@dataclass(frozen=True, slots=True)
class QueueInfo:
    name: str
    messages: int
    consumers: int


@dataclass(frozen=True, slots=True)
class NodeFiles:
    """A broker node's file handles: each quorum queue holds about three."""

    node: str
    used: int
    limit: int


def vhost_of(amqp_url: str) -> str:
    """The virtual host an AMQP URL names, read as aio-pika reads it: none, or ``/``, is the
    default ``/``; otherwise the percent-decoded path (``/%2F`` is ``/`` too)."""
    path = urlsplit(amqp_url).path
    return "/" if path in ("", "/") else unquote(path[1:])


class ManagementClient:
    """``async with ManagementClient(url) as api: await api.list_users()``."""

    def __init__(self, url: str, *, timeout_s: float = TIMEOUT_S) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigurationError(
                f"the management URL {redact_url(url)} is not http(s)://user:password@host:port/"
            )
        self.url = url
        self.shown_url = redact_url(url)
        self.username = unquote(parts.username or "")
        netloc = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
        if ":" in parts.hostname:  # an IPv6 address
            netloc = f"[{parts.hostname}]" + (f":{parts.port}" if parts.port else "")
        base = urlunsplit((parts.scheme, netloc, parts.path.rstrip("/") + "/api/", "", ""))
        self._http = httpx.AsyncClient(
            base_url=base,
            auth=(self.username, unquote(parts.password or "")),
            timeout=httpx.Timeout(timeout_s),
            headers={"content-type": "application/json"},
            follow_redirects=False,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def overview(self) -> Mapping[str, Any]:
        """The broker's overview: a first call, that says clearly when the API is not there."""
        answer = await self._call(
            "GET", "overview", missing_hint=f"is the URL right? If it is, {ENABLE_HINT}"
        )
        return _json_object(answer, self.shown_url)

    async def whoami(self) -> str:
        """The user this client authenticates as."""
        answer = _json_object(await self._call("GET", "whoami"), self.shown_url)
        return str(answer.get("name", self.username))

    async def list_users(self) -> list[UserInfo]:
        answer = await self._call("GET", "users")
        rows = answer.json()
        if not isinstance(rows, list):
            raise ManagementError(f"{self.shown_url}: GET /api/users did not answer a list")
        return [_user(row) for row in rows]

    async def put_user(self, name: str, password: str, tags: str = "") -> None:
        """Create the user, or set its password and tags (its permissions stay)."""
        await self._call("PUT", f"users/{_segment(name)}", {"password": password, "tags": tags})

    async def delete_user(self, name: str) -> bool:
        """Delete the user and its permissions; False if there was no such user."""
        answer = await self._call("DELETE", f"users/{_segment(name)}", allow_missing=True)
        return answer.status_code != 404

    async def vhost_permissions(self, vhost: str) -> dict[str, Permissions]:
        """Every user's permissions on the virtual host, by user name."""
        answer = await self._call(
            "GET",
            f"vhosts/{_segment(vhost)}/permissions",
            missing_hint=f"does the virtual host {vhost!r} exist?",
        )
        rows = answer.json()
        if not isinstance(rows, list):
            raise ManagementError(f"{self.shown_url}: the permissions of {vhost!r} are not a list")
        return {
            str(row["user"]): Permissions(
                str(row["configure"]), str(row["write"]), str(row["read"])
            )
            for row in rows
        }

    async def put_permissions(self, vhost: str, user: str, permissions: Permissions) -> None:
        await self._call(
            "PUT",
            f"permissions/{_segment(vhost)}/{_segment(user)}",
            {
                "configure": permissions.configure,
                "write": permissions.write,
                "read": permissions.read,
            },
        )

    async def delete_permissions(self, vhost: str, user: str) -> bool:
        path = f"permissions/{_segment(vhost)}/{_segment(user)}"
        answer = await self._call("DELETE", path, allow_missing=True)
        return answer.status_code != 404

    async def list_queues(self, vhost: str) -> list[QueueInfo]:
        """Every queue of the virtual host, with its messages and consumers. A queue's message
        count is the broker's last statistics (every 5 s by default); its consumers are counted
        from the consumers the broker lists, which are up to date."""
        rows = await self._rows(f"queues/{_segment(vhost)}", "name,messages", vhost)
        consumers = Counter(await self._consumed_queues(vhost))
        return [
            QueueInfo(str(row["name"]), int(row.get("messages") or 0), consumers[str(row["name"])])
            for row in rows
        ]

    async def _consumed_queues(self, vhost: str) -> list[str]:
        """The queue of each consumer on the virtual host."""
        answer = await self._call(
            "GET",
            f"consumers/{_segment(vhost)}",
            missing_hint=f"does the virtual host {vhost!r} exist?",
        )
        rows = answer.json()
        if not isinstance(rows, list):
            raise ManagementError(f"{self.shown_url}: GET /api/consumers did not answer a list")
        return [
            str(row["queue"]["name"])
            for row in rows
            if isinstance(row, dict) and isinstance(row.get("queue"), dict)
        ]

    async def list_exchanges(self, vhost: str) -> list[str]:
        """The names of every exchange of the virtual host, the broker's own included."""
        return [
            str(row["name"])
            for row in await self._rows(f"exchanges/{_segment(vhost)}", "name", vhost)
        ]

    async def delete_queue(self, vhost: str, name: str) -> bool:
        """Delete the queue and its messages; False if there was no such queue."""
        path = f"queues/{_segment(vhost)}/{_segment(name)}"
        return (await self._call("DELETE", path, allow_missing=True)).status_code != 404

    async def delete_exchange(self, vhost: str, name: str) -> bool:
        """Delete the exchange and its bindings; False if there was no such exchange."""
        path = f"exchanges/{_segment(vhost)}/{_segment(name)}"
        return (await self._call("DELETE", path, allow_missing=True)).status_code != 404

    async def file_handles(self) -> list[NodeFiles]:
        """The file handles of every node, where the API reports them (a user tagged
        ``monitoring`` or ``administrator`` sees them)."""
        answer = await self._call("GET", "nodes", params={"columns": "name,fd_used,fd_total"})
        rows = answer.json()
        return [
            NodeFiles(str(row["name"]), int(row["fd_used"]), int(row["fd_total"]))
            for row in (rows if isinstance(rows, list) else [])
            if isinstance(row, dict) and "fd_used" in row and "fd_total" in row
        ]

    async def _rows(self, path: str, columns: str, vhost: str) -> list[Mapping[str, Any]]:
        answer = await self._call(
            "GET",
            path,
            params={"columns": columns},
            missing_hint=f"does the virtual host {vhost!r} exist?",
        )
        rows = answer.json()
        if not isinstance(rows, list):
            raise ManagementError(f"{self.shown_url}: GET /api/{path} did not answer a list")
        return [row for row in rows if isinstance(row, dict) and "name" in row]

    async def _call(
        self,
        method: str,
        path: str,
        body: Mapping[str, str] | None = None,
        *,
        params: Mapping[str, str] | None = None,
        allow_missing: bool = False,
        missing_hint: str | None = None,
    ) -> httpx.Response:
        where = f"the RabbitMQ management API at {self.shown_url}"
        try:
            answer = await self._http.request(method, path, json=body, params=params)
        except httpx.TimeoutException as exc:
            raise ManagementError(
                f"{where} did not answer {method} /api/{path} within the timeout "
                f"({type(exc).__name__}); is the broker overloaded or the URL wrong?"
            ) from exc
        except httpx.HTTPError as exc:
            raise ManagementError(
                f"{where} does not answer ({type(exc).__name__}: {str(exc) or 'no detail'}); "
                f"check --management-url (DOCHUB_MANAGEMENT_URL), or {ENABLE_HINT}"
            ) from exc
        status = answer.status_code
        if status in (401, 403):
            raise ManagementError(
                f"{where} refused user {self.username!r} ({status}): a wrong password, or a user "
                "not tagged administrator; give the management URL an administrator's credentials"
            )
        if status == 404 and allow_missing:
            return answer
        if status == 404:
            hint = missing_hint or f"is it RabbitMQ's management API? {ENABLE_HINT}"
            raise ManagementError(f"{where} has no {method} /api/{path} (404): {hint}")
        if status >= 400:
            raise ManagementError(
                f"{where} answered {status} to {method} /api/{path}: {_reason(answer)}"
            )
        return answer


def _segment(value: str) -> str:
    """One path segment of the API: ``/`` (the default virtual host) becomes ``%2F``."""
    return quote(value, safe="")


def _json_object(answer: httpx.Response, shown_url: str) -> Mapping[str, Any]:
    try:
        data = answer.json()
    except ValueError as exc:
        raise ManagementError(
            f"{shown_url} answered something other than JSON: is it RabbitMQ's management API?"
        ) from exc
    if not isinstance(data, dict):
        raise ManagementError(f"{shown_url} answered JSON that is not an object")
    return data


def _user(row: Mapping[str, Any]) -> UserInfo:
    tags = row.get("tags", [])
    if isinstance(tags, str):  # RabbitMQ before 3.9 lists tags as one comma-separated string
        tags = [tag for tag in tags.split(",") if tag]
    return UserInfo(
        name=str(row["name"]),
        tags=tuple(sorted(str(tag) for tag in tags)),
        password_hash=str(row.get("password_hash") or ""),
        hashing_algorithm=str(row.get("hashing_algorithm") or ""),
    )


def _reason(answer: httpx.Response) -> str:
    try:
        data = answer.json()
    except ValueError:
        return answer.text[:200] or answer.reason_phrase
    if isinstance(data, dict):
        return str(data.get("reason") or data.get("error") or data)[:200]
    return str(data)[:200]
