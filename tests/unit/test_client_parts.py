"""Parts of the agency client that need no broker: dedupe, key files, the constructor's checks."""

import re
import sqlite3
import stat
import uuid
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    BestAvailableEncryption,
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from agency_client import (
    AgencyClient,
    AgencyClientError,
    UnknownAgency,
    load_signing_key,
    write_key_pair,
)
from agency_client.dedupe import DurableSeenIds, SeenIds
from schemas import (
    AgencyDirectory,
    AgencyEntry,
    AgencyKind,
    public_key_from_text,
    public_key_to_text,
    thumbprint,
)
from tests.factories import hub_entry

AGENCY = "000.00.00.G01"

# SeenIds


def test_seen_ids_remembers_what_was_added() -> None:
    seen = SeenIds(3)
    assert "a" not in seen
    seen.add("a")
    seen.add("b")
    assert "a" in seen
    assert "b" in seen
    assert "c" not in seen
    assert len(seen) == 2


def test_seen_ids_forgets_the_oldest_first() -> None:
    seen = SeenIds(3)
    for message_id in "abcde":
        seen.add(message_id)
    assert len(seen) == 3
    assert [message_id in seen for message_id in "abcde"] == [False, False, True, True, True]


def test_seen_ids_adding_again_makes_an_id_young() -> None:
    seen = SeenIds(3)
    for message_id in "abc":
        seen.add(message_id)
    seen.add("a")  # now b is the oldest
    seen.add("d")
    assert "a" in seen
    assert "b" not in seen
    assert "c" in seen
    assert "d" in seen
    assert len(seen) == 3


def test_seen_ids_capacity_one() -> None:
    seen = SeenIds(1)
    seen.add("a")
    seen.add("a")
    assert len(seen) == 1
    seen.add("b")
    assert "a" not in seen
    assert "b" in seen


@pytest.mark.parametrize("capacity", [0, -1])
def test_seen_ids_refuses_capacity_below_one(capacity: int) -> None:
    with pytest.raises(ValueError, match="capacity must be at least 1"):
        SeenIds(capacity)


def test_seen_ids_close_forgets_everything() -> None:
    seen = SeenIds(3)
    seen.add("a")
    seen.close()
    assert "a" not in seen
    assert len(seen) == 0


# DurableSeenIds


def test_durable_seen_ids_remembers_what_was_added(tmp_path: Path) -> None:
    seen = DurableSeenIds(tmp_path / "state.db", "document")
    try:
        assert "a" not in seen
        seen.add("a")
        seen.add("a")  # adding again is harmless
        assert "a" in seen
        assert "b" not in seen
    finally:
        seen.close()


def test_durable_seen_ids_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    ids = [str(uuid.uuid4()) for _ in range(3)]
    first = DurableSeenIds(path, "document")
    for message_id in ids:
        first.add(message_id)
    first.close()

    again = DurableSeenIds(path, "document")
    try:
        assert all(message_id in again for message_id in ids)
        assert str(uuid.uuid4()) not in again
    finally:
        again.close()


def test_durable_seen_ids_keep_each_kind_apart(tmp_path: Path) -> None:
    """A document and a receipt may share an id: handling one is not handling the other."""
    path = tmp_path / "state.db"
    documents = DurableSeenIds(path, "document")
    receipts = DurableSeenIds(path, "receipt")
    try:
        documents.add("same-id")
        assert "same-id" in documents
        assert "same-id" not in receipts
    finally:
        documents.close()
        receipts.close()
    reopened = DurableSeenIds(path, "receipt")
    try:
        assert "same-id" not in reopened
    finally:
        reopened.close()


def test_durable_seen_ids_are_written_at_once(tmp_path: Path) -> None:
    """Written before the ack: another connection sees the id without a close or commit."""
    path = tmp_path / "state.db"
    seen = DurableSeenIds(path, "document")
    try:
        seen.add("acked")
        with sqlite3.connect(path) as other:
            rows = other.execute("SELECT kind, id FROM handled").fetchall()
        assert rows == [("document", "acked")]
    finally:
        seen.close()


def test_durable_seen_ids_match_a_uuid_by_its_text(tmp_path: Path) -> None:
    seen = DurableSeenIds(tmp_path / "state.db", "document")
    try:
        message_id = uuid.uuid4()
        seen.add(str(message_id))
        assert message_id in seen
    finally:
        seen.close()


# Key files


def test_write_key_pair(tmp_path: Path) -> None:
    folder = tmp_path / "keys" / "nested"
    files = write_key_pair(folder, AGENCY)
    assert files.private == folder / f"{AGENCY}.key"
    assert files.public == folder / f"{AGENCY}.pub"
    assert stat.S_IMODE(files.private.stat().st_mode) == 0o600
    assert files.private.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert files.public.read_text(encoding="ascii") == files.public_text + "\n"
    key = load_signing_key(files.private)
    assert public_key_to_text(key.public_key()) == files.public_text
    assert thumbprint(public_key_from_text(files.public_text)) == thumbprint(key.public_key())


@pytest.mark.parametrize("existing", ["key", "pub"])
def test_write_key_pair_refuses_to_overwrite(tmp_path: Path, existing: str) -> None:
    (tmp_path / f"{AGENCY}.{existing}").write_text("keep me", encoding="ascii")
    with pytest.raises(AgencyClientError, match="exists already; pass overwrite to replace it"):
        write_key_pair(tmp_path, AGENCY)
    assert (tmp_path / f"{AGENCY}.{existing}").read_text(encoding="ascii") == "keep me"


