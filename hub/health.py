"""Whether the hub is ready to route: the broker connected, every worker consuming, the ledger
writable. ``readiness`` is the pure rule; ``LedgerProbe`` keeps the ledger's answer fresh."""

import asyncio
import time
from dataclasses import dataclass, field

import structlog

from hub.errors import LedgerError
from hub.ledger import Ledger

log = structlog.get_logger("hub.health")

LEDGER_PROBE_INTERVAL_S = 3.0


@dataclass(frozen=True, slots=True)
class Readiness:
    reasons: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ready(self) -> bool:
        return not self.reasons


@dataclass(frozen=True, slots=True)
class HubState:
    """What readiness is judged on, as the hub sees it now."""

    started: bool
    broker_connected: bool
    workers: int
    workers_running: int
    ingress_consumers: int | None
    """Consumers of the ingress queue at the last reading; ``None``: not read."""
    queues_problem: str | None
    ledger_problem: str | None


def readiness(state: HubState) -> Readiness:
    if not state.started:
        return Readiness(("the hub is starting",))
    reasons = []
    if not state.broker_connected:
        reasons.append("broker: the connection to RabbitMQ is lost; reconnecting")
    elif state.queues_problem is not None:
        reasons.append(f"broker: {state.queues_problem}")
    if state.workers_running < state.workers:
        reasons.append(
            f"consumers: {state.workers - state.workers_running} of {state.workers} router "
            "workers have stopped"
        )
    elif state.broker_connected and state.queues_problem is None:
        consumers = state.ingress_consumers or 0
        if consumers < state.workers:
            reasons.append(
                f"consumers: the ingress queue has {consumers} consumers, the hub runs "
                f"{state.workers} workers"
            )
    if state.ledger_problem is not None:
        reasons.append(f"ledger: {state.ledger_problem}")
    return Readiness(tuple(reasons))


class LedgerProbe:
    """Tries an empty write transaction every ``interval_s``: it takes the write lock and checks
    the files, as a real batch would, without changing anything. Readers get the cached answer."""

    def __init__(
        self, ledger: Ledger, timeout_s: float, interval_s: float = LEDGER_PROBE_INTERVAL_S
    ) -> None:
        self._ledger = ledger
        self._timeout_s = timeout_s
        self._interval_s = interval_s
        self.problem: str | None = None
        self.probed_at: float | None = None

    async def run(self) -> None:
        while True:
            await self.probe()
            await asyncio.sleep(self._interval_s)

    async def probe(self) -> None:
        problem: str | None = None
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._ledger.admit([])
        except LedgerError as exc:
            problem = str(exc)
        except TimeoutError:
            problem = f"a write took more than {self._timeout_s:g} s"
        if problem != self.problem:
            if problem is None:
                log.info("ledger_probe_recovered")
            else:
                log.warning("ledger_probe_failed", error=problem)
        self.problem, self.probed_at = problem, time.monotonic()
