"""Waking workers the moment a delivery falls due, instead of at their next tick.

Whatever makes a delivery due (queueing, a review's release, a staff retry, a lease taken
back) calls ``notify_due`` inside the transaction that does it. On PostgreSQL that sends
``NOTIFY gongkai_due``, which the server delivers at commit to every process listening
(``DueListener``: a dedicated asyncpg connection per worker); a rolled-back transaction
sends nothing. SQLite has no such channel, so there it is an in-process signal only, which
reaches the dispatcher of ``gongkai serve`` (web and worker in one process); separate
worker processes on SQLite keep their tick. Either way the tick stays as the safety net
for scheduled items and missed notifications.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

log = logging.getLogger("gongkai.wakeup")
CHANNEL = "gongkai_due"
Wake = Callable[[], None]

# Dispatchers of this process (normally one); the only process-wide state, by nature.
_local: set[Wake] = set()


def subscribe(wake: Wake) -> None:
    """Call ``wake`` whenever this process makes a delivery due."""
    _local.add(wake)


def unsubscribe(wake: Wake) -> None:
    _local.discard(wake)


async def notify_due(conn: BaseDBAsyncClient) -> None:
    """Tell workers that deliveries are due; call on the transaction that makes them due."""
    if conn.capabilities.dialect == "postgres":
        await conn.execute_script(f"NOTIFY {CHANNEL}")  # sent at commit, to every listener
        return
    # SQLite: a woken dispatcher's claim waits for this transaction's lock (Tortoise holds
    # one lock per SQLite connection for a transaction), so it sees the committed rows.
    for wake in list(_local):
        wake()


def _set_on_close(event: asyncio.Event, _conn: object) -> None:
    event.set()


class DueListener:
    """A dedicated PostgreSQL connection that LISTENs and calls ``wake`` on each NOTIFY.

    If the connection drops it reconnects with a growing pause, and wakes once after
    reconnecting, since notifications sent meanwhile are lost.
    """

    def __init__(self, url: str, wake: Wake, *, max_pause: float = 30.0) -> None:
        self.url = url
        self.wake = wake
        self.max_pause = max_pause
        self.listening = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="gongkai-due-listener")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _on_notify(self, *_args: Any) -> None:
        self.wake()

    async def _run(self) -> None:
        import asyncpg  # PostgreSQL only: a SQLite server never loads the driver

        pause = 0.5
        first = True
        while True:
            lost = asyncio.Event()
            try:
                conn = await asyncpg.connect(self.url)
            except (OSError, asyncpg.PostgresError) as exc:
                log.warning("LISTEN %s: cannot connect (%s); retry in %.1f s", CHANNEL, exc, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, self.max_pause)
                continue
            try:
                conn.add_termination_listener(functools.partial(_set_on_close, lost))
                await conn.add_listener(CHANNEL, self._on_notify)
                self.listening.set()
                log.info("listening for due deliveries (LISTEN %s)", CHANNEL)
                pause = 0.5
                if not first:
                    self.wake()  # whatever was notified while we were away
                first = False
                await lost.wait()
                log.warning("LISTEN %s: connection lost; reconnecting", CHANNEL)
            finally:
                self.listening.clear()
                if not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await asyncio.shield(conn.close(timeout=2))
