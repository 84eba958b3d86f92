"""Compare what a hub's ledger measured with the published figures of a scenario.

Counts are compared at the replay's scale: a target is met when the ledger holds exactly its
scaled count (see ``simulator.scaling``). Reports give both sides in real numbers, the measured
count multiplied back by the scale.
"""

import datetime as dt
from dataclasses import dataclass

from simulator.scaling import scaled_target
from simulator.scenario import Scenario


@dataclass(frozen=True, slots=True)
class FigureResult:
    key: str
    label: str
    measured: float
    target: float
    matches: bool
    detail: str


def documents_between(documents_by_day: dict[str, int], start: dt.date, end: dt.date) -> int:
    first, last = start.isoformat(), end.isoformat()
    return sum(count for day, count in documents_by_day.items() if first <= day <= last)


def evaluate_figures(
    scenario: Scenario, scale: int, documents_by_day: dict[str, int]
) -> list[FigureResult]:
    """Every target and ratio of the scenario, measured from documents per day (at scale)."""
    counts: dict[str, int] = {}
    results = []
    for target in scenario.targets:
        measured = documents_between(documents_by_day, target.start, target.end)
        expected = scaled_target(scenario, scale, target.key)
        counts[target.key] = measured
        results.append(
            FigureResult(
                key=target.key,
                label=target.label,
                measured=measured * scale,
                target=target.documents,
                matches=measured == expected,
                detail=f"replayed {measured:,}; at 1:{scale:,} the figure is {expected:,}",
            )
        )
    for ratio in scenario.ratios:
        numerator, denominator = counts[ratio.numerator], counts[ratio.denominator]
        measured_ratio = round(numerator / denominator, ratio.decimals) if denominator else 0.0
        results.append(
            FigureResult(
                key=ratio.key,
                label=ratio.label,
                measured=measured_ratio,
                target=ratio.value,
                matches=measured_ratio == ratio.value,
                detail=f"{numerator:,} / {denominator:,} replayed documents",
            )
        )
    return results


def check_scale(scenario: Scenario, scale: int) -> list[str]:
    """Why the scenario's figures cannot all be met at this scale; empty when they can."""
    if scale < 1:
        return [f"scale must be 1 or more, not {scale}"]
    problems = []
    counts = {target.key: scaled_target(scenario, scale, target.key) for target in scenario.targets}
    for target in scenario.targets:
        if counts[target.key] == 0:
            problems.append(f"{target.label} scales to no documents at all")
    for ratio in scenario.ratios:
        denominator = counts[ratio.denominator]
        if denominator == 0:
            continue
        ratio_at_scale = round(counts[ratio.numerator] / denominator, ratio.decimals)
        if ratio_at_scale != ratio.value:
            problems.append(
                f"{ratio.label} would come out at {ratio_at_scale} instead of {ratio.value}"
            )
    return problems
