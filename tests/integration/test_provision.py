"""``dochub provision`` against the real broker's management API: it creates the users, changes
nothing when run again, follows the registry when an agency leaves it, never prints a password,
and fails with one line and its exit code."""

import asyncio
import os
import re
import stat
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner, Result

from dochub.cli import app
from hub.management import ManagementClient, Permissions, UserInfo
from hub.provisioning import agency_permissions, hub_permissions
from schemas.agency_id import AgencyKind
from schemas.directory import AgencyDirectory, AgencyEntry
from schemas.naming import Names
from tests.integration.broker_users import management_url_for, remove_users, require_management

A, B, C = "000.00.00.G12", "000.00.00.H29", "000.00.00.H58"
DOCHUB_SCRIPT = Path(sys.executable).parent / "dochub"
BOX = re.compile("[\u2500-\u257f]")  # box drawing: table borders


def registry_text(agency_ids: list[str]) -> str:
    return AgencyDirectory(
        agencies=[
            AgencyEntry.for_key(
                agency_id,
                f"Cơ quan {agency_id}",
                AgencyKind.OTHER,
                Ed25519PrivateKey.generate().public_key(),
            )
            for agency_id in agency_ids
        ]
    ).to_toml()


@dataclass(frozen=True)
class Setup:
    names: Names
    amqp_url: str
    management_url: str
    registry: Path
    credentials: Path

    def args(self, *extra: str | Path) -> list[str]:
        return [
            "provision",
            "--registry",
            str(self.registry),
            "--namespace",
            self.names.namespace,
            "--amqp-url",
            self.amqp_url,
            "--management-url",
            self.management_url,
            *(str(arg) for arg in extra),
        ]

    async def run(self, *extra: str | Path) -> Result:
        return await invoke(self.args("--credentials-dir", self.credentials, *extra))

    def passwords(self) -> dict[str, str]:
        """Every credentials file's password, by user."""
        found: dict[str, str] = {}
        for path in self.credentials.glob("*.amqp-url"):
            password = urlsplit(path.read_text().strip()).password
            assert password, path
            found[path.name.removesuffix(".amqp-url")] = unquote(password)
        return found

    async def users(self) -> dict[str, tuple[UserInfo, Permissions | None]]:
        """The namespace's users on the broker, with their permissions on the default vhost."""
        async with ManagementClient(self.management_url) as management:
            permissions = await management.vhost_permissions("/")
            return {
                user.name: (user, permissions.get(user.name))
                for user in await management.list_users()
                if user.name.startswith(f"{self.names.namespace}.")
            }


