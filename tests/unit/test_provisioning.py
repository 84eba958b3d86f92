"""The rules of ``dochub provision`` without a broker: the permission regexes, the plan that
converges the broker's users to the registry, the credentials files, and ``apply`` against a fake
management API."""

import base64
import hashlib
import os
import re
import stat
from pathlib import Path

import pytest

from hub.errors import ConfigurationError
from hub.management import ManagementClient, Permissions, UserInfo, vhost_of
from hub.provisioning import (
    Action,
    CredentialsStore,
    DesiredUser,
    agency_permissions,
    apply,
    decide,
    desired_users,
    hub_permissions,
    make_plan,
    password_matches,
)
from schemas.naming import Names

NS = "dochub"
NAMES = Names(NS)
A, B, C = "000.00.00.G12", "000.00.00.H29", "000.00.00.G1"
AMQP_URL = "amqp://guest:guest@broker.example:5672/"


def allows(pattern: str, name: str) -> bool:
    """Whether a permission lets a resource through: RabbitMQ searches the regex in the name,
    so every pattern must carry its own anchors."""
    return re.search(pattern, name) is not None


def rabbit_hash(password: str, salt: bytes = b"salt", algorithm: str = "sha256") -> str:
    """A password hash as RabbitMQ stores it: base64(salt + H(salt + password))."""
    digest = hashlib.new(algorithm, salt + password.encode()).digest()
    return base64.b64encode(salt + digest).decode()


def user_info(name: str, password: str, tags: tuple[str, ...] = ()) -> UserInfo:
    return UserInfo(name, tags, rabbit_hash(password), "rabbit_password_hashing_sha256")


# Permissions


def test_an_agency_may_write_only_to_the_ingress_exchange() -> None:
    write = agency_permissions(NAMES, A).write
    assert allows(write, "dochub.ingress")
    for name in (
        "dochub.ingressX",
        "dochub.ingress.x",
        "xdochub.ingress",
        "dochub-other.ingress",
        "dochubXingress",
        "dochub.delivery",
        "dochub.status",
        "dochub.dead-letter",
        f"dochub.inbox.{A}",
        "amq.default",
        "",
    ):
        assert not allows(write, name), name


def test_an_agency_may_read_only_its_own_inbox_and_status_queues() -> None:
    read = agency_permissions(NAMES, A).read
    assert allows(read, f"dochub.inbox.{A}")
    assert allows(read, f"dochub.status.{A}")
    for name in (
        f"dochub.inbox.{B}",
        f"dochub.status.{B}",
        f"dochub.inbox.{A}X",
        f"dochub.inbox.{A}.x",
        f"xdochub.inbox.{A}",
        "dochub.inbox.000x00.00.G12",  # the dots of the id are literal dots
        "dochub.inbox.000.00.00.G1",  # a prefix of A's id is another agency
        f"dochub.inbox.{A}|dochub.ingress",
        "dochub.ingress",
        "dochub.status",
        "dochub.dead-letter",
        f"dochub-other.inbox.{A}",
        "",
    ):
        assert not allows(read, name), name


def test_an_agency_whose_id_prefixes_another_reads_only_its_own_queues() -> None:
    read = agency_permissions(NAMES, C).read
    assert allows(read, f"dochub.inbox.{C}")
    assert not allows(read, f"dochub.inbox.{A}")  # 000.00.00.G1 is a prefix of 000.00.00.G12


def test_an_agency_may_configure_nothing() -> None:
    configure = agency_permissions(NAMES, A).configure
    assert configure == "^$"
    for name in ("dochub.ingress", f"dochub.inbox.{A}", "amq.gen-abc", "x"):
        assert not allows(configure, name), name


def test_namespaces_with_regex_characters_are_escaped() -> None:
    names = Names("t-1_a")
    permissions = agency_permissions(names, A)
    assert permissions.write == r"^t\-1_a\.ingress$"
    assert allows(permissions.write, "t-1_a.ingress")
    assert not allows(permissions.write, "t-1_aXingress")


def test_the_hub_may_do_anything_in_its_namespace_only() -> None:
    permissions = hub_permissions(NAMES)
    for pattern in (permissions.configure, permissions.write, permissions.read):
        for name in ("dochub.ingress", f"dochub.inbox.{A}", "dochub.dead-letter"):
            assert allows(pattern, name), name
        for name in ("dochub-2.ingress", "dochubXingress", "xdochub.ingress", "amq.default"):
            assert not allows(pattern, name), name


