"""Bad input, published raw to the ingress (past the client's own checks): each ends in the
dead-letter queue with its reason, the agency whose registered key signed it hears of it with a
status 02 signed by the hub and naming the refused bytes, nobody else does (nobody at all for
input no registered key authenticated), the ledger counts it as rejected, and the hub goes on
routing valid documents."""

import asyncio
import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from agency_client import AgencyClient
from hub.service import Hub
from schemas import (
    HUB_SIGNER,
    DocumentReference,
    Envelope,
    RejectionReason,
    StatusCode,
    StatusReceipt,
    sign_document,
    sign_receipt,
)
from schemas.jws import DOCUMENT_TYP, b64url_decode, sign_flattened
from schemas.naming import DOCUMENT_ROUTING_KEY, STATUS_ROUTING_KEY
from schemas.rejection import DETAIL_HEADER, INPUT_SHA256_HEADER, KIND_HEADER, REASON_HEADER
from tests.factories import make_envelope, organ, payload_of
from tests.integration.conftest import BrokerProbe, ClientFactory, FakeAgency, HubFactory
from tests.integration.waiting import settled_totals, until

SMALL_LIMIT = 4096
"""The hub's message limit in these tests, so that an oversize document is cheap to build."""
UNREGISTERED = "000.00.00.H99"
"""In the national format, but not in the directory."""


@dataclass
class Scene:
    """What a case needs: the hub, the agencies A, B, C, D and their clients, the probe."""

    hub: Hub
    agencies: list[FakeAgency]
    clients: dict[str, AgencyClient]
    probe: BrokerProbe
    routed: list[Envelope] = field(default_factory=list)
    """Valid documents A sent to B through the client before the bad input, already received."""

    @property
    def a(self) -> FakeAgency:
        return self.agencies[0]

    @property
    def b(self) -> FakeAgency:
        return self.agencies[1]

    @property
    def c(self) -> FakeAgency:
        return self.agencies[2]

    def client(self, agency: FakeAgency) -> AgencyClient:
        return self.clients[agency.id]

    def envelope(self, sender: FakeAgency, recipients: list[str], **overrides: object) -> Envelope:
        return make_envelope(
            self.client(sender).organ, [organ(agency) for agency in recipients], **overrides
        )

    async def original(self) -> Envelope:
        """A valid document from A to B, sent through the client and already in B's inbox."""
        if not self.routed:
            sender = self.client(self.a)
            sent = await sender.send(make_envelope(sender.organ, [sender.organ_of(self.b.id)]))
            message = await self.probe.get(self.hub.names.inbox_queue(self.b.id))
            assert message.body == sent.body
            self.routed.append(sent.model)
        return self.routed[0]


@dataclass(frozen=True)
class BadInput:
    body: bytes
    reason: RejectionReason
    notified: str | None
    """The agency that must get a status 02, or None when no agency may get one."""
    document_id: UUID | None = None
    """The document the status 02 is about."""
    routing_key: str = DOCUMENT_ROUTING_KEY


def _signed(envelope: Envelope, key: Ed25519PrivateKey) -> bytes:
    return sign_document(envelope, key).body


def _resigned(body: bytes, key: Ed25519PrivateKey, edit: Callable[[dict[str, Any]], None]) -> bytes:
    """The payload of ``body`` edited as JSON, then signed again as it is."""
    data = json.loads(b64url_decode(json.loads(body)["payload"], "payload"))
    edit(data)
    return sign_flattened(json.dumps(data).encode(), key, DOCUMENT_TYP)


async def malformed_bytes(scene: Scene) -> BadInput:
    return BadInput(b"\xff\x00not json", RejectionReason.MALFORMED, None)


