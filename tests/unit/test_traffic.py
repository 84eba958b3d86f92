"""The traffic plan of a replay and the identities it signs with: deterministic for a scenario,
scale and seed; another seed changes the traffic but never the counts."""

import datetime as dt
import hashlib
import uuid
from collections import Counter
from functools import cache

import pytest
from cryptography.hazmat.primitives import serialization

from schemas.directory import HUB_SIGNER
from schemas.keys import public_key_to_text
from schemas.receipt import StatusCode
from simulator.identities import (
    SIMULATED_HUB,
    document_id,
    simulation_directory,
    simulation_key,
)
from simulator.scaling import scale_months
from simulator.scenario import Scenario, load_scenario
from simulator.traffic import PlannedDelivery, PlannedDocument, plan_traffic, receipt_codes

SCALE = 10_000
SEED = 20220715
OTHER_SEED = 7


@cache
def scenario() -> Scenario:
    return load_scenario("vdxp-2019-2022")


@cache
def plan(seed: int = SEED, scale: int = SCALE) -> tuple[PlannedDocument, ...]:
    return tuple(plan_traffic(scenario(), scale, seed))


def local_day(moment: dt.datetime) -> dt.date:
    return moment.astimezone(scenario().timezone).date()


def per_month(documents: tuple[PlannedDocument, ...]) -> dict[str, int]:
    return dict(Counter(local_day(document.sent_at).strftime("%Y-%m") for document in documents))


def _private_bytes(seed: int, agency_id: str) -> bytes:
    return simulation_key(seed, agency_id).private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


# --- plan_traffic --------------------------------------------------------------------------------


def test_the_plan_is_deterministic() -> None:
    assert tuple(plan_traffic(scenario(), SCALE, SEED)) == plan()


def test_the_plan_has_the_scaled_number_of_documents_per_month() -> None:
    assert per_month(plan()) == {
        month: count for month, count in scale_months(scenario(), SCALE).items() if count
    }
    assert len(plan()) == 1280


def test_another_seed_changes_the_traffic_but_not_the_counts() -> None:
    first, second = plan(SEED), plan(OTHER_SEED)
    assert len(first) == len(second)
    assert per_month(first) == per_month(second)
    assert [d.sender for d in first] != [d.sender for d in second]
    assert [d.recipients for d in first] != [d.recipients for d in second]
    assert [d.sent_at for d in first] != [d.sent_at for d in second]
    assert {d.sent_at for d in first}.isdisjoint({d.sent_at for d in second})


@pytest.mark.parametrize("scale", [2500, 10_000, 50_000])
def test_another_seed_keeps_the_total(scale: int) -> None:
    totals = {len(plan(seed, scale)) for seed in (SEED, OTHER_SEED, 1)}
    assert totals == {sum(scale_months(scenario(), scale).values())}


def test_documents_are_numbered_from_zero_in_send_order() -> None:
    documents = plan()
    assert [document.index for document in documents] == list(range(len(documents)))
    times = [document.sent_at for document in documents]
    assert times == sorted(times)


def test_documents_are_sent_within_the_scenario_dates() -> None:
    days = {local_day(document.sent_at) for document in plan()}
    assert min(days) >= dt.date(2019, 3, 12)
    assert max(days) <= dt.date(2022, 6, 30)
    assert all(document.sent_at.utcoffset() == dt.timedelta(hours=7) for document in plan())


def test_documents_are_sent_in_office_hours() -> None:
    hours = {document.sent_at.hour for document in plan()}
    assert min(hours) >= 7
    assert max(hours) <= 17


def test_no_sender_is_its_own_recipient() -> None:
    assert all(document.sender not in document.recipients for document in plan())


def test_recipients_are_distinct_known_and_within_a_bucket() -> None:
    known = {agency.id for agency in scenario().agencies}
    buckets = scenario().recipients
    for document in plan():
        assert len(set(document.recipients)) == len(document.recipients)
        assert set(document.recipients) <= known
        assert document.sender in known
        assert any(bucket.min <= len(document.recipients) <= bucket.max for bucket in buckets)


def test_recipient_counts_cover_every_bucket() -> None:
    sizes = {len(document.recipients) for document in plan()}
    assert min(sizes) == 1
    assert max(sizes) <= max(bucket.max for bucket in scenario().recipients)
    assert {size for size in sizes if size > 8}, "the widest bucket is never used"


def test_one_delivery_per_recipient_in_order() -> None:
    for document in plan():
        assert tuple(d.recipient for d in document.deliveries) == document.recipients


def test_documents_are_numbered_per_sender_and_year() -> None:
    numbers: dict[tuple[str, int], list[int]] = {}
    for document in plan():
        numbers.setdefault((document.sender, document.sent_at.year), []).append(
            int(document.number)
        )
    assert all(found == list(range(1, len(found) + 1)) for found in numbers.values())


def test_notation_names_the_sender() -> None:
    shorts = {agency.id: agency.short for agency in scenario().agencies}
    assert all(document.notation.endswith(shorts[document.sender]) for document in plan())


# --- receipts ------------------------------------------------------------------------------------


def _delivery(refuse: bool, full_lifecycle: bool) -> PlannedDelivery:
    return PlannedDelivery("000.00.00.G01", refuse, full_lifecycle, ())


