"""The command line without a broker: version, help, keys and the directory file, settings from
flags and ``DOCHUB_*`` variables, ``stats`` on a ledger filled here, and the hub's start-up
checks that come before it connects."""

import asyncio
import datetime as dt
import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError
from typer.testing import CliRunner, Result

from agency_client import (
    AccessRefused,
    AgencyClientError,
    BrokerUnavailable,
    DocumentRefused,
    DocumentUnroutable,
    InvalidDocument,
    NotProvisioned,
    load_signing_key,
    write_key_pair,
)
from dochub import __version__, agency_commands, registration
from dochub.agency_commands import _send
from dochub.agency_settings import AgencySettings
from dochub.cli import app
from dochub.errors import CommandError, UsageError, exit_code_for, one_line
from dochub.exit_codes import ExitCode
from dochub.settings_io import flag_of, variable_of
from hub.errors import (
    BrokerError,
    BrokerRefused,
    ConfigurationError,
    HubError,
    LedgerError,
    ManagementError,
    RegistryError,
)
from hub.inspection import DocumentInput, ReceiptInput
from hub.registry import Registry
from hub.settings import HubSettings
from hub.sqlite_ledger import SqliteLedger
from schemas import (
    AgencyDirectory,
    AgencyEntry,
    AgencyKind,
    Envelope,
    RefusedInput,
    RejectionReason,
    Signed,
    StatusCode,
    StatusReceipt,
    public_key_to_text,
    sign_document,
)
from tests.factories import directory_of, hub_entry, inspected, make_envelope, organ

DOCHUB_SCRIPT = Path(sys.executable).parent / "dochub"
UNREACHABLE_AMQP_URL = "amqp://guest:guest@127.0.0.1:1/"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
BOX = re.compile("[\u2500-\u257f]")  # box drawing: panels and tables

G12, H29 = "000.00.00.G12", "000.00.00.H29"
SEND_ARGS = [
    "agency", "send", "--to", H29, "--subject", "s", "--number", "1", "--notation", "X",
    "--signer", "S",
]  # fmt: skip


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No DOCHUB_* variable of the caller leaks in, and output wide enough that rich does not
    wrap it."""
    for name in list(os.environ):
        if name.startswith("DOCHUB_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("COLUMNS", "250")


def invoke(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(app, [str(arg) for arg in args], env=env, prog_name="dochub")


def flat(text: str) -> str:
    """Output without colours, boxes or line wrapping: words separated by single spaces."""
    return " ".join(BOX.sub(" ", ANSI.sub("", text)).split())


def squashed(text: str) -> str:
    """Output without any whitespace, for long paths that rich may have folded."""
    return "".join(BOX.sub("", ANSI.sub("", text)).split())


def assert_clean_failure(result: Result, exit_code: int) -> None:
    assert result.exit_code == exit_code, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output


def assert_one_line(result: Result, *fragments: str) -> None:
    """The error is one line on stderr, ``error: ...``, naming every fragment (a flag, a file,
    the fix)."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    missing = [fragment for fragment in fragments if fragment not in lines[0]]
    assert missing == [], lines[0]


