"""A load test's schedule: when each document is sent, by whom, and to whom.

Sends arrive as a Poisson process of the offered rate (exponential gaps), seeded, so the same
options give the same schedule. During the ramp the rate grows linearly from zero to the offered
rate; the schedule thins a process of the full rate (Lewis and Shedler), which keeps it Poisson at
every instant. The schedule is open: nothing in it waits for the hub.
"""

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass

MAX_AGENCIES = 999


@dataclass(frozen=True, slots=True)
class LoadShape:
    agencies: int
    rate: float
    """Documents per second offered once the ramp is over."""
    duration_s: float
    """Of the whole schedule, ramp included."""
    ramp_s: float = 0.0
    recipients: tuple[int, int] = (1, 1)
    """Fewest and most recipients of a document, each count as likely."""
    seed: int = 1

    def problems(self) -> list[str]:
        """What makes no load test, each in the words of the command's options."""
        low, high = self.recipients
        checks = [
            (2 <= self.agencies <= MAX_AGENCIES, f"--agencies must be 2 to {MAX_AGENCIES}"),
            (self.rate > 0 and math.isfinite(self.rate), "--rate must be more than 0"),
            (
                self.duration_s > 0 and math.isfinite(self.duration_s),
                "--duration must be more than 0 seconds",
            ),
            (0 <= self.ramp_s <= self.duration_s, "--ramp must be 0 to --duration seconds"),
            (1 <= low <= high, "--recipients must be A-B with 1 <= A <= B, e.g. 1-3"),
            (
                high <= self.agencies - 1,
                f"--recipients {low}-{high}: a document goes to at most the "
                f"{self.agencies - 1} other agencies",
            ),
        ]
        return [message for holds, message in checks if not holds]


@dataclass(frozen=True, slots=True)
class PlannedSend:
    index: int
    at_s: float
    """Seconds after the start of the schedule."""
    sender: int
    """Index of the sending agency."""
    recipients: tuple[int, ...]


def agency_ids(count: int) -> list[str]:
    """Ids in the national format for ``count`` load-test agencies: ``001.00.00.T01``..."""
    if not 1 <= count <= MAX_AGENCIES:
        raise ValueError(f"1 to {MAX_AGENCIES} agencies, not {count}")
    return [f"{number:03d}.00.00.T01" for number in range(1, count + 1)]


def parse_recipients(text: str) -> tuple[int, int]:
    """``"2"`` or ``"1-3"``; ValueError for anything else."""
    low, separator, high = text.strip().partition("-")
    try:
        bounds = (int(low), int(high) if separator else int(low))
    except ValueError:
        raise ValueError(f"--recipients {text!r}: expected A-B, e.g. 1-3, or one number") from None
    return bounds


def rate_at(shape: LoadShape, at_s: float) -> float:
    """The offered rate at ``at_s``: rising linearly over the ramp, then flat."""
    if shape.ramp_s > 0 and at_s < shape.ramp_s:
        return shape.rate * at_s / shape.ramp_s
    return shape.rate


def expected_sends(shape: LoadShape) -> float:
    """The mean number of documents of the schedule: the rate's integral over the duration."""
    return shape.rate * (shape.duration_s - shape.ramp_s / 2)


def schedule(shape: LoadShape) -> Iterator[PlannedSend]:
    """The sends in time order, lazily: a long run's schedule is never held whole."""
    chance = random.Random(shape.seed)  # noqa: S311 - a reproducible schedule, not a secret
    low, high = shape.recipients
    at_s = 0.0
    index = 0
    while True:
        at_s += chance.expovariate(shape.rate)
        if at_s >= shape.duration_s:
            return
        if chance.random() * shape.rate >= rate_at(shape, at_s):
            continue  # thinned out: the ramp offers less than the full rate here
        sender = chance.randrange(shape.agencies)
        others = [agency for agency in range(shape.agencies) if agency != sender]
        recipients = tuple(sorted(chance.sample(others, chance.randint(low, high))))
        yield PlannedSend(index, at_s, sender, recipients)
        index += 1
