"""The composition root: builds settings, database, channels, dispatcher and scheduler once.

Everything that needs closing is registered on one ``AsyncExitStack``; nothing lives in
module-level globals. The web app and the CLI both start from ``Runtime.open``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from functools import partial

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.deadlines import WorkCalendar
from bot.dispatcher import Dispatcher
from bot.scheduler import Wakeups, build_scheduler
from bot.settings import Settings
from bot.wechat_events import process_pending
from channels.accounts import AccountStore
from channels.base import Channel
from channels.registry import BuildContext, account_specs, build_channels
from storage.crypto import SecretBox, load_key
from storage.db import close_database, open_database
from storage.delivery import RetryPolicy
from storage.wechat import (
    DatabaseAccounts,
    DatabaseJobStore,
    DatabaseMediaStore,
    DatabaseTokenStore,
)

log = logging.getLogger("gongkai")


@dataclass
class Runtime:
    """What one process runs: its settings, channels and (if it works) its dispatcher."""

    settings: Settings
    channels: dict[str, Channel]
    dispatcher: Dispatcher
    wechat: WechatStores
    calendar: WorkCalendar  # working days; a broken override file fails at start
    # Per-organization channel accounts (the registry's account specs), by channel name.
    accounts: dict[str, AccountStore] = field(default_factory=dict)
    scheduler: AsyncIOScheduler | None = None
    wakeups: Wakeups | None = None


@dataclass(frozen=True)
class WechatStores:
    """The database-backed WeChat state shared by the channel and the callback endpoint."""

    accounts: DatabaseAccounts
    jobs: DatabaseJobStore
    tokens: DatabaseTokenStore
    media: DatabaseMediaStore


def secret_box(settings: Settings) -> SecretBox:
    """The server key's box for secrets at rest (WeChat secrets, robot webhook keys)."""
    return SecretBox(
        load_key(settings.secret_key.get_secret_value(), settings.data_dir / "secret.key")
    )


def wechat_stores(settings: Settings) -> WechatStores:
    return WechatStores(
        accounts=DatabaseAccounts(secret_box(settings)),
        jobs=DatabaseJobStore(),
        tokens=DatabaseTokenStore(owner=settings.effective_worker_id()),
        media=DatabaseMediaStore(),
    )


def open_channels(settings: Settings) -> dict[str, Channel]:
    """Every channel this server is set up for, with the database-backed stores; the
    caller closes them."""
    return build_channels(settings, wechat=wechat_stores(settings), sealer=secret_box(settings))


def account_stores(settings: Settings) -> dict[str, AccountStore]:
    """The stores behind the channels' per-organization settings pages."""
    ctx = BuildContext(settings, sealer=secret_box(settings))
    return {name: spec.store(ctx) for name, spec in account_specs()}


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(
        max_attempts=settings.max_attempts,
        base_seconds=settings.backoff_base_seconds,
        cap_seconds=settings.backoff_cap_seconds,
        configuration_pause_seconds=settings.configuration_pause_seconds,
    )


def build_dispatcher(settings: Settings, channels: dict[str, Channel]) -> Dispatcher:
    return Dispatcher(
        channels,
        worker=settings.effective_worker_id(),
        policy=retry_policy(settings),
        lease_seconds=settings.lease_seconds,
        batch=settings.dispatch_batch,
        concurrency=settings.dispatch_concurrency,
    )


@contextlib.asynccontextmanager
async def open_runtime(settings: Settings, *, run_worker: bool) -> AsyncIterator[Runtime]:
    """Open the database and channels; with ``run_worker`` also start the scheduler."""
    settings.ensure_dirs()
    async with contextlib.AsyncExitStack() as stack:
        await open_database(settings.effective_database_url)
        stack.push_async_callback(close_database)
        stores = wechat_stores(settings)
        channels = build_channels(settings, wechat=stores, sealer=secret_box(settings))
        for channel in channels.values():
            stack.push_async_callback(channel.aclose)
        runtime = Runtime(
            settings,
            channels,
            build_dispatcher(settings, channels),
            stores,
            WorkCalendar.from_settings(settings),
            account_stores(settings),
        )
        if run_worker:
            # Job events stored by the callback endpoint (even just before a crash).
            events = (
                "wechat-events",
                partial(process_pending, runtime),
                settings.sweep_interval_seconds,
            )
            runtime.scheduler = build_scheduler(runtime.dispatcher, settings, extra=[events])
            runtime.scheduler.start()
            runtime.wakeups = Wakeups.start(runtime.dispatcher, settings.effective_database_url)
            stack.push_async_callback(_stop_worker, runtime)
            log.info("worker %s started", runtime.dispatcher.worker)
        yield runtime


async def _stop_worker(runtime: Runtime) -> None:
    if runtime.scheduler is not None:
        runtime.scheduler.shutdown(wait=False)
    await runtime.dispatcher.drain(grace_seconds=runtime.settings.shutdown_grace_seconds)
    if runtime.wakeups is not None:
        await runtime.wakeups.stop()
    log.info("worker %s stopped", runtime.dispatcher.worker)
