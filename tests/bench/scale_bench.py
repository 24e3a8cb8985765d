"""Reads at scale (PostgreSQL): the ledger filled by ``ledger_bench.fill`` (organizations,
items, two deliveries each, one ledger row per delivery; 1 M ledger rows by default,
``--scale-rows``), served by a ``gongkai web`` process. Timed over HTTP, each the median of
15 calls after 3 warm-ups, interleaved: an item's GET, a township's annual report (JSON),
the console's item list and dashboard; baselines in the same run: ``/healthz`` over the
same HTTP, and the item's primary-key lookup straight on the database."""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx

from storage import users
from storage.console_models import User
from storage.db import close_database, open_database
from storage.models import Organization
from tests.bench import Figure, reset_bench_database, verdict
from tests.bench.console_bench import CSRF, PASSWORD
from tests.bench.ledger_bench import fill
from tests.bench.processes import GONGKAI, free_port, gongkai_env, run_cli, started, wait_http

RUNS, WARMUP = 15, 3
ITEM_TARGET_MS, REPORT_TARGET_MS, CONSOLE_TARGET_MS = 20.0, 200.0, 50.0


async def _median_ms(call: Callable[[], Awaitable[object]]) -> float:
    for _ in range(WARMUP):
        await call()
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        await call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


async def _measure(url: str, base: str, token: str) -> dict[str, float]:
    conn = await asyncpg.connect(url)
    item_id = int(await conn.fetchval("SELECT max(id) / 2 FROM item"))
    year = int(
        await conn.fetchval("SELECT extract(year FROM publish_at) FROM item WHERE id = $1", item_id)
    )
    org = str(
        await conn.fetchval(
            "SELECT o.code FROM organization o JOIN item i ON i.organization_id = o.id "
            "WHERE i.id = $1",
            item_id,
        )
    )
    bearer = {"Authorization": f"Bearer {token}"}
    async with (
        httpx.AsyncClient(base_url=base, timeout=120, headers=bearer) as api,
        httpx.AsyncClient(base_url=base, timeout=120, headers={"Accept": "text/html"}) as web,
    ):
        page = await web.get("/console/login")
        found = CSRF.search(page.text)
        assert found
        form = {"csrf_token": found.group(1), "username": "bench", "password": PASSWORD}
        assert (await web.post("/console/login", data=form)).status_code == 303

        async def ok(client: httpx.AsyncClient, path: str) -> None:
            response = await client.get(path)
            if response.status_code != 200:
                raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")

        figures = {
            "pk lookup": await _median_ms(lambda: conn.fetchrow("SELECT * FROM item WHERE id = $1", item_id)),  # noqa: E501
            "healthz": await _median_ms(lambda: ok(api, "/healthz")),
            "item GET": await _median_ms(lambda: ok(api, f"/api/v1/items/{item_id}")),
            "annual report": await _median_ms(
                lambda: ok(api, f"/api/v1/reports/{org}/{year}/annual?as=json")
            ),
            "console items": await _median_ms(lambda: ok(web, "/console/items")),
            "console dashboard": await _median_ms(lambda: ok(web, "/console/")),
        }  # fmt: skip
    await conn.close()
    return figures


async def _clerk(url: str) -> None:
    """A console administrator of the first organization, signed in by the bench."""
    await open_database(url)
    try:
        digest = await users.hash_password(PASSWORD)
        user = await User.create(username="bench", display_name="基准", password_hash=digest)
        await users.set_role(user, await Organization.get(id=1), "admin")
    finally:
        await close_database()


def main(rows: int) -> list[Figure]:
    """Fill, serve, measure; print and return the summary rows."""
    print(f"\n== scale: {rows:,} ledger rows on PostgreSQL (the issue asks 10 M) ==")
    url = asyncio.run(reset_bench_database())
    folder = Path(tempfile.mkdtemp(prefix="gongkai-scale-bench-"))
    env = gongkai_env(folder / "data", database_url=url)
    run_cli(env, "init")
    seconds = asyncio.run(fill(url, rows))
    print(f"filled in {seconds:.0f} s")
    token = run_cli(env, "token", "create", "--name", "bench").strip()
    asyncio.run(_clerk(url))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with started([*GONGKAI, "web", "--port", str(port)], env, log=folder / "web.log") as web:
        wait_http(f"{base}/healthz", proc=web)
        got = asyncio.run(_measure(url, base, token))
    for name, ms in got.items():
        print(f"{name}: {ms:.1f} ms")
    scale = f"{rows / 1e6:g} M rows"
    rows_out = []
    for name, target in (
        ("item GET", ITEM_TARGET_MS),
        ("annual report", REPORT_TARGET_MS),
        ("console items", CONSOLE_TARGET_MS),
        ("console dashboard", CONSOLE_TARGET_MS),
    ):
        base_ms = got["pk lookup"] if name == "item GET" else got["healthz"]
        base_name = "pk lookup" if name == "item GET" else "/healthz"
        rows_out.append(
            Figure(
                "scale",
                f"{name}, {scale}",
                f"{got[name]:.1f} ms ({got[name] / base_ms:.1f}x {base_name} {base_ms:.1f} ms)",
                f"< {target:.0f} ms",
                verdict(got[name] < target),
            )
        )
    return rows_out