def test_desired_users_are_the_hub_and_one_per_agency() -> None:
    users = desired_users(NAMES, [A, B])
    assert [(user.name, user.agency_id) for user in users] == [
        ("dochub.hub", None),
        (f"dochub.{A}", A),
        (f"dochub.{B}", B),
    ]
    assert users[1].permissions == agency_permissions(NAMES, A)


# The plan


def test_the_plan_removes_only_stale_users_of_the_namespace() -> None:
    existing = [
        "guest",
        "admin",
        "dochub.hub",
        f"dochub.{A}",
        f"dochub.{C}",  # an agency removed from the registry
        "dochub.something-else",
        "dochub-other.hub",  # another hub's namespace
        f"dochubx.{A}",
        "dochub",
    ]
    plan = make_plan(NAMES, [A, B], existing)
    assert plan.stale == ("dochub.000.00.00.G1", "dochub.something-else")
    assert plan.remove == plan.stale
    assert [user.name for user in plan.desired] == ["dochub.hub", f"dochub.{A}", f"dochub.{B}"]


def test_the_plan_keeps_stale_users_when_asked() -> None:
    plan = make_plan(NAMES, [A], [f"dochub.{B}"], remove_stale=False)
    assert plan.stale == (f"dochub.{B}",)
    assert plan.remove == ()


def test_the_plan_never_removes_a_protected_user() -> None:
    plan = make_plan(NAMES, [A], ["dochub.admin", f"dochub.{B}"], protected={"dochub.admin"})
    assert plan.stale == (f"dochub.{B}",)


def test_stale_credentials_files_are_removed_too() -> None:
    plan = make_plan(NAMES, [A], [], stored_users=[f"dochub.{B}", "other.x", f"dochub.{A}"])
    assert plan.stale == (f"dochub.{B}",)


def test_a_converged_broker_plans_no_removal() -> None:
    plan = make_plan(NAMES, [A, B], ["guest", "dochub.hub", f"dochub.{A}", f"dochub.{B}"])
    assert plan.stale == ()


def test_decide_compares_password_tags_and_permissions() -> None:
    desired = DesiredUser(f"dochub.{A}", agency_permissions(NAMES, A), A)
    good = user_info(desired.name, "pw")
    assert decide(desired, None, None, "pw") is Action.CREATED
    assert decide(desired, good, desired.permissions, "pw") is Action.UNCHANGED
    assert decide(desired, good, desired.permissions, None) is Action.UNCHANGED
    assert decide(desired, good, desired.permissions, "other") is Action.UPDATED
    assert decide(desired, good, None, "pw") is Action.UPDATED
    assert decide(desired, good, Permissions(".*", ".*", ".*"), "pw") is Action.UPDATED
    tagged = user_info(desired.name, "pw", tags=("management",))
    assert decide(desired, tagged, desired.permissions, "pw") is Action.UPDATED


@pytest.mark.parametrize(
    ("algorithm", "hash_name"),
    [
        ("rabbit_password_hashing_sha256", "sha256"),
        ("rabbit_password_hashing_sha512", "sha512"),
        ("rabbit_password_hashing_md5", "md5"),
    ],
)
def test_password_hashes_of_each_rabbitmq_algorithm(algorithm: str, hash_name: str) -> None:
    user = UserInfo("u", (), rabbit_hash("pw", b"\x01\x02\x03\x04", hash_name), algorithm)
    assert password_matches(user, "pw")
    assert not password_matches(user, "pW")


def test_an_unknown_or_broken_hash_never_matches() -> None:
    assert not password_matches(UserInfo("u", (), rabbit_hash("pw"), "bcrypt"), "pw")
    assert not password_matches(
        UserInfo("u", (), "not base64!", "rabbit_password_hashing_sha256"), "pw"
    )
    assert not password_matches(UserInfo("u", (), "", "rabbit_password_hashing_sha256"), "pw")


def test_the_virtual_host_is_read_from_the_amqp_url() -> None:
    assert vhost_of("amqp://u:p@h:5672/") == "/"
    assert vhost_of("amqp://u:p@h:5672") == "/"
    assert vhost_of("amqp://u:p@h:5672/%2F") == "/"
    assert vhost_of("amqp://u:p@h:5672/gov") == "gov"
    assert vhost_of("amqp://u:p@h:5672/gov%2Fhub") == "gov/hub"