def log_events(stderr: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


# Version and help


def test_version_prints_the_installed_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout == f"dochub {__version__}\n"
    assert __version__ == version("dochub")


def test_version_through_the_console_script() -> None:
    completed = subprocess.run(  # noqa: S603
        [str(DOCHUB_SCRIPT), "--version"], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == f"dochub {version('dochub')}\n"


HELP_OPTIONS = [
    (["--help"], ["Usage: dochub", "--version", "hub", "agency", "simulate", "stats"]),
    (["hub", "--help"], ["Usage: dochub hub", "keygen", "run", "run the hub"]),
    (
        ["hub", "keygen", "--help"],
        ["Usage: dochub hub keygen", "--registry", "--out", "--name", "--force"],
    ),
    (
        ["hub", "run", "--help"],
        [
            "Usage: dochub hub run",
            "--ledger-url",
            "sqlite:///PATH",
            "--registry",
            "--hub-key",
            "--trusted-users",
            "--amqp-url",
            "--namespace",
            "--workers",
            "--prefetch",
            "--batch-max",
            "--throughput-interval",
            "--delivery-limit",
            "--log-format",
            "--log-level",
            "SIGTERM",
        ],
    ),
    (["agency", "--help"], ["Usage: dochub agency", "keygen", "send", "listen"]),
    (
        ["agency", "keygen", "--help"],
        ["Usage: dochub agency keygen", "AGENCY_ID", "--out", "--registry", "--name", "--kind"],
    ),
    (
        ["agency", "send", "--help"],
        [
            "Usage: dochub agency send",
            "--to",
            "--subject",
            "--number",
            "--notation",
            "--signer",
            "--type",
            "--attach",
            "--wait",
            "--wait-timeout",
            "--agency-id",
            "--key",
            "--registry",
            "--amqp-url",
            "--namespace",
        ],
    ),
    (
        ["agency", "listen", "--help"],
        [
            "Usage: dochub agency listen",
            "--count",
            "--timeout",
            "--receipt",
            "--agency-id",
            "--key",
            "--registry",
            "--amqp-url",
            "--namespace",
        ],
    ),
    (
        ["simulate", "--help"],
        [
            "Usage: dochub simulate",
            "--scenario",
            "--scale",
            "--seed",
            "--json",
            "--report",
            "--hub",
            "--namespace",
            "--ledger-url",
            "--export-registry",
        ],
    ),
    (
        ["stats", "--help"],
        ["Usage: dochub stats", "--by", "day|month|quarter|half|year", "--agency", "--json"],
    ),
]


@pytest.mark.parametrize(("args", "expected"), HELP_OPTIONS)
def test_help_of_every_command_lists_its_options(args: list[str], expected: list[str]) -> None:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    text = flat(result.stdout)
    missing = [word for word in expected if word.lower() not in text.lower()]
    assert missing == [], text


HELP_ENVIRONMENT = [
    (
        ["hub", "run", "--help"],
        [
            "DOCHUB_AMQP_URL",
            "DOCHUB_NAMESPACE",
            "DOCHUB_LEDGER_URL",
            "DOCHUB_REGISTRY",
            "DOCHUB_HUB_KEY",
            "DOCHUB_TRUSTED_USERS",
            "DOCHUB_WORKERS",
            "DOCHUB_PREFETCH",
            "DOCHUB_BATCH_MAX",
            "DOCHUB_THROUGHPUT_INTERVAL_S",
            "DOCHUB_DELIVERY_LIMIT",
            "DOCHUB_LOG_FORMAT",
            "DOCHUB_LOG_LEVEL",
        ],
    ),
    (
        ["agency", "send", "--help"],
        [
            "DOCHUB_AGENCY_ID",
            "DOCHUB_AGENCY_KEY",
            "DOCHUB_REGISTRY",
            "DOCHUB_AMQP_URL",
            "DOCHUB_NAMESPACE",
        ],
    ),
    (
        ["agency", "listen", "--help"],
        [
            "DOCHUB_AGENCY_ID",
            "DOCHUB_AGENCY_KEY",
            "DOCHUB_REGISTRY",
            "DOCHUB_AMQP_URL",
            "DOCHUB_NAMESPACE",
        ],
    ),
    (["simulate", "--help"], ["DOCHUB_AMQP_URL"]),
    (["stats", "--help"], ["DOCHUB_LEDGER_URL"]),
]


@pytest.mark.parametrize(("args", "variables"), HELP_ENVIRONMENT)
def test_help_names_the_environment_variables(args: list[str], variables: list[str]) -> None:
    """The README: every flag can come from a DOCHUB_* variable, `dochub COMMAND --help` lists
    them. Each option's help text ends in "[env DOCHUB_...]" for that."""
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    text = flat(result.stdout)
    missing = [variable for variable in variables if variable not in text]
    assert missing == [], text


@pytest.mark.parametrize(
    ("args", "settings"), [(["hub", "run", "--help"], HubSettings), (["agency", "send", "--help"],
    AgencySettings), (["agency", "listen", "--help"], AgencySettings)]
)  # fmt: skip
def test_every_setting_has_its_flag_and_variable(
    args: list[str], settings: type[HubSettings | AgencySettings]
) -> None:
    """Each setting is declared once, as a field: its flag and help come from it."""
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    text = flat(result.stdout)
    missing = [
        name
        for name in settings.model_fields
        if flag_of(name) not in text or variable_of(name) not in text
    ]
    assert missing == [], text


@pytest.mark.parametrize(
    ("args", "note"),
    [
        (["agency", "listen", "--help"], "default: 01 03"),
        (["simulate", "--help"], "default: the scenario's"),
        (["simulate", "--help"], "embedded: a fresh one per run"),
    ],
)
def test_help_keeps_bracketed_notes(args: list[str], note: str) -> None:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    assert note in flat(result.stdout)


# Keys and the directory file


def public_text(path: Path) -> str:
    return path.read_text(encoding="ascii").strip()


def test_keygen_writes_a_private_key_only_its_owner_reads(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    result = invoke("agency", "keygen", G12, "--out", keys)
    assert result.exit_code == 0, result.output
    private, public = keys / f"{G12}.key", keys / f"{G12}.pub"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert public.is_file()
    key = load_signing_key(private)
    assert public_key_to_text(key.public_key()) == public_text(public)
    text = flat(result.stdout)
    assert f"public_key = '{public_text(public)}'" in text
    assert squashed(str(private)) in squashed(result.stdout)
    assert not (tmp_path / "agencies.toml").exists()


def test_keygen_defaults_to_a_keys_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("agency", "keygen", H29)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "keys" / f"{H29}.key").is_file()
    assert (tmp_path / "keys" / f"{H29}.pub").is_file()


def test_keygen_creates_then_extends_the_directory_file(tmp_path: Path) -> None:
    keys, registry = tmp_path / "keys", tmp_path / "agencies.toml"
    first = invoke(
        "agency", "keygen", G12, "--out", keys, "--registry", registry,
        "--name", "Bộ Nội vụ", "--kind", "ministry",
    )  # fmt: skip
    assert first.exit_code == 0, first.output
    assert f"registered {G12}" in flat(first.stdout)
    only = AgencyDirectory.from_toml(registry.read_text(encoding="utf-8"))
    assert [entry.id for entry in only.agencies] == [G12]

    second = invoke(
        "agency", "keygen", H29, "--out", keys, "--registry", registry,
        "--name", "UBND thành phố Hà Nội", "--kind", "province",
    )  # fmt: skip
    assert second.exit_code == 0, second.output
    directory = AgencyDirectory.from_toml(registry.read_text(encoding="utf-8"))
    assert [(entry.id, entry.name, entry.kind) for entry in directory.agencies] == [
        (G12, "Bộ Nội vụ", AgencyKind.MINISTRY),
        (H29, "UBND thành phố Hà Nội", AgencyKind.PROVINCE),
    ]
    for entry in directory.agencies:
        assert entry.public_key == public_text(keys / f"{entry.id}.pub")
        key = load_signing_key(keys / f"{entry.id}.key")
        assert entry.public_key == public_key_to_text(key.public_key())


def test_keygen_force_replaces_the_key_and_its_directory_entry(tmp_path: Path) -> None:
    keys, registry = tmp_path / "keys", tmp_path / "agencies.toml"
    for agency, name in ((G12, "Bộ Nội vụ"), (H29, "UBND Hà Nội")):
        result = invoke(
            "agency", "keygen", agency, "--out", keys, "--registry", registry, "--name", name
        )
        assert result.exit_code == 0, result.output
    old_key = public_text(keys / f"{G12}.pub")

    again = invoke(
        "agency", "keygen", G12, "--out", keys, "--registry", registry,
        "--name", "Bộ Nội vụ (mới)", "--force",
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    new_key = public_text(keys / f"{G12}.pub")
    assert new_key != old_key
    directory = AgencyDirectory.from_toml(registry.read_text(encoding="utf-8"))
    by_id = directory.by_id
    assert sorted(by_id) == [G12, H29]
    assert by_id[G12].public_key == new_key
    assert by_id[G12].name == "Bộ Nội vụ (mới)"
    assert by_id[H29].public_key == public_text(keys / f"{H29}.pub")


def test_agency_keygen_keeps_the_hubs_table(tmp_path: Path) -> None:
    """The hub's operator makes the hub's key first (a directory with a [hub] table and no
    agency yet), then registers the agencies one by one."""
    keys, registry = tmp_path / "keys", tmp_path / "agencies.toml"
    made = invoke("hub", "keygen", "--registry", registry, "--out", keys, "--name", "Trục quốc gia")
    assert made.exit_code == 0, made.output
    hub_before = AgencyDirectory.from_toml(registry.read_text(encoding="utf-8")).hub
    assert hub_before is not None
    result = invoke(
        "agency", "keygen", G12, "--out", keys, "--registry", registry, "--name", "Bộ Nội vụ"
    )
    assert result.exit_code == 0, result.output
    directory = AgencyDirectory.from_toml(registry.read_text(encoding="utf-8"))
    assert directory.hub == hub_before
    assert [entry.id for entry in directory.agencies] == [G12]


def test_hub_keygen_makes_the_key_and_the_hub_table(tmp_path: Path) -> None:
    keys, registry = tmp_path / "keys", tmp_path / "agencies.toml"
    result = invoke("hub", "keygen", "--registry", registry, "--out", keys)
    assert result.exit_code == 0, result.output
    private = keys / "hub.key"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    key = load_signing_key(private)
    directory = AgencyDirectory.from_toml(registry.read_text(encoding="utf-8"))
    assert directory.hub is not None
    assert directory.hub.name == "DocHub"
    assert directory.hub.public_key == public_key_to_text(key.public_key())
    assert directory.hub.public_key == public_text(keys / "hub.pub")
    assert directory.agencies == []
    assert squashed(str(private)) in squashed(result.stdout)


def test_hub_keygen_keeps_the_agencies(tmp_path: Path) -> None:
    keys, registry = tmp_path / "keys", tmp_path / "agencies.toml"
    for agency in (G12, H29):
        made = invoke(
            "agency", "keygen", agency, "--out", keys, "--registry", registry, "--name", agency
        )
        assert made.exit_code == 0, made.output
    agencies_before = AgencyDirectory.from_toml(registry.read_text(encoding="utf-8")).agencies
    result = invoke("hub", "keygen", "--registry", registry, "--out", keys)
    assert result.exit_code == 0, result.output
    directory = AgencyDirectory.from_toml(registry.read_text(encoding="utf-8"))
    assert directory.agencies == agencies_before
    assert directory.hub is not None
    # A later agency keygen keeps the [hub] table.
    more = invoke("agency", "keygen", A, "--out", keys, "--registry", registry, "--name", "A")
    assert more.exit_code == 0, more.output
    after = AgencyDirectory.from_toml(registry.read_text(encoding="utf-8"))
    assert after.hub == directory.hub
    assert [entry.id for entry in after.agencies] == [G12, H29, A]


def test_hub_keygen_refuses_to_replace_a_key_without_force(tmp_path: Path) -> None:
    keys, registry = tmp_path / "keys", tmp_path / "agencies.toml"
    first = invoke("hub", "keygen", "--registry", registry, "--out", keys)
    assert first.exit_code == 0, first.output
    key_before, registry_before = key_files(keys), registry.read_bytes()

    refused = invoke("hub", "keygen", "--registry", registry, "--out", keys)
    assert_clean_failure(refused, 2)
    assert "--force" in flat(refused.output)
    assert key_files(keys) == key_before
    assert registry.read_bytes() == registry_before

    forced = invoke("hub", "keygen", "--registry", registry, "--out", keys, "--force")
    assert forced.exit_code == 0, forced.output
    directory = AgencyDirectory.from_toml(registry.read_text(encoding="utf-8"))
    assert directory.hub is not None
    assert directory.hub.public_key == public_text(keys / "hub.pub")
    assert key_files(keys) != key_before


def test_hub_keygen_refuses_an_invalid_registry(tmp_path: Path) -> None:
    keys, registry = tmp_path / "keys", tmp_path / "agencies.toml"
    registry.write_text("this is [not toml", encoding="utf-8")
    result = invoke("hub", "keygen", "--registry", registry, "--out", keys)
    assert_clean_failure(result, 5)
    assert "is invalid" in flat(result.output)
    assert not keys.exists()
    assert registry.read_text(encoding="utf-8") == "this is [not toml"


def _existing_key(keys: Path, registry: Path) -> None:
    write_key_pair(keys, G12)


def _invalid_registry(keys: Path, registry: Path) -> None:
    registry.write_text("this is [not toml", encoding="utf-8")


def _nothing(keys: Path, registry: Path) -> None:
    pass


def key_files(keys: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in keys.glob("*")} if keys.exists() else {}


def _registry_is_a_folder(keys: Path, registry: Path) -> None:
    registry.mkdir()


def _out_is_a_file(keys: Path, registry: Path) -> None:
    keys.write_text("not a folder", encoding="utf-8")


def _registered_already(keys: Path, registry: Path) -> None:
    other = write_key_pair(keys.parent / "elsewhere", G12)
    entry = AgencyEntry(
        id=G12, name="Bộ Nội vụ", kind=AgencyKind.MINISTRY, public_key=other.public_text
    )
    registry.write_text(AgencyDirectory(agencies=[entry]).to_toml(), encoding="utf-8")


@pytest.mark.parametrize(
    ("prepare", "args", "exit_code", "messages"),
    [
        (_nothing, ["bad-id"], 2, ["error: bad-id is not an agency id: expected DDD.CC.BB.LNN"]),
        (_nothing, ["000.00.00.g12"], 2, ["is not an agency id: expected DDD.CC.BB.LNN"]),
        (_nothing, [G12, "--registry", "{registry}"], 2, ["--registry needs --name"]),
        # The CLI's way to replace a key is --force; the message should say so.
        (_existing_key, [G12], 2, ["exists already", "--force"]),
        (_registered_already, [G12, "--registry", "{registry}", "--name", "B"], 2,
         [f"{G12} is in", "--force"]),
        (_nothing, [G12, "--kind", "planet"], 2, ["'planet' is not one of", "--kind"]),
        (_nothing, [G12, "--registry", "{registry}", "--name", "x" * 301], 2,
         ["--name: string should have at most 300 characters"]),
        (
            _invalid_registry,
            [G12, "--registry", "{registry}", "--name", "Bộ Nội vụ"],
            5,
            ["the agency registry", "is invalid"],
        ),
        (_nothing, [G12, "--registry", "{missing}", "--name", "B"], 5,
         ["cannot write the agency registry", "does not exist", "create the folder"]),
        (_registry_is_a_folder, [G12, "--registry", "{registry}", "--name", "B"], 5,
         ["is a folder"]),
        (_out_is_a_file, [G12], 5, ["--out", "is a file"]),
    ],
    ids=["bad-id", "lowercase-id", "registry-without-name", "existing-key", "registered-already",
         "bad-kind", "long-name", "invalid-registry", "registry-folder-missing",
         "registry-is-a-folder", "out-is-a-file"],
)  # fmt: skip
def test_keygen_refuses_with_one_line_and_writes_nothing(
    tmp_path: Path, prepare: Any, args: list[str], exit_code: int, messages: list[str]
) -> None:
    keys, registry = tmp_path / "keys", tmp_path / "agencies.toml"
    missing = tmp_path / "missing" / "dir" / "agencies.toml"
    prepare(keys, registry)
    files_before = tree(tmp_path)
    result = invoke(
        "agency",
        "keygen",
        *[arg.format(registry=registry, missing=missing) for arg in args],
        "--out",
        keys,
    )
    assert_clean_failure(result, exit_code)
    assert_one_line(result, *messages)
    # A refused keygen leaves nothing behind: a retry must not fail on "exists already".
    assert tree(tmp_path) == files_before


@pytest.mark.parametrize("registry_name", ["missing/dir/agencies.toml", "folder"])
def test_hub_keygen_refuses_a_registry_it_cannot_write_and_writes_nothing(
    tmp_path: Path, registry_name: str
) -> None:
    (tmp_path / "folder").mkdir()
    files_before = tree(tmp_path)
    result = invoke(
        "hub", "keygen", "--registry", tmp_path / registry_name, "--out", tmp_path / "keys"
    )
    assert_clean_failure(result, 5)
    assert_one_line(result, "agency registry", registry_name)
    assert tree(tmp_path) == files_before


def test_hub_keygen_refuses_to_replace_a_listed_hub_key_without_force(tmp_path: Path) -> None:
    registry = tmp_path / "agencies.toml"
    first = invoke("hub", "keygen", "--registry", registry, "--out", tmp_path / "keys")
    assert first.exit_code == 0, first.output
    files_before = tree(tmp_path)
    again = invoke("hub", "keygen", "--registry", registry, "--out", tmp_path / "other-keys")
    assert_clean_failure(again, 2)
    assert_one_line(again, "lists a hub key already", "--force")
    assert tree(tmp_path) == files_before


def test_keygen_puts_the_keys_back_when_the_registry_cannot_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The directory file is written after the keys: if that fails, the keys are removed (or,
    with --force, the former ones restored)."""
    keys, registry = tmp_path / "keys", tmp_path / "agencies.toml"
    made = invoke("agency", "keygen", G12, "--out", keys, "--registry", registry, "--name", "B")
    assert made.exit_code == 0, made.output
    files_before = tree(tmp_path)

    def refuse(path: Path, directory: AgencyDirectory) -> None:
        raise RegistryError(f"cannot write the agency registry {path}: No space left on device")

    monkeypatch.setattr(registration, "write_directory", refuse)
    for args in ([H29], [G12, "--force"]):
        result = invoke(
            "agency", "keygen", *args, "--out", keys, "--registry", registry, "--name", "B"
        )
        assert_clean_failure(result, 5)
        assert_one_line(result, "No space left on device")
        assert tree(tmp_path) == files_before
    hub = invoke("hub", "keygen", "--out", tmp_path / "new" / "hub-keys", "--registry", registry)
    assert_clean_failure(hub, 5)
    assert tree(tmp_path) == files_before, "nor the folders made for them"


def tree(folder: Path) -> dict[str, bytes | None]:
    """Every file and folder under ``folder``, with the files' content."""
    return {
        str(path.relative_to(folder)): path.read_bytes() if path.is_file() else None
        for path in sorted(folder.rglob("*"))
    }


# Settings from flags and DOCHUB_* variables


def test_ledger_url_comes_from_the_environment(tmp_path: Path) -> None:
    env_url = f"sqlite:///{tmp_path / 'from-env.db'}"
    result = invoke("stats", env={"DOCHUB_LEDGER_URL": env_url})
    assert_clean_failure(result, 7)
    assert squashed(f"no ledger at {env_url}") in squashed(result.stderr)


def test_a_flag_wins_over_the_environment(tmp_path: Path) -> None:
    env_url = f"sqlite:///{tmp_path / 'from-env.db'}"
    flag_url = f"sqlite:///{tmp_path / 'from-flag.db'}"
    result = invoke("stats", "--ledger-url", flag_url, env={"DOCHUB_LEDGER_URL": env_url})
    assert_clean_failure(result, 7)
    assert squashed(f"no ledger at {flag_url}") in squashed(result.stderr)
    assert "from-env.db" not in result.output


def test_default_ledger_url_without_flag_or_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("stats")
    assert_clean_failure(result, 7)
    assert "no ledger at sqlite:///./dochub.db" in flat(result.stderr)


@pytest.mark.parametrize("use_flag", [False, True])
def test_hub_registry_from_the_environment_or_the_flag(tmp_path: Path, use_flag: bool) -> None:
    env = {"DOCHUB_REGISTRY": str(tmp_path / "env-registry.toml")}
    flags = ["--registry", str(tmp_path / "flag-registry.toml")] if use_flag else []
    result = invoke("hub", "run", "--amqp-url", UNREACHABLE_AMQP_URL, *flags, env=env)
    assert_clean_failure(result, 5)
    (failed,) = [event for event in log_events(result.stderr) if event["event"] == "hub_failed"]
    used, ignored = ("flag", "env") if use_flag else ("env", "flag")
    assert str(tmp_path / f"{used}-registry.toml") in failed["error"]
    assert f"{ignored}-registry" not in result.stderr


@pytest.mark.parametrize("use_flag", [False, True])
def test_agency_settings_from_the_environment_or_the_flag(tmp_path: Path, use_flag: bool) -> None:
    files = write_key_pair(tmp_path / "keys", G12)
    env = {
        "DOCHUB_AGENCY_ID": G12,
        "DOCHUB_AGENCY_KEY": str(files.private),
        "DOCHUB_REGISTRY": str(tmp_path / "env-directory.toml"),
        "DOCHUB_AMQP_URL": UNREACHABLE_AMQP_URL,
    }
    flags = ["--registry", str(tmp_path / "flag-directory.toml")] if use_flag else []
    result = invoke("agency", "listen", *flags, env=env)
    assert_clean_failure(result, 5)
    used, ignored = ("flag", "env") if use_flag else ("env", "flag")
    assert squashed(f"cannot read the agency registry {tmp_path}/{used}-directory.toml") in (
        squashed(result.output)
    )
    assert f"{ignored}-directory" not in result.output


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["hub", "run"], {"DOCHUB_NAMESPACE": "bad name!"},
         "DOCHUB_NAMESPACE=bad name! is not a namespace: expected up to 64 letters"),
        (["hub", "run"], {"DOCHUB_WORKERS": "0"},
         "DOCHUB_WORKERS=0: input should be greater than or equal to 1"),
        (["hub", "run"], {"DOCHUB_WORKERS": "many"},
         "DOCHUB_WORKERS=many: input should be a valid integer"),
        (["hub", "run"], {"DOCHUB_LOG_LEVEL": "verbose"},
         "DOCHUB_LOG_LEVEL=verbose: input should be 'debug', 'info', 'warning' or 'error'"),
        (["hub", "run"], {"DOCHUB_LOG_FORMAT": "xml"}, "DOCHUB_LOG_FORMAT=xml: input should be"),
        (["hub", "run", "--throughput-interval", "0"], {},
         "--throughput-interval 0.0: input should be greater than 0"),
        (["hub", "run", "--namespace", "a.b"], {}, "--namespace a.b is not a namespace"),
        (["hub", "run", "--http-port", "70000"], {},
         "--http-port 70000: input should be less than or equal to 65535"),
        (["hub", "run"], {"DOCHUB_HTTP_PORT": "http"},
         "DOCHUB_HTTP_PORT=http: input should be a valid integer"),
        (["hub", "run", "--amqp-url", "notaurl"], {},
         "--amqp-url: the broker URL 'notaurl' is not an AMQP URL: it must start with amqp://"),
        (["hub", "run"], {"DOCHUB_AMQP_URL": "http://127.0.0.1:5672/"},
         "DOCHUB_AMQP_URL: the broker URL 'http://127.0.0.1:5672/' is not an AMQP URL"),
        (["hub", "run", "--amqp-url", "amqp://guest:guest@127.0.0.1:abc/"], {},
         "--amqp-url: the broker URL 'amqp://guest:***@127.0.0.1:abc/' has no valid port"),
        (["stats"], {"DOCHUB_STATS_UTC_OFFSET_HOURS": "99"},
         "DOCHUB_STATS_UTC_OFFSET_HOURS=99: input should be less than or equal to 14"),
        (["agency", "listen"], {"DOCHUB_AGENCY_KEY": "k.key"},
         "missing --agency-id (or DOCHUB_AGENCY_ID)"),
        (["agency", "listen"], {"DOCHUB_AGENCY_ID": G12}, "missing --key (or DOCHUB_AGENCY_KEY)"),
        (["agency", "listen"], {},
         "missing --agency-id (or DOCHUB_AGENCY_ID); missing --key (or DOCHUB_AGENCY_KEY)"),
        (["agency", "listen"], {"DOCHUB_AGENCY_ID": "G12", "DOCHUB_AGENCY_KEY": "k.key"},
         "DOCHUB_AGENCY_ID=G12 is not an agency id: expected DDD.CC.BB.LNN, e.g. 000.00.00.G12"),
        ([*SEND_ARGS, "--agency-id", "G12", "--key", "k.key"], {},
         "--agency-id G12 is not an agency id: expected DDD.CC.BB.LNN, e.g. 000.00.00.G12"),
        (SEND_ARGS,
         {"DOCHUB_AGENCY_ID": G12, "DOCHUB_AGENCY_KEY": "k.key", "DOCHUB_NAMESPACE": "a b"},
         "DOCHUB_NAMESPACE=a b is not a namespace"),
        (["agency", "listen", "--agency-id", G12, "--key", "k", "--amqp-url", "amqp://h:0/"], {},
         "--amqp-url: the broker URL 'amqp://h:0/' has no valid port"),
    ],
)  # fmt: skip
def test_an_invalid_setting_names_its_flag_or_variable(
    tmp_path: Path, args: list[str], env: dict[str, str], message: str
) -> None:
    """Never the settings' field names (``agency_id: Field required``), nor a raw regex."""
    result = invoke(*args, env={"DOCHUB_REGISTRY": str(tmp_path / "none.toml"), **env})
    assert_clean_failure(result, 2)
    assert_one_line(result, message)
    assert "agency_id" not in result.stderr
    assert "[0-9]" not in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (SEND_ARGS[:2], "error: Missing option '--to'; see 'dochub agency send --help'"),
        ([*SEND_ARGS, "--urgency", "9"], "error: Invalid value for '--urgency'"),
        (["agency", "listen", "--receipt", "99"], "error: Invalid value for '--receipt'"),
        (["stats", "--by", "week"], "error: Invalid value for '--by': 'week' is not one of"),
        (["--bogus"], "error: No such option: --bogus; see 'dochub --help'"),
        (["hub", "rnu"], "error: No such command 'rnu'"),
    ],
)
def test_click_usage_mistakes_are_one_line_naming_the_flag(args: list[str], message: str) -> None:
    result = invoke(*args)
    assert_clean_failure(result, 2)
    assert_one_line(result, message)
    assert "Usage:" not in result.output


