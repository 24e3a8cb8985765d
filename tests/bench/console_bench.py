"""The console under its staff: 50 signed-in clerks, each opening a page every 2 s (open
loop: a request goes at its time whether or not the last one came back), against a real
``gongkai web`` process (no worker in it) on SQLite and on PostgreSQL, 200 items queued.
Latency runs from the moment a request was due to its answer, so a queue in the server
counts. Baseline in the same run and the same pattern: ``/healthz``."""

from __future__ import annotations

import asyncio
import random
import re
import tempfile
import time
from pathlib import Path

import httpx

from bot.settings import Settings
from storage import users
from storage.console_models import User
from storage.db import close_database, open_database
from storage.models import Organization
from storage.tokens import create_token
from tests.bench import Figure, percentile, reset_bench_database, verdict
from tests.bench.processes import GONGKAI, free_port, gongkai_env, started, wait_http

TARGET_MS = 100.0
STAFF = 50
PERIOD = 2.0
PASSWORD = "correct-horse-1"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PAGES = ("/console/", "/console/items")


async def _seed(url: str) -> str:
    """A township, its staff (admins of it), and a review-exempt token; returns the token."""
    await open_database(url)
    try:
        org = await Organization.create(code="tiande", name="天德乡人民政府")
        digest = await users.hash_password(PASSWORD)
        for n in range(STAFF):
            user = await User.create(
                username=f"staff{n}", display_name=f"职员{n}", password_hash=digest
            )
            await users.set_role(user, org, "admin")
        return await create_token("bench", org, role="admin", review_exempt=True)
    finally:
        await close_database()


async def _queue_items(base: str, token: str, items: int) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for n in range(items):
            body = {"org": "tiande", "title": f"第{n}号通知", "body": "正文。"}
            response = await client.post(
                "/api/v1/items", json={**body, "channels": ["website"]}, headers=headers
            )
            response.raise_for_status()


async def _sign_in(base: str, n: int) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, timeout=60, headers={"Accept": "text/html"})
    page = await client.get("/console/login")
    found = CSRF.search(page.text)
    assert found, "no CSRF token on the sign-in page"
    data = {"csrf_token": found.group(1), "username": f"staff{n}", "password": PASSWORD}
    signed = await client.post("/console/login", data=data)
    if signed.status_code != 303:
        raise RuntimeError(f"staff{n} could not sign in: {signed.status_code}")
    return client


async def _open_loop(
    clients: list[httpx.AsyncClient], paths: tuple[str, ...], seconds: float
) -> list[float]:
    """Each client requests a page every PERIOD s for ``seconds``; latencies in seconds."""
    rng = random.Random(7)
    latencies: list[float] = []
    start = time.perf_counter() + 0.5

    async def one(client: httpx.AsyncClient, path: str, due: float) -> None:
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        response = await client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code}")
        latencies.append(time.perf_counter() - due)

    tasks = []
    for n, client in enumerate(clients):
        phase = rng.uniform(0, PERIOD)
        for k in range(int(seconds / PERIOD)):
            path = paths[(n + k) % len(paths)]
            tasks.append(one(client, path, start + phase + k * PERIOD))
    await asyncio.gather(*tasks)
    return latencies


async def _measure(base: str, seconds: float) -> tuple[list[float], list[float]]:
    clients = [await _sign_in(base, n) for n in range(STAFF)]
    try:
        pages = await _open_loop(clients, PAGES, seconds)
        health = await _open_loop(clients, ("/healthz",), seconds)
    finally:
        for client in clients:
            await client.aclose()
    return pages, health


def run(database: str, *, items: int, seconds: float, folder: Path) -> tuple[float, float]:
    """p95 of the console pages and of /healthz on ``database``, in milliseconds."""
    url = asyncio.run(reset_bench_database()) if database == "postgres" else ""
    data = folder / f"data-{database}"
    env = gongkai_env(data, database_url=url)
    settings = Settings(data_dir=data, database_url=url)
    settings.ensure_dirs()
    token = asyncio.run(_seed(settings.effective_database_url))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with started([*GONGKAI, "web", "--port", str(port)], env, log=folder / "web.log") as proc:
        wait_http(f"{base}/healthz", proc=proc)
        asyncio.run(_queue_items(base, token, items))
        pages, health = asyncio.run(_measure(base, seconds))
    return percentile(pages, 0.95) * 1000, percentile(health, 0.95) * 1000


def main(*, items: int, seconds: float, postgres: bool) -> list[Figure]:
    """SQLite then PostgreSQL: print and return the summary rows."""
    print(f"\n== console: {STAFF} signed-in staff, a page every {PERIOD:.0f} s, open loop ==")
    folder = Path(tempfile.mkdtemp(prefix="gongkai-console-bench-"))
    figures = []
    for database in ("sqlite", "postgres") if postgres else ("sqlite",):
        pages, health = run(database, items=items, seconds=seconds, folder=folder)
        print(f"{database}: console p95 {pages:.1f} ms; /healthz p95 {health:.1f} ms")
        figures.append(
            Figure(
                "console",
                f"p95 /console/ + /console/items, {database}",
                f"{pages:.1f} ms ({pages / health:.1f}x /healthz {health:.1f} ms)",
                f"< {TARGET_MS:.0f} ms",
                verdict(pages < TARGET_MS),
            )
        )
    return figures
