"""Soak: 4 ``gongkai worker`` processes on PostgreSQL publish N items to the website (the
CMS fake, a process of its own) and the notice board while one worker is killed
(SIGKILL) and replaced every 2-4 s. At the end every delivery must be done exactly once:
each website delivery created once at the CMS (its Idempotency-Key counted there) and
once in the ledger, each notice one PDF in the print queue.

WeChat (the emulator) is not part of this soak yet. Not a test: ``python -m tests.bench
soak`` (also run by ``make bench``) prints what it found."""

from __future__ import annotations

import asyncio
import random
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg
import httpx

from tests.bench import Figure, reset_bench_database, verdict
from tests.bench.processes import (
    GONGKAI,
    cms_fake,
    feed,
    free_port,
    gongkai_env,
    run_cli,
    started,
    stop,
    wait_http,
)
from tests.bench.worker_bench import SECRET

WORKERS = 4
OPEN_STATES = ("pending", "retry_wait", "sending")


async def _rows(url: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


def _open_count(url: str) -> int:
    rows = asyncio.run(
        _rows(url, "SELECT count(*) AS n FROM delivery WHERE state = ANY('{%s}')" % ",".join(OPEN_STATES))  # noqa: E501, S608, UP031
    )  # fmt: skip
    return int(rows[0]["n"])


def _worker(env: dict[str, str], n: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [*GONGKAI, "worker"],
            env={**env, "GONGKAI_WORKER_ID": f"soak-{n}"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def main(items: int) -> list[Figure]:
    """Run the soak with ``items`` items (two deliveries each); print and return rows."""
    print(
        f"\n== soak: {items} items x (website, noticeboard), {WORKERS} workers killed at random =="
    )
    rng = random.Random(10)
    folder = Path(tempfile.mkdtemp(prefix="gongkai-soak-"))
    log = folder / "processes.log"
    url = asyncio.run(reset_bench_database())
    kills = 0
    with cms_fake(secret=SECRET, delay=0.02, log=folder / "cms.log") as cms_url:
        env = gongkai_env(
            folder / "data",
            database_url=url,
            cms_url=cms_url,
            cms_secret=SECRET,
            lease_seconds="3",
            reap_interval_seconds="1",
            sweep_interval_seconds="2",
            shutdown_grace_seconds="1",
        )
        run_cli(env, "init")
        run_cli(env, "org", "create", "--code", "bench", "--name", "基准乡人民政府")
        token = run_cli(
            env, "token", "create", "--name", "soak", "--org", "bench", "--role", "admin",
            "--review-exempt",
        ).strip()  # fmt: skip
        port = free_port()
        with started([*GONGKAI, "web", "--port", str(port)], env, log=log) as web:
            wait_http(f"http://127.0.0.1:{port}/healthz", proc=web)
            asyncio.run(
                feed(
                    port,
                    token,
                    items,
                    title="浸泡测试第{}号通知",
                    channels=("website", "noticeboard"),
                )
            )
            workers = [_worker(env, n, log) for n in range(WORKERS)]
            started_at = time.monotonic()
            try:
                while _open_count(url) and time.monotonic() - started_at < 1800:
                    time.sleep(rng.uniform(2, 4))
                    victim = rng.randrange(WORKERS)
                    workers[victim].kill()
                    workers[victim].wait()
                    kills += 1
                    workers[victim] = _worker(env, WORKERS + kills, log)
                while _open_count(url) and time.monotonic() - started_at < 1900:
                    time.sleep(1)
            finally:
                for proc in workers:
                    stop(proc)
        elapsed = time.monotonic() - started_at
        cms = httpx.get(cms_url.rsplit("/api/", 1)[0] + "/_stats", timeout=10).json()
    return _verdicts(url, cms, folder / "data" / "printqueue", items, kills, elapsed)


def _verdicts(
    url: str, cms: dict[str, object], queue: Path, items: int, kills: int, elapsed: float
) -> list[Figure]:
    states = asyncio.run(
        _rows(url, "SELECT channel, state, count(*) AS n FROM delivery GROUP BY 1, 2")
    )
    keys = asyncio.run(_rows(url, "SELECT idempotency_key FROM delivery WHERE channel = 'website'"))
    ledger = asyncio.run(
        _rows(url, "SELECT count(*) AS n, count(DISTINCT delivery_id) AS d FROM publication")
    )
    per_key = cms["per_key"]
    assert isinstance(per_key, dict)
    website_once = sorted(per_key) == sorted(r["idempotency_key"] for r in keys) and all(
        count == 1 for count in per_key.values()
    )
    pdfs = len(list(queue.glob("*/*.pdf")))  # not .staging/: prepares a kill cut short
    by_state = ", ".join(f"{r['channel']}/{r['state']} {r['n']}" for r in states)
    print(f"{kills} workers killed over {elapsed:.0f} s; deliveries: {by_state}")
    print(f"CMS: {cms['created']} created, each key once: {website_once}; "
          f"ledger rows {ledger[0]['n']} ({ledger[0]['d']} deliveries); PDFs {pdfs}")  # fmt: skip
    done = {(r["channel"], r["state"]): r["n"] for r in states}
    return [
        Figure(
            "soak",
            f"website: {items} published, each once at the CMS and in the ledger",
            f"{done.get(('website', 'published'), 0)} published, CMS once each: {website_once}, "
            f"ledger {ledger[0]['n']}",
            "all, once",
            verdict(
                done.get(("website", "published"), 0) == items
                and website_once
                and ledger[0]["n"] == ledger[0]["d"] == items
            ),
        ),
        Figure(
            "soak",
            f"noticeboard: {items} accepted, one PDF each ({kills} kills)",
            f"{done.get(('noticeboard', 'accepted'), 0)} accepted, {pdfs} PDFs",
            "all, once",
            verdict(done.get(("noticeboard", "accepted"), 0) == pdfs == items),
        ),
    ]