async def wrong_schema(scene: Scene) -> BadInput:
    """A payload signed by A that is no envelope: A, its proven signer, hears of it."""
    envelope = scene.envelope(scene.a, [scene.b.id])

    def edit(data: dict[str, Any]) -> None:
        del data["subject"]
        data["colour"] = "blue"

    body = _resigned(_signed(envelope, scene.a.key), scene.a.key, edit)
    return BadInput(body, RejectionReason.SCHEMA_INVALID, scene.a.id, envelope.id)


async def wrong_schema_anonymous(scene: Scene) -> BadInput:
    """JSON with no signer to tell."""
    return BadInput(b'[1, 2, {"id": "x"}]', RejectionReason.SCHEMA_INVALID, None)


async def unsupported_version(scene: Scene) -> BadInput:
    envelope = scene.envelope(scene.a, [scene.b.id])

    def edit(data: dict[str, Any]) -> None:
        data["schema_version"] = "3.0"

    body = _resigned(_signed(envelope, scene.a.key), scene.a.key, edit)
    return BadInput(body, RejectionReason.UNSUPPORTED_VERSION, scene.a.id, envelope.id)


async def contract_one_document(scene: Scene) -> BadInput:
    """A document in the 1.0 form, a bare envelope with its own signature member."""
    envelope = scene.envelope(scene.a, [scene.b.id])
    data = json.loads(envelope.model_dump_json())
    data |= {"schema_version": "1.0", "signature": {"algorithm": "ed25519", "value": "AA"}}
    return BadInput(json.dumps(data).encode(), RejectionReason.UNSUPPORTED_VERSION, None)


async def oversize(scene: Scene) -> BadInput:
    """A valid signed document, bigger than this hub's limit but within the contract's: the hub
    still reads it, so that its signer hears why it was refused."""
    envelope = scene.envelope(scene.a, [scene.b.id], subject="Rất dài " * 200, content="x" * 5000)
    body = _signed(envelope, scene.a.key)
    assert len(body) > SMALL_LIMIT
    return BadInput(body, RejectionReason.OVERSIZE, scene.a.id, envelope.id)


async def unsigned(scene: Scene) -> BadInput:
    data = json.loads(_signed(scene.envelope(scene.a, [scene.b.id]), scene.a.key))
    del data["signature"]
    return BadInput(json.dumps(data).encode(), RejectionReason.UNSIGNED, None)


async def forged_refusal_bait(scene: Scene) -> BadInput:
    """An unsigned envelope reusing the id of A's accepted document and naming A as sender:
    refused, and A hears nothing of it (nobody authenticated it)."""
    original = await scene.original()
    forged = scene.envelope(scene.a, [scene.b.id], id=original.id, subject="Giả mạo")
    data = json.loads(_signed(forged, Ed25519PrivateKey.generate()))
    data["protected"] = json.loads(_signed(forged, scene.a.key))["protected"]  # A's kid
    data["signature"] = ""
    body = json.dumps(data).encode()
    assert forged.id == original.id
    return BadInput(body, RejectionReason.UNSIGNED, None)


async def bad_signature(scene: Scene) -> BadInput:
    body = _signed(scene.envelope(scene.a, [scene.b.id]), scene.a.key)
    data = json.loads(body)
    data["payload"] = (
        _signed(
            scene.envelope(scene.a, [scene.b.id], subject="Nội dung đã bị sửa sau khi ký"),
            scene.a.key,
        )
        .split(b'"payload":"')[1]
        .split(b'"')[0]
        .decode()
    )
    return BadInput(json.dumps(data).encode(), RejectionReason.BAD_SIGNATURE, None)


async def spoofed_sender(scene: Scene) -> BadInput:
    """A's envelope signed with B's registered key: B, the real signer, hears of it, not A."""
    envelope = scene.envelope(scene.a, [scene.c.id])
    body = _signed(envelope, scene.b.key)
    return BadInput(body, RejectionReason.SENDER_MISMATCH, scene.b.id, envelope.id)


