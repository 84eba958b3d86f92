"""Scale a scenario down to one document per ``scale`` real ones, in whole documents, so that every
published target is met exactly at that scale.

The targets form a tree (the validator makes sure they nest or keep apart): the whole series at the
root, each target under the smallest one holding it, and the months at the leaves. Each node's
whole count is shared among its children by largest remainder, so the children's counts add up to
the node's, and each child gets its exact share of the node's whole count, rounded down or up. A
target's scaled count is therefore the sum of its scaled months. Against its real count over
``scale`` it is off by less than one document per level of nesting, plus the root's rounding
(under half a document): the targets of ``vdxp-2019-2022`` sit one level down.
"""

from dataclasses import dataclass, field
from fractions import Fraction
from functools import cache

from simulator.scenario import Scenario, Target


def largest_remainder(quotas: list[Fraction], total: int) -> list[int]:
    """Whole numbers adding up to ``total``, each its quota rounded down or up: the units left
    after rounding down go to the largest fractional parts, earliest first on ties. The quotas must
    add up to ``total``."""
    if total < 0 or any(quota < 0 for quota in quotas):
        raise ValueError("quotas and total must not be negative")
    if sum(quotas, Fraction(0)) != total:
        raise ValueError(f"quotas add up to {sum(quotas, Fraction(0))}, not {total}")
    floors = [quota.numerator // quota.denominator for quota in quotas]
    left = total - sum(floors)
    order = sorted(range(len(quotas)), key=lambda index: (-(quotas[index] - floors[index]), index))
    for index in order[:left]:
        floors[index] += 1
    return floors


@dataclass
class _Node:
    target: Target | None
    months: list[str]
    children: list["_Node"] = field(default_factory=list)


def scale_months(scenario: Scenario, scale: int) -> dict[str, int]:
    """Documents to replay per month at one per ``scale``, in month order."""
    return dict(_scaled(tuple(scenario.monthly().items()), tuple(scenario.targets), scale)[0])


def scaled_target(scenario: Scenario, scale: int, key: str) -> int:
    """How many replayed documents meet the target ``key`` at this scale."""
    return dict(_scaled(tuple(scenario.monthly().items()), tuple(scenario.targets), scale)[1])[key]


@cache
def _scaled(
    monthly_items: tuple[tuple[str, int], ...], targets: tuple[Target, ...], scale: int
) -> tuple[tuple[tuple[str, int], ...], tuple[tuple[str, int], ...]]:
    if scale < 1:
        raise ValueError(f"scale must be 1 or more, not {scale}")
    monthly = dict(monthly_items)
    root = _tree(list(monthly), targets)
    months: dict[str, int] = {}
    target_counts: dict[str, int] = {}

    def share(node: _Node, whole: int) -> None:
        if node.target is not None:
            target_counts[node.target.key] = whole
        held = {month for child in node.children for month in child.months}
        parts: list[_Node | str] = [*node.children, *(m for m in node.months if m not in held)]
        real = [_real(part, monthly) for part in parts]
        node_real = sum(real)
        quotas = [
            Fraction(count * whole, node_real) if node_real else Fraction(0) for count in real
        ]
        for part, count in zip(parts, largest_remainder(quotas, whole), strict=True):
            if isinstance(part, str):
                months[part] = count
            else:
                share(part, count)

    share(root, _round_half_up(Fraction(sum(monthly.values()), scale)))
    ordered = tuple((month, months[month]) for month in monthly)
    return ordered, tuple(sorted(target_counts.items()))


def _real(part: "_Node | str", monthly: dict[str, int]) -> int:
    if isinstance(part, str):
        return monthly[part]
    return sum(monthly[month] for month in part.months)


def _tree(months: list[str], targets: tuple[Target, ...]) -> _Node:
    root = _Node(None, months)
    widest_first = sorted(targets, key=lambda t: (t.start, -(t.end - t.start).days))
    for target in widest_first:
        parent = root
        while True:
            holder = next(
                (c for c in parent.children if c.target is not None and c.target.contains(target)),
                None,
            )
            if holder is None:
                break
            parent = holder
        parent.children.append(_Node(target, target.months()))
    return root


def _round_half_up(value: Fraction) -> int:
    return int(value + Fraction(1, 2))
