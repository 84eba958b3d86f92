"""Fixtures the unit tests share."""

from types import SimpleNamespace

import pytest

import hub.throughput
from tests.unit.fake_clock import Clock


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The throughput meter's clock, moved by hand: ``clock.now += 2.0``."""
    fake = Clock()
    monkeypatch.setattr(hub.throughput, "time", SimpleNamespace(monotonic=fake.monotonic))
    return fake
