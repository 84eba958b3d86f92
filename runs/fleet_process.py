"""The simulated agencies of a replay in a process of their own: ``python -m runs.fleet_process
LOG_LEVEL``, spoken to in typed JSON lines (``runs.child_process``).

It reads a ``FleetConfig`` as the first line of stdin and writes one ``FleetProgressLine`` per
progress report, then a ``FleetResultLine`` or, when the agencies could not run, a
``ChildFailed`` naming the ``AgencyClientError`` met. It stops, closing its connections, on
SIGTERM, SIGINT and the end of its stdin, which is how it outlives no parent, even one killed.
"""

from collections.abc import Callable
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from runs.child_process import ChildFailed, child_main, write_line
from simulator.fleet import FleetConfig, FleetProgress, FleetResult, run_fleet

MODULE: Final = "runs.fleet_process"


class FleetProgressLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["progress"] = "progress"
    progress: FleetProgress


class FleetResultLine(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["result"] = "result"
    result: FleetResult


FleetLine = Annotated[
    FleetProgressLine | FleetResultLine | ChildFailed, Field(discriminator="kind")
]
FLEET_LINES: Final[TypeAdapter[FleetLine]] = TypeAdapter(FleetLine)


def main() -> None:
    child_main(FleetConfig, _run)


async def _run(config: FleetConfig, stop: Callable[[], None]) -> FleetResultLine:
    def report(progress: FleetProgress) -> None:
        if not write_line(FleetProgressLine(progress=progress)):
            stop()  # nobody reads any more: the parent is gone

    return FleetResultLine(result=await run_fleet(config, report))


if __name__ == "__main__":
    main()
