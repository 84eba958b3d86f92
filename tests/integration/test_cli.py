"""The command line against a real RabbitMQ, as an operator runs it: the installed ``dochub``
script in subprocesses, a hub in the background, agencies sending and listening, and the logs and
exit codes they leave."""

import asyncio
import datetime as dt
import json
import os
import re
import signal
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aio_pika
import pytest

from agency_client import write_key_pair
from hub.topology import QueuePolicy, Topology
from schemas import AgencyDirectory, AgencyEntry, AgencyKind, HubEntry, Names
from schemas.urls import broker_user

DOCHUB = Path(sys.executable).parent / "dochub"
SENDER, RECIPIENT, STRANGER = "000.00.00.G12", "000.00.00.H29", "000.00.00.H58"
NAMES = {SENDER: "Bộ Nội vụ", RECIPIENT: "UBND thành phố Hà Nội", STRANGER: "UBND TP Hồ Chí Minh"}
STEP_S = 30.0
"""The longest any one step (a command, an awaited log line) may take."""

THROUGHPUT_FIELDS = {
    "documents_per_s",
    "deliveries_per_s",
    "receipts_per_s",
    "rejections_per_s",
    "documents_total",
    "route_p50_ms",
    "route_p99_ms",
    "ingress_depth",
}


class Running:
    """A ``dochub`` subprocess whose stdout and stderr are read line by line as they come."""

    def __init__(self, args: tuple[str, ...], process: asyncio.subprocess.Process) -> None:
        self.args = args
        self.process = process
        self.stdout_lines: list[str] = []
        self.stderr_lines: list[str] = []
        assert process.stdout is not None
        assert process.stderr is not None
        self._readers = [
            asyncio.create_task(self._read(process.stdout, self.stdout_lines)),
            asyncio.create_task(self._read(process.stderr, self.stderr_lines)),
        ]

    @staticmethod
    async def _read(stream: asyncio.StreamReader, into: list[str]) -> None:
        while line := await stream.readline():
            into.append(line.decode("utf-8", "replace").rstrip("\n"))

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    @property
    def stdout(self) -> str:
        return "\n".join(self.stdout_lines)

    @property
    def stderr(self) -> str:
        return "\n".join(self.stderr_lines)

    def describe(self) -> str:
        return (
            f"dochub {' '.join(self.args)} (exit {self.returncode})\n"
            f"stdout:\n{self.stdout}\nstderr:\n{self.stderr}"
        )

    def printed(self) -> list[dict[str, Any]]:
        """Every stdout line, each of which must be a JSON object."""
        records = []
        for line in self.stdout_lines:
            record = json.loads(line)
            assert isinstance(record, dict), line
            records.append(record)
        return records

    def logs(self) -> list[dict[str, Any]]:
        """The JSON log lines on stderr."""
        return [json.loads(line) for line in self.stderr_lines if line.startswith("{")]

    def events(self, name: str) -> list[dict[str, Any]]:
        return [record for record in self.logs() if record.get("event") == name]

    async def wait_for_event(
        self,
        name: str,
        matches: Callable[[dict[str, Any]], bool] = lambda _: True,
        within_s: float = STEP_S,
    ) -> dict[str, Any]:
        async def poll() -> dict[str, Any]:
            while True:
                for record in self.events(name):
                    if matches(record):
                        return record
                if self.returncode is not None:
                    await asyncio.gather(*self._readers)
                    matching = [record for record in self.events(name) if matches(record)]
                    if matching:
                        return matching[0]
                    pytest.fail(f"exited before logging {name}: {self.describe()}")
                await asyncio.sleep(0.05)

        try:
            return await asyncio.wait_for(poll(), within_s)
        except TimeoutError:
            pytest.fail(f"no {name} event within {within_s}s: {self.describe()}")

    async def finish(self, within_s: float = STEP_S) -> int:
        try:
            await asyncio.wait_for(self.process.wait(), within_s)
        except TimeoutError:
            pytest.fail(f"still running after {within_s}s: {self.describe()}")
        await asyncio.wait_for(asyncio.gather(*self._readers), within_s)
        assert self.returncode is not None
        return self.returncode

    async def terminate(self, within_s: float = STEP_S) -> int:
        self.process.send_signal(signal.SIGTERM)
        return await self.finish(within_s)

    async def kill(self) -> None:
        if self.returncode is None:
            self.process.kill()
        await asyncio.wait_for(self.process.wait(), 10)
        await asyncio.wait_for(asyncio.gather(*self._readers, return_exceptions=True), 10)