@pytest.mark.parametrize("args", [[], ["agency"], ["hub"]])
def test_a_bare_command_still_prints_its_help(args: list[str]) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert "Usage: dochub" in result.output
    assert "error:" not in result.output


# Errors: one line and an exit code by cause; the traceback only with --debug


@pytest.mark.parametrize(
    ("exc", "code", "line"),
    [
        (UsageError("--to x is wrong"), ExitCode.USAGE, "--to x is wrong"),
        (CommandError("not sent: why", ExitCode.FAILED), ExitCode.FAILED, "not sent: why"),
        (RegistryError("the agency registry r.toml is invalid"), ExitCode.CONFIGURATION, None),
        (ConfigurationError("bad"), ExitCode.CONFIGURATION, None),
        (LedgerError("the ledger is locked"), ExitCode.LEDGER_UNAVAILABLE, None),
        (BrokerError("cannot reach RabbitMQ"), ExitCode.BROKER_UNAVAILABLE, None),
        (ManagementError("no management API"), ExitCode.BROKER_UNAVAILABLE, None),
        (BrokerRefused("RabbitMQ refused the login"), ExitCode.REFUSED, None),
        (HubError("a router worker failed"), ExitCode.FAILED, None),
        (BrokerUnavailable("no broker"), ExitCode.BROKER_UNAVAILABLE, None),
        (AccessRefused("refused"), ExitCode.REFUSED, None),
        (DocumentRefused("ingress full"), ExitCode.REFUSED, None),
        (DocumentUnroutable("nowhere"), ExitCode.FAILED, None),
        (InvalidDocument("too big"), ExitCode.FAILED, None),
        (NotProvisioned("no hub on namespace"), ExitCode.CONFIGURATION, None),
        (AgencyClientError("cannot read the key k"), ExitCode.CONFIGURATION, None),
        (
            FileExistsError(17, "File exists", "keys.txt"),
            ExitCode.CONFIGURATION,
            "keys.txt: File exists",
        ),
        (TimeoutError("slow"), ExitCode.TIMEOUT, "TimeoutError: slow"),
        (
            ConnectionRefusedError(111, "Connection refused"),
            ExitCode.BROKER_UNAVAILABLE,
            "Connection refused",
        ),
        (sqlite3.DatabaseError("not a db"), ExitCode.LEDGER_UNAVAILABLE, "DatabaseError: not a db"),
        (KeyboardInterrupt(), 130, "interrupted"),
        (
            ValueError("boom"),
            ExitCode.FAILED,
            "internal error: ValueError: boom; rerun with --debug for the traceback",
        ),
    ],
)
def test_every_error_has_one_line_and_a_code_by_its_cause(
    exc: BaseException, code: int, line: str | None
) -> None:
    assert exit_code_for(exc) == code
    text = one_line(exc)
    assert "\n" not in text
    assert text == (line if line is not None else str(exc))