def test_write_key_pair_overwrites_when_asked(tmp_path: Path) -> None:
    first = write_key_pair(tmp_path, AGENCY)
    second = write_key_pair(tmp_path, AGENCY, overwrite=True)
    assert second.public_text != first.public_text
    loaded = load_signing_key(second.private)
    assert public_key_to_text(loaded.public_key()) == second.public_text
    assert stat.S_IMODE(second.private.stat().st_mode) == 0o600


def test_overwritten_private_key_is_made_owner_only(tmp_path: Path) -> None:
    """A key file left world-readable (copied by hand, an older tool) must not stay so when a new
    private key is written into it."""
    stale = tmp_path / f"{AGENCY}.key"
    stale.write_text("old", encoding="ascii")
    stale.chmod(0o644)
    files = write_key_pair(tmp_path, AGENCY, overwrite=True)
    assert stat.S_IMODE(files.private.stat().st_mode) == 0o600


def test_load_signing_key_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.key"
    with pytest.raises(AgencyClientError, match=f"cannot read the key {re.escape(str(path))}"):
        load_signing_key(path)


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"not a key at all", id="text"),
        pytest.param(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", id="bad"),
        pytest.param(
            Ed25519PrivateKey.generate().private_bytes(
                Encoding.DER, PrivateFormat.PKCS8, NoEncryption()
            ),
            id="DER not PEM",
        ),
        pytest.param(
            Ed25519PrivateKey.generate()
            .public_key()
            .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo),
            id="public key",
        ),
        pytest.param(
            Ed25519PrivateKey.generate().private_bytes(
                Encoding.PEM, PrivateFormat.PKCS8, BestAvailableEncryption(b"secret")
            ),
            id="encrypted",
        ),
    ],
)
def test_load_signing_key_not_an_unencrypted_pem(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "agency.key"
    path.write_bytes(content)
    with pytest.raises(
        AgencyClientError, match=f"{re.escape(str(path))} is not an unencrypted PEM private key"
    ):
        load_signing_key(path)


def test_load_signing_key_refuses_an_ec_key(tmp_path: Path) -> None:
    path = tmp_path / "ec.key"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
        )
    )
    with pytest.raises(AgencyClientError, match=r"holds a \w+, not an Ed25519 key"):
        load_signing_key(path)


# AgencyClient's checks at construction


def directory_with(key: Ed25519PrivateKey, *, with_hub: bool = True) -> AgencyDirectory:
    return AgencyDirectory(
        hub=hub_entry() if with_hub else None,
        agencies=[AgencyEntry.for_key(AGENCY, "Bộ Nội vụ", AgencyKind.MINISTRY, key.public_key())],
    )


def test_client_knows_its_organ_without_a_broker() -> None:
    key = Ed25519PrivateKey.generate()
    client = AgencyClient(AGENCY, key, directory_with(key), namespace="unit-test")
    assert client.agency_id == AGENCY
    assert client.organ.id == AGENCY
    assert client.organ.name == "Bộ Nội vụ"
    assert client.names.ingress_exchange == "unit-test.ingress"


def test_client_refuses_an_agency_not_in_the_directory() -> None:
    key = Ed25519PrivateKey.generate()
    with pytest.raises(
        UnknownAgency, match=re.escape("000.00.00.H99 is not in the agency directory")
    ) as info:
        AgencyClient("000.00.00.H99", key, directory_with(key))
    assert info.value.agency_id == "000.00.00.H99"


def test_client_refuses_a_key_that_is_not_the_registered_one() -> None:
    registered = Ed25519PrivateKey.generate()
    with pytest.raises(
        AgencyClientError,
        match=re.escape(f"the signing key is not the one the directory registers for {AGENCY}"),
    ) as info:
        AgencyClient(AGENCY, Ed25519PrivateKey.generate(), directory_with(registered))
    assert not isinstance(info.value, UnknownAgency)
    assert info.value.agency_id == AGENCY


def test_client_organ_of_an_unknown_agency() -> None:
    key = Ed25519PrivateKey.generate()
    client = AgencyClient(AGENCY, key, directory_with(key))
    assert client.organ_of(AGENCY).name == "Bộ Nội vụ"
    with pytest.raises(
        UnknownAgency, match=re.escape("000.00.00.H02 is not in the agency directory")
    ):
        client.organ_of("000.00.00.H02")


def test_client_refuses_a_bad_namespace() -> None:
    key = Ed25519PrivateKey.generate()
    with pytest.raises(AgencyClientError, match="namespace 'a b' must match") as info:
        AgencyClient(AGENCY, key, directory_with(key), namespace="a b")
    assert info.value.agency_id == AGENCY


def test_client_refuses_a_directory_without_the_hubs_key() -> None:
    key = Ed25519PrivateKey.generate()
    with pytest.raises(AgencyClientError, match=re.escape("no [hub] table")) as info:
        AgencyClient(AGENCY, key, directory_with(key, with_hub=False))
    assert info.value.agency_id == AGENCY


def test_client_with_a_state_path_keeps_its_state_there(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "agency-state.db"
    AgencyClient(AGENCY, key, directory_with(key), state_path=path)
    assert path.is_file()


def test_client_reports_a_state_path_it_cannot_open(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    folder = tmp_path / "a-folder"
    folder.mkdir()
    with pytest.raises(
        AgencyClientError, match=f"cannot open the client's state file {re.escape(str(folder))}"
    ) as info:
        AgencyClient(AGENCY, key, directory_with(key), state_path=folder)
    assert info.value.agency_id == AGENCY
