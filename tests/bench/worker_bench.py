"""Workers as production runs them: ``gongkai web`` and ``gongkai worker`` processes on
PostgreSQL, fed through the API, publishing to the loopback CMS fake that answers after
50 ms; against a bare asyncio loop making the same CMS calls (the channel's own
prepare + commit, httpx underneath) at the same concurrency, in the same run.

The rate of a run is (deliveries - 1) / (last published_at - first published_at): the
workers' start-up is left out, the whole drain is in.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import tempfile
import time
from pathlib import Path

import asyncpg

from channels.base import Publishable
from channels.cms import CmsWebsite
from tests.bench import Figure, reset_bench_database, verdict
from tests.bench.processes import (
    GONGKAI,
    cms_fake,
    feed,
    free_port,
    gongkai_env,
    run_cli,
    started,
    wait_http,
)

SECRET = "bench-cms-secret"
CMS_DELAY = 0.05
SINGLE_TARGET = 0.8
SCALE_TARGET = 3.5


def _pub(n: int) -> Publishable:
    return Publishable(
        delivery_id=n,
        idempotency_key=f"bare-{n}",
        org_code="bench",
        org_name="基准乡人民政府",
        item_id=n,
        lineage_id=n,
        revision=1,
        index_no=f"bench/2026-{n:05d}",
        title=f"基准测试第{n}号通知",
        body_md="正文。",
        body_html="<p>正文。</p>",
        summary="",
        category="工作动态",
        doc_number="",
        normative=False,
        formed_on=None,
        publish_date=dt.date(2026, 3, 1),
    )


async def bare_rate(cms_url: str, items: int, concurrency: int) -> float:
    """Deliveries per second of a plain asyncio loop calling the CMS channel directly."""
    channel = CmsWebsite(cms_url, secret=SECRET, timeout=30)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(1, items + 1):
        queue.put_nowait(n)

    async def one_slot() -> None:
        while not queue.empty():
            pub = _pub(queue.get_nowait())
            await channel.commit(pub, await channel.prepare(pub))

    started_at = time.perf_counter()
    await asyncio.gather(*(one_slot() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started_at
    await channel.aclose()
    return (items - 1) / elapsed


async def _published(url: str) -> tuple[int, float]:
    """How many website deliveries are published, and over how many seconds."""
    conn = await asyncpg.connect(url)
    try:
        row = await conn.fetchrow(
            "SELECT count(*) AS n, min(published_at) AS first, max(published_at) AS last "
            "FROM delivery WHERE channel = 'website' AND state = 'published'"
        )
    finally:
        await conn.close()
    assert row is not None
    span = (row["last"] - row["first"]).total_seconds() if row["n"] else 0.0
    return int(row["n"]), span


def worker_rate(cms_url: str, *, workers: int, items: int, concurrency: int, folder: Path) -> float:
    """Deliveries per second of ``workers`` gongkai worker processes draining ``items``."""
    url = asyncio.run(reset_bench_database())
    env = gongkai_env(
        folder / f"data-{workers}",
        database_url=url,
        cms_url=cms_url,
        cms_secret=SECRET,
        dispatch_concurrency=str(concurrency),
    )
    run_cli(env, "init")
    run_cli(env, "org", "create", "--code", "bench", "--name", "基准乡人民政府")
    token = run_cli(
        env, "token", "create", "--name", "bench", "--org", "bench", "--role", "admin",
        "--review-exempt",
    ).strip()  # fmt: skip
    port = free_port()
    log = folder / f"processes-{workers}.log"
    with started([*GONGKAI, "web", "--port", str(port)], env, log=log) as web:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc=web)
        asyncio.run(feed(port, token, items, title="基准测试第{}号通知", channels=("website",)))
        with contextlib.ExitStack() as stack:
            for n in range(workers):
                worker_env = {**env, "GONGKAI_WORKER_ID": f"bench-worker-{n}"}
                stack.enter_context(started([*GONGKAI, "worker"], worker_env, log=log))
            deadline = time.monotonic() + max(600.0, items / 2)
            while time.monotonic() < deadline:
                done, span = asyncio.run(_published(url))
                if done >= items:
                    return (items - 1) / span
                time.sleep(0.5)
    raise TimeoutError(f"{workers} workers did not publish {items} items in time; see {log}")


def main(items: int, concurrency: int) -> list[Figure]:
    """Bare loop, one worker, four workers: print and return the summary rows."""
    print(f"\n== worker: {items} website items, CMS answers in {CMS_DELAY * 1000:.0f} ms ==")
    folder = Path(tempfile.mkdtemp(prefix="gongkai-worker-bench-"))
    with cms_fake(secret=SECRET, delay=CMS_DELAY, log=folder / "cms.log") as cms_url:
        bare = asyncio.run(bare_rate(cms_url, items, concurrency))
        print(f"bare asyncio loop, {concurrency} at a time: {bare:.1f}/s")
        one = worker_rate(cms_url, workers=1, items=items, concurrency=concurrency, folder=folder)
        print(f"1 gongkai worker process: {one:.1f}/s ({one / bare:.2f}x the bare loop)")
        four = worker_rate(cms_url, workers=4, items=items, concurrency=concurrency, folder=folder)
        print(f"4 gongkai worker processes: {four:.1f}/s ({four / one:.2f}x one worker)")
    print(f"(process logs in {folder})")
    return [
        Figure(
            "worker",
            f"1 worker / bare loop (conc {concurrency})",
            f"{one / bare:.2f} ({one:.1f} vs {bare:.1f}/s)",
            f">= {SINGLE_TARGET}",
            verdict(one / bare >= SINGLE_TARGET),
        ),
        Figure(
            "worker",
            "4 workers / 1 worker (PostgreSQL)",
            f"{four / one:.2f} ({four:.1f} vs {one:.1f}/s)",
            f">= {SCALE_TARGET}",
            verdict(four / one >= SCALE_TARGET),
        ),
    ]
