"""Broker-level identity: one RabbitMQ user per agency, and one for the hub (``dochub provision``).

What each user may do, as RabbitMQ permissions on the hub's virtual host (regular expressions over
exchange and queue names, which the broker checks on every action):

    agency user <ns>.<id>   configure ^$               nothing: no declare, bind or delete
                            write     ^<ns>\\.ingress$    publish to the ingress exchange only
                            read      ^(<ns>\\.inbox\\.<id>|<ns>\\.status\\.<id>)$
                                                       consume its own inbox and status queues
    hub user <ns>.hub       configure, write, read ^<ns>\\.   everything of its namespace

Messages an agency publishes carry its user name as AMQP ``user_id``, which RabbitMQ checks
against the connection's user, so that an agency cannot pose as another.

The rules (the desired users and their permissions, the plan to converge to them) are pure
functions; :func:`apply` carries a plan out through the management API, and a
:class:`CredentialsStore` keeps each user's AMQP URL, password included, in a file of its own.
"""

import base64
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Final, Protocol
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from hub.errors import ConfigurationError
from hub.management import Permissions, UserInfo
from schemas.naming import Names

CREDENTIALS_SUFFIX: Final = ".amqp-url"
"""Each user's credentials file is ``<dir>/<user>.amqp-url``."""
TAGS: Final = ""
"""The users carry no tags: they cannot log in to the management API."""
PASSWORD_BYTES: Final = 24


def agency_permissions(names: Names, agency_id: str) -> Permissions:
    ns = re.escape(names.namespace)
    agency = re.escape(agency_id)
    return Permissions(
        configure="^$",
        write=f"^{ns}\\.ingress$",
        read=f"^({ns}\\.inbox\\.{agency}|{ns}\\.status\\.{agency})$",
    )


def hub_permissions(names: Names) -> Permissions:
    everything = f"^{re.escape(names.namespace)}\\."
    return Permissions(configure=everything, write=everything, read=everything)


def in_namespace(names: Names, user: str) -> bool:
    """Whether a user name is under the namespace, and so one ``provision`` may manage."""
    return user.startswith(f"{names.namespace}.")


@dataclass(frozen=True, slots=True)
class DesiredUser:
    name: str
    permissions: Permissions
    agency_id: str | None
    """None for the hub's own user."""


def desired_users(names: Names, agency_ids: Iterable[str]) -> list[DesiredUser]:
    """The hub's user, then one user per agency, in the registry's order."""
    users = [DesiredUser(names.hub_user, hub_permissions(names), None)]
    seen = {names.hub_user}
    for agency_id in agency_ids:
        user = names.agency_user(agency_id)
        if user in seen:
            raise ConfigurationError(f"agency {agency_id!r} would have the user {user!r} twice")
        seen.add(user)
        users.append(DesiredUser(user, agency_permissions(names, agency_id), agency_id))
    return users


@dataclass(frozen=True, slots=True)
class Plan:
    """What ``provision`` does on one virtual host: put every desired user (created, updated or
    left as it is, :func:`decide` tells), and remove the stale ones."""

    vhost: str
    desired: tuple[DesiredUser, ...]
    stale: tuple[str, ...]
    """Users (or credentials files) under the namespace that are neither the hub's nor a
    registered agency's."""
    remove_stale: bool

    @property
    def remove(self) -> tuple[str, ...]:
        return self.stale if self.remove_stale else ()


def make_plan(
    names: Names,
    agency_ids: Iterable[str],
    existing_users: Iterable[str],
    *,
    vhost: str = "/",
    stored_users: Iterable[str] = (),
    remove_stale: bool = True,
    protected: Collection[str] = (),
) -> Plan:
    """The plan that converges the broker's users to the registry.

    ``existing_users`` are the broker's users, ``stored_users`` those with a credentials file.
    Only names under ``<namespace>.`` are ever stale: users outside it (guest, other hubs'
    namespaces) are never touched, and neither is any name in ``protected`` (the management
    API's own user)."""
    desired = desired_users(names, agency_ids)
    wanted = {user.name for user in desired}
    stale = sorted(
        {
            user
            for user in (*existing_users, *stored_users)
            if in_namespace(names, user) and user not in wanted and user not in protected
        }
    )
    return Plan(vhost, tuple(desired), tuple(stale), remove_stale)


