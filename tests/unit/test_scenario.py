"""The scenario validator: each problem is caught, with a message that says what is wrong."""

import copy
import datetime as dt
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from simulator.scenario import (
    Scenario,
    ScenarioError,
    builtin_scenarios,
    load_scenario,
    months_between,
)

Data = dict[str, Any]


def valid_data() -> Data:
    """A small valid scenario: January 2021 to June 2022, H1 2022 3.8 times H1 2021."""
    counts = [100] * 6 + [200] * 6 + [380] * 6
    labels = months_between(dt.date(2021, 1, 1), dt.date(2022, 6, 30))
    return {
        "name": "small",
        "description": "a small scenario for the validator",
        "seed": 7,
        "launch": dt.date(2021, 1, 1),
        "end": dt.date(2022, 6, 30),
        "utc_offset_hours": 7,
        "agencies": [
            {
                "id": agency_id,
                "name": name,
                "kind": kind,
                "short": short,
                "send_weight": 1.0,
                "receive_weight": 2.0,
            }
            for agency_id, name, kind, short in [
                ("000.00.00.G01", "Văn phòng Chính phủ", "ministry", "VPCP"),
                ("000.00.00.G05", "Bộ Nội vụ", "ministry", "BNV"),
                ("000.00.00.H24", "Ủy ban nhân dân thành phố Hà Nội", "province", "UBND-HN"),
                ("000.00.00.A01", "Văn phòng Trung ương Đảng", "central_body", "VPTW"),
            ]
        ],
        "months": [
            {"month": label, "documents": count, "basis": "interpolated"}
            for label, count in zip(labels, counts, strict=True)
        ],
        "targets": [
            {
                "key": "cumulative",
                "label": "Cumulative",
                "start": dt.date(2021, 1, 1),
                "end": dt.date(2022, 6, 30),
                "documents": 4080,
                "source": "test",
            },
            {
                "key": "h1_2021",
                "label": "H1 2021",
                "start": dt.date(2021, 1, 1),
                "end": dt.date(2021, 6, 30),
                "documents": 600,
                "source": "test",
            },
            {
                "key": "h1_2022",
                "label": "H1 2022",
                "start": dt.date(2022, 1, 1),
                "end": dt.date(2022, 6, 30),
                "documents": 2280,
                "source": "test",
            },
        ],
        "ratios": [
            {
                "key": "h1_2022_vs_h1_2021",
                "label": "H1 2022 against H1 2021",
                "numerator": "h1_2022",
                "denominator": "h1_2021",
                "value": 3.8,
                "decimals": 1,
                "source": "test",
            }
        ],
        "recipients": [
            {"min": 1, "max": 1, "weight": 0.7},
            {"min": 2, "max": 3, "weight": 0.3},
        ],
        "document_types": {"cong_van": 0.8, "quyet_dinh": 0.2},
        "urgency": {"0": 0.9, "1": 0.1},
        "subjects": ["cải cách hành chính"],
        "attachments": {
            "count_weights": [0.2, 0.8],
            "median_bytes": 10_000,
            "sigma": 1.0,
            "max_bytes": 1_000_000,
            "inline_max_bytes": 16_384,
        },
        "behaviour": {
            "arrival_delay_s": {"min": 1, "max": 90},
            "answer_delay_h": {"min": 0.2, "max": 30},
            "step_delay_h": {"min": 1, "max": 72},
            "refused_share": 0.02,
            "full_lifecycle_share": 0.15,
        },
    }


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are valid in TOML basic strings
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        items = (f"{json.dumps(str(key))} = {_toml_value(item)}" for key, item in value.items())
        return "{ " + ", ".join(items) + " }"
    raise TypeError(f"no TOML for {value!r}")


def to_toml(data: Data) -> str:
    return "".join(f"{json.dumps(key)} = {_toml_value(value)}\n" for key, value in data.items())


def write_scenario(folder: Path, data: Data) -> Path:
    path = folder / "scenario.toml"
    path.write_text(to_toml(data), encoding="utf-8")
    return path


# --- valid scenarios -----------------------------------------------------------------------------


def test_the_small_scenario_loads_from_a_toml_file(tmp_path: Path) -> None:
    scenario = load_scenario(write_scenario(tmp_path, valid_data()))
    assert scenario.name == "small"
    assert scenario.total_documents == 4080
    assert list(scenario.monthly()) == months_between(dt.date(2021, 1, 1), dt.date(2022, 6, 30))
    assert scenario.target("h1_2022").documents == 2280
    assert scenario.timezone.utcoffset(None) == dt.timedelta(hours=7)


