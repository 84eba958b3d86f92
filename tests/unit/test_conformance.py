"""The conformance vectors of ``conformance/vectors``: the hub gives every verdict they state, each
vector says the truth about its own bytes, the generator writes them again byte for byte, and every
refusal reason has a vector.

The vectors are for other implementations too (``conformance/README.md``); here the Python hub and
agency are held to them.
"""

import base64
import datetime as dt
import hashlib
import hmac
import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from agency_client.verification import verify_incoming
from hub.inspection import DocumentInput, Publishers, ReceiptInput, Refusal, Verdict, inspect
from hub.ledger import Admitted, Completion, Disposition
from hub.registry import Registry
from hub.sqlite_ledger import SqliteLedger
from schemas import AgencyDirectory, Envelope, Names, NotAuthentic, StatusReceipt, authenticate
from schemas.rejection import RejectionReason

ROOT = Path(__file__).resolve().parents[2]
CONFORMANCE = ROOT / "conformance"
VECTORS = CONFORMANCE / "vectors"
KEYS: dict[str, Any] = json.loads((VECTORS / "keys.json").read_text(encoding="utf-8"))
DIRECTORY = AgencyDirectory.from_toml((VECTORS / "directory.toml").read_text(encoding="utf-8"))
REGISTRY = Registry(DIRECTORY)
PUBLISHERS = Publishers(Names(KEYS["namespace"]), frozenset(KEYS["trusted_users"]))
LEDGER_REASONS = {
    RejectionReason.ID_CONFLICT,
    RejectionReason.UNKNOWN_DOCUMENT,
    RejectionReason.NOT_A_RECIPIENT,
}
STAMP_TYP = "dochub-stamp+json"


def load(folder: str) -> dict[str, dict[str, Any]]:
    vectors: dict[str, dict[str, Any]] = {}
    for path in sorted((VECTORS / folder).glob("*.json")):
        vector = json.loads(path.read_text(encoding="utf-8"))
        assert vector["name"] == path.stem, path
        vectors[vector["name"]] = vector
    return vectors


HUB_VECTORS = load("hub")
DELIVERY_VECTORS = load("delivery")
ALL_VECTORS = {**HUB_VECTORS, **DELIVERY_VECTORS}


def body_of(vector: dict[str, Any]) -> bytes:
    if "body_base64" in vector:
        return base64.b64decode(vector["body_base64"], validate=True)
    return str(vector["body"]).encode("utf-8")


def b64url_decode(text: str) -> bytes:
    """Lenient on padding: the vectors hold padded text where that is the defect."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def public_key(name: str) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(KEYS["keys"][name]["public_key"]))


def rfc7638(key: Ed25519PublicKey) -> str:
    x = b64url(key.public_bytes(Encoding.Raw, PublicFormat.Raw))
    return b64url(hashlib.sha256(f'{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}'.encode()).digest())


# --- The hub's verdicts -----------------------------------------------------------------------


def inspected(vector: dict[str, Any]) -> Verdict:
    return inspect(
        vector["routing_key"],
        body_of(vector),
        vector["user_id"],
        REGISTRY,
        PUBLISHERS,
        vector["max_message_bytes"],
    )


def described(admitted: Admitted) -> dict[str, Any]:
    """An admitted input in the terms of a vector's ``verdict``."""
    verdict = admitted.verdict
    if isinstance(verdict, Refusal):
        return {
            "reason": verdict.reason.value,
            "notify": verdict.notify,
            "document_id": str(verdict.document.id) if verdict.document is not None else None,
        }
    duplicate = admitted.disposition is Disposition.DONE
    if isinstance(verdict, DocumentInput):
        found: dict[str, Any] = {
            "accepted": True,
            "kind": "document",
            "id": str(verdict.envelope.id),
            "duplicate": duplicate,
        }
        if not duplicate:
            found["deliver_to"] = verdict.envelope.recipient_ids
        return found
    found = {"accepted": True, "kind": "status", "id": str(verdict.receipt.id)}
    found["duplicate"] = duplicate
    if not duplicate:
        found["relay_to"] = admitted.relay_to
    return found


