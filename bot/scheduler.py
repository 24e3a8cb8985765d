"""APScheduler 3 as the clock only: it ticks the dispatcher; the database holds the work.

Nothing durable lives in the job store. On start the jobs are added from code, and the
first sweep finds whatever fell due while the process was down.

Between ticks the dispatcher's refill loop (``Wakeups``) keeps its slots full: it claims
when a delivery finishes while work is due, and when woken by a notification that an
item was queued (PostgreSQL LISTEN/NOTIFY, or the in-process signal on SQLite). The tick
is the safety net: scheduled items, backoffs that end, missed notifications.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.dispatcher import Dispatcher
from bot.settings import Settings
from storage import wakeup

log = logging.getLogger("gongkai.scheduler")


def _logged(name: str, job: Callable[[], Awaitable[int]]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        try:
            count = await job()
        except Exception:
            log.exception("scheduled job %s failed; it runs again at its next tick", name)
            return
        if count:
            log.debug("%s: %d", name, count)

    return run


Job = tuple[str, Callable[[], Awaitable[int]], float]


def build_scheduler(
    dispatcher: Dispatcher, settings: Settings, *, extra: Sequence[Job] = ()
) -> AsyncIOScheduler:
    """A scheduler with the dispatch, reap, poll and sweep jobs (and ``extra``); not started."""
    scheduler = AsyncIOScheduler(timezone="Asia/Shanghai")
    soon = dt.datetime.now(dt.UTC)
    jobs: list[Job] = [
        ("dispatch", dispatcher.tick, settings.dispatch_interval_seconds),
        ("reap", dispatcher.reap, settings.reap_interval_seconds),
        ("poll", dispatcher.poll_confirmations, settings.sweep_interval_seconds),
        ("sweep", dispatcher.sweep, settings.sweep_interval_seconds),
        *extra,
    ]
    for name, job, seconds in jobs:
        scheduler.add_job(
            _logged(name, job),
            "interval",
            seconds=seconds,
            id=name,
            next_run_time=soon,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )
    return scheduler


@dataclass
class Wakeups:
    """A worker's refill loop and what wakes it; ``stop`` after the dispatcher drains."""

    dispatcher: Dispatcher
    loop: asyncio.Task[None]
    listener: wakeup.DueListener | None

    @classmethod
    def start(cls, dispatcher: Dispatcher, database_url: str) -> Wakeups:
        wakeup.subscribe(dispatcher.wake)
        listener = None
        if database_url.startswith("postgres"):
            listener = wakeup.DueListener(database_url, dispatcher.wake)
            listener.start()
        loop = asyncio.create_task(dispatcher.run(), name="gongkai-refill")
        dispatcher.wake()  # whatever is due already, without waiting for the first tick
        return cls(dispatcher, loop, listener)

    async def stop(self) -> None:
        wakeup.unsubscribe(self.dispatcher.wake)
        if self.listener is not None:
            await self.listener.stop()
        if not self.loop.done():
            self.loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.loop