async def unknown_sender(scene: Scene) -> BadInput:
    envelope = make_envelope(organ(UNREGISTERED), [organ(scene.b.id)])
    return BadInput(
        _signed(envelope, Ed25519PrivateKey.generate()), RejectionReason.UNKNOWN_SENDER, None
    )


async def unknown_recipient(scene: Scene) -> BadInput:
    """One registered recipient and one unknown: the whole document is refused."""
    envelope = scene.envelope(scene.a, [scene.b.id, UNREGISTERED])
    return BadInput(
        _signed(envelope, scene.a.key), RejectionReason.UNKNOWN_RECIPIENT, scene.a.id, envelope.id
    )


async def id_conflict(scene: Scene) -> BadInput:
    original = await scene.original()
    other = scene.envelope(scene.a, [scene.b.id], id=original.id, subject="Một văn bản khác")
    return BadInput(
        _signed(other, scene.a.key), RejectionReason.ID_CONFLICT, scene.a.id, original.id
    )


async def unknown_document(scene: Scene) -> BadInput:
    receipt = StatusReceipt(
        document=DocumentReference(id=uuid.uuid4(), sender=scene.a.id),
        responder=scene.client(scene.b).organ,
        code=StatusCode.ARRIVED,
    )
    return BadInput(
        sign_receipt(receipt, scene.b.key).body,
        RejectionReason.UNKNOWN_DOCUMENT,
        None,
        routing_key=STATUS_ROUTING_KEY,
    )


async def not_a_recipient(scene: Scene) -> BadInput:
    original = await scene.original()
    receipt = StatusReceipt(
        document=original.reference(),
        responder=scene.client(scene.c).organ,
        code=StatusCode.ARRIVED,
    )
    return BadInput(
        sign_receipt(receipt, scene.c.key).body,
        RejectionReason.NOT_A_RECIPIENT,
        None,
        routing_key=STATUS_ROUTING_KEY,
    )


CASES: dict[str, Callable[[Scene], Awaitable[BadInput]]] = {
    "malformed": malformed_bytes,
    "wrong_schema": wrong_schema,
    "wrong_schema_anonymous": wrong_schema_anonymous,
    "unsupported_version": unsupported_version,
    "contract_one_document": contract_one_document,
    "oversize": oversize,
    "unsigned": unsigned,
    "forged_refusal_bait": forged_refusal_bait,
    "bad_signature": bad_signature,
    "spoofed_sender": spoofed_sender,
    "unknown_sender": unknown_sender,
    "unknown_recipient": unknown_recipient,
    "id_conflict": id_conflict,
    "unknown_document": unknown_document,
    "not_a_recipient": not_a_recipient,
}


async def _scene(
    hub_factory: HubFactory,
    agencies: list[FakeAgency],
    client_for: ClientFactory,
    probe: BrokerProbe,
    **hub_overrides: object,
) -> Scene:
    hub = await hub_factory(max_message_bytes=SMALL_LIMIT, **hub_overrides)
    clients = {agency.id: await client_for(agency) for agency in agencies}
    return Scene(hub, agencies, clients, probe)


