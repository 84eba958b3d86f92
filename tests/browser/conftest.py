"""Fixtures for tests in a real browser: headless Chromium from the system's packages (Debian's
``chromium``, which ``.ci/run`` installs), driven by Playwright without any browser download,
against a real hub on a real RabbitMQ (the integration tests' fixtures, imported here).

Without Chromium the tests skip on a developer's machine, and fail in CI (``CI`` set), where
the browser must be there.
"""

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from tests.integration.conftest import (
    agencies,
    broker_cleanup,
    client_for,
    directory,
    hub_factory,
    hub_settings,
    namespace,
    probe,
)

__all__ = [
    "agencies",
    "broker_cleanup",
    "browser",
    "client_for",
    "directory",
    "hub_factory",
    "hub_settings",
    "namespace",
    "probe",
]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
"""Where the browser tests leave what a person looks at afterwards (screenshots)."""
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
INSTALL = "apt-get install -y chromium (Debian), or set DOCHUB_CHROMIUM=/path/to/chromium"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in item.nodeid:
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.browser)


def chromium_path() -> str | None:
    """The system's Chromium: ``DOCHUB_CHROMIUM``, else the first of the usual names on PATH."""
    given = os.environ.get("DOCHUB_CHROMIUM")
    if given:
        return given if Path(given).is_file() else None
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    if executable is None:
        message = f"no Chromium for the browser tests: {INSTALL}"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    async with async_playwright() as playwright:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        # --disable-dev-shm-usage: containers often give /dev/shm 64 MB, too little for it.
        launched = await playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        try:
            yield launched
        finally:
            await launched.close()
