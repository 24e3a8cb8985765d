"""At most ``per_minute`` messages from one robot in any 60 seconds (the platform: 20).

Counted in this process: with several workers the platform's own 45009 answer is the
backstop, and it is retried after a minute.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable

WINDOW = dt.timedelta(minutes=1)
Clock = Callable[[], dt.datetime]


class RobotRateLimit:
    """A sliding window of send times per robot key."""

    def __init__(self, per_minute: int, *, clock: Clock) -> None:
        self._per_minute = per_minute
        self._clock = clock
        self._sent: dict[str, deque[dt.datetime]] = {}

    def next_free(self, key: str) -> dt.datetime | None:
        """When the robot may send again, or None if it may send now."""
        sent = self._window(key)
        return sent[0] + WINDOW if len(sent) >= self._per_minute else None

    def record(self, key: str) -> None:
        self._window(key).append(self._clock())

    def _window(self, key: str) -> deque[dt.datetime]:
        sent = self._sent.setdefault(key, deque())
        while sent and sent[0] <= self._clock() - WINDOW:
            sent.popleft()
        return sent