def completion_of(admitted: Admitted) -> Completion:
    verdict = admitted.verdict
    if isinstance(verdict, DocumentInput):
        return Completion(documents=[verdict.envelope.id])
    if isinstance(verdict, ReceiptInput):
        return Completion(receipts=[str(verdict.receipt.id)])
    return Completion(refusals=[verdict.input_key])


async def hub_verdict(vector: dict[str, Any], state: Path) -> dict[str, Any]:
    """What the hub makes of the vector: inspection, then a real ledger that has accepted and
    routed the vector's preconditions first."""
    ledger = await SqliteLedger.open(f"sqlite:///{state}", dt.timedelta(hours=7))
    try:
        for name in vector.get("precondition", []):
            earlier = HUB_VECTORS[name]
            (admitted,) = await ledger.admit([inspected(earlier)])
            assert described(admitted) == earlier["verdict"], f"precondition {name}"
            assert earlier["verdict"].get("duplicate") is False, f"precondition {name}"
            await ledger.complete(completion_of(admitted))
        (admitted,) = await ledger.admit([inspected(vector)])
        return described(admitted)
    finally:
        await ledger.close()


@pytest.mark.parametrize("name", sorted(HUB_VECTORS))
async def test_the_hub_gives_the_stated_verdict(name: str, tmp_path: Path) -> None:
    vector = HUB_VECTORS[name]
    assert await hub_verdict(vector, tmp_path / "ledger.db") == vector["verdict"]


@pytest.mark.parametrize("name", sorted(HUB_VECTORS))
def test_inspection_alone_decides_all_but_the_ledger_reasons(name: str) -> None:
    """A refusal that needs no state is the inspection's, the same with an empty ledger; one of the
    ledger's reasons passes inspection and is found only against what the hub has accepted."""
    vector = HUB_VECTORS[name]
    verdict = inspected(vector)
    reason = vector["verdict"].get("reason")
    if reason is None or RejectionReason(reason) in LEDGER_REASONS:
        assert isinstance(verdict, DocumentInput | ReceiptInput), verdict
    else:
        assert isinstance(verdict, Refusal)
        assert verdict.reason.value == reason
        assert verdict.notify == vector["verdict"]["notify"]


def test_every_refusal_reason_has_a_vector() -> None:
    covered = {v["verdict"]["reason"] for v in HUB_VECTORS.values() if "reason" in v["verdict"]}
    assert {reason.value for reason in RejectionReason} <= covered
    assert covered <= {reason.value for reason in RejectionReason}


def test_both_kinds_are_accepted_and_duplicates_shown() -> None:
    accepted = [v["verdict"] for v in HUB_VECTORS.values() if v["verdict"].get("accepted")]
    kinds = {(verdict["kind"], verdict["duplicate"]) for verdict in accepted}
    assert kinds == {("document", False), ("document", True), ("status", False), ("status", True)}


def test_preconditions_are_accepted_vectors_in_order() -> None:
    """Each vector lists all it needs, flat: an earlier vector's own preconditions before it."""
    for vector in HUB_VECTORS.values():
        names = vector.get("precondition", [])
        for index, name in enumerate(names):
            assert HUB_VECTORS[name]["verdict"].get("accepted") is True, (vector["name"], name)
            needed = HUB_VECTORS[name].get("precondition", [])
            assert set(needed) <= set(names[:index]), (vector["name"], name)
        if vector["verdict"].get("reason") in {r.value for r in LEDGER_REASONS} - {
            RejectionReason.UNKNOWN_DOCUMENT.value
        }:
            assert vector.get("precondition"), vector["name"]


# --- What an agency accepts -------------------------------------------------------------------