class Action(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    REMOVED = "removed"
    STALE_KEPT = "stale, kept"


def decide(
    desired: DesiredUser,
    existing: UserInfo | None,
    permissions: Permissions | None,
    password: str | None,
) -> Action:
    """Whether a desired user must be created, updated (password, tags or permissions differ
    from the broker's), or is as it should be. ``password`` None: not checked."""
    if existing is None:
        return Action.CREATED
    if (
        existing.tags != ()
        or permissions != desired.permissions
        or (password is not None and not password_matches(existing, password))
    ):
        return Action.UPDATED
    return Action.UNCHANGED


_HASHES: Final = {
    "rabbit_password_hashing_sha256": hashlib.sha256,
    "rabbit_password_hashing_sha512": hashlib.sha512,
    "rabbit_password_hashing_md5": hashlib.md5,
}


def password_matches(user: UserInfo, password: str) -> bool:
    """Whether the broker's salted hash is of this password: RabbitMQ stores
    ``base64(salt + H(salt + password))`` with a 4-byte salt. An unknown algorithm does not
    match, so the password is set again."""
    hash_function = _HASHES.get(user.hashing_algorithm)
    if hash_function is None or not user.password_hash:
        return False
    try:
        raw = base64.b64decode(user.password_hash, validate=True)
    except ValueError:
        return False
    salt, digest = raw[:4], raw[4:]
    return hmac.compare_digest(hash_function(salt + password.encode()).digest(), digest)


class CredentialsStore:
    """Each user's AMQP URL, ``amqp://user:password@host:port/vhost`` with the host, port,
    virtual host and query of the hub's AMQP URL, in ``<directory>/<user>.amqp-url``.

    The directory is created with mode 0700 and every file written with mode 0600. A file that
    exists keeps its password, so running ``provision`` again changes nothing."""

    def __init__(self, directory: Path, amqp_url: str) -> None:
        self.directory = directory
        parts = urlsplit(amqp_url)
        if parts.scheme not in ("amqp", "amqps") or not parts.hostname:
            raise ConfigurationError(
                f"the AMQP URL must be amqp://host:port/vhost or amqps://..., not {parts.scheme}:"
            )
        self._parts = parts

    def path_for(self, user: str) -> Path:
        return self.directory / f"{user}{CREDENTIALS_SUFFIX}"

    def url_for(self, user: str, password: str) -> str:
        parts = self._parts
        host = parts.hostname or ""
        if ":" in host:  # an IPv6 address
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port is not None else ""
        netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}{port}"
        return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))

    def users(self) -> list[str]:
        """Users that have a credentials file here."""
        if not self.directory.is_dir():
            return []
        return sorted(
            path.name.removesuffix(CREDENTIALS_SUFFIX)
            for path in self.directory.glob(f"*{CREDENTIALS_SUFFIX}")
            if path.is_file()
        )

    def password(self, user: str) -> str | None:
        """The password in the user's file, or None if there is no file."""
        path = self.path_for(user)
        try:
            text = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConfigurationError(f"cannot read {path}: {exc.strerror}") from exc
        parts = urlsplit(text)
        if parts.username is None or unquote(parts.username) != user or not parts.password:
            raise ConfigurationError(
                f"{path} does not hold an amqp://{user}:PASSWORD@... URL; "
                "remove it to give the user a new password"
            )
        return unquote(parts.password)

    def write(self, user: str, password: str) -> bool:
        """Write the user's file (mode 0600) unless it holds this URL already; True if written."""
        path = self.path_for(user)
        text = self.url_for(user, password) + "\n"
        try:
            if path.read_text(encoding="utf-8") == text:
                if path.stat().st_mode & 0o077:
                    path.chmod(0o600)
                return False
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise ConfigurationError(f"cannot read {path}: {exc.strerror}") from exc
        self._ensure_directory()
        partial = path.with_name(f".{path.name}.partial")
        try:
            partial.unlink(missing_ok=True)
            descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            os.replace(partial, path)
        except OSError as exc:
            raise ConfigurationError(f"cannot write {path}: {exc.strerror}") from exc
        return True

    def remove(self, user: str) -> bool:
        path = self.path_for(user)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise ConfigurationError(f"cannot remove {path}: {exc.strerror}") from exc
        return True

    def _ensure_directory(self) -> None:
        if self.directory.is_dir():
            return
        try:
            self.directory.mkdir(mode=0o700, parents=True)
            self.directory.chmod(0o700)  # whatever the umask
        except OSError as exc:
            raise ConfigurationError(
                f"cannot create the credentials folder {self.directory}: {exc.strerror}"
            ) from exc


