"""The simulated agencies in a process of their own: ``python -m dochub.fleet_process``.

It reads a ``FleetConfig`` as JSON on stdin, writes one ``FleetProgress`` JSON line per progress
report on stdout, and ends with a line ``{"result": <FleetResult>}``. Logs go to stderr.
"""

import asyncio
import sys

from dochub.logging import configure_logging
from simulator.fleet import FleetConfig, FleetProgress, run_fleet

RESULT_PREFIX = '{"result": '


def main() -> None:
    configure_logging("json", "warning")
    config = FleetConfig.model_validate_json(sys.stdin.read())

    def report(progress: FleetProgress) -> None:
        print(progress.model_dump_json(), flush=True)

    result = asyncio.run(run_fleet(config, report))
    print(f"{RESULT_PREFIX}{result.model_dump_json()}}}", flush=True)


if __name__ == "__main__":
    main()
