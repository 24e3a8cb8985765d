"""APScheduler 3 as the clock only: it ticks the dispatcher; the database holds the work.

Nothing durable lives in the job store. On start the jobs are added from code, and the
first sweep finds whatever fell due while the process was down.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.dispatcher import Dispatcher
from bot.settings import Settings

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