class Cli:
    """Runs ``dochub`` in the test's folder, on the test's broker and namespace."""

    def __init__(self, amqp_url: str, namespace: str, cwd: Path) -> None:
        self.namespace = namespace
        self.cwd = cwd
        self.env = {name: value for name, value in os.environ.items() if "DOCHUB_" not in name}
        self.env.update(
            DOCHUB_AMQP_URL=amqp_url,
            DOCHUB_NAMESPACE=namespace,
            DOCHUB_TRUSTED_USERS=broker_user(amqp_url),  # the agencies share the tests' user
            DOCHUB_HTTP_PORT="0",  # a free port for each hub
            PYTHONUNBUFFERED="1",
            COLUMNS="1000",  # rich does not fold error messages
        )
        self.started: list[Running] = []

    async def start(self, *args: str | Path) -> Running:
        argv = tuple(str(arg) for arg in args)
        process = await asyncio.create_subprocess_exec(
            DOCHUB,
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=self.cwd,
            env=self.env,
        )
        running = Running(argv, process)
        self.started.append(running)
        return running

    async def run(self, *args: str | Path, within_s: float = STEP_S) -> Running:
        running = await self.start(*args)
        await running.finish(within_s)
        return running

    async def hub(self, registry: Path, *extra: str) -> Running:
        """A hub in the background, returned once it has logged ``hub_started``. The hub's key
        is made with ``dochub hub keygen`` the first time, and listed in ``registry``."""
        hub_key = self.cwd / "keys" / "hub.key"
        if not hub_key.exists():
            keygen = await self.run("hub", "keygen", "--registry", registry, "--out", "keys")
            assert keygen.returncode == 0, keygen.describe()
        list_hub_key(registry, hub_key)
        hub = await self.start(
            "hub", "run", "--registry", registry, "--hub-key", hub_key,
            "--ledger-url", f"sqlite:///{self.cwd / 'dochub.db'}", *extra,
        )  # fmt: skip
        started = await hub.wait_for_event("hub_started")
        assert started["namespace"] == self.namespace
        return hub

    def agency(self, agency_id: str, registry: Path) -> list[str | Path]:
        """The flags that make a command act as ``agency_id``."""
        key = self.cwd / "keys" / f"{agency_id}.key"
        return ["--agency-id", agency_id, "--key", key, "--registry", registry]

    async def send(
        self, registry: Path, recipients: list[str], *extra: str, number: str = "125"
    ) -> Running:
        """``dochub agency send`` from SENDER to ``recipients``, run to its end."""
        return await self.run(
            "agency",
            "send",
            *self.agency(SENDER, registry),
            *document_flags(recipients, number),
            *extra,
        )


@pytest.fixture
async def cli(amqp_url: str, tmp_path: Path) -> AsyncIterator[Cli]:
    namespace = f"t-cli-{uuid.uuid4().hex[:10]}"
    runner = Cli(amqp_url, namespace, tmp_path)
    try:
        yield runner
    finally:
        for running in runner.started:
            await running.kill()
        await asyncio.wait_for(delete_namespace(amqp_url, namespace), STEP_S)


async def delete_namespace(amqp_url: str, namespace: str) -> None:
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        await Topology(Names(namespace), QueuePolicy()).delete(
            channel, [SENDER, RECIPIENT, STRANGER]
        )


def write_directory(path: Path, agency_ids: list[str]) -> Path:
    """A directory file of agencies (and the hub) whose keys are already in ``keys/`` beside
    it."""
    keys = path.parent / "keys"
    entries = [
        AgencyEntry(
            id=agency_id,
            name=NAMES[agency_id],
            kind=AgencyKind.OTHER,
            public_key=(keys / f"{agency_id}.pub").read_text(encoding="ascii").strip(),
        )
        for agency_id in agency_ids
    ]
    hub = HubEntry(public_key=(keys / "hub.pub").read_text(encoding="ascii").strip())
    path.write_text(AgencyDirectory(hub=hub, agencies=entries).to_toml(), encoding="utf-8")
    return path


def list_hub_key(registry: Path, hub_key: Path) -> None:
    """List the hub's public key in ``registry``, if it lists none yet."""
    directory = AgencyDirectory.from_toml(registry.read_text(encoding="utf-8"))
    if directory.hub is None:
        public = hub_key.with_suffix(".pub").read_text(encoding="ascii").strip()
        listed = AgencyDirectory(hub=HubEntry(public_key=public), agencies=directory.agencies)
        registry.write_text(listed.to_toml(), encoding="utf-8")


def make_keys(folder: Path, *agency_ids: str) -> None:
    """Key pairs of the agencies, and of the hub."""
    for agency_id in ("hub", *agency_ids):
        write_key_pair(folder / "keys", agency_id)


def document_flags(recipients: list[str], number: str) -> list[str]:
    flags = [
        "--number", number, "--notation", "BNV-CCHC", "--signer", "Nguyễn Văn A",
        "--subject", "Về việc báo cáo kết quả cải cách hành chính",
    ]  # fmt: skip
    for recipient in recipients:
        flags += ["--to", recipient]
    return flags