def test_the_exit_codes_are_distinct_and_documented() -> None:
    assert len({int(code) for code in ExitCode}) == len(ExitCode)
    help_text = flat(invoke("--help").stdout)
    for code in [*ExitCode, 130]:
        assert f" {int(code)} " in help_text, code


def test_an_error_is_one_line_without_debug_and_a_traceback_with_it(tmp_path: Path) -> None:
    out = tmp_path / "keys.txt"
    out.write_text("a file", encoding="utf-8")
    plain = invoke("agency", "keygen", G12, "--out", out)
    assert_clean_failure(plain, 5)
    assert_one_line(plain, f"--out {out} is a file")
    debugged = invoke("--debug", "agency", "keygen", G12, "--out", out)
    assert debugged.exit_code == 5
    assert "Traceback (most recent call last)" in debugged.stderr
    assert debugged.stderr.splitlines()[-1] == plain.stderr.strip()


def test_an_unexpected_error_says_internal_error_and_how_to_see_more(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(folder: Path) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(agency_commands, "check_key_folder", broken)
    result = invoke("agency", "keygen", G12, "--out", tmp_path)
    assert_clean_failure(result, 1)
    assert_one_line(result, "internal error: ZeroDivisionError: division by zero", "--debug")
    debugged = invoke("--debug", "agency", "keygen", G12, "--out", tmp_path)
    assert "Traceback (most recent call last)" in debugged.stderr
    assert "rerun with --debug" not in debugged.stderr


def test_a_long_error_is_not_wrapped(tmp_path: Path) -> None:
    deep = tmp_path.joinpath(*["a-rather-long-folder-name"] * 8) / "agencies.toml"
    result = invoke(
        "agency", "keygen", G12, "--registry", deep, "--name", "B", env={"COLUMNS": "40"}
    )
    assert_clean_failure(result, 5)
    assert_one_line(result, str(deep))


# The hub checks its registry before it connects


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read the agency registry {path}: No such file or directory"),
        ("agencies = [", "the agency registry {path} is invalid"),
        ('schema_version = "2.0"\n', "the agency registry {path} lists no agencies"),
        ('schema_version = "1.0"\n', "the agency registry {path} is invalid"),
        (b"\xff\xfe not utf-8", "the agency registry {path} is not UTF-8 text"),
    ],
)
def test_hub_run_with_an_unusable_registry_exits_5_naming_the_file(
    tmp_path: Path, content: str | bytes | None, message: str
) -> None:
    path = tmp_path / "agencies.toml"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    elif isinstance(content, bytes):
        path.write_bytes(content)
    result = invoke(
        "hub", "run", "--registry", path, "--amqp-url", UNREACHABLE_AMQP_URL,
        "--ledger-url", f"sqlite:///{tmp_path / 'ledger.db'}",
    )  # fmt: skip
    assert_clean_failure(result, 5)
    events = log_events(result.stderr)
    assert [event["event"] for event in events] == ["hub_failed"]
    assert events[0]["level"] == "error"
    assert message.format(path=path) in events[0]["error"]
    assert not (tmp_path / "ledger.db").exists(), "the ledger is opened only after the registry"


