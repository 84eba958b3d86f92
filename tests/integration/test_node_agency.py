"""A second, independent agency: `conformance/node/`, written in Node.js from docs/contract.md
alone, exchanges documents and receipts with a Python agency through a running hub, and the two
implementations verify each other's signatures.

These tests fail (never skip) when Node.js or the Node agency's packages are missing."""

import asyncio
import base64
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import aio_pika
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from agency_client import AgencyClient
from hub.registry import Registry
from hub.service import Hub
from hub.settings import HubSettings
from hub.topology import QueuePolicy, Topology
from schemas import AgencyDirectory, AgencyEntry, AgencyKind, HubEntry, Names, StatusCode, jws
from schemas.keys import public_key_from_text, public_key_to_text
from tests.factories import make_envelope

NODE_DIR = Path(__file__).resolve().parents[2] / "conformance" / "node"
INSTALL = "npm ci --prefix conformance/node"
PYTHON_ID, NODE_ID = "000.00.00.G12", "000.00.00.H29"
SCENARIO_TIMEOUT_S = 60
"""What the Node scenario is given; the subprocess is killed a little after it."""
DOCUMENT_TYP = "dochub-document+json"


def node_executable() -> str:
    """Node.js, with the Node agency's packages installed; the test fails saying how if not."""
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"Node.js (20 or later) is not installed: install it, then run `{INSTALL}`")
    wanted = json.loads((NODE_DIR / "package.json").read_text(encoding="utf-8"))["dependencies"]
    missing = [name for name in wanted if not (NODE_DIR / "node_modules" / name).is_dir()]
    if missing:
        pytest.fail(
            f"the Node agency's packages are not installed ({', '.join(missing)}): {INSTALL}"
        )
    return node