def test_a_path_given_as_text_loads_too(tmp_path: Path) -> None:
    assert load_scenario(str(write_scenario(tmp_path, valid_data()))).seed == 7


def test_an_unknown_target_key_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="h2_2030"):
        Scenario.model_validate(valid_data()).target("h2_2030")


def test_the_builtin_scenario_is_listed_and_loads_by_name() -> None:
    assert "vdxp-2019-2022" in builtin_scenarios()
    assert load_scenario("vdxp-2019-2022").name == "vdxp-2019-2022"


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (dt.date(2019, 3, 12), dt.date(2019, 3, 31), ["2019-03"]),
        (dt.date(2019, 3, 12), dt.date(2019, 5, 1), ["2019-03", "2019-04", "2019-05"]),
        (dt.date(2019, 11, 30), dt.date(2020, 2, 1), ["2019-11", "2019-12", "2020-01", "2020-02"]),
        (dt.date(2020, 5, 1), dt.date(2020, 4, 30), []),
    ],
)
def test_months_between(start: dt.date, end: dt.date, expected: list[str]) -> None:
    assert months_between(start, end) == expected


def test_months_between_the_builtin_dates_has_40_months() -> None:
    labels = months_between(dt.date(2019, 3, 12), dt.date(2022, 6, 30))
    assert (len(labels), labels[0], labels[-1]) == (40, "2019-03", "2022-06")


# --- invalid scenarios ---------------------------------------------------------------------------


def _drop_a_month(data: Data) -> None:
    del data["months"][3]


def _swap_two_months(data: Data) -> None:
    months = data["months"]
    months[2], months[3] = months[3], months[2]


def _miscount_a_target(data: Data) -> None:
    data["targets"][1]["documents"] = 601


def _add_an_overlapping_target(data: Data) -> None:
    data["targets"].append(
        {
            "key": "winter",
            "label": "October 2021 to March 2022",
            "start": dt.date(2021, 10, 1),
            "end": dt.date(2022, 3, 31),
            "documents": 3 * 200 + 3 * 380,
            "source": "test",
        }
    )


def _mispublish_the_ratio(data: Data) -> None:
    data["ratios"][0]["value"] = 3.7


def _ratio_of_an_unknown_target(data: Data) -> None:
    data["ratios"][0]["numerator"] = "h2_2021"


def _widen_a_bucket(data: Data) -> None:
    data["recipients"][1]["max"] = 4


def _list_an_agency_twice(data: Data) -> None:
    data["agencies"][2]["id"] = "000.00.00.G01"


def _lowercase_an_agency_id(data: Data) -> None:
    data["agencies"][0]["id"] = "000.00.00.g01"


def _shorten_an_agency_id(data: Data) -> None:
    data["agencies"][1]["id"] = "00.00.00.G05"


def _add_an_unknown_field(data: Data) -> None:
    data["colour"] = "blue"


def _add_an_unknown_month_field(data: Data) -> None:
    data["months"][0]["note"] = "estimated"


def _start_a_target_before_launch(data: Data) -> None:
    data["targets"][1]["start"] = dt.date(2020, 12, 1)


def _start_a_target_mid_month(data: Data) -> None:
    data["targets"][1]["start"] = dt.date(2021, 1, 15)


def _reuse_a_key(data: Data) -> None:
    data["ratios"][0]["key"] = "h1_2021"


def _end_before_launch(data: Data) -> None:
    data["end"] = dt.date(2020, 12, 31)


def _invert_a_span(data: Data) -> None:
    data["behaviour"]["arrival_delay_s"] = {"min": 10, "max": 1}


def _invalid_month_label(data: Data) -> None:
    data["months"][0]["month"] = "2021-13"


def _negative_month(data: Data) -> None:
    data["months"][0]["documents"] = -1


def _unknown_basis(data: Data) -> None:
    data["months"][0]["basis"] = "guessed"


