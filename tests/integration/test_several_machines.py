"""Web and workers on different machines: each process has a data folder of its own and
all share one folder for the files workers write and the web serves (GONGKAI_SHARED_DIR,
an NFS mount in production). Real processes, as systemd starts them, on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import asyncpg
import httpx
import pytest
from cryptography.fernet import Fernet

from tests.bench.processes import free_port, gongkai_env, run_cli, started, wait_http
from tests.conftest import PG_URL, _prepare_postgres

pytestmark = pytest.mark.skipif(
    os.environ.get("GONGKAI_SKIP_PG") == "1", reason="PostgreSQL disabled for this run"
)
ITEMS = 6


async def _states() -> dict[tuple[str, str], int]:
    conn = await asyncpg.connect(PG_URL)
    try:
        rows = await conn.fetch("SELECT channel, state, count(*) AS n FROM delivery GROUP BY 1, 2")
    finally:
        await conn.close()
    return {(r["channel"], r["state"]): int(r["n"]) for r in rows}


async def test_pages_workers_write_are_served_by_the_web_machine(tmp_path: Path) -> None:
    """Two workers with their own data folders publish; the web process, with a third,
    serves every item page and lists them all, and every notice PDF is in the shared queue."""
    await _prepare_postgres()
    shared = tmp_path / "nfs"
    common = {
        "database_url": PG_URL,
        "shared_dir": str(shared),
        "secret_key": Fernet.generate_key().decode("ascii"),
        "dispatch_interval_seconds": "0.2",
    }
    web_env = gongkai_env(tmp_path / "web-machine", **common)
    run_cli(web_env, "org", "create", "--code", "tiande", "--name", "天德乡人民政府")
    token = run_cli(
        web_env, "token", "create", "--name", "oa", "--org", "tiande", "--role", "admin",
        "--review-exempt",
    ).strip()  # fmt: skip
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "processes.log"
    gongkai = [sys.executable, "-m", "bot.cli"]
    with started([*gongkai, "web", "--port", str(port)], web_env, log=log) as web:
        wait_http(f"{base}/healthz", proc=web)
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            headers = {"Authorization": f"Bearer {token}"}
            created = []
            for n in range(ITEMS):
                body = {"org": "tiande", "title": f"第{n}号通知", "body": "正文。"}
                response = await client.post(
                    "/api/v1/items",
                    json={**body, "channels": ["website", "noticeboard"]},
                    headers=headers,
                )
                assert response.status_code == 201, response.text
                created.append(response.json()["id"])
            workers = [
                started(
                    [*gongkai, "worker"],
                    {**gongkai_env(tmp_path / f"worker-machine-{n}", **common),
                     "GONGKAI_WORKER_ID": f"machine-{n}"},
                    log=log,
                )
                for n in (1, 2)
            ]  # fmt: skip
            with workers[0], workers[1]:
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    states = await _states()
                    if (
                        states.get(("website", "published"))
                        == states.get(("noticeboard", "accepted"))
                        == ITEMS
                    ):
                        break
                    await asyncio.sleep(0.5)
            assert states == {("website", "published"): ITEMS, ("noticeboard", "accepted"): ITEMS}
            for item_id in created:
                page = await client.get(f"/site/tiande/items/{item_id}.html")
                assert page.status_code == 200, item_id
            index = (await client.get("/site/tiande/index.html")).text
            assert all(f"第{n}号通知" in index for n in range(ITEMS))
    assert len(list((shared / "printqueue" / "tiande").glob("*.pdf"))) == ITEMS
    for machine in ("web-machine", "worker-machine-1", "worker-machine-2"):
        assert not (tmp_path / machine / "site" / "tiande").exists()
