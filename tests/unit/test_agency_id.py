"""The national electronic-identifier format of agency ids, ``DDD.CC.BB.LNN``."""

import re

import pytest
from pydantic import TypeAdapter, ValidationError

from schemas import AgencyId, is_agency_id
from schemas.agency_id import level_one_letter

AGENCY_ID = TypeAdapter(AgencyId)

VALID = [
    "000.00.00.G12",
    "000.00.00.H29",
    "123.45.67.A00",
    "999.99.99.Z99",
    "001.02.03.K01",
]

INVALID = [
    pytest.param("", id="empty"),
    pytest.param("000.00.00.g12", id="lowercase letter"),
    pytest.param("000.00.G12", id="missing group"),
    pytest.param("000.00.00.00.G12", id="extra group"),
    pytest.param("000.00.00.G12X", id="extra char at the end"),
    pytest.param("X000.00.00.G12", id="extra char at the start"),
    pytest.param("000.00.00.G123", id="three digits in level 1"),
    pytest.param("00.00.00.G12", id="short first group"),
    pytest.param("000.0.00.G12", id="short second group"),
    pytest.param("000-00-00-G12", id="dashes instead of dots"),
    pytest.param("000.00.00.12G", id="letter after the digits"),
    pytest.param("000.00.00.GG1", id="two letters"),
    pytest.param(" 000.00.00.G12", id="leading space"),
    pytest.param("000.00.00.G12 ", id="trailing space"),
    pytest.param("000.00.00.G12\n", id="trailing newline"),
    pytest.param("\n000.00.00.G12", id="leading newline"),
    pytest.param("000.00.00.Đ12", id="non-ASCII letter"),
    pytest.param("٠٠٠.٠٠.٠٠.G١٢", id="Arabic-Indic digits"),  # noqa: RUF001
    pytest.param("०००.००.००.G१२", id="Devanagari digits"),  # noqa: RUF001
    pytest.param("０００.００.００.G１２", id="fullwidth digits"),  # noqa: RUF001
    pytest.param("000.00.00.G1٢", id="one Arabic-Indic digit"),
]


def test_unicode_digits_are_digits_to_python_regex() -> None:
    # Why the Unicode cases below matter: in a str pattern \d is any Unicode decimal digit, so a
    # pattern written with \d accepts ids that no agency registry would ever hold.
    assert re.fullmatch(r"\d", "٣") is not None
    assert re.fullmatch(r"[0-9]", "٣") is None


@pytest.mark.parametrize("agency_id", VALID)
def test_valid_ids_are_accepted(agency_id: str) -> None:
    assert is_agency_id(agency_id)
    assert AGENCY_ID.validate_python(agency_id) == agency_id


@pytest.mark.parametrize("agency_id", INVALID)
def test_is_agency_id_refuses(agency_id: str) -> None:
    assert not is_agency_id(agency_id)


@pytest.mark.parametrize("agency_id", INVALID)
def test_agency_id_type_refuses(agency_id: str) -> None:
    with pytest.raises(ValidationError, match="should match pattern"):
        AGENCY_ID.validate_python(agency_id)


@pytest.mark.parametrize(
    ("agency_id", "letter"),
    [("000.00.00.G12", "G"), ("000.00.00.H29", "H"), ("012.34.56.K07", "K")],
)
def test_level_one_letter(agency_id: str, letter: str) -> None:
    assert level_one_letter(agency_id) == letter


@pytest.mark.parametrize(
    "agency_id",
    [
        pytest.param("G12", id="too short"),
        pytest.param("000.00.00.g12", id="lowercase"),
        pytest.param("000.00.00.G12\n", id="trailing newline"),
        pytest.param("٠٠٠.٠٠.٠٠.G١٢", id="Arabic-Indic digits"),  # noqa: RUF001
    ],
)
def test_level_one_letter_refuses_what_is_not_an_id(agency_id: str) -> None:
    with pytest.raises(ValueError, match="not an agency id"):
        level_one_letter(agency_id)