INVALID_CASES: list[tuple[str, Callable[[Data], None], str]] = [
    (
        "gap-in-months",
        _drop_a_month,
        "months must run without gaps from 2021-01 to 2022-06, in order; "
        "got 2021-01 to 2022-06 (17 months)",
    ),
    (
        "month-out-of-order",
        _swap_two_months,
        "months must run without gaps from 2021-01 to 2022-06, in order; "
        "got 2021-01 to 2022-06 (18 months)",
    ),
    (
        "target-miscounted",
        _miscount_a_target,
        "target h1_2021: the months sum to 600, the published figure is 601",
    ),
    (
        "targets-overlap",
        _add_an_overlapping_target,
        "targets h1_2022 and winter overlap without one holding the other",
    ),
    (
        "ratio-mismatch",
        _mispublish_the_ratio,
        "ratio h1_2022_vs_h1_2021: the targets give 3.800, published 3.7",
    ),
    (
        "ratio-unknown-target",
        _ratio_of_an_unknown_target,
        "ratio h1_2022_vs_h1_2021 names unknown targets ['h2_2021']",
    ),
    (
        "bucket-wider-than-population",
        _widen_a_bucket,
        "a recipient bucket reaches 4 recipients, but only 3 agencies can receive from any one "
        "sender",
    ),
    ("duplicate-agency", _list_an_agency_twice, "agency 000.00.00.G01 is listed twice"),
    ("lowercase-agency-id", _lowercase_an_agency_id, "agencies.0.id: String should match pattern"),
    ("short-agency-id", _shorten_an_agency_id, "agencies.1.id: String should match pattern"),
    ("unknown-field", _add_an_unknown_field, "colour: Extra inputs are not permitted"),
    (
        "unknown-month-field",
        _add_an_unknown_month_field,
        "months.0.note: Extra inputs are not permitted",
    ),
    (
        "target-before-launch",
        _start_a_target_before_launch,
        "target h1_2021 lies outside 2021-01-01..2022-06-30",
    ),
    ("target-mid-month", _start_a_target_mid_month, "target h1_2021 must cover whole months"),
    ("key-used-twice", _reuse_a_key, "key h1_2021 is used twice"),
    ("end-before-launch", _end_before_launch, "end 2020-12-31 is before launch 2021-01-01"),
    ("span-inverted", _invert_a_span, "min 10.0 is above max 1.0"),
    ("month-label", _invalid_month_label, "months.0.month: String should match pattern"),
    ("negative-month", _negative_month, "months.0.documents: Input should be greater than"),
    ("unknown-basis", _unknown_basis, "months.0.basis: Input should be 'interpolated'"),
]


def _broken(mutate: Callable[[Data], None]) -> Data:
    data = copy.deepcopy(valid_data())
    mutate(data)
    return data


@pytest.mark.parametrize(
    ("mutate", "message"),
    [case[1:] for case in INVALID_CASES],
    ids=[case[0] for case in INVALID_CASES],
)
def test_load_scenario_names_the_problem(
    tmp_path: Path, mutate: Callable[[Data], None], message: str
) -> None:
    path = write_scenario(tmp_path, _broken(mutate))
    with pytest.raises(ScenarioError, match=rf"scenario {re.escape(str(path))} is invalid: .*"):
        load_scenario(path)
    with pytest.raises(ScenarioError, match=re.escape(message)):
        load_scenario(path)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [case[1:] for case in INVALID_CASES],
    ids=[case[0] for case in INVALID_CASES],
)
def test_model_validate_names_the_problem(mutate: Callable[[Data], None], message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message.split(": ", 1)[-1])):
        Scenario.model_validate(_broken(mutate))


def test_several_problems_are_reported_together() -> None:
    data = _broken(_list_an_agency_twice)
    _mispublish_the_ratio(data)
    with pytest.raises(ValidationError, match=r"listed twice; ratio h1_2022_vs_h1_2021"):
        Scenario.model_validate(data)


@pytest.mark.parametrize(
    "text",
    [
        'name = "small"\nseed =\n',
        "months = [\n",
        "seed = 1\nseed = 2\n",
        'name = "unterminated\n',
    ],
    ids=["missing-value", "unclosed-array", "duplicate-key", "unterminated-string"],
)
def test_invalid_toml_is_reported(tmp_path: Path, text: str) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError, match=rf"scenario {re.escape(str(path))} is not valid TOML"):
        load_scenario(path)


def test_valid_toml_that_is_not_a_scenario_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "other.toml"
    path.write_text('title = "not a scenario"\n', encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"is invalid: name: Field required"):
        load_scenario(path)


@pytest.mark.parametrize("name", ["vdxp-2030", "vdxp-2019-2022.toml", "no/such/file.toml"])
def test_an_unknown_scenario_lists_the_builtin_ones(name: str) -> None:
    with pytest.raises(
        ScenarioError,
        match=re.escape(
            f"no scenario {name!r}: not a built-in one (vdxp-2019-2022) and no such file"
        ),
    ):
        load_scenario(name)


def test_a_directory_is_not_a_scenario(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match=r"not a built-in one \(vdxp-2019-2022\)"):
        load_scenario(tmp_path)


def test_an_unreadable_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes('name = "Hà Nội"\n'.encode("latin-1", errors="replace") + b"\xff\xfe")
    with pytest.raises(ScenarioError, match=rf"cannot read scenario {re.escape(str(path))}"):
        load_scenario(path)
