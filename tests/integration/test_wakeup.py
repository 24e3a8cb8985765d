"""Workers move at the channel's speed: woken when an item is queued, refilled when a slot
frees, never more than ``concurrency`` deliveries in flight whatever job claims.

The tick is set to a minute here, so anything faster than that is the wake-up's doing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from bot.dispatcher import Dispatcher
from bot.settings import Settings
from bot.web import create_app
from channels.base import Committed, Publishable
from storage.db import close_database, open_database
from storage.delivery import RetryPolicy
from storage.models import Delivery, Organization
from storage.tokens import create_token
from tests.fakes.channel import ScriptedChannel
from tests.integration.helpers import make_org, queue

ROOT = Path(__file__).resolve().parents[2]
SLOW_TICK = 60.0
ITEM: dict[str, Any] = {
    "org": "tiande",
    "title": "关于开展2026年春季植树活动的通知",
    "body": "各村：\n\n请于3月12日前完成植树任务。",
    "channels": ["website"],
}


def _slow_tick(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "dispatch_interval_seconds": SLOW_TICK,
            "sweep_interval_seconds": SLOW_TICK,
            "reap_interval_seconds": SLOW_TICK,
        }
    )


@pytest.fixture
def worker_process(settings: Settings, tmp_path: Path) -> Iterator[subprocess.Popen[str] | None]:
    """On PostgreSQL: a real ``gongkai worker`` (its own data folder, a one-minute tick),
    started as systemd would and ready once it LISTENs. On SQLite: none (the app's own)."""
    if not settings.effective_database_url.startswith("postgres"):
        yield None
        return
    env = {
        **os.environ,
        "GONGKAI_DATABASE_URL": settings.effective_database_url,
        "GONGKAI_DATA_DIR": str(tmp_path / "worker-data"),
        "GONGKAI_SITE_BASE_URL": settings.site_base_url,
        "GONGKAI_WORKER_ID": "subprocess-worker",
        "GONGKAI_DISPATCH_INTERVAL_SECONDS": str(SLOW_TICK),
        "GONGKAI_SWEEP_INTERVAL_SECONDS": str(SLOW_TICK),
        "GONGKAI_REAP_INTERVAL_SECONDS": str(SLOW_TICK),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "worker"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    listening = threading.Event()
    lines: list[str] = []

    def read_log(stream: IO[str]) -> None:  # keeps the pipe drained while the worker runs
        for line in stream:
            lines.append(line)
            if "listening for due deliveries" in line:
                listening.set()

    reader = threading.Thread(target=read_log, args=(proc.stderr,), daemon=True)
    reader.start()
    try:
        if not listening.wait(60):
            pytest.fail("the worker did not start listening:\n" + "".join(lines[-20:]))
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        reader.join(timeout=5)
        proc.stderr.close()


@pytest.fixture
async def client(
    settings: Settings, worker_process: subprocess.Popen[str] | None
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """The API; on SQLite it runs the worker in-process (``gongkai serve``), on PostgreSQL
    the worker is the separate process above (``gongkai web`` + ``gongkai worker``)."""
    in_process = worker_process is None
    app = create_app(_slow_tick(settings), run_worker=in_process)
    async with app.router.lifespan_context(app):
        tiande = await Organization.create(code="tiande", name="天德乡人民政府")
        token = await create_token("天德乡编辑", tiande, role="admin", review_exempt=True)
        await asyncio.sleep(0.5)  # the start-up ticks have run; the next is a minute away
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gongkai.test") as c:
            yield c, {"Authorization": f"Bearer {token}"}


async def test_a_queued_item_is_published_without_waiting_for_the_tick(
    client: tuple[httpx.AsyncClient, dict[str, str]],
) -> None:
    """An item queued on an idle worker goes out at once, not at the next (60 s) tick."""
    http, headers = client
    started = time.monotonic()
    created = await http.post("/api/v1/items", json=ITEM, headers=headers)
    assert created.status_code == 201, created.text
    item_id = created.json()["id"]
    state = ""
    while time.monotonic() - started < 5:
        detail = (await http.get(f"/api/v1/items/{item_id}", headers=headers)).json()
        state = detail["deliveries"][0]["state"]
        if state == "published":
            break
        await asyncio.sleep(0.02)
    elapsed = time.monotonic() - started
    assert state == "published", f"still {state} after {elapsed:.1f} s"
    assert elapsed < 3.0


class SlowChannel(ScriptedChannel):
    """Each commit takes ``delay`` seconds; counts how many run at once."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.running = 0
        self.peak = 0

    async def commit(self, pub: Publishable, prepared: Mapping[str, Any]) -> Committed:
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await asyncio.sleep(self.delay)
            return await super().commit(pub, prepared)
        finally:
            self.running -= 1


def _dispatcher(channel: SlowChannel, *, concurrency: int) -> Dispatcher:
    return Dispatcher(
        {"website": channel},
        worker="w1",
        lease_seconds=60,
        batch=50,
        concurrency=concurrency,
        rng=random.Random(0),
        policy=RetryPolicy(max_attempts=3, base_seconds=0.001, cap_seconds=0.002),
    )


async def _published(count: int, *, within: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < within:
        if await Delivery.filter(state="published").count() == count:
            return time.monotonic() - started
        await asyncio.sleep(0.02)
    raise AssertionError(f"not all {count} published within {within} s")


@pytest.fixture
def db(database: str) -> str:
    return database


async def test_a_free_slot_is_refilled_at_once(db: str) -> None:
    """With no tick at all, one wake-up drains a backlog at the channel's pace: every
    finished delivery frees a slot that is claimed again straight away."""
    org = await make_org()
    channel = SlowChannel(delay=0.1)
    for n in range(16):
        await queue(org, {"website": channel}, title=f"通知{n}")
    dispatcher = _dispatcher(channel, concurrency=4)
    loop = asyncio.create_task(dispatcher.run())
    try:
        dispatcher.wake()
        took = await _published(16, within=10)
    finally:
        await dispatcher.drain(grace_seconds=5)
        await loop
    assert channel.peak == 4
    assert took < 3.0  # 16 deliveries, 4 at a time, 0.1 s each: 0.4 s of channel time


async def test_in_flight_never_exceeds_the_cap_whatever_job_claims(db: str) -> None:
    """The refill loop, the dispatch tick and the sweep's own tick all claim at once;
    the channel never sees more than ``concurrency`` calls."""
    org = await make_org()
    channel = SlowChannel(delay=0.05)
    for n in range(24):
        await queue(org, {"website": channel}, title=f"通知{n}")
    dispatcher = _dispatcher(channel, concurrency=3)
    loop = asyncio.create_task(dispatcher.run())
    stop = asyncio.Event()

    async def jobs() -> None:
        while not stop.is_set():
            await asyncio.gather(dispatcher.tick(), dispatcher.sweep(), dispatcher.tick())
            assert dispatcher.in_flight <= 3
            await asyncio.sleep(0.005)

    hammer = asyncio.create_task(jobs())
    try:
        dispatcher.wake()
        await _published(24, within=20)
    finally:
        stop.set()
        await hammer
        await dispatcher.drain(grace_seconds=5)
        await loop
    assert channel.peak == 3
    assert sum(channel.published.values()) == 24


async def test_an_item_queued_in_another_process_wakes_the_listener(
    settings: Settings,
) -> None:
    """PostgreSQL: the NOTIFY goes out when the queueing transaction commits, to a
    listener on its own connection; a rolled-back transaction notifies nobody."""
    url = settings.effective_database_url
    if not url.startswith("postgres"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    from tortoise.transactions import in_transaction

    from storage import wakeup

    await open_database(url)
    woken = asyncio.Event()
    listener = wakeup.DueListener(url, woken.set)
    listener.start()
    try:
        await asyncio.wait_for(listener.listening.wait(), 10)

        class Rollback(Exception):
            pass

        async def notify_then_roll_back() -> None:
            async with in_transaction() as conn:
                await wakeup.notify_due(conn)
                raise Rollback

        with pytest.raises(Rollback):
            await notify_then_roll_back()
        await asyncio.sleep(0.3)
        assert not woken.is_set()
        org = await make_org()
        await queue(org, {"website": ScriptedChannel()}, publish_at=dt.datetime.now(dt.UTC))
        await asyncio.wait_for(woken.wait(), 5)
    finally:
        await listener.stop()
        await close_database()
