"""Outbox throughput: items through the real dispatcher versus the same channel writes done bare.

Both sides use the built-in StaticWebsite and NoticeBoard channels in a temporary data
directory and run deliveries as asyncio tasks, ``concurrency`` at a time (PDF rendering and
file writes go to threads inside the channels, as in production).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot import publishing
from bot.app import build_dispatcher
from bot.content import render_body
from bot.publishing import ItemInput
from bot.settings import Settings
from channels.base import Channel, Publishable
from channels.registry import build_channels
from storage.db import close_database, open_database
from storage.delivery import State, Step
from storage.ledger import local_date
from storage.models import Delivery, DeliveryAttempt, Organization
from tests.bench import Figure, percentile, reset_bench_database, verdict

CHANNELS = ("website", "noticeboard")
ORGANIZATIONS = 10  # items are spread over a county's townships, 200 each by default
CATEGORIES = ("农业农村", "财政预决算", "社会救助", "规划建设", "")
TARGET_RATIO = 0.7
DRAIN_LIMIT_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class OutboxRun:
    """What one database's outbox run measured, with the bare loop it is compared to."""

    database: str
    items: int
    concurrency: int
    queue_seconds: float
    drain_seconds: float
    bare_seconds: float
    p50_seconds: float
    p95_seconds: float
    states: dict[str, int]

    @property
    def drain_rate(self) -> float:
        """Items per second from the first claim until nothing is due."""
        return self.items / self.drain_seconds

    @property
    def end_to_end_rate(self) -> float:
        """Items per second including queueing them (item and delivery inserts)."""
        return self.items / (self.queue_seconds + self.drain_seconds)

    @property
    def bare_rate(self) -> float:
        """Items per second of the bare channel loop."""
        return self.items / self.bare_seconds


def org_code(index: int) -> str:
    """The code of the ``index``-th benchmark organization."""
    return f"bench{index:02d}"


def item_text(number: int) -> tuple[str, str]:
    """A realistic title and Markdown body for item ``number``."""
    title = f"关于做好第{number}批春耕生产和农资供应工作的通知"
    paragraph = (
        "各村民委员会、乡直各单位：为切实做好今年春耕备耕工作，保障农资供应，"
        "确保粮食生产稳定，现将有关事项通知如下。"
    )
    body = "\n\n".join(
        [
            paragraph,
            "## 一、工作目标",
            f"全乡完成粮食播种面积{1000 + number}亩，落实农资储备。",
            "## 二、工作要求",
            "1. 各村要加强组织领导。\n2. 及时报送进度。\n3. 做好安全生产。",
            paragraph,
        ]
    )
    return title, body


def item_inputs(count: int, orgs: Sequence[Organization]) -> Iterator[ItemInput]:
    """The items to queue, spread round-robin over ``orgs`` and the categories."""
    for number in range(1, count + 1):
        title, body = item_text(number)
        yield ItemInput(
            org=orgs[number % len(orgs)],
            title=title,
            body=body,
            category=CATEGORIES[number % len(CATEGORIES)],
            doc_number=f"天政发〔2026〕{number}号",
            normative=number % 7 == 0,
            channels=CHANNELS,
            author="bench",
        )


def bare_publishables(count: int) -> list[Publishable]:
    """The deliveries of the bare loop, built directly as the dispatcher would see them."""
    today = local_date(dt.datetime.now(dt.UTC))
    pubs = []
    for number in range(1, count + 1):
        title, body = item_text(number)
        org = number % ORGANIZATIONS
        for channel_index in range(len(CHANNELS)):
            pubs.append(
                Publishable(
                    delivery_id=number * len(CHANNELS) + channel_index,
                    idempotency_key=uuid.uuid4().hex,
                    org_code=org_code(org),
                    org_name=f"第{org}乡人民政府",
                    item_id=number,
                    lineage_id=number,
                    revision=1,
                    index_no=f"{org_code(org)}/{today.year}-{number:05d}",
                    title=title,
                    body_md=body,
                    body_html=render_body(body).html,
                    summary="",
                    category=CATEGORIES[number % len(CATEGORIES)],
                    doc_number=f"天政发〔2026〕{number}号",
                    normative=number % 7 == 0,
                    formed_on=None,
                    publish_date=today,
                )
            )
    return pubs


async def deliver_bare(channel: Channel, pub: Publishable) -> None:
    """Prepare then commit one delivery directly on its channel."""
    prepared = await channel.prepare(pub)
    await channel.commit(dataclasses.replace(pub, prepared=prepared), prepared)


async def run_bare(
    channels: Mapping[str, Channel], pubs: Sequence[Publishable], concurrency: int
) -> float:
    """Run every delivery through its channel, ``concurrency`` at a time; returns seconds."""
    pending = iter(zip(pubs, [CHANNELS[i % len(CHANNELS)] for i in range(len(pubs))], strict=True))

    async def worker() -> None:
        for pub, name in pending:
            await deliver_bare(channels[name], pub)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


def bench_settings(data_dir: Path, database_url: str, concurrency: int) -> Settings:
    """Settings for one run: a private data dir, the given database, default retry policy."""
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        worker_id="bench",
        dispatch_concurrency=concurrency,
    )


async def close_channels(channels: Mapping[str, Channel]) -> None:
    """Close every channel."""
    for channel in channels.values():
        await channel.aclose()


async def bare_baseline(count: int, concurrency: int) -> float:
    """Time the bare loop in a fresh data directory; returns seconds."""
    pubs = bare_publishables(count)
    with tempfile.TemporaryDirectory(prefix="gongkai-bench-bare-") as tmp:
        settings = bench_settings(Path(tmp), "", concurrency)
        settings.ensure_dirs()
        channels = build_channels(settings)
        try:
            return await run_bare(channels, pubs, concurrency)
        finally:
            await close_channels(channels)