def agency_rule(vector: dict[str, Any]) -> str | None:
    """The first rule of contract section 6 that a delivered message breaks, checked from the
    page (not with the agency client): ``None`` if an agency accepts it."""
    body = body_of(vector)
    agency = vector["agency"]
    kind = "document" if ".inbox." in vector["queue"] else "status"
    compact = vector["headers"].get("x-dochub-stamp")
    if compact is None:
        return "stamp-missing"
    protected, payload, signature = compact.split(".")
    header = json.loads(b64url_decode(protected))
    typ = str(header.get("typ", "")).lower().removeprefix("application/")
    if header.get("alg") != "EdDSA" or "crit" in header or typ != STAMP_TYP:
        return "stamp-typ"
    hub = public_key("HUB")
    try:
        if header.get("kid") != rfc7638(hub):
            raise InvalidSignature
        hub.verify(b64url_decode(signature), f"{protected}.{payload}".encode("ascii"))
    except InvalidSignature:
        return "stamp-signature"
    stamp = json.loads(b64url_decode(payload))
    if stamp["kind"] != kind:
        return "stamp-kind"
    if stamp["sha256"] != hashlib.sha256(body).hexdigest():
        return "stamp-sha256"
    if agency not in stamp["to"]:
        return "stamp-to"
    if kind == "document":
        document = authenticate(body, Envelope, DIRECTORY)
        if isinstance(document, NotAuthentic):
            return "body-signer"
        if UUID(stamp["id"]) != document.model.id:
            return "stamp-id"
        return None if agency in document.model.recipient_ids else "addressee"
    receipt = authenticate(body, StatusReceipt, DIRECTORY)
    if isinstance(receipt, NotAuthentic):
        return "body-signer"
    if UUID(stamp["id"]) != receipt.model.id:
        return "stamp-id"
    about = receipt.model.document
    return None if about is None or about.sender == agency else "addressee"


@pytest.mark.parametrize("name", sorted(DELIVERY_VECTORS))
def test_an_agency_gives_the_stated_verdict(name: str) -> None:
    vector = DELIVERY_VECTORS[name]
    rule = agency_rule(vector)
    assert rule == vector["verdict"].get("rule")
    assert vector["verdict"]["accepted"] is (rule is None)
    body, headers, agency = body_of(vector), vector["headers"], vector["agency"]
    if ".inbox." in vector["queue"]:
        found: object = verify_incoming(body, headers, Envelope, DIRECTORY, agency)
    else:
        found = verify_incoming(body, headers, StatusReceipt, DIRECTORY, agency)
    assert isinstance(found, str) is (rule is not None), found


SIGNATURE_AND_FORM = {
    RejectionReason.MALFORMED,
    RejectionReason.SCHEMA_INVALID,
    RejectionReason.UNSUPPORTED_VERSION,
    RejectionReason.UNSIGNED,
    RejectionReason.BAD_SIGNATURE,
    RejectionReason.SENDER_MISMATCH,
    RejectionReason.UNKNOWN_SENDER,
}


@pytest.mark.parametrize("name", sorted(HUB_VECTORS))
def test_an_agencys_reading_of_each_body(name: str) -> None:
    """What conformance/README.md tells an agency: its reading of a body (with the directory,
    which holds the hub's key) accepts every accepted vector and refuses the signature and form
    refusals, except the hub's own refusal, which the hub's ingress alone refuses."""
    vector = HUB_VECTORS[name]
    reason = vector["verdict"].get("reason")
    if reason is not None and RejectionReason(reason) not in SIGNATURE_AND_FORM:
        return
    body = body_of(vector)
    if vector["routing_key"] == "status":
        opened: object = authenticate(body, StatusReceipt, DIRECTORY)
    else:
        opened = authenticate(body, Envelope, DIRECTORY)
    accepts = reason is None or name == "sender-mismatch-hub-signed-receipt"
    assert isinstance(opened, NotAuthentic) is not accepts, opened


def test_hub_refusals_name_the_refused_body() -> None:
    refusal = DELIVERY_VECTORS["delivery-hub-refusal"]
    payload = json.loads(refusal["payload_json"])
    refused = HUB_VECTORS["unknown-recipient"]
    assert payload["refused"]["sha256"] == refused["body_sha256"]
    assert payload["reason"] == refused["verdict"]["reason"]
    assert payload["document"]["id"] == refused["verdict"]["document_id"]
    stamp = json.loads(refusal["stamp"]["payload_json"])
    assert stamp["kind"] == "status"
    assert stamp["to"] == [refused["verdict"]["notify"]]


# --- Each vector tells the truth about its bytes -----------------------------------------------


