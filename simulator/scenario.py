"""The scenario file: who the agencies are, how many documents they send each month, what those
documents look like and how the recipients answer. TOML, validated here; see
``simulator/scenarios/vdxp-2019-2022.toml`` for the built-in one."""

import datetime as dt
import tomllib
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from schemas.agency_id import AgencyId, AgencyKind
from schemas.contract import describe_validation_error
from schemas.envelope import DocumentType, Urgency

BUILTIN_PACKAGE = "simulator.scenarios"
MonthLabel = Annotated[str, Field(pattern=r"^[0-9]{4}-(0[1-9]|1[0-2])$")]
Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
Share = Annotated[float, Field(ge=0, le=1)]
Weight = Annotated[float, Field(gt=0, le=1_000_000)]


class ScenarioError(Exception):
    """A scenario that cannot be found, read or trusted."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Agency(_Strict):
    id: AgencyId
    name: Annotated[str, Field(min_length=1, max_length=300)]
    kind: AgencyKind
    short: Annotated[str, Field(pattern=r"^[A-ZĐ0-9-]{1,20}$")]
    """Abbreviation used in document notations, e.g. ``BNV`` in ``12/QĐ-BNV``."""
    send_weight: Weight
    receive_weight: Weight


class Month(_Strict):
    month: MonthLabel
    documents: Annotated[int, Field(ge=0)]
    basis: Literal["interpolated", "calibrated"]
    """``calibrated`` months absorb what makes a period meet its published figure exactly."""


class Target(_Strict):
    """A published count of documents over a period, which the monthly series must meet."""

    key: Key
    label: str
    start: dt.date
    end: dt.date
    documents: Annotated[int, Field(gt=0)]
    source: str

    def months(self) -> list[str]:
        return months_between(self.start, self.end)

    def contains(self, other: "Target") -> bool:
        return self.start <= other.start and other.end <= self.end


class Ratio(_Strict):
    """A published ratio of two targets, e.g. 3.8 times the same half a year earlier."""

    key: Key
    label: str
    numerator: Key
    denominator: Key
    value: Annotated[float, Field(gt=0)]
    decimals: Annotated[int, Field(ge=0, le=6)]
    source: str


class Span(_Strict):
    min: Annotated[float, Field(ge=0)]
    max: Annotated[float, Field(ge=0)]

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class RecipientBucket(_Strict):
    """``weight`` of the documents go to between ``min`` and ``max`` recipients."""

    min: Annotated[int, Field(ge=1)]
    max: Annotated[int, Field(ge=1)]
    weight: Weight

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


class AttachmentProfile(_Strict):
    count_weights: Annotated[list[float], Field(min_length=1, max_length=51)]
    """Weight of 0, 1, 2, ... attachments per document."""
    median_bytes: Annotated[int, Field(gt=0)]
    sigma: Annotated[float, Field(ge=0, le=5)]
    """Spread of the log-normal size distribution."""
    max_bytes: Annotated[int, Field(gt=0, le=2 * 1024 * 1024 * 1024)]
    inline_max_bytes: Annotated[int, Field(ge=0, le=64 * 1024)]
    """Attachments up to this size travel inline; larger ones only by name, size and digest."""


class Behaviour(_Strict):
    arrival_delay_s: Span
    """From sending to the recipient's 01 (arrived)."""
    answer_delay_h: Span
    """From arrival to 03 (accepted) or 02 (refused)."""
    step_delay_h: Span
    """Between the steps of the full lifecycle: 04 assigned, 05 processing, 06 completed."""
    refused_share: Share
    full_lifecycle_share: Share


