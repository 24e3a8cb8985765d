"""Fixtures for tests that start real processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.service import Process


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    """Every process a test starts; all are stopped afterwards, even when the test fails."""
    started: list[Process] = []
    yield started
    for process in reversed(started):
        process.stop()


E2E_TIMEOUT_SECONDS = 600  # several real processes, a browser, or a fuzzing budget


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give end-to-end tests a longer limit than pyproject's default, unless they set one."""
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here) and item.get_closest_marker("timeout") is None:
            item.add_marker(pytest.mark.timeout(E2E_TIMEOUT_SECONDS))