def new_password() -> str:
    return secrets.token_urlsafe(PASSWORD_BYTES)


@dataclass(frozen=True, slots=True)
class UserOutcome:
    user: str
    action: Action
    agency_id: str | None
    credentials: Path | None
    """The user's credentials file (None in a dry run without a store, or once removed)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    users: list[UserOutcome] = field(default_factory=list)
    dry_run: bool = False

    def count(self, action: Action) -> int:
        return sum(1 for user in self.users if user.action is action)

    @property
    def changed(self) -> bool:
        return any(
            user.action in (Action.CREATED, Action.UPDATED, Action.REMOVED) for user in self.users
        )


class UserAdmin(Protocol):
    """What :func:`apply` needs of the management API (:class:`hub.management.ManagementClient`
    has it)."""

    async def list_users(self) -> list[UserInfo]: ...

    async def vhost_permissions(self, vhost: str) -> dict[str, Permissions]: ...

    async def put_user(self, name: str, password: str, tags: str = "") -> None: ...

    async def put_permissions(self, vhost: str, user: str, permissions: Permissions) -> None: ...

    async def delete_user(self, name: str) -> bool: ...


async def apply(
    plan: Plan,
    management: UserAdmin,
    store: CredentialsStore | None,
    *,
    dry_run: bool = False,
) -> Outcome:
    """Carry the plan out: put each desired user whose password, tags or permissions differ, and
    write its credentials file; delete the stale users and their files. A dry run reads the
    broker and the store, and changes neither; without a store it cannot check passwords.

    A credentials file is written before the broker is told the password, so that a run that
    fails half way leaves passwords a second run reuses."""
    if store is None and not dry_run:
        raise ConfigurationError("provisioning needs a credentials folder (or a dry run)")
    broker_users = {user.name: user for user in await management.list_users()}
    permissions = await management.vhost_permissions(plan.vhost)
    outcome = Outcome(dry_run=dry_run)
    for desired in plan.desired:
        existing = broker_users.get(desired.name)
        stored = store.password(desired.name) if store is not None else None
        password = stored if stored is not None else (new_password() if store is not None else None)
        action = decide(desired, existing, permissions.get(desired.name), password)
        file_changed = False
        if store is not None and password is not None:
            file_changed = (
                store.url_for(desired.name, password) + "\n" != _read(store, desired.name)
                if dry_run
                else store.write(desired.name, password)
            )
        if not dry_run and action is not Action.UNCHANGED:
            assert password is not None
            if existing is None or existing.tags != () or not password_matches(existing, password):
                await management.put_user(desired.name, password, TAGS)
            if permissions.get(desired.name) != desired.permissions:
                await management.put_permissions(plan.vhost, desired.name, desired.permissions)
        if action is Action.UNCHANGED and file_changed:
            action = Action.UPDATED
        path = store.path_for(desired.name) if store is not None else None
        outcome.users.append(UserOutcome(desired.name, action, desired.agency_id, path))
    for user in plan.stale:
        if not plan.remove_stale:
            outcome.users.append(UserOutcome(user, Action.STALE_KEPT, None, None))
            continue
        if not dry_run:
            if user in broker_users:
                await management.delete_user(user)
            if store is not None:
                store.remove(user)
        outcome.users.append(UserOutcome(user, Action.REMOVED, None, None))
    return outcome


def _read(store: CredentialsStore, user: str) -> str | None:
    try:
        return store.path_for(user).read_text(encoding="utf-8")
    except OSError:
        return None