def test_a_management_url_must_be_http_and_is_never_shown_with_its_password() -> None:
    with pytest.raises(ConfigurationError, match=r"amqp://guest:\*\*\*@h:5672/ is not http"):
        ManagementClient("amqp://guest:secret@h:5672/")


# Credentials files


def test_credentials_are_written_0600_in_a_0700_folder(tmp_path: Path) -> None:
    folder = tmp_path / "secrets" / "amqp"
    store = CredentialsStore(folder, "amqps://ignored:x@broker.example:5671/gov?heartbeat=30")
    assert store.write(f"dochub.{A}", "p@ss/wörd:x")
    path = folder / f"dochub.{A}.amqp-url"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == (
        f"amqps://dochub.{A}:p%40ss%2Fw%C3%B6rd%3Ax@broker.example:5671/gov?heartbeat=30\n"
    )
    assert store.password(f"dochub.{A}") == "p@ss/wörd:x"
    assert store.users() == [f"dochub.{A}"]
    assert not list(folder.glob(".*"))  # no partial file left


def test_writing_the_same_credentials_again_changes_nothing(tmp_path: Path) -> None:
    store = CredentialsStore(tmp_path / "c", AMQP_URL)
    assert store.write("dochub.hub", "pw")
    path = store.path_for("dochub.hub")
    path.chmod(0o644)
    assert not store.write("dochub.hub", "pw")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # but its mode is made private again
    assert store.write("dochub.hub", "other")


def test_a_missing_credentials_file_has_no_password(tmp_path: Path) -> None:
    store = CredentialsStore(tmp_path / "absent", AMQP_URL)
    assert store.password("dochub.hub") is None
    assert store.users() == []
    assert not store.remove("dochub.hub")


def test_a_credentials_file_of_another_user_is_refused(tmp_path: Path) -> None:
    store = CredentialsStore(tmp_path, AMQP_URL)
    store.path_for("dochub.hub").write_text("amqp://someone:pw@h:5672/\n")
    with pytest.raises(ConfigurationError, match=r"dochub\.hub\.amqp-url does not hold"):
        store.password("dochub.hub")


def test_the_store_needs_an_amqp_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="amqp://"):
        CredentialsStore(tmp_path, "http://h:15672/")


# apply, against a fake management API


class FakeManagement:
    """The users and permissions of one broker, kept in memory; every change is recorded."""

    def __init__(self, users: list[UserInfo] | None = None) -> None:
        self.users = {user.name: user for user in users or []}
        self.permissions: dict[str, Permissions] = {}
        self.calls: list[tuple[str, str]] = []

    async def list_users(self) -> list[UserInfo]:
        return list(self.users.values())

    async def vhost_permissions(self, vhost: str) -> dict[str, Permissions]:
        assert vhost == "/"
        return dict(self.permissions)

    async def put_user(self, name: str, password: str, tags: str = "") -> None:
        self.calls.append(("put_user", name))
        salt = os.urandom(4)
        self.users[name] = UserInfo(
            name,
            tuple(tag for tag in tags.split(",") if tag),
            rabbit_hash(password, salt),
            "rabbit_password_hashing_sha256",
        )

    async def put_permissions(self, vhost: str, user: str, permissions: Permissions) -> None:
        self.calls.append(("put_permissions", user))
        self.permissions[user] = permissions

    async def delete_user(self, name: str) -> bool:
        self.calls.append(("delete_user", name))
        self.permissions.pop(name, None)
        return self.users.pop(name, None) is not None


async def provision(
    broker: FakeManagement, store: CredentialsStore | None, agency_ids: list[str], **kw: bool
) -> dict[str, Action]:
    plan = make_plan(
        NAMES,
        agency_ids,
        [user.name for user in await broker.list_users()],
        stored_users=store.users() if store is not None else (),
        remove_stale=kw.pop("remove_stale", True),
    )
    outcome = await apply(plan, broker, store, **kw)
    return {user.user: user.action for user in outcome.users}