def registry_with_hub(tmp_path: Path, hub_key: Ed25519PrivateKey | None) -> Path:
    directory = directory_of({G12: Ed25519PrivateKey.generate()})
    if hub_key is None:
        directory = directory.model_copy(update={"hub": None})
    else:
        directory = directory.model_copy(update={"hub": hub_entry(hub_key)})
    path = tmp_path / "agencies.toml"
    path.write_text(directory.to_toml(), encoding="utf-8")
    return path


def hub_key_file(tmp_path: Path) -> tuple[Path, Ed25519PrivateKey]:
    files = write_key_pair(tmp_path / "keys", "hub")
    return files.private, load_signing_key(files.private)


@pytest.mark.parametrize("case", ["missing key file", "no [hub] table", "another key"])
def test_hub_run_with_an_unusable_hub_key_exits_5(tmp_path: Path, case: str) -> None:
    key_path, key = hub_key_file(tmp_path)
    if case == "missing key file":
        registry = registry_with_hub(tmp_path, key)
        key_path = tmp_path / "absent.key"
        message = f"cannot read the key {key_path}"
    elif case == "no [hub] table":
        registry = registry_with_hub(tmp_path, None)
        message = "the agency registry has no [hub] table"
    else:
        registry = registry_with_hub(tmp_path, Ed25519PrivateKey.generate())
        message = "the hub's key is not the one the registry's [hub] table lists"
    result = invoke(
        "hub", "run", "--registry", registry, "--hub-key", key_path,
        "--amqp-url", UNREACHABLE_AMQP_URL, "--ledger-url", f"sqlite:///{tmp_path / 'ledger.db'}",
    )  # fmt: skip
    assert_clean_failure(result, 5)
    events = log_events(result.stderr)
    assert [event["event"] for event in events] == ["hub_failed"]
    assert message in events[0]["error"]
    assert not (tmp_path / "ledger.db").exists()


