"""A new user's first hour, mistake by mistake: the installed ``dochub`` in a subprocess, given
each wrong flag, file or setting people try, ends within bounded time with one line on stderr
that names the flag or the file, and with the exit code of the cause. Nothing it refused leaves a
file behind."""

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import pytest

from agency_client import write_key_pair
from dochub.exit_codes import ExitCode
from hub.topology import QueuePolicy, Topology
from schemas import AgencyDirectory, AgencyEntry, AgencyKind, HubEntry, Names
from tests.integration.tcp_proxy import SilentServer

DOCHUB = Path(sys.executable).parent / "dochub"
G12, H29, UNLISTED = "000.00.00.G12", "000.00.00.H29", "000.00.00.H77"
STEP_S = 30.0
"""The longest one command may take; each case here fails well within it."""
MIB = 1024 * 1024


@dataclass(frozen=True)
class Ran:
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    def describe(self) -> str:
        return (
            f"dochub {' '.join(self.args)} (exit {self.code})\n"
            f"stdout:\n{self.stdout}\nstderr:\n{self.stderr}"
        )


class FirstHour:
    """A new user's folder: two agencies' keys and a directory, a broker, a namespace of its
    own."""

    def __init__(self, cwd: Path, amqp_url: str, namespace: str) -> None:
        self.cwd = cwd
        self.namespace = namespace
        self.env = {name: value for name, value in os.environ.items() if "DOCHUB_" not in name}
        self.env.update(
            DOCHUB_AMQP_URL=amqp_url,
            DOCHUB_NAMESPACE=namespace,
            DOCHUB_LOG_FORMAT="json",
            COLUMNS="60",  # narrow: an error line must still not be wrapped
        )
        keys = {agency: write_key_pair(cwd / "keys", agency) for agency in ("hub", G12, H29)}
        directory = AgencyDirectory(
            hub=HubEntry(public_key=keys["hub"].public_text),
            agencies=[
                AgencyEntry(
                    id=agency, name=agency, kind=AgencyKind.OTHER, public_key=files.public_text
                )
                for agency, files in keys.items()
                if agency != "hub"
            ],
        )
        self.registry = cwd / "agencies.toml"
        self.registry.write_text(directory.to_toml(), encoding="utf-8")

    def as_agency(self, agency: str = G12) -> list[str]:
        return ["--agency-id", agency, "--key", f"keys/{agency}.key", "--registry", "agencies.toml"]

    def send(self, *extra: str, to: str = H29) -> list[str]:
        return [
            "agency", "send", *self.as_agency(), "--to", to, "--subject", "Báo cáo",
            "--number", "1", "--notation", "BNV", "--signer", "Nguyễn Văn A", *extra,
        ]  # fmt: skip

    async def start(
        self, *args: str, env: dict[str, str] | None = None
    ) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            DOCHUB,
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=self.cwd,
            env={**self.env, **(env or {})},
        )

    async def run(self, *args: str, env: dict[str, str] | None = None) -> Ran:
        process = await self.start(*args, env=env)
        return await finished(process, args)


async def finished(process: asyncio.subprocess.Process, args: tuple[str, ...]) -> Ran:
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), STEP_S)
    except TimeoutError:
        process.kill()
        await process.wait()
        pytest.fail(f"dochub {' '.join(args)} still running after {STEP_S}s")
    assert process.returncode is not None
    return Ran(args, process.returncode, stdout.decode(), stderr.decode())