def test_the_keys_are_derived_as_stated() -> None:
    for name, entry in KEYS["keys"].items():
        seed = hashlib.sha256(entry["seed_label"].encode("utf-8")).digest()
        assert b64url_decode(entry["private_seed"]) == seed, name
        public = Ed25519PrivateKey.from_private_bytes(seed).public_key()
        raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
        assert base64.b64decode(entry["public_key"]) == raw, name
        assert entry["jwk"] == {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64url(raw),
            "d": entry["private_seed"],
            "kid": entry["kid"],
        }
        assert entry["kid"] == rfc7638(public), name
        expected_user = f"{KEYS['namespace']}.{entry['agency_id'] or 'hub'}"
        assert entry["broker_user"] == expected_user


def test_the_directory_lists_the_registered_keys() -> None:
    keys = KEYS["keys"]
    assert DIRECTORY.hub is not None
    assert DIRECTORY.hub.public_key == keys["HUB"]["public_key"]
    registered = {
        entry["agency_id"]: entry["public_key"]
        for entry in keys.values()
        if entry["registered"] and entry["agency_id"] is not None
    }
    assert {entry.id: entry.public_key for entry in DIRECTORY.agencies} == registered
    assert keys["STRANGER"]["agency_id"] not in DIRECTORY


def check_signed_parts(where: str, parts: dict[str, Any]) -> tuple[str, str]:
    """The protected header and payload are what signing_input encodes, kid names the key, and the
    signature verifies over what was signed; the base64url parts of signing_input are returned."""
    protected_b64, payload_b64 = parts["signing_input"].split(".")
    assert b64url_decode(protected_b64) == parts["protected"].encode("utf-8"), where
    assert b64url_decode(payload_b64) == parts["payload_json"].encode("utf-8"), where
    header = json.loads(parts["protected"])
    signature = parts.get("signature")
    if header["alg"] == "EdDSA" and signature:
        signer = parts["signer"]
        if "kid" in header:
            assert header["kid"] == KEYS["keys"][parts.get("kid_of", signer)]["kid"], where
        key = public_key(signer)
        signed = str(parts.get("signed_instead", parts["signing_input"])).encode("utf-8")
        key.verify(b64url_decode(signature), signed)
        if "signed_instead" in parts:
            with pytest.raises(InvalidSignature):
                key.verify(b64url_decode(signature), parts["signing_input"].encode("ascii"))
    elif header["alg"] == "HS256":
        mac = hmac.new(
            b64url_decode(parts["hmac_key"]), parts["signing_input"].encode(), hashlib.sha256
        )
        assert b64url(mac.digest()) == signature, where
    else:
        assert not signature, where
    return protected_b64, payload_b64


@pytest.mark.parametrize("name", sorted(ALL_VECTORS))
def test_each_vector_is_consistent(name: str) -> None:
    vector = ALL_VECTORS[name]
    body = body_of(vector)
    assert vector["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert ("body" in vector) != ("body_base64" in vector)
    if "signing_input" not in vector:
        assert not {"protected", "payload_json", "signature", "signer"} & vector.keys()
        return
    protected_b64, payload_b64 = check_signed_parts(name, vector)
    if "body_base64" in vector:
        return
    data = json.loads(body)
    if not isinstance(data, dict):
        return
    members = data["signatures"][0] | data if "signatures" in data else data
    assert members.get("protected", protected_b64) == protected_b64
    assert members.get("payload", payload_b64) == payload_b64
    if "signature" in members:
        assert members["signature"] == vector["signature"]
    else:
        assert "signature" not in vector
    if "stamp" in vector:
        stamp = vector["stamp"]
        check_signed_parts(f"{name} stamp", stamp)
        assert stamp["compact"] == f"{stamp['signing_input']}.{stamp['signature']}"
        assert vector["headers"] == {"x-dochub-stamp": stamp["compact"]}


def test_the_generator_writes_the_same_bytes(tmp_path: Path) -> None:
    out = tmp_path / "vectors"
    subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(CONFORMANCE / "generate.py"), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=120,
    )

    def tree(root: Path) -> dict[str, bytes]:
        return {
            path.relative_to(root).as_posix(): path.read_bytes()
            for path in sorted(root.rglob("*"))
            if path.is_file()
        }

    written, committed = tree(out), tree(VECTORS)
    assert sorted(written) == sorted(committed)
    for name, data in written.items():
        assert data == committed[name], f"{name} differs: run python conformance/generate.py"