# The hub's settings


def test_hub_settings_defaults() -> None:
    settings = HubSettings(_env_file=None)
    assert settings.hub_key == Path("keys/hub.key")
    assert settings.trusted_users == ()
    assert settings.agency_queue_max_length == 100_000


@pytest.mark.parametrize(
    ("text", "users"),
    [
        ("guest", ("guest",)),
        ("guest,dochub-sim", ("guest", "dochub-sim")),
        (" guest , dochub-sim ,", ("guest", "dochub-sim")),
        ("", ()),
    ],
)
def test_hub_settings_trusted_users_are_comma_separated(
    monkeypatch: pytest.MonkeyPatch, text: str, users: tuple[str, ...]
) -> None:
    monkeypatch.setenv("DOCHUB_TRUSTED_USERS", text)
    monkeypatch.setenv("DOCHUB_HUB_KEY", "/etc/dochub/hub.key")
    monkeypatch.setenv("DOCHUB_AGENCY_QUEUE_MAX_LENGTH", "5000")
    settings = HubSettings(_env_file=None)
    assert settings.trusted_users == users
    assert settings.hub_key == Path("/etc/dochub/hub.key")
    assert settings.agency_queue_max_length == 5000


def test_hub_settings_refuse_an_agency_queue_of_no_length() -> None:
    with pytest.raises(ValidationError, match="agency_queue_max_length"):
        HubSettings(agency_queue_max_length=0, _env_file=None)


