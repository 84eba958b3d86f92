"""Waiting on the broker and the ledger in tests: poll a condition until it holds, bounded."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from hub.ledger import Totals
from hub.service import Hub

T = TypeVar("T")

NOTHING_MORE_S = 1.0
"""How long to watch a queue to see that no further message arrives."""


async def until(read: Callable[[], Awaitable[T]], holds: Callable[[T], bool], within_s: float) -> T:
    """Poll ``read`` until ``holds`` is true of its value; fail after ``within_s`` seconds."""
    last: list[T] = []

    async def poll() -> T:
        while True:
            value = await read()
            last[:] = [value]
            if holds(value):
                return value
            await asyncio.sleep(0.05)

    try:
        return await asyncio.wait_for(poll(), within_s)
    except TimeoutError:
        pytest.fail(f"not reached within {within_s}s; last value: {last[0] if last else None}")


async def settled_totals(hub: Hub, holds: Callable[[Totals], bool], within_s: float = 10) -> Totals:
    return await until(hub.ledger.totals, holds, within_s)