def one_line(ran: Ran, code: int, *fragments: str) -> str:
    """``ran`` ended with ``code`` and one line on stderr, no traceback, naming every fragment."""
    assert ran.code == code, ran.describe()
    assert "Traceback" not in ran.stderr + ran.stdout, ran.describe()
    lines = [line for line in ran.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, ran.describe()
    missing = [fragment for fragment in fragments if fragment not in lines[0]]
    assert missing == [], ran.describe()
    return lines[0]


def files_under(folder: Path) -> dict[str, bytes | None]:
    return {
        str(path.relative_to(folder)): path.read_bytes() if path.is_file() else None
        for path in sorted(folder.rglob("*"))
    }


@pytest.fixture
async def hour(amqp_url: str, tmp_path: Path) -> AsyncIterator[FirstHour]:
    namespace = f"t-{uuid.uuid4().hex[:12]}"
    yield FirstHour(tmp_path, amqp_url, namespace)
    # The agency commands only look (passive declares): delete whatever a regression declared.
    connection = await asyncio.wait_for(aio_pika.connect(amqp_url), STEP_S)
    async with connection:
        channel = await connection.channel()
        await asyncio.wait_for(
            Topology(Names(namespace), QueuePolicy()).delete(channel, [G12, H29]), STEP_S
        )


# Usage mistakes: exit 2, the flag and the accepted form


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (
            ["agency", "send", "--to", H29, "--subject", "s", "--number", "1", "--notation", "X",
             "--signer", "S"],
            ["missing --agency-id (or DOCHUB_AGENCY_ID)", "missing --key (or DOCHUB_AGENCY_KEY)"],
        ),
        (
            ["agency", "send", "--agency-id", "G12", "--key", "k.key", "--to", H29, "--subject",
             "s", "--number", "1", "--notation", "X", "--signer", "S"],
            ["--agency-id G12 is not an agency id: expected DDD.CC.BB.LNN, e.g. 000.00.00.G12"],
        ),
        (["agency", "send", "--subject", "s"], ["Missing option '--to'", "--help"]),
        (["agency", "listen", "--receipt", "99"], ["--receipt", "'99'"]),
        (["hub", "run", "--amqp-url", "notaurl"], ["--amqp-url", "amqp://"]),
        (["hub", "run", "--amqp-url", "amqp://guest:guest@127.0.0.1:abc/"],
         ["--amqp-url", "port"]),
        (["hub", "run", "--amqp-url", "http://127.0.0.1:5672/"], ["--amqp-url", "amqp://"]),
        (["hub", "run", "--workers", "0"], ["--workers 0"]),
        (["hub", "run", "--namespace", "a.b"], ["--namespace a.b is not a namespace"]),
        (["agency", "keygen", "G12"], ["G12 is not an agency id: expected DDD.CC.BB.LNN"]),
        (["agency", "keygen", G12, "--registry", "agencies.toml"], ["--registry needs --name"]),
        (["agency", "keygen", G12], ["exists already", "--force"]),
        (["hub", "keygen"], ["exists already", "--force"]),
        (["no-such-command"], ["No such command"]),
    ],
    ids=["missing-agency-id", "short-agency-id", "missing-to", "bad-receipt", "not-a-url",
         "port-abc", "http-url", "no-workers", "bad-namespace", "keygen-bad-id",
         "registry-without-name", "existing-key", "existing-hub-key", "unknown-command"],
)  # fmt: skip
async def test_a_usage_mistake_is_one_line_naming_the_flag(
    hour: FirstHour, args: list[str], fragments: list[str]
) -> None:
    before = files_under(hour.cwd)
    line = one_line(await hour.run(*args), ExitCode.USAGE, *fragments)
    assert "agency_id" not in line, "field names stay inside"
    assert "[0-9]" not in line, "so do regexes"
    assert files_under(hour.cwd) == before


async def test_a_wrong_setting_from_the_environment_names_the_variable(hour: FirstHour) -> None:
    ran = await hour.run(*hour.send(), env={"DOCHUB_AMQP_URL": "amqp://h:0/"})
    one_line(ran, ExitCode.USAGE, "DOCHUB_AMQP_URL", "port")
    ran = await hour.run("hub", "run", env={"DOCHUB_WORKERS": "many"})
    one_line(ran, ExitCode.USAGE, "DOCHUB_WORKERS=many")


# A document over the limits: exit 2, naming --attach, --subject or --content


async def test_an_attachment_over_1_mib_names_attach_and_the_limit(hour: FirstHour) -> None:
    (hour.cwd / "scan.pdf").write_bytes(b"%PDF" + b"\0" * MIB)
    ran = await hour.run(*hour.send("--attach", "scan.pdf"))
    line = one_line(ran, ExitCode.USAGE, "--attach scan.pdf", "1 MiB", "1,048,580 bytes")
    assert "content" not in line, "--content is another flag"


async def test_too_many_attachments_names_attach(hour: FirstHour) -> None:
    attach = []
    for index in range(51):
        (hour.cwd / f"{index}.txt").write_text(str(index), encoding="utf-8")
        attach += ["--attach", f"{index}.txt"]
    one_line(await hour.run(*hour.send(*attach)), ExitCode.USAGE, "--attach", "at most 50")