# stats on a ledger filled here

A, B, C, D = "000.00.00.G01", "000.00.00.G02", "000.00.00.H01", "000.00.00.H02"
KEYS = {agency: Ed25519PrivateKey.generate() for agency in (A, B, C, D)}
REGISTRY = Registry(directory_of(KEYS))
UTC7 = dt.timedelta(hours=7)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def document(sender: str, to: tuple[str, ...], sent_at: dt.datetime) -> DocumentInput:
    envelope = make_envelope(organ(sender), [organ(agency) for agency in to], sent_at=sent_at)
    verdict = inspected("document", envelope, KEYS[sender], REGISTRY)
    assert isinstance(verdict, DocumentInput), verdict
    return verdict


def receipt(about: DocumentInput, responder: str, at: dt.datetime) -> ReceiptInput:
    receipt = StatusReceipt(
        document=about.envelope.reference(),
        responder=organ(responder),
        code=StatusCode.ARRIVED,
        timestamp=at,
    )
    verdict = inspected("status", receipt, KEYS[responder], REGISTRY)
    assert isinstance(verdict, ReceiptInput), verdict
    return verdict


async def fill_ledger(url: str) -> None:
    """Five documents over two years (days at UTC+7) and one receipt."""
    march_10 = document(A, (C,), utc(2022, 3, 10, 3))
    documents = [
        document(A, (C, D), utc(2021, 3, 10, 3)),
        march_10,
        document(A, (C,), utc(2022, 3, 20, 3)),
        document(B, (A, C), utc(2022, 8, 15, 3)),
        document(A, (D,), utc(2022, 11, 30, 20)),  # 2022-12-01 at UTC+7
    ]
    ledger = await SqliteLedger.open(url, UTC7)
    try:
        await ledger.admit(documents)
        await ledger.admit([receipt(march_10, C, utc(2022, 3, 11, 3))])
    finally:
        await ledger.close()


@pytest.fixture(scope="module")
def ledger_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('stats') / 'ledger.db'}"
    asyncio.run(fill_ledger(url))
    return url


def row(
    period: str, documents: int, deliveries: int, receipts: int, earlier: int | None = None
) -> dict[str, object]:
    return {
        "period": period,
        "documents": documents,
        "deliveries": deliveries,
        "receipts": receipts,
        "documents_year_earlier": earlier,
    }


@pytest.mark.parametrize(
    ("by", "periods"),
    [
        (
            "day",
            [
                row("2021-03-10", 1, 2, 0),
                row("2022-03-10", 1, 1, 0, earlier=1),
                row("2022-03-11", 0, 0, 1),
                row("2022-03-20", 1, 1, 0),
                row("2022-08-15", 1, 2, 0),
                row("2022-12-01", 1, 1, 0),
            ],
        ),
        (
            "month",
            [
                row("2021-03", 1, 2, 0),
                row("2022-03", 2, 2, 1, earlier=1),
                row("2022-08", 1, 2, 0),
                row("2022-12", 1, 1, 0),
            ],
        ),
        (
            "quarter",
            [
                row("2021-Q1", 1, 2, 0),
                row("2022-Q1", 2, 2, 1, earlier=1),
                row("2022-Q3", 1, 2, 0),
                row("2022-Q4", 1, 1, 0),
            ],
        ),
        (
            "half",
            [
                row("2021-H1", 1, 2, 0),
                row("2022-H1", 2, 2, 1, earlier=1),
                row("2022-H2", 2, 3, 0),
            ],
        ),
        ("year", [row("2021", 1, 2, 0), row("2022", 4, 5, 1, earlier=1)]),
    ],
)
def test_stats_json_by_period(ledger_url: str, by: str, periods: list[dict[str, object]]) -> None:
    result = invoke("stats", "--by", by, "--json", "--ledger-url", ledger_url)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"by": by, "agency": None, "periods": periods}


@pytest.mark.parametrize(
    ("agency", "periods"),
    [
        # A sent four documents, received B's one, answered nothing.
        (A, [row("2021", 1, 0, 0), row("2022", 3, 1, 0, earlier=1)]),
        # C sent nothing, received four deliveries, sent the one receipt.
        (C, [row("2021", 0, 1, 0), row("2022", 0, 3, 1, earlier=0)]),
        (D, [row("2021", 0, 1, 0), row("2022", 0, 1, 0, earlier=0)]),
        ("000.00.00.G77", []),
    ],
)
def test_stats_json_for_one_agency(
    ledger_url: str, agency: str, periods: list[dict[str, object]]
) -> None:
    result = invoke(
        "stats", "--by", "year", "--agency", agency, "--json", "--ledger-url", ledger_url
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"by": "year", "agency": agency, "periods": periods}


def test_stats_ledger_url_from_the_environment(ledger_url: str) -> None:
    result = invoke("stats", "--by", "year", "--json", env={"DOCHUB_LEDGER_URL": ledger_url})
    assert result.exit_code == 0, result.output
    assert [period["documents"] for period in json.loads(result.stdout)["periods"]] == [1, 4]


def test_stats_default_is_by_month(ledger_url: str) -> None:
    result = invoke("stats", "--json", "--ledger-url", ledger_url)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["by"] == "month"
    assert [period["period"] for period in report["periods"]] == [
        "2021-03",
        "2022-03",
        "2022-08",
        "2022-12",
    ]