class Scenario(_Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
    description: str
    seed: Annotated[int, Field(ge=0)]
    launch: dt.date
    end: dt.date
    utc_offset_hours: Annotated[int, Field(ge=-12, le=14)]
    """Documents are dated in this time zone; the hub attributes them to days in the same one."""
    agencies: Annotated[list[Agency], Field(min_length=2, max_length=10_000)]
    months: Annotated[list[Month], Field(min_length=1)]
    targets: list[Target] = Field(default_factory=list)
    ratios: list[Ratio] = Field(default_factory=list)
    recipients: Annotated[list[RecipientBucket], Field(min_length=1)]
    document_types: dict[DocumentType, Weight]
    urgency: dict[Urgency, Weight]
    subjects: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=200)]], Field(min_length=1)
    ]
    attachments: AttachmentProfile
    behaviour: Behaviour

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        month_problems = self._month_problems()
        problems = [*self._agency_problems(), *month_problems, *self._ratio_problems()]
        if not month_problems:  # the targets are checked against the months
            problems += self._target_problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _agency_problems(self) -> list[str]:
        ids = [agency.id for agency in self.agencies]
        duplicates = sorted({agency_id for agency_id in ids if ids.count(agency_id) > 1})
        problems = [f"agency {agency_id} is listed twice" for agency_id in duplicates]
        widest = max(bucket.max for bucket in self.recipients)
        if widest > len(self.agencies) - 1:
            problems.append(
                f"a recipient bucket reaches {widest} recipients, but only "
                f"{len(self.agencies) - 1} agencies can receive from any one sender"
            )
        return problems

    def _month_problems(self) -> list[str]:
        if self.end < self.launch:
            return [f"end {self.end} is before launch {self.launch}"]
        expected = months_between(self.launch, self.end)
        listed = [month.month for month in self.months]
        if listed != expected:
            return [
                f"months must run without gaps from {expected[0]} to {expected[-1]}, "
                f"in order; got {listed[0]} to {listed[-1]} ({len(listed)} months)"
            ]
        return []

    def _target_problems(self) -> list[str]:
        problems = []
        keys = [target.key for target in self.targets] + [ratio.key for ratio in self.ratios]
        problems += [f"key {key} is used twice" for key in sorted(set(keys)) if keys.count(key) > 1]
        monthly = self.monthly()
        for target in self.targets:
            if target.start < self.launch or target.end > self.end or target.end < target.start:
                problems.append(f"target {target.key} lies outside {self.launch}..{self.end}")
                continue
            if not _whole_months(target, self.launch, self.end):
                problems.append(f"target {target.key} must cover whole months")
                continue
            total = sum(monthly[month] for month in target.months())
            if total != target.documents:
                problems.append(
                    f"target {target.key}: the months sum to {total:,}, "
                    f"the published figure is {target.documents:,}"
                )
        for first, second in _pairs(self.targets):
            overlapping = first.start <= second.end and second.start <= first.end
            if overlapping and not (first.contains(second) or second.contains(first)):
                problems.append(
                    f"targets {first.key} and {second.key} overlap without one holding the other"
                )
        return problems

    def _ratio_problems(self) -> list[str]:
        targets = {target.key: target for target in self.targets}
        problems = []
        for ratio in self.ratios:
            missing = [key for key in (ratio.numerator, ratio.denominator) if key not in targets]
            if missing:
                problems.append(f"ratio {ratio.key} names unknown targets {missing}")
                continue
            actual = targets[ratio.numerator].documents / targets[ratio.denominator].documents
            if round(actual, ratio.decimals) != ratio.value:
                problems.append(
                    f"ratio {ratio.key}: the targets give {actual:.{ratio.decimals + 2}f}, "
                    f"published {ratio.value}"
                )
        return problems

    def monthly(self) -> dict[str, int]:
        """Real documents per month, ``YYYY-MM`` to count, in order."""
        return {month.month: month.documents for month in self.months}

    @cached_property
    def total_documents(self) -> int:
        return sum(month.documents for month in self.months)

    def cumulative_target(self) -> Target | None:
        """The target counted from the launch, if there is one: the running total."""
        return next((target for target in self.targets if target.start == self.launch), None)

    def target(self, key: str) -> Target:
        for target in self.targets:
            if target.key == key:
                return target
        raise KeyError(key)

    @property
    def timezone(self) -> dt.timezone:
        return dt.timezone(dt.timedelta(hours=self.utc_offset_hours))


def months_between(start: dt.date, end: dt.date) -> list[str]:
    """``YYYY-MM`` labels of every month from ``start``'s to ``end``'s, both included."""
    labels = []
    year, month = start.year, start.month
    while (year, month) <= (end.year, end.month):
        labels.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return labels


def _whole_months(target: Target, launch: dt.date, end: dt.date) -> bool:
    """A target starts on the 1st (or the launch day) and ends on a month's last day (or the
    scenario's end)."""
    starts_clean = target.start.day == 1 or target.start == launch
    ends_clean = (target.end + dt.timedelta(days=1)).day == 1 or target.end == end
    return starts_clean and ends_clean


def _pairs(targets: list[Target]) -> list[tuple[Target, Target]]:
    return [(a, b) for index, a in enumerate(targets) for b in targets[index + 1 :]]


def builtin_scenarios() -> list[str]:
    folder = resources.files(BUILTIN_PACKAGE)
    return sorted(
        entry.name.removesuffix(".toml")
        for entry in folder.iterdir()
        if entry.name.endswith(".toml")
    )


def load_scenario(name_or_path: str | Path) -> Scenario:
    """A built-in scenario by name, or a scenario TOML file by path."""
    text, origin = _read(str(name_or_path))
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"scenario {origin} is not valid TOML: {exc}") from exc
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(
            f"scenario {origin} is invalid: {describe_validation_error(exc, limit=10)}"
        ) from exc


def _read(name_or_path: str) -> tuple[str, str]:
    if name_or_path in builtin_scenarios():
        resource = resources.files(BUILTIN_PACKAGE).joinpath(f"{name_or_path}.toml")
        return resource.read_text(encoding="utf-8"), f"{name_or_path!r} (built in)"
    path = Path(name_or_path)
    if not path.is_file():
        raise ScenarioError(
            f"no scenario {name_or_path!r}: not a built-in one "
            f"({', '.join(builtin_scenarios())}) and no such file"
        )
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read scenario {path}: {exc}") from exc