class NodeProcess:
    """A Node script run as a subprocess, its output gathered line by line, killed if it
    outlives ``timeout_s``."""

    def __init__(self, process: asyncio.subprocess.Process, timeout_s: float) -> None:
        self.process = process
        self.timeout_s = timeout_s
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        assert process.stdout is not None
        assert process.stderr is not None
        self.readers = [
            asyncio.create_task(self._gather(process.stdout, self.stdout)),
            asyncio.create_task(self._gather(process.stderr, self.stderr)),
        ]

    @classmethod
    async def start(cls, node: str, script: str, *args: str, timeout_s: float) -> "NodeProcess":
        process = await asyncio.create_subprocess_exec(
            node,
            str(NODE_DIR / script),
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(process, timeout_s)

    @staticmethod
    async def _gather(stream: asyncio.StreamReader, lines: list[str]) -> None:
        async for line in stream:
            lines.append(line.decode("utf-8", "replace").rstrip("\n"))

    def output(self) -> str:
        return "\n".join(["stdout:", *self.stdout, "stderr:", *self.stderr])

    def steps(self) -> dict[str, dict[str, object]]:
        """The JSON lines of stdout that name a step or a check, by name."""
        found: dict[str, dict[str, object]] = {}
        for line in self.stdout:
            if line.startswith("{"):
                record = json.loads(line)
                found[str(record.get("step", record.get("check")))] = record
        return found

    async def finish(self) -> int:
        """Its exit code; fails the test if it runs past its timeout (after killing it)."""
        try:
            await asyncio.wait_for(self.process.wait(), self.timeout_s)
        except TimeoutError:
            await self.kill()
            pytest.fail(f"{self.process.pid} ran past {self.timeout_s}s, killed\n{self.output()}")
        await asyncio.gather(*self.readers)
        assert self.process.returncode is not None
        return self.process.returncode

    async def kill(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        await asyncio.gather(*self.readers, return_exceptions=True)


@pytest.fixture
async def topology_cleanup(amqp_url: str, namespace: str) -> AsyncIterator[None]:
    """Delete everything the namespace declared, after the test."""
    yield
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        await Topology(Names(namespace), QueuePolicy()).delete(channel, [PYTHON_ID, NODE_ID])


async def dead_letters(amqp_url: str, queue_name: str, count: int) -> list[dict[str, object]]:
    """The headers of the first ``count`` messages of the dead-letter queue (acked), waiting up to
    10 s for them, then checking for a second that no further one comes."""
    connection = await aio_pika.connect(amqp_url)
    headers: list[dict[str, object]] = []
    async with connection:
        channel = await connection.channel()
        queue = await channel.declare_queue(queue_name, passive=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10.0
        quiet_until: float | None = None
        while loop.time() < (quiet_until or deadline):
            message = await queue.get(no_ack=False, fail=False)
            if message is None:
                await asyncio.sleep(0.05)
            else:
                await message.ack()
                headers.append(dict(message.headers))
            if len(headers) >= count and quiet_until is None:
                quiet_until = loop.time() + 1.0
    return headers


async def test_a_node_agency_exchanges_with_a_python_agency(
    amqp_url: str, namespace: str, tmp_path: Path, topology_cleanup: None
) -> None:
    node = node_executable()
    hub_key, python_key, node_key = (Ed25519PrivateKey.generate() for _ in range(3))
    directory = AgencyDirectory(
        hub=HubEntry(public_key=public_key_to_text(hub_key.public_key())),
        agencies=[
            AgencyEntry.for_key(
                PYTHON_ID, "Bộ Nội vụ", AgencyKind.MINISTRY, python_key.public_key()
            ),
            AgencyEntry.for_key(
                NODE_ID, "UBND thành phố Hà Nội", AgencyKind.PROVINCE, node_key.public_key()
            ),
        ],
    )
    directory_file, key_file = tmp_path / "directory.toml", tmp_path / "node-agency.pem"
    directory_file.write_text(directory.to_toml(), encoding="utf-8")
    key_file.write_bytes(node_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    # Both agencies connect as the test broker's user, which the hub trusts to publish for any.
    user = urlsplit(amqp_url).username or "guest"
    settings = HubSettings(
        amqp_url=amqp_url,
        namespace=namespace,
        ledger_url=f"sqlite:///{tmp_path / 'ledger.db'}",
        trusted_users=(user,),
        http_port=0,
        _env_file=None,
    )
    hub = Hub(settings, Registry(directory), hub_key, connection_name=f"hub node {namespace}")
    await hub.start()
    client = AgencyClient(
        PYTHON_ID,
        python_key,
        directory,
        amqp_url=amqp_url,
        namespace=namespace,
        connection_name=f"python peer of node {namespace}",
        send_timeout_s=10.0,
        user_id=user,
    )
    scenario: NodeProcess | None = None
    try:
        await client.connect()
        scenario = await NodeProcess.start(
            node,
            "scenario.mjs",
            *("--amqp-url", amqp_url, "--namespace", namespace),
            *("--directory", str(directory_file), "--key", str(key_file)),
            *("--agency-id", NODE_ID, "--peer", PYTHON_ID, "--user-id", user),
            *("--timeout-s", str(SCENARIO_TIMEOUT_S), "--state", str(tmp_path / "node.acked")),
            timeout_s=SCENARIO_TIMEOUT_S + 15,
        )
        within_s = SCENARIO_TIMEOUT_S

        # The Python agency sends the Node agency a document ...
        sent = await client.send(make_envelope(client.organ, [client.organ_of(NODE_ID)]))
        # ... answers the Node agency's document with 01 then 03 ...
        async with client.inbox() as inbox:
            delivery = await asyncio.wait_for(anext(inbox), within_s)
            theirs = delivery.envelope
            await delivery.ack()
        assert theirs.sender.id == NODE_ID
        assert [organ.id for organ in theirs.recipients] == [PYTHON_ID]
        await client.send_status(theirs, StatusCode.ARRIVED)
        await client.send_status(theirs, StatusCode.ACCEPTED)
        # ... and gets the Node agency's 01 and 03 about its own. The client hands over only
        # receipts whose stamp and signature verified (contract section 6).
        codes: list[str] = []
        async with client.statuses() as statuses:
            while len(codes) < 2:
                update = await asyncio.wait_for(anext(statuses), within_s)
                receipt = update.receipt
                await update.ack()
                assert receipt.responder is not None
                assert receipt.document is not None
                assert (receipt.document.id, receipt.responder.id) == (sent.model.id, NODE_ID)
                codes.append(str(receipt.code))
        # Two receipts may be relayed in either order (the hub runs competing workers).
        assert sorted(codes) == [StatusCode.ARRIVED, StatusCode.ACCEPTED]

        exit_code = await scenario.finish()
        assert exit_code == 0, f"the Node scenario failed ({exit_code})\n{scenario.output()}"
    finally:
        if scenario is not None:
            await scenario.kill()
        await client.close()
        await hub.stop()

    steps = scenario.steps()
    expected = [
        "connect",
        "receive_document",
        "send_receipt_01",
        "send_receipt_03",
        "send_document",
        "send_tampered",
        "send_unknown_recipient",
        "receipt_01",
        "receipt_03",
        "refusal_unknown_recipient",
        "no_refusal_for_tampered",
        "done",
    ]
    assert sorted(steps) == sorted(expected), scenario.output()
    assert all(step["ok"] for step in steps.values()), scenario.output()
    assert str(steps["receive_document"]["id"]).lower() == str(sent.model.id)
    assert steps["receive_document"]["sha256"] == sent.sha256
    assert steps["send_document"]["id"] == str(theirs.id).upper()  # the Node agency's form

    # Exactly the two bad inputs were dead-lettered, for the reasons of contract section 8.
    dead = await dead_letters(amqp_url, f"{namespace}.dead-letter", 2)
    by_body = {
        str(headers["x-dochub-input-sha256"]): headers["x-dochub-reason"] for headers in dead
    }
    assert by_body == {
        steps["send_tampered"]["sha256"]: "bad_signature",
        steps["send_unknown_recipient"]["sha256"]: "unknown_recipient",
    }, dead


async def test_node_and_python_verify_each_others_signatures(tmp_path: Path) -> None:
    node = node_executable()
    key = Ed25519PrivateKey.generate()
    payload = json.dumps({"subject": "Trích yếu có dấu", "n": 1}, ensure_ascii=False).encode()
    python_vector = tmp_path / "python.json"
    python_vector.write_text(
        json.dumps(
            {
                "body": jws.sign_flattened(payload, key, DOCUMENT_TYP).decode("ascii"),
                "public_key": public_key_to_text(key.public_key()),
                "kid": jws.thumbprint(key.public_key()),
                "typ": DOCUMENT_TYP,
                "payload": payload.decode("utf-8"),
            }
        ),
        encoding="utf-8",
    )
    node_vector = tmp_path / "node.json"
    selfcheck = await NodeProcess.start(
        node,
        "selfcheck.mjs",
        *("--verify-vector", str(python_vector), "--emit-vector", str(node_vector)),
        timeout_s=30,
    )
    exit_code = await selfcheck.finish()
    assert exit_code == 0, f"the Node self-check failed ({exit_code})\n{selfcheck.output()}"
    checks = selfcheck.steps()
    verified = checks["verifies_the_other_implementations_jws"]
    assert verified == {
        "check": verified["check"],
        "ok": True,
        "kid": jws.thumbprint(key.public_key()),
    }

    # Python verifies the Node agency's JWS with the contract's recipe (section 2), by hand.
    emitted = json.loads(node_vector.read_text(encoding="utf-8"))
    public_key = public_key_from_text(emitted["public_key"])
    body = json.loads(emitted["body"])
    assert sorted(body) == ["payload", "protected", "signature"]
    header = json.loads(_b64url(body["protected"]))
    assert header == {"alg": "EdDSA", "kid": jws.thumbprint(public_key), "typ": emitted["typ"]}
    signing_input = f"{body['protected']}.{body['payload']}".encode("ascii")
    public_key.verify(_b64url(body["signature"]), signing_input)  # raises if it does not verify
    assert _b64url(body["payload"]) == emitted["payload"].encode("utf-8")


def _text(value: object) -> str:
    """An AMQP header value as text (a long string may come as bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _b64url(text: str) -> bytes:
    """base64url without padding, strictly: padding is not allowed in a JWS."""
    assert "=" not in text
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