async def test_attachments_over_the_4_mib_message_name_attach(hour: FirstHour) -> None:
    attach = []
    for index in range(5):
        (hour.cwd / f"{index}.bin").write_bytes(os.urandom(MIB - 1))
        attach += ["--attach", f"{index}.bin"]
    one_line(await hour.run(*hour.send(*attach)), ExitCode.USAGE, "4 MiB", "--attach")


@pytest.mark.parametrize(
    ("flag", "limit"), [("--subject", 2_000), ("--content", 100_000), ("--signer", 300)]
)
async def test_a_text_over_its_limit_names_its_flag(hour: FirstHour, flag: str, limit: int) -> None:
    ran = await hour.run(*hour.send(flag, "x" * (limit + 1)))
    one_line(ran, ExitCode.USAGE, f"{flag}: string should have at most {limit} characters")


async def test_an_unreadable_attachment_names_the_file(hour: FirstHour) -> None:
    ran = await hour.run(*hour.send("--attach", "absent.pdf"))
    one_line(ran, ExitCode.CONFIGURATION, "--attach absent.pdf", "No such file or directory")


async def test_a_recipient_not_in_the_directory_is_not_sent(hour: FirstHour) -> None:
    ran = await hour.run(*hour.send(to=UNLISTED))
    one_line(ran, ExitCode.FAILED, f"--to {UNLISTED} is not in the agency directory")
    assert ran.stdout == "", "nothing was sent"


# Files the command cannot use: exit 5, naming the file; nothing written


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["agency", "keygen", H29, "--out", "agencies.toml"], ["--out agencies.toml is a file"]),
        (["agency", "keygen", H29, "--out", "agencies.toml/keys"], ["--out agencies.toml/keys"]),
        (["agency", "keygen", H29, "--out", "new-keys", "--registry",
          "missing/dir/agencies.toml", "--name", "UBND"],
         ["missing/dir/agencies.toml", "does not exist"]),
        (["agency", "keygen", H29, "--out", "new-keys", "--registry", "keys", "--name", "UBND"],
         ["keys is a folder"]),
        (["agency", "keygen", H29, "--out", "new-keys", "--registry", "broken.toml", "--name",
          "UBND"], ["broken.toml is invalid"]),
        (["hub", "keygen", "--out", "new-keys", "--registry", "missing/dir/agencies.toml"],
         ["missing/dir/agencies.toml", "does not exist"]),
        (["hub", "keygen", "--out", "agencies.toml"], ["--out agencies.toml is a file"]),
        (["agency", "listen", "--agency-id", G12, "--key", "keys/absent.key"],
         ["cannot read the key keys/absent.key", "--key"]),
        (["agency", "listen", "--agency-id", G12, "--key", "agencies.toml"],
         ["agencies.toml is not an unencrypted PEM private key"]),
        (["agency", "listen", "--agency-id", G12, "--key", f"keys/{G12}.key", "--registry",
          "absent.toml"], ["cannot read the agency registry absent.toml", "--registry"]),
        (["agency", "listen", "--agency-id", UNLISTED, "--key", f"keys/{G12}.key"],
         [f"--agency-id {UNLISTED} is not in the agency directory agencies.toml"]),
        (["agency", "listen", "--agency-id", H29, "--key", f"keys/{G12}.key"],
         [f"the signing key is not the one the directory registers for {H29}"]),
    ],
    ids=["out-is-a-file", "out-under-a-file", "registry-folder-missing", "registry-is-a-folder",
         "registry-invalid", "hub-registry-folder-missing", "hub-out-is-a-file", "key-missing",
         "key-not-a-key", "registry-missing", "agency-not-listed", "another-agencys-key"],
)  # fmt: skip
async def test_a_file_the_command_cannot_use_is_one_line_naming_it(
    hour: FirstHour, args: list[str], fragments: list[str]
) -> None:
    (hour.cwd / "broken.toml").write_text("agencies = [", encoding="utf-8")
    before = files_under(hour.cwd)
    one_line(await hour.run(*args), ExitCode.CONFIGURATION, *fragments)
    assert files_under(hour.cwd) == before, "a refused command writes nothing"