def test_stats_table(ledger_url: str) -> None:
    result = invoke("stats", "--by", "year", "--ledger-url", ledger_url)
    assert result.exit_code == 0, result.output
    lines = [flat(line) for line in result.stdout.splitlines()]
    assert any(line.startswith("2021 1 2 0") for line in lines), result.stdout
    assert any(line.startswith("2022 4 5 1 ×4.00") for line in lines), result.stdout
    assert "period documents deliveries receipts vs year earlier" in flat(result.stdout)
    assert squashed(ledger_url) in squashed(result.stdout)


def test_stats_table_without_documents(ledger_url: str) -> None:
    result = invoke("stats", "--agency", "000.00.00.G77", "--ledger-url", ledger_url)
    assert result.exit_code == 0, result.output
    assert "for agency 000.00.00.G77" in flat(result.stdout)
    assert squashed(f"no documents in {ledger_url}") in squashed(result.stdout)


@pytest.mark.parametrize(
    ("args", "exit_code", "message"),
    [
        (["--ledger-url", "sqlite:///{tmp}/missing.db"], 7, "no ledger at sqlite:///{tmp}"),
        (["--ledger-url", "postgresql://db/dochub"], 5, "PostgreSQL ledger is not built yet"),
        (["--ledger-url", "mysql://db/dochub"], 5, "unknown ledger URL 'mysql://db/dochub'"),
        (["--by", "week"], 2, "'week' is not one of"),
    ],
)
def test_stats_refusals(tmp_path: Path, args: list[str], exit_code: int, message: str) -> None:
    result = invoke("stats", *[arg.format(tmp=tmp_path) for arg in args])
    assert_clean_failure(result, exit_code)
    assert squashed(message.format(tmp=tmp_path)) in squashed(result.output)


# agency send matches the hub's refusals by the sha256 of what it sent


class FakeUpdate:
    def __init__(self, receipt: StatusReceipt) -> None:
        self.receipt = receipt
        self.acked = False

    async def ack(self) -> None:
        self.acked = True


class FakeStatuses:
    def __init__(self, updates: list[FakeUpdate]) -> None:
        self._updates = updates

    async def __aenter__(self) -> "FakeStatuses":
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    def __aiter__(self) -> Any:
        return self._iterate()

    async def _iterate(self) -> Any:
        for update in self._updates:
            yield update
        await asyncio.sleep(3600)  # nothing more: as a queue with nothing left


class FakeClient:
    """What ``_send`` uses of an ``AgencyClient``, without a broker."""

    def __init__(self, key: Ed25519PrivateKey, updates: list[FakeUpdate]) -> None:
        self._key = key
        self._statuses = FakeStatuses(updates)
        self.sent: list[Signed[Envelope]] = []

    async def __aenter__(self) -> "FakeClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def send(self, envelope: Envelope) -> Signed[Envelope]:
        signed = sign_document(envelope, self._key)
        self.sent.append(signed)
        return signed

    def statuses(self) -> FakeStatuses:
        return self._statuses


def hub_refusal_of(envelope: Envelope, body_sha256: str) -> StatusReceipt:
    return StatusReceipt(
        document=envelope.reference(),
        responder=None,
        code=StatusCode.REFUSED,
        reason=RejectionReason.UNKNOWN_RECIPIENT,
        refused=RefusedInput(sha256=body_sha256, kind="document"),
        description="not registered",
    )


def printed(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


async def test_send_prints_the_sha256_of_what_it_sent(capsys: pytest.CaptureFixture[str]) -> None:
    envelope = make_envelope(organ(A), [organ(C)])
    client = FakeClient(KEYS[A], [])
    assert await _send(client, envelope, None) == 0  # type: ignore[arg-type]
    (sent,) = printed(capsys)
    assert sent == {
        "event": "sent",
        "document_id": str(envelope.id),
        "to": [C],
        "sha256": client.sent[0].sha256,
    }


async def test_send_exits_4_on_the_hubs_refusal_of_exactly_what_it_sent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    envelope = make_envelope(organ(A), [organ(C)])
    ours = sign_document(envelope, KEYS[A])
    # Another publish of the same document id with other bytes, refused earlier: not ours.
    other = FakeUpdate(hub_refusal_of(envelope, "0" * 64))
    mine = FakeUpdate(hub_refusal_of(envelope, ours.sha256))
    client = FakeClient(KEYS[A], [other, mine])
    assert await _send(client, envelope, 5.0) == 4  # type: ignore[arg-type]
    assert not other.acked  # left in the queue for whoever sent it
    assert mine.acked
    sent, refusal = printed(capsys)
    assert sent["sha256"] == ours.sha256
    assert refusal["from"] == "hub"
    assert refusal["reason"] == "unknown_recipient"
    assert refusal["refused_sha256"] == ours.sha256


async def test_send_waits_past_the_refusal_of_other_bytes_with_the_same_id(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Another, accepted document may carry the id: a refusal is matched by sha256 alone."""
    envelope = make_envelope(organ(A), [organ(C)])
    other = FakeUpdate(hub_refusal_of(envelope, "0" * 64))
    arrived = FakeUpdate(
        StatusReceipt(document=envelope.reference(), responder=organ(C), code=StatusCode.ARRIVED)
    )
    accepted = FakeUpdate(
        StatusReceipt(document=envelope.reference(), responder=organ(C), code=StatusCode.ACCEPTED)
    )
    client = FakeClient(KEYS[A], [other, arrived, accepted])
    assert await _send(client, envelope, 5.0) == 0  # type: ignore[arg-type]
    assert [other.acked, arrived.acked, accepted.acked] == [False, True, True]
    events = printed(capsys)
    assert [event.get("code") for event in events] == [None, "01", "03"]
    assert all(event.get("refused_sha256") is None for event in events)


async def test_send_times_out_with_who_it_waits_for(capsys: pytest.CaptureFixture[str]) -> None:
    envelope = make_envelope(organ(A), [organ(C), organ(D)])
    answered = FakeUpdate(
        StatusReceipt(document=envelope.reference(), responder=organ(C), code=StatusCode.ACCEPTED)
    )
    client = FakeClient(KEYS[A], [answered])
    assert await _send(client, envelope, 0.2) == 3  # type: ignore[arg-type]
    assert printed(capsys)[-1] == {"event": "timeout", "waiting_for": [D]}