async def queue_all(count: int, channels: Mapping[str, Channel], settings: Settings) -> float:
    """Create the organizations and queue ``count`` items through bot.publishing; seconds."""
    orgs = [
        await Organization.create(code=org_code(i), name=f"第{i}乡人民政府")
        for i in range(ORGANIZATIONS)
    ]
    started = time.perf_counter()
    for data in item_inputs(count, orgs):
        await publishing.queue(data, channels=channels, max_body_bytes=settings.max_body_bytes)
    return time.perf_counter() - started


async def done_latencies() -> tuple[list[float], dict[str, int]]:
    """Seconds from each item's creation to its delivery being published or accepted."""
    accepted_at = {
        row["delivery_id"]: row["started_at"]
        for row in await DeliveryAttempt.filter(step=Step.COMMIT, outcome="accepted").values(
            "delivery_id", "started_at"
        )
    }
    rows = await Delivery.all().values("id", "state", "published_at", "item__created_at")
    states: dict[str, int] = {}
    latencies = []
    for row in rows:
        states[row["state"]] = states.get(row["state"], 0) + 1
        done = (
            row["published_at"] if row["state"] == State.PUBLISHED else accepted_at.get(row["id"])
        )
        if done is not None:
            latencies.append((done - row["item__created_at"]).total_seconds())
    return latencies, states


async def run_outbox(database: str, url: str, count: int, concurrency: int) -> OutboxRun:
    """Queue ``count`` items on ``url`` and drain them with a real Dispatcher."""
    with tempfile.TemporaryDirectory(prefix=f"gongkai-bench-{database}-") as tmp:
        data_dir = Path(tmp)
        settings = bench_settings(data_dir, url, concurrency)
        settings.ensure_dirs()
        await open_database(settings.effective_database_url)
        channels = build_channels(settings)
        try:
            queue_seconds = await queue_all(count, channels, settings)
            dispatcher = build_dispatcher(settings, channels)
            started = time.perf_counter()
            await dispatcher.run_until_idle(limit_seconds=DRAIN_LIMIT_SECONDS)
            drain_seconds = time.perf_counter() - started
            latencies, states = await done_latencies()
        finally:
            await close_channels(channels)
            await close_database()
    bare_seconds = await bare_baseline(count, concurrency)
    return OutboxRun(
        database=database,
        items=count,
        concurrency=concurrency,
        queue_seconds=queue_seconds,
        drain_seconds=drain_seconds,
        bare_seconds=bare_seconds,
        p50_seconds=percentile(latencies, 0.5) if latencies else float("nan"),
        p95_seconds=percentile(latencies, 0.95) if latencies else float("nan"),
        states=states,
    )


def report(run: OutboxRun) -> list[Figure]:
    """Print one run's figures and return its summary rows."""
    drain_ratio = run.drain_rate / run.bare_rate
    e2e_ratio = run.end_to_end_rate / run.bare_rate
    target, met = f">= {TARGET_RATIO}", verdict(drain_ratio >= TARGET_RATIO)
    expected = {State.PUBLISHED: run.items, State.ACCEPTED: run.items}
    complete = run.states == expected
    print(f"\n== outbox on {run.database}: {run.items} items x {len(CHANNELS)} channels ==")
    print(f"concurrency {run.concurrency} (dispatcher and bare loop alike), {ORGANIZATIONS} orgs")
    print(f"delivery states: {run.states} ({'all done' if complete else 'INCOMPLETE'})")
    print("  (notice-board deliveries stay 'accepted' until staff confirm the posting;")
    print("   accepted counts as done by the outbox here)")
    print("latency: item created_at to published_at (website) or to the logged commit (board)")
    print(f"queue   : {run.queue_seconds:7.1f} s  {run.items / run.queue_seconds:7.1f} items/s")
    print(f"drain   : {run.drain_seconds:7.1f} s  {run.drain_rate:7.1f} items/s")
    print(f"bare    : {run.bare_seconds:7.1f} s  {run.bare_rate:7.1f} items/s (baseline)")
    print(f"ratio drain/bare        : {drain_ratio:.2f}  target {target}: {met}")
    print(f"ratio (queue+drain)/bare: {e2e_ratio:.2f}  (for information, no target)")
    print(
        f"queue-to-done latency p50 {run.p50_seconds:.1f} s, p95 {run.p95_seconds:.1f} s "
        "(backlog drain: all items queued before the dispatcher starts)"
    )
    bench = f"outbox/{run.database}"
    return [
        Figure(bench, "drain items/s", f"{run.drain_rate:.1f}"),
        Figure(bench, "bare items/s", f"{run.bare_rate:.1f}"),
        Figure(bench, "drain/bare", f"{drain_ratio:.2f}", target, met),
        Figure(bench, "(queue+drain)/bare", f"{e2e_ratio:.2f}"),
        Figure(bench, "latency p50/p95 s", f"{run.p50_seconds:.1f}/{run.p95_seconds:.1f}"),
        Figure(bench, "all published/accepted", str(complete), "True", verdict(complete)),
    ]


async def main(count: int, concurrency: int, *, postgres: bool) -> list[Figure]:
    """Run the outbox bench on SQLite and, unless skipped, on PostgreSQL."""
    figures = []
    with tempfile.TemporaryDirectory(prefix="gongkai-bench-db-") as tmp:
        sqlite_url = f"sqlite://{Path(tmp) / 'bench.sqlite3'}"
        figures += report(await run_outbox("sqlite", sqlite_url, count, concurrency))
    if postgres:
        pg_url = await reset_bench_database()
        figures += report(await run_outbox("postgres", pg_url, count, concurrency))
    return figures
