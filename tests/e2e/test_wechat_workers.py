"""Three `gongkai worker` processes publish to one WeChat account and share one token.

The emulator, the web app and the workers are real subprocesses on one database. The items
fall due at the same instant, so every worker needs the account's token at once, and the
emulator answers the first token request late so the others must wait on the shared lock.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from tests.e2e.service import ROOT, Process, free_port, gongkai, wait_for

pytestmark = pytest.mark.slow
APPID, SECRET = "wx00112233445566aa", "e2e-wechat-app-secret"
WORKERS = 3
ITEMS = 18
TOKEN_ERRORS = {40001, 40014, 42001}


class Emulator(Process):
    """``python -m tests.fakes.wechat`` on a free port, with its admin endpoints."""

    def __init__(self, log: Path, **config: Any) -> None:
        self.port = free_port()
        args = [sys.executable, "-m", "tests.fakes.wechat", "--port", str(self.port)]
        args += ["--appid", APPID, "--secret", SECRET, "--config", json.dumps(config)]
        super().__init__(args, os.environ, log)
        self.base = f"http://127.0.0.1:{self.port}"
        wait_for(lambda: "READY" in log.read_text(errors="replace"), what="emulator up", log=log)

    def admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.base}/__emu/{path}",
            data=data,
            method="GET" if body is None else "POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())


class Web(Process):
    """``gongkai web``: the API without a dispatcher, so only the workers publish."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        super().__init__([sys.executable, "-m", "bot", "web", "--port", str(self.port)], env, log)
        wait_for(lambda: _status(f"{self.base}/healthz") == 200, what="web up", log=log)

    def call(self, method: str, path: str, token: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            self.base + path,
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except OSError:
        return 0


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    """Every process a test starts; all are stopped afterwards, even when the test fails."""
    started: list[Process] = []
    yield started
    for process in reversed(started):
        if process.proc.poll() is None:
            process.proc.terminate()
    for process in started:
        try:
            process.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.proc.kill()
            process.proc.wait(timeout=10)
        process._out.close()


def _env(db_url: str, data_dir: Path, emulator: Emulator) -> dict[str, str]:
    return {
        **os.environ,
        "GONGKAI_DATA_DIR": str(data_dir),
        "GONGKAI_DATABASE_URL": db_url if db_url.startswith("postgres") else "",
        "GONGKAI_SECRET_KEY": Fernet.generate_key().decode(),
        "GONGKAI_WECHAT_API_BASE": f"{emulator.base}/cgi-bin/",
        "GONGKAI_WECHAT_POLL_INTERVAL_SECONDS": "0",
        "GONGKAI_DISPATCH_INTERVAL_SECONDS": "0.2",
        "GONGKAI_DISPATCH_BATCH": "2",
        "GONGKAI_SWEEP_INTERVAL_SECONDS": "1",
        "GONGKAI_REAP_INTERVAL_SECONDS": "1",
        "GONGKAI_SHUTDOWN_GRACE_SECONDS": "5",
    }


def _commit_workers(env: dict[str, str]) -> set[str]:
    """Which workers committed deliveries, read from the shared attempt log."""
    script = (
        "import asyncio, json\n"
        "from bot.settings import load_settings\n"
        "from storage.db import close_database, open_database\n"
        "from storage.models import DeliveryAttempt\n"
        "async def main():\n"
        "    await open_database(load_settings().effective_database_url)\n"
        "    try:\n"
        "        rows = await DeliveryAttempt.filter(step='commit', outcome='accepted')\n"
        "        print(json.dumps(sorted({row.worker for row in rows})))\n"
        "    finally:\n"
        "        await close_database()\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


class TestSharedToken:
    def test_three_workers_fetch_the_token_once_and_never_see_40001(
        self, db_url: str, tmp_path: Path, processes: list[Process]
    ) -> None:
        """Eighteen items due at once across three workers: one token fetch, no token error,
        every item published exactly once."""
        emulator = Emulator(
            tmp_path / "emulator.log", publish_delay=0.2, publish_get_daily_limit=100000
        )
        processes.append(emulator)
        env = _env(db_url, tmp_path / "data", emulator)
        gongkai(["init"], env)
        gongkai(["org", "create", "--code", "tiande", "--name", "天德乡人民政府"], env)
        admin = ["--role", "admin"]  # the token configures the WeChat account
        token = gongkai(
            ["token", "create", "--name", "e2e", "--org", "tiande", "--review-exempt", *admin], env
        )
        web = Web(env, tmp_path / "web.log")
        processes.append(web)
        web.call(
            "PUT",
            "/api/v1/orgs/tiande/channels/wechat",
            token,
            {
                "appid": APPID,
                "secret": SECRET,
                "mode": "publish",
                "account_kind": "subscription",
                "broadcast_time": "18:00",
            },
        )
        logs = [tmp_path / f"worker{n}.log" for n in range(1, WORKERS + 1)]
        for n, log in enumerate(logs, start=1):
            worker_env = {**env, "GONGKAI_WORKER_ID": f"worker-{n}"}
            processes.append(Process([sys.executable, "-m", "bot", "worker"], worker_env, log))
        for log in logs:
            wait_for(lambda log=log: "started" in log.read_text(errors="replace"), what=log.name)

        # The first token request is answered a second late: the others queue on the lock.
        emulator.admin("fail", {"path": "stable_token", "delay": 1.0})
        due = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3)
        titles = [f"第{n}号紧急通知" for n in range(ITEMS)]
        ids = [
            web.call(
                "POST",
                "/api/v1/items",
                token,
                {
                    "org": "tiande",
                    "title": title,
                    "body": f"请各村立即转告（{n}）。",
                    "channels": ["wechat"],
                    "urgent": True,
                    "publish_at": due.isoformat(),
                },
            )["id"]
            for n, title in enumerate(titles)
        ]
        assert dt.datetime.now(dt.UTC) < due, "queuing took too long to make the items due at once"

        def states() -> list[str]:
            return [
                d["state"]
                for i in ids
                for d in web.call("GET", f"/api/v1/items/{i}", token)["deliveries"]
            ]

        wait_for(
            lambda: set(states()) == {"published"},
            what="every item published",
            log=logs[0],
            limit=60,
        )

        stats = emulator.admin("stats")
        calls = emulator.admin("calls")["calls"]
        assert stats["token_calls"] == 1
        assert [c["path"] for c in calls if c["path"].endswith("token")] == [
            "/cgi-bin/stable_token"
        ]
        assert not [c for c in calls if c["errcode"] in TOKEN_ERRORS]
        assert not [c for c in calls if c["errcode"] not in (None, 0)]
        drafted = [
            a["title"]
            for c in calls
            if c["path"] == "/cgi-bin/draft/add"
            for a in c["json"]["articles"]
        ]
        assert sorted(drafted) == sorted(titles), "each item drafted exactly once"
        published = [url for job in stats["publish_jobs"].values() for url in job["article_urls"]]
        assert len(published) == ITEMS
        assert len(_commit_workers(env)) >= 2, "the work was shared between workers"