async def invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
    """Run the command line off the event loop: it runs one of its own."""
    return await asyncio.to_thread(CliRunner().invoke, app, args, env=env, prog_name="dochub")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("DOCHUB_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("COLUMNS", "250")


@pytest.fixture
async def setup(amqp_url: str, tmp_path: Path) -> AsyncIterator[Setup]:
    names = Names(f"t-{uuid.uuid4().hex[:8]}")
    management_url = management_url_for(amqp_url)
    await require_management(management_url)
    registry = tmp_path / "agencies.toml"
    registry.write_text(registry_text([A, B, C]), encoding="utf-8")
    try:
        yield Setup(names, amqp_url, management_url, registry, tmp_path / "credentials")
    finally:
        await remove_users(management_url, names)


def squashed(text: str) -> str:
    """Output without whitespace or table borders, for paths that the table folded."""
    return "".join(BOX.sub("", text).split())


def assert_no_password(result: Result, passwords: dict[str, str]) -> None:
    assert passwords
    for password in passwords.values():
        assert password not in result.stdout
        assert password not in result.stderr


async def test_provision_creates_then_changes_nothing_then_follows_the_registry(
    setup: Setup,
) -> None:
    names = setup.names
    first = await setup.run()
    assert first.exit_code == 0, first.output
    assert "4 created, 0 updated, 0 removed, 0 unchanged" in first.stdout
    passwords = setup.passwords()
    assert set(passwords) == {names.hub_user, *(names.agency_user(i) for i in (A, B, C))}
    assert_no_password(first, passwords)
    assert stat.S_IMODE(setup.credentials.stat().st_mode) == 0o700
    for user in passwords:
        path = setup.credentials / f"{user}.amqp-url"
        assert str(path) in squashed(first.stdout)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    users = await setup.users()
    assert set(users) == set(passwords)
    assert users[names.hub_user][1] == hub_permissions(names)
    for agency_id in (A, B, C):
        info, permissions = users[names.agency_user(agency_id)]
        assert info.tags == ()
        assert permissions == agency_permissions(names, agency_id)

    second = await setup.run()
    assert second.exit_code == 0, second.output
    assert "0 created, 0 updated, 0 removed, 4 unchanged" in second.stdout
    assert setup.passwords() == passwords
    assert {name: user.password_hash for name, (user, _) in (await setup.users()).items()} == {
        name: user.password_hash for name, (user, _) in users.items()
    }  # not even set again: a new salt would show

    setup.registry.write_text(registry_text([A, B]), encoding="utf-8")
    kept = await setup.run("--keep-stale")
    assert kept.exit_code == 0, kept.output
    assert "1 stale kept" in kept.stdout
    assert names.agency_user(C) in await setup.users()

    third = await setup.run()
    assert third.exit_code == 0, third.output
    assert "0 created, 0 updated, 1 removed, 3 unchanged" in third.stdout
    assert names.agency_user(C) not in await setup.users()
    assert not (setup.credentials / f"{names.agency_user(C)}.amqp-url").exists()
    assert setup.passwords() == {
        user: password for user, password in passwords.items() if user != names.agency_user(C)
    }
    assert_no_password(third, passwords)


async def test_a_dry_run_needs_no_credentials_folder_and_changes_nothing(setup: Setup) -> None:
    result = await invoke(setup.args("--dry-run"))
    assert result.exit_code == 0, result.output
    assert "dry run, would be: 4 created, 0 updated, 0 removed, 0 unchanged" in result.stdout
    assert await setup.users() == {}
    assert not setup.credentials.exists()


async def test_provision_takes_its_settings_from_the_environment(setup: Setup) -> None:
    env = {
        "DOCHUB_REGISTRY": str(setup.registry),
        "DOCHUB_NAMESPACE": setup.names.namespace,
        "DOCHUB_AMQP_URL": setup.amqp_url,
        "DOCHUB_MANAGEMENT_URL": setup.management_url,
        "DOCHUB_CREDENTIALS_DIR": str(setup.credentials),
    }
    result = await invoke(["provision"], env)
    assert result.exit_code == 0, result.output
    assert len(setup.passwords()) == 4


async def test_the_console_script_prints_no_password(setup: Setup) -> None:
    process = await asyncio.create_subprocess_exec(
        DOCHUB_SCRIPT,
        *setup.args("--credentials-dir", setup.credentials),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    passwords = setup.passwords()
    assert len(passwords) == 4
    for password in passwords.values():
        assert password.encode() not in stdout
        assert password.encode() not in stderr


# Failures: one line, an exit code, no traceback


@pytest.fixture
def failing(tmp_path: Path) -> Path:
    registry = tmp_path / "agencies.toml"
    registry.write_text(registry_text([A]), encoding="utf-8")
    return registry


def fails(result: Result, exit_code: int, *fragments: str) -> None:
    assert result.exit_code == exit_code, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in " ".join(result.output.split()), result.output


def test_an_unreachable_management_api_exits_6(failing: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "provision",
            "--registry",
            str(failing),
            "--management-url",
            "http://guest:s3cret@127.0.0.1:1/",
            "--credentials-dir",
            str(tmp_path / "c"),
        ],
        prog_name="dochub",
    )
    fails(result, 6, "127.0.0.1:1", "rabbitmq-plugins enable rabbitmq_management")
    assert "s3cret" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_wrong_management_credentials_exit_6(amqp_url: str, failing: Path, tmp_path: Path) -> None:
    url = management_url_for(amqp_url).replace("@", "x-wrong@", 1)
    result = CliRunner().invoke(
        app,
        ["provision", "--registry", str(failing), "--management-url", url, "--dry-run"],
        prog_name="dochub",
    )
    fails(result, 6, "(401)", "administrator")


def test_a_missing_registry_exits_5(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["provision", "--registry", str(tmp_path / "absent.toml"), "--dry-run"],
        prog_name="dochub",
    )
    fails(result, 5, "absent.toml")


def test_the_credentials_folder_is_required_unless_dry(failing: Path) -> None:
    result = CliRunner().invoke(app, ["provision", "--registry", str(failing)], prog_name="dochub")
    fails(result, 2, "--credentials-dir")


def test_a_bad_namespace_is_a_usage_error(failing: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["provision", "--registry", str(failing), "--namespace", "a.b", "--dry-run"],
        prog_name="dochub",
    )
    fails(result, 2, "namespace")