@pytest.mark.parametrize(
    ("refuse", "full_lifecycle", "codes"),
    [
        (True, False, ("01", "02")),
        (True, True, ("01", "02")),
        (False, True, ("01", "03", "04", "05", "06")),
        (False, False, ("01", "03")),
    ],
    ids=["refused", "refused-wins", "full-lifecycle", "accepted"],
)
def test_receipt_codes(refuse: bool, full_lifecycle: bool, codes: tuple[str, ...]) -> None:
    assert receipt_codes(_delivery(refuse, full_lifecycle)) == tuple(
        StatusCode(code) for code in codes
    )


def test_each_delivery_has_a_time_per_receipt() -> None:
    kinds: Counter[tuple[StatusCode, ...]] = Counter()
    for document in plan():
        for delivery in document.deliveries:
            assert not (delivery.refuse and delivery.full_lifecycle)
            assert len(delivery.receipt_times) == len(receipt_codes(delivery))
            kinds[receipt_codes(delivery)] += 1
    assert len(kinds) == 3, "the plan should hold refusals, full lifecycles and plain acceptances"


def test_receipt_times_follow_the_sending() -> None:
    for document in plan():
        for delivery in document.deliveries:
            times = delivery.receipt_times
            assert times[0] > document.sent_at
            assert times[0] - document.sent_at <= dt.timedelta(seconds=90)
            assert list(times) == sorted(times)


# --- attachments ---------------------------------------------------------------------------------


def test_inline_attachments_carry_matching_content() -> None:
    profile = scenario().attachments
    inline = [a for d in plan() for a in d.attachments if a.content is not None]
    assert inline, "the plan has no inline attachment"
    for attachment in inline:
        assert attachment.size == len(attachment.content or b"")
        assert attachment.size <= profile.inline_max_bytes
        assert attachment.sha256 == hashlib.sha256(attachment.content or b"").hexdigest()


def test_large_attachments_travel_without_content() -> None:
    profile = scenario().attachments
    large = [a for d in plan() for a in d.attachments if a.content is None]
    assert large, "the plan has no large attachment"
    for attachment in large:
        assert profile.inline_max_bytes < attachment.size <= profile.max_bytes
        assert len(attachment.sha256) == 64
        int(attachment.sha256, 16)


def test_attachments_are_named_after_their_document() -> None:
    for document in plan():
        names = [attachment.name for attachment in document.attachments]
        assert names == [
            f"van-ban-{document.index}-{number}.pdf" for number in range(1, len(names) + 1)
        ]
        assert all(a.media_type == "application/pdf" for a in document.attachments)


# --- identities ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seed", "agency_id", "other_seed", "other_agency"),
    [
        (SEED, "000.00.00.G01", SEED + 1, "000.00.00.G01"),
        (SEED, "000.00.00.G01", SEED, "000.00.00.G02"),
        (0, "000.00.00.H63", 1, "000.00.00.H62"),
    ],
)
def test_simulation_key_is_deterministic_per_seed_and_agency(
    seed: int, agency_id: str, other_seed: int, other_agency: str
) -> None:
    assert _private_bytes(seed, agency_id) == _private_bytes(seed, agency_id)
    assert _private_bytes(seed, agency_id) != _private_bytes(other_seed, other_agency)


def test_the_directory_holds_the_simulation_keys() -> None:
    directory = simulation_directory(scenario(), SEED)
    assert [entry.id for entry in directory.agencies] == [a.id for a in scenario().agencies]
    for entry in directory.agencies:
        key = simulation_key(SEED, entry.id)
        assert entry.public_key == public_key_to_text(key.public_key())
        signature = key.sign(b"van ban")
        entry.verify_key.verify(signature, b"van ban")


def test_the_directory_holds_the_simulated_hubs_key() -> None:
    directory = simulation_directory(scenario(), SEED)
    assert directory.hub is not None
    hub_key = simulation_key(SEED, SIMULATED_HUB)
    assert directory.hub.public_key == public_key_to_text(hub_key.public_key())
    assert directory.key_owner(directory.hub.key_id) == (HUB_SIGNER, directory.hub.verify_key)
    assert directory.hub.public_key not in {entry.public_key for entry in directory.agencies}
    other = simulation_directory(scenario(), OTHER_SEED).hub
    assert other is not None
    assert other.public_key != directory.hub.public_key


def test_the_directory_changes_with_the_seed() -> None:
    first = simulation_directory(scenario(), SEED)
    second = simulation_directory(scenario(), OTHER_SEED)
    assert {e.public_key for e in first.agencies}.isdisjoint(
        {e.public_key for e in second.agencies}
    )


def test_document_id_is_deterministic_and_distinct_per_index() -> None:
    ids = [document_id("run-1", index) for index in range(2000)]
    assert ids == [document_id("run-1", index) for index in range(2000)]
    assert len(set(ids)) == len(ids)
    assert all(isinstance(value, uuid.UUID) and value.version == 5 for value in ids)


@pytest.mark.parametrize(("first", "second"), [(("a", 0), ("b", 0)), (("a", 1), ("a", 10))])
def test_document_id_differs_by_run_and_index(
    first: tuple[str, int], second: tuple[str, int]
) -> None:
    assert document_id(*first) != document_id(*second)