async def test_apply_creates_users_and_files_then_changes_nothing(tmp_path: Path) -> None:
    broker = FakeManagement([UserInfo("guest", ("administrator",), "x", "y")])
    store = CredentialsStore(tmp_path / "creds", AMQP_URL)
    first = await provision(broker, store, [A, B])
    assert first == {
        "dochub.hub": Action.CREATED,
        f"dochub.{A}": Action.CREATED,
        f"dochub.{B}": Action.CREATED,
    }
    passwords = {user: store.password(user) for user in first}
    assert all(passwords.values())
    assert len(set(passwords.values())) == 3
    assert broker.permissions[f"dochub.{A}"] == agency_permissions(NAMES, A)
    assert broker.permissions["dochub.hub"] == hub_permissions(NAMES)
    for user, password in passwords.items():
        assert password is not None
        assert password_matches(broker.users[user], password)
    broker.calls.clear()

    second = await provision(broker, store, [A, B])
    assert set(second.values()) == {Action.UNCHANGED}
    assert broker.calls == []
    assert {user: store.password(user) for user in second} == passwords
    assert "guest" in broker.users


async def test_apply_converges_drift_and_removes_stale_users(tmp_path: Path) -> None:
    broker = FakeManagement()
    store = CredentialsStore(tmp_path, AMQP_URL)
    await provision(broker, store, [A, B])
    password_of_a = store.password(f"dochub.{A}")
    broker.permissions[f"dochub.{A}"] = Permissions(".*", ".*", ".*")  # someone widened them
    broker.calls.clear()

    actions = await provision(broker, store, [A])
    assert actions == {
        "dochub.hub": Action.UNCHANGED,
        f"dochub.{A}": Action.UPDATED,
        f"dochub.{B}": Action.REMOVED,
    }
    assert broker.calls == [("put_permissions", f"dochub.{A}"), ("delete_user", f"dochub.{B}")]
    assert broker.permissions[f"dochub.{A}"] == agency_permissions(NAMES, A)
    assert store.password(f"dochub.{A}") == password_of_a
    assert f"dochub.{B}" not in broker.users
    assert not store.path_for(f"dochub.{B}").exists()


async def test_apply_reuses_a_stored_password_for_a_user_the_broker_lost(tmp_path: Path) -> None:
    broker = FakeManagement()
    store = CredentialsStore(tmp_path, AMQP_URL)
    await provision(broker, store, [A])
    password = store.password(f"dochub.{A}")
    assert password is not None
    del broker.users[f"dochub.{A}"]
    actions = await provision(broker, store, [A])
    assert actions[f"dochub.{A}"] is Action.CREATED
    assert password_matches(broker.users[f"dochub.{A}"], password)


async def test_apply_gives_a_new_password_when_the_file_is_gone(tmp_path: Path) -> None:
    broker = FakeManagement()
    store = CredentialsStore(tmp_path, AMQP_URL)
    await provision(broker, store, [A])
    old = store.password(f"dochub.{A}")
    store.remove(f"dochub.{A}")
    actions = await provision(broker, store, [A])
    assert actions[f"dochub.{A}"] is Action.UPDATED
    new = store.password(f"dochub.{A}")
    assert new is not None
    assert new != old
    assert password_matches(broker.users[f"dochub.{A}"], new)


async def test_apply_keeps_stale_users_when_asked(tmp_path: Path) -> None:
    broker = FakeManagement()
    store = CredentialsStore(tmp_path, AMQP_URL)
    await provision(broker, store, [A, B])
    actions = await provision(broker, store, [A], remove_stale=False)
    assert actions[f"dochub.{B}"] is Action.STALE_KEPT
    assert f"dochub.{B}" in broker.users
    assert store.path_for(f"dochub.{B}").exists()


async def test_a_dry_run_changes_nothing(tmp_path: Path) -> None:
    broker = FakeManagement([user_info(f"dochub.{C}", "pw")])
    store = CredentialsStore(tmp_path / "creds", AMQP_URL)
    actions = await provision(broker, store, [A], dry_run=True)
    assert actions == {
        "dochub.hub": Action.CREATED,
        f"dochub.{A}": Action.CREATED,
        f"dochub.{C}": Action.REMOVED,
    }
    assert broker.calls == []
    assert not (tmp_path / "creds").exists()
    assert await provision(broker, None, [A], dry_run=True) == actions


async def test_apply_needs_a_store_unless_dry(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="credentials folder"):
        await provision(FakeManagement(), None, [A])
