"""``--find-max``: raise the offered rate step by step until a stated limit (p99 latency, loss)
fails, and name the highest rate sustained. Each step is a full, short load test of its own.

The stepping is pure: which rate comes next, whether a step held, what was sustained.
"""

from collections.abc import Iterator
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from runs.load_report import Limits, LoadReport


@dataclass(frozen=True, slots=True)
class Stepping:
    start_rate: float
    step_factor: float | None = 1.5
    """Each rate is the last times this; ``step`` instead when given."""
    step: float | None = None
    """Each rate is the last plus this."""
    max_rate: float | None = None
    max_steps: int = 10

    def problems(self) -> list[str]:
        checks = [
            (self.start_rate > 0, "--start-rate must be more than 0"),
            (self.max_steps >= 1, "--max-steps must be at least 1"),
            (
                self.step is not None or (self.step_factor is not None and self.step_factor > 1),
                "--step-factor must be more than 1 (or give --step)",
            ),
            (self.step is None or self.step > 0, "--step must be more than 0"),
            (
                self.max_rate is None or self.max_rate >= self.start_rate,
                "--max-rate must be at least --start-rate",
            ),
        ]
        return [message for holds, message in checks if not holds]


def rates(stepping: Stepping) -> Iterator[float]:
    """The rates to try, in order: from the start rate up, at most ``max_steps``, none beyond
    ``max_rate``."""
    rate = stepping.start_rate
    for _ in range(stepping.max_steps):
        if stepping.max_rate is not None and rate > stepping.max_rate + 1e-9:
            return
        yield round(rate, 3)
        if stepping.step is not None:
            rate += stepping.step
        else:
            assert stepping.step_factor is not None
            rate *= stepping.step_factor


class StepFigures(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    offered_rate: float
    docs_per_s: float
    p50_ms: float
    p99_ms: float
    p999_ms: float
    lost: int
    double_counted: int
    held: bool
    reason: str | None
    namespace: str
    hub_cpu_s: float | None
    ratio_to_ceiling: float | None

    @classmethod
    def of(cls, report: LoadReport) -> "StepFigures":
        return cls(
            offered_rate=report.offered_rate,
            docs_per_s=report.docs_per_s,
            p50_ms=report.latency_ms.send_to_delivered.p50,
            p99_ms=report.latency_ms.send_to_delivered.p99,
            p999_ms=report.latency_ms.send_to_delivered.p999,
            lost=report.lost,
            double_counted=report.double_counted,
            held=report.ok,
            reason=report.reason,
            namespace=report.namespace,
            hub_cpu_s=report.hub_cpu_s,
            ratio_to_ceiling=report.ratio_to_ceiling,
        )


def keep_stepping(steps: list[StepFigures]) -> bool:
    """Whether another step is worth running: the last one held."""
    return not steps or steps[-1].held


def highest_sustained(steps: list[StepFigures]) -> float | None:
    """The highest rate of the steps that held before the first that did not."""
    sustained = None
    for step in steps:
        if not step.held:
            break
        sustained = step.offered_rate
    return sustained


class FindMaxReport(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    ok: bool
    """At least one step held, and none lost or counted anything twice."""
    reason: str | None
    highest_sustained_rate: float | None
    limits: Limits
    ceiling_msgs_per_s: float | None
    steps: list[StepFigures]


def find_max_report(
    steps: list[StepFigures], limits: Limits, ceiling_msgs_per_s: float | None
) -> FindMaxReport:
    sustained = highest_sustained(steps)
    double = [step for step in steps if step.double_counted]
    reason = None
    if double:
        reason = f"{double[0].double_counted} counted twice at {double[0].offered_rate:g} docs/s"
    elif sustained is None:
        first = steps[0] if steps else None
        reason = f"no rate held the limits: {first.reason if first else 'no step ran'}"
    return FindMaxReport(
        ok=reason is None,
        reason=reason,
        highest_sustained_rate=sustained,
        limits=limits,
        ceiling_msgs_per_s=ceiling_msgs_per_s,
        steps=steps,
    )