async def test_keygen_leaves_no_key_when_the_registry_folder_is_missing(hour: FirstHour) -> None:
    """The keys used to be written before the directory file failed: a retry then met "exists
    already", and the keys were listed nowhere."""
    for args in (
        ["agency", "keygen", H29, "--name", "UBND", "--out", "fresh"],
        ["hub", "keygen", "--out", "fresh"],
    ):
        ran = await hour.run(*args, "--registry", "missing/dir/agencies.toml")
        one_line(ran, ExitCode.CONFIGURATION, "missing/dir/agencies.toml")
        assert not (hour.cwd / "fresh").exists()
        assert not (hour.cwd / "missing").exists()
    made = await hour.run("agency", "keygen", H29, "--name", "UBND", "--out", "fresh",
                          "--registry", "new.toml")  # fmt: skip
    assert made.code == 0, made.describe()
    assert sorted(path.name for path in (hour.cwd / "fresh").iterdir()) == [
        f"{H29}.key",
        f"{H29}.pub",
    ]


async def test_hub_run_with_a_missing_registry_logs_one_line_and_exits_5(hour: FirstHour) -> None:
    ran = await hour.run("hub", "run", "--registry", "absent.toml")
    line = one_line(ran, ExitCode.CONFIGURATION, "hub_failed", "absent.toml")
    assert line.startswith("{"), "the hub's error is its hub_failed log event"


# The broker: refused 4, unreachable 6, no hub on the namespace 5


async def test_no_hub_on_the_namespace_is_one_line(hour: FirstHour) -> None:
    ran = await hour.run("agency", "listen", *hour.as_agency(), "--timeout", "5")
    one_line(ran, ExitCode.CONFIGURATION, f"is a hub running on namespace '{hour.namespace}'")


async def test_wrong_broker_credentials_are_refused(hour: FirstHour, amqp_url: str) -> None:
    parts = urlsplit(amqp_url)
    url = urlunsplit(parts._replace(netloc=f"nobody-here:wrong@{parts.hostname}:{parts.port}"))
    ran = await hour.run(*hour.send("--amqp-url", url))
    line = one_line(ran, ExitCode.REFUSED, "refused")
    assert "wrong" not in line, "the password is never printed"


async def test_a_closed_port_is_broker_unavailable(hour: FirstHour) -> None:
    ran = await hour.run(*hour.send("--amqp-url", "amqp://guest:guest@127.0.0.1:1/"))
    one_line(ran, ExitCode.BROKER_UNAVAILABLE, "127.0.0.1:1")


async def test_a_port_that_never_answers_is_broker_unavailable_within_the_timeout(
    hour: FirstHour,
) -> None:
    async with SilentServer() as silent:
        ran = await hour.run(
            *hour.send("--amqp-url", silent.url()), env={"DOCHUB_CONNECT_TIMEOUT_S": "2"}
        )
        assert silent.accepted >= 1
    one_line(ran, ExitCode.BROKER_UNAVAILABLE, f"127.0.0.1:{silent.port}", "2 s")


@pytest.mark.parametrize(("sent", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
async def test_a_signal_ends_a_waiting_command_within_seconds(
    hour: FirstHour, sent: signal.Signals, code: int
) -> None:
    async with SilentServer() as silent:
        process = await hour.start(
            "agency", "listen", *hour.as_agency(), "--amqp-url", silent.url(),
            env={"DOCHUB_CONNECT_TIMEOUT_S": "60"},
        )  # fmt: skip
        await asyncio.wait_for(silent.first_connection(), STEP_S)
        process.send_signal(sent)
        ran = await finished(process, ("agency", "listen"))
    assert ran.code == code, ran.describe()
    assert "Traceback" not in ran.stderr
    one_line(ran, code, "interrupted")


# --debug


async def test_debug_adds_the_traceback_to_the_same_line(hour: FirstHour) -> None:
    args = ["agency", "keygen", H29, "--out", "agencies.toml"]
    plain = await hour.run(*args)
    line = one_line(plain, ExitCode.CONFIGURATION, "--out agencies.toml is a file")
    debugged = await hour.run("--debug", *args)
    assert debugged.code == ExitCode.CONFIGURATION
    assert "Traceback (most recent call last)" in debugged.stderr
    assert debugged.stderr.splitlines()[-1] == line