@pytest.mark.parametrize("case", list(CASES))
async def test_bad_input_is_dead_lettered_with_its_reason_and_the_hub_goes_on(
    case: str,
    hub_factory: HubFactory,
    agencies: list[FakeAgency],
    client_for: ClientFactory,
    probe: BrokerProbe,
) -> None:
    # One worker: if the bad input killed it, nothing else would route the valid document.
    scene = await _scene(hub_factory, agencies, client_for, probe, workers=1)
    hub, names = scene.hub, scene.hub.names
    bad = await CASES[case](scene)
    setup_documents = len(scene.routed)

    await probe.publish_ingress(bad.body, bad.routing_key)

    dead = await probe.get(names.dead_letter_queue)
    assert dead.body == bad.body
    assert dead.headers[REASON_HEADER] == bad.reason.value
    assert isinstance(dead.headers[DETAIL_HEADER], str)
    assert dead.headers[DETAIL_HEADER].strip()
    assert dead.headers[KIND_HEADER] == bad.routing_key
    assert dead.headers[INPUT_SHA256_HEADER] == hashlib.sha256(bad.body).hexdigest()

    totals = await settled_totals(hub, lambda t: t.dead_lettered == 1)
    assert totals.rejected == 1
    assert totals.rejected_by_reason == {bad.reason.value: 1}
    assert hub.meter.total.rejections == 1

    # The refusal is complete (dead-lettered and its 02 confirmed): every status queue is final.
    if bad.notified is not None:
        async with scene.clients[bad.notified].statuses() as statuses:
            update = await asyncio.wait_for(anext(statuses), 10)
            receipt = update.receipt
            assert receipt.code is StatusCode.REFUSED
            assert receipt.responder is None
            assert receipt.issued_by_hub
            assert receipt.reason is bad.reason
            assert receipt.description.strip()
            assert receipt.document is not None
            assert receipt.document.id == bad.document_id
            assert receipt.document.sender == bad.notified
            assert receipt.refused is not None
            assert receipt.refused.sha256 == hashlib.sha256(bad.body).hexdigest()
            assert update.signed.signer == HUB_SIGNER  # signed by the hub's own key
            await update.ack()
    for agency in agencies:
        depth = await probe.depth(names.status_queue(agency.id))
        assert depth == 0, f"{agency.id} has {depth} unexpected receipt(s)"

    # The hub goes on: a valid document sent after the bad one is routed.
    sender = scene.client(scene.a)
    valid = await sender.send(make_envelope(sender.organ, [sender.organ_of(scene.b.id)]))
    message = await probe.get(names.inbox_queue(scene.b.id))
    assert message.body == valid.body

    accepted = setup_documents + 1
    totals = await settled_totals(hub, lambda t: t.routed == accepted)
    assert (totals.accepted, totals.in_flight) == (accepted, 0)
    assert totals.documents_by_sender == {scene.a.id: accepted}
    assert totals.deliveries_by_recipient == {scene.b.id: accepted}
    assert (totals.rejected, totals.dead_lettered) == (1, 1)
    assert totals.received == accepted + 1
    assert totals.imbalances() == []
    # Nothing of the bad input reached any inbox, and nothing is left behind.
    for agency in agencies:
        assert await probe.depth(names.inbox_queue(agency.id)) == 0, agency.id
    assert await probe.depth(names.dead_letter_queue) == 0
    assert await probe.depth(names.ingress_queue) == 0


async def test_the_document_in_an_id_conflict_keeps_its_first_content(
    hub_factory: HubFactory,
    agencies: list[FakeAgency],
    client_for: ClientFactory,
    probe: BrokerProbe,
) -> None:
    scene = await _scene(hub_factory, agencies, client_for, probe)
    bad = await id_conflict(scene)
    original = scene.routed[0]

    await probe.publish_ingress(bad.body)
    dead = await probe.get(scene.hub.names.dead_letter_queue)
    assert dead.headers[REASON_HEADER] == RejectionReason.ID_CONFLICT.value

    # The original, resent unchanged, is still a duplicate of what the ledger holds.
    await scene.client(scene.a).send(original)

    async def duplicates() -> int:
        return scene.hub.meter.total.duplicates

    await until(duplicates, lambda n: n == 1, 10)
    totals = await settled_totals(scene.hub, lambda t: t.dead_lettered == 1)
    assert (totals.accepted, totals.routed, totals.deliveries) == (1, 1, 1)
    assert totals.rejected_by_reason == {RejectionReason.ID_CONFLICT.value: 1}
    assert await scene.probe.depth(scene.hub.names.inbox_queue(scene.b.id)) == 0


