"""Idle memory: ``gongkai serve`` (web, worker and scheduler, SQLite) against a FastAPI
hello-world under the same uvicorn, both started as processes in the same run and
measured (VmRSS) after answering one request and idling for two seconds. The database
is made first by ``gongkai init``, as a server that restarts finds it."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from tests.bench import Figure, verdict
from tests.bench.processes import (
    GONGKAI,
    free_port,
    gongkai_env,
    rss_bytes,
    run_cli,
    started,
    wait_http,
)

TARGET = 1.8
HELLO = """
import uvicorn
from fastapi import FastAPI

app = FastAPI()


@app.get("/")
async def hello() -> dict[str, str]:
    return {"hello": "world"}


uvicorn.run(app, host="127.0.0.1", port={port}, log_level="warning")
"""


def _idle_rss(args: list[str], env: dict[str, str], url: str, log: Path) -> int:
    with started(args, env, log=log) as proc:
        wait_http(url, proc=proc)
        time.sleep(2)
        return rss_bytes(proc.pid)


def main() -> list[Figure]:
    """Measure both processes; print and return the summary row."""
    print("\n== rss: idle gongkai serve against a FastAPI hello-world ==")
    folder = Path(tempfile.mkdtemp(prefix="gongkai-rss-bench-"))
    env = gongkai_env(folder / "data")
    port = free_port()
    script = folder / "hello.py"
    script.write_text(HELLO.replace("{port}", str(port)), encoding="utf-8")
    hello = _idle_rss(
        [sys.executable, str(script)], env, f"http://127.0.0.1:{port}/", folder / "log"
    )
    port = free_port()
    run_cli(env, "init")  # a server restarts on its existing database, migrated before
    serve = _idle_rss(
        [*GONGKAI, "serve", "--port", str(port)],
        env,
        f"http://127.0.0.1:{port}/healthz",
        folder / "log",
    )
    mib = 1024 * 1024
    print(f"hello-world: {hello / mib:.0f} MiB; gongkai serve: {serve / mib:.0f} MiB")
    return [
        Figure(
            "rss",
            "idle gongkai serve / FastAPI hello-world",
            f"{serve / hello:.2f} ({serve / mib:.0f} vs {hello / mib:.0f} MiB)",
            f"<= {TARGET}",
            verdict(serve / hello <= TARGET),
        )
    ]
