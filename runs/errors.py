"""Why a run (a replay, a load test) did not go to its end. The CLI maps each type to an exit code
(``dochub.errors``); a ledger, scenario or namespace that cannot be used is a
``hub.errors.ConfigurationError``, the broker a ``hub.errors.BrokerError``, as elsewhere."""

import signal


class RunError(Exception):
    """The run could not go to its end: its child process died, or stopped without a result."""


class RunUsageError(RunError):
    """Options that make no run: a scale too coarse, ``--hub external`` without a namespace."""


class RunInterrupted(RunError):
    """SIGINT or SIGTERM stopped the run; what it had started is stopped and deleted."""

    def __init__(self, signum: int, namespace: str, run: str = "run") -> None:
        self.signal = signal.Signals(signum)
        self.namespace = namespace
        super().__init__(f"interrupted by {self.signal.name}: the {run} did not finish")