def flat(text: str) -> str:
    return " ".join(text.split())


def month_at_utc7() -> str:
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=7))).strftime("%Y-%m")


async def test_the_readme_flow_keygen_hub_listen_send_stop_stats(cli: Cli) -> None:
    registry = cli.cwd / "agencies.toml"
    for agency_id, kind in ((SENDER, "ministry"), (RECIPIENT, "province")):
        keygen = await cli.run(
            "agency", "keygen", agency_id, "--name", NAMES[agency_id], "--kind", kind,
            "--registry", registry.name,
        )  # fmt: skip
        assert keygen.returncode == 0, keygen.describe()
    hub = await cli.hub(registry)
    assert hub.events("hub_started")[0]["agencies"] == 2

    listener = await cli.start(
        "agency", "listen", *cli.agency(RECIPIENT, registry), "--count", "1", "--timeout", "30"
    )
    month_before = month_at_utc7()
    sender = await cli.send(registry, [RECIPIENT])
    month_after = month_at_utc7()
    assert sender.returncode == 0, sender.describe()
    sent, *statuses = sender.printed()
    assert sent == {
        "event": "sent",
        "document_id": sent["document_id"],
        "to": [RECIPIENT],
        "sha256": sent["sha256"],
    }
    assert re.fullmatch(r"[0-9a-f]{64}", sent["sha256"])
    document_id = sent["document_id"]
    assert uuid.UUID(document_id)
    assert [(s["event"], s["code"], s["meaning"]) for s in statuses] == [
        ("status", "01", "arrived"),
        ("status", "03", "accepted"),
    ]
    for status in statuses:
        assert status["document_id"] == document_id
        assert status["from"] == RECIPIENT
        assert status["reason"] is None

    assert await listener.finish() == 0, listener.describe()
    (received,) = listener.printed()
    assert received == {
        "event": "received",
        "document_id": document_id,
        "from": SENDER,
        "code": "125/BNV-CCHC",
        "type": "cong_van",
        "subject": "Về việc báo cáo kết quả cải cách hành chính",
        "attachments": [],
        "signature": "verified",
        "routed_at": received["routed_at"],
    }
    assert dt.datetime.fromisoformat(received["routed_at"]).tzinfo is not None

    assert await hub.terminate() == 0, hub.describe()
    assert len(hub.logs()) == len(hub.stderr_lines), "off a terminal, every log line is JSON"
    assert [record["level"] for record in hub.logs()] == ["info"] * len(hub.logs())
    (summary,) = hub.events("hub_summary")
    assert summary["ledger_accepted"] == 1
    assert summary["ledger_routed"] == 1
    assert summary["ledger_deliveries"] == 1
    assert summary["ledger_receipts"] == 2
    assert summary["ledger_rejected"] == 0
    assert summary["ledger_imbalances"] == []
    assert summary["documents_total"] == 1
    names = [record["event"] for record in hub.logs()]
    assert names.index("hub_started") < names.index("hub_stopping") < names.index("hub_summary")

    stats = await cli.run("stats", "--ledger-url", f"sqlite:///{cli.cwd / 'dochub.db'}", "--json")
    assert stats.returncode == 0, stats.describe()
    report = json.loads(stats.stdout)
    (period,) = report["periods"]
    assert period["period"] in {month_before, month_after}
    assert (period["documents"], period["deliveries"], period["receipts"]) == (1, 1, 2)
    assert period["documents_year_earlier"] is None


async def test_send_to_an_agency_the_hub_does_not_know_is_refused_by_the_hub(cli: Cli) -> None:
    make_keys(cli.cwd, SENDER, STRANGER)
    hub_registry = write_directory(cli.cwd / "hub-agencies.toml", [SENDER])
    directory = write_directory(cli.cwd / "agencies.toml", [SENDER, STRANGER])
    hub = await cli.hub(hub_registry)
    assert hub.events("hub_started")[0]["agencies"] == 1

    sender = await cli.send(directory, [STRANGER])
    assert sender.returncode == 4, sender.describe()  # refused by the hub
    sent, refused = sender.printed()
    assert sent["event"] == "sent"
    assert refused["event"] == "status"
    assert refused["document_id"] == sent["document_id"]
    assert refused["from"] == "hub"
    assert (refused["code"], refused["meaning"]) == ("02", "refused")
    assert refused["reason"] == "unknown_recipient"
    assert STRANGER in refused["description"]

    logged = await hub.wait_for_event(
        "input_refused", lambda record: record["document_id"] == sent["document_id"]
    )
    assert logged["reason"] == "unknown_recipient"
    assert logged["level"] == "warning"
    assert logged["agency_id"] == SENDER
    assert await hub.terminate() == 0, hub.describe()
    (summary,) = hub.events("hub_summary")
    assert (summary["ledger_accepted"], summary["ledger_rejected"]) == (0, 1)
    assert summary["rejections_total"] == 1