async def test_all_bad_inputs_interleaved_with_valid_documents(
    hub_factory: HubFactory,
    agencies: list[FakeAgency],
    client_for: ClientFactory,
    probe: BrokerProbe,
) -> None:
    scene = await _scene(hub_factory, agencies, client_for, probe)
    hub, names = scene.hub, scene.hub.names
    await scene.original()  # what the id conflict and the stray receipt refer to
    bad_inputs = [await build(scene) for build in CASES.values()]
    assert len({bad.body for bad in bad_inputs}) == len(bad_inputs)

    valid: list[Envelope] = []
    for i, bad in enumerate(bad_inputs):
        await probe.publish_ingress(bad.body, bad.routing_key)
        sender = scene.clients[agencies[i % 4].id]
        recipient = agencies[(i + 1) % 4].id
        sent = await sender.send(make_envelope(sender.organ, [sender.organ_of(recipient)]))
        valid.append(sent.model)

    dead = await probe.get_many(names.dead_letter_queue, len(bad_inputs))
    reason_of = {bad.body: bad.reason.value for bad in bad_inputs}
    assert sorted(m.body for m in dead) == sorted(reason_of)  # each bad input, each once
    for message in dead:
        assert message.headers[REASON_HEADER] == reason_of[message.body]
        assert str(message.headers[DETAIL_HEADER]).strip()

    for agency in agencies:
        expected = {env.id for env in valid if agency.id in env.recipient_ids}
        messages = await probe.get_many(names.inbox_queue(agency.id), len(expected))
        assert Counter(payload_of(m.body, Envelope).id for m in messages) == Counter(expected), (
            agency.id
        )

    accepted = 1 + len(valid)
    totals = await settled_totals(
        hub, lambda t: t.routed == accepted and t.dead_lettered == len(bad_inputs)
    )
    assert totals.accepted == accepted
    assert totals.rejected == len(bad_inputs)
    assert totals.rejected_by_reason == Counter(bad.reason.value for bad in bad_inputs)
    assert totals.imbalances() == []

    notified = Counter(bad.notified for bad in bad_inputs if bad.notified is not None)
    for agency in agencies:
        expected_reasons = Counter(bad.reason for bad in bad_inputs if bad.notified == agency.id)
        receipts = [
            payload_of(m.body, StatusReceipt)
            for m in await probe.get_many(names.status_queue(agency.id), notified[agency.id])
        ]
        assert all(r.responder is None and r.code is StatusCode.REFUSED for r in receipts)
        assert Counter(r.reason for r in receipts) == expected_reasons, agency.id
        assert await probe.depth(names.status_queue(agency.id)) == 0, agency.id
        assert await probe.depth(names.inbox_queue(agency.id)) == 0, agency.id
    assert await probe.depth(names.dead_letter_queue) == 0


async def test_a_document_published_by_another_broker_user_is_refused_and_nobody_told(
    hub_factory: HubFactory,
    agencies: list[FakeAgency],
    client_for: ClientFactory,
    probe: BrokerProbe,
) -> None:
    """With no trusted users, a message's user_id must be its signer's broker user: A's validly
    signed document published by another user (a replay of A's bytes, say) is refused."""
    hub = await hub_factory(trusted_users=())
    a, b = agencies[0], agencies[1]
    body = _signed(make_envelope(organ(a.id), [organ(b.id)]), a.key)

    await probe.publish_ingress(body)  # as the tests' user, not as hub.names.agency_user(a.id)

    dead = await probe.get(hub.names.dead_letter_queue)
    assert dead.body == body
    assert dead.headers[REASON_HEADER] == RejectionReason.USER_MISMATCH.value
    assert hub.names.agency_user(a.id) in str(dead.headers[DETAIL_HEADER])
    totals = await settled_totals(hub, lambda t: t.dead_lettered == 1)
    assert (totals.accepted, totals.rejected_by_reason) == (0, {"user_mismatch": 1})
    for agency in agencies:
        assert await probe.depth(hub.names.status_queue(agency.id)) == 0, agency.id
        assert await probe.depth(hub.names.inbox_queue(agency.id)) == 0, agency.id
