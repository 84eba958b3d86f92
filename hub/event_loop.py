"""The event loop every DocHub process runs on: uvloop's, installed once per process before its
first ``asyncio.run``.

uvloop moves the loop's scheduling and its sockets into C. On this project's benches it gave
nothing measurable (aiormq's frames go through asyncio's Python streams either way;
docs/performance.md), and it is kept so that every process runs on the same loop as the benches
that measure it.
"""

import asyncio

import uvloop


def install_uvloop() -> None:
    """Make every later ``asyncio.run`` (and ``asyncio.Runner``) of this process use uvloop."""
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def uses_uvloop() -> bool:
    """Whether the running loop, or the loop the policy makes next, is uvloop's."""
    try:
        return isinstance(asyncio.get_running_loop(), uvloop.Loop)
    except RuntimeError:
        return isinstance(asyncio.get_event_loop_policy(), uvloop.EventLoopPolicy)
