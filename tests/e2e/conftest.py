"""Fixtures for tests that start real processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.service import Process


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    """Every process a test starts; all are stopped afterwards, even when the test fails."""
    started: list[Process] = []
    yield started
    for process in reversed(started):
        process.stop()