@pytest.mark.parametrize(
    "recipients",
    [["000.00.00.H77"], [STRANGER, "000.00.00.H77"]],
    ids=["only-unknown", "one-of-two-unknown"],
)
async def test_send_to_an_id_not_in_the_directory_names_it(cli: Cli, recipients: list[str]) -> None:
    make_keys(cli.cwd, SENDER, STRANGER)
    directory = write_directory(cli.cwd / "agencies.toml", [SENDER, STRANGER])
    hub = await cli.hub(directory)

    sender = await cli.send(directory, recipients)
    assert sender.returncode == 1, sender.describe()
    assert sender.stdout_lines == [], "nothing may be sent"
    assert "000.00.00.H77 is not in the agency directory" in flat(sender.stderr)
    assert "Traceback" not in sender.stderr

    assert await hub.terminate() == 0, hub.describe()
    (summary,) = hub.events("hub_summary")
    assert (summary["ledger_accepted"], summary["ledger_rejected"]) == (0, 0)


@pytest.mark.parametrize("command", ["send", "listen"])
async def test_without_a_hub_on_the_namespace_the_agency_commands_say_so(
    cli: Cli, command: str
) -> None:
    make_keys(cli.cwd, SENDER, RECIPIENT)
    directory = write_directory(cli.cwd / "agencies.toml", [SENDER, RECIPIENT])
    extra = document_flags([RECIPIENT], "1") if command == "send" else ["--timeout", "5"]
    agency = await cli.run("agency", command, *cli.agency(SENDER, directory), *extra)
    assert agency.returncode not in (0, None), agency.describe()
    assert agency.stdout_lines == []
    message = flat(agency.stderr)
    assert f"is a hub running on namespace '{cli.namespace}'" in message
    assert f"{cli.namespace}.ingress does not exist" in message
    assert "Traceback" not in agency.stderr


async def test_the_hub_logs_its_throughput(cli: Cli) -> None:
    make_keys(cli.cwd, SENDER, RECIPIENT)
    directory = write_directory(cli.cwd / "agencies.toml", [SENDER, RECIPIENT])
    hub = await cli.hub(directory, "--throughput-interval", "0.5")
    documents = 3

    senders = await asyncio.gather(
        *(
            cli.send(directory, [RECIPIENT], "--no-wait", number=str(number))
            for number in range(1, documents + 1)
        )
    )
    for sender in senders:
        assert sender.returncode == 0, sender.describe()
        assert [record["event"] for record in sender.printed()] == ["sent"]

    reached = await hub.wait_for_event(
        "throughput", lambda record: record["documents_total"] >= documents
    )
    assert reached["documents_total"] == documents
    assert reached["deliveries_total"] == documents
    assert await hub.terminate() == 0, hub.describe()

    reports = hub.events("throughput")
    assert len(reports) >= 2
    for report in reports:
        missing = THROUGHPUT_FIELDS - set(report)
        assert missing == set(), report
        assert report["level"] == "info"
        assert 0.3 <= report["interval_s"] <= 5.0, report
        for rate in ("documents_per_s", "deliveries_per_s", "receipts_per_s", "rejections_per_s"):
            assert isinstance(report[rate], int | float)
            assert report[rate] >= 0
        assert isinstance(report["ingress_depth"], int)
        assert report["ingress_depth"] >= 0
        assert 0 <= report["route_p50_ms"] <= report["route_p99_ms"]
        assert report["rejections_per_s"] == 0
    totals = [report["documents_total"] for report in reports]
    assert totals == sorted(totals), "a running total never goes down"
    assert totals[-1] == documents
    busy = [report for report in reports if report["documents_per_s"] > 0]
    assert busy, reports
    assert all(report["route_p50_ms"] > 0 for report in busy)
    (summary,) = hub.events("hub_summary")
    assert summary["documents_total"] == summary["ledger_accepted"] == documents


async def test_hub_summary_is_logged_on_sigint_too(cli: Cli) -> None:
    make_keys(cli.cwd, SENDER, RECIPIENT)
    directory = write_directory(cli.cwd / "agencies.toml", [SENDER, RECIPIENT])
    hub = await cli.hub(directory)
    hub.process.send_signal(signal.SIGINT)
    assert await hub.finish() == 0, hub.describe()
    (summary,) = hub.events("hub_summary")
    assert summary["ledger_accepted"] == 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT.+Z", summary["timestamp"])
