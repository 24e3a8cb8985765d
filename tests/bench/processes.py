"""Real processes for the benchmarks: ``gongkai`` commands as systemd starts them, the
loopback fakes, and what the kernel says about their memory."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx

GONGKAI = [sys.executable, "-m", "bot.cli"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def gongkai_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a gongkai process: its data folder and ``GONGKAI_*`` settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GONGKAI_")}
    env["GONGKAI_DATA_DIR"] = str(data_dir)
    env.update({f"GONGKAI_{k.upper()}": v for k, v in settings.items()})
    return env


def run_cli(env: Mapping[str, str], *args: str) -> str:
    """Run one ``gongkai`` command to completion and return what it printed."""
    done = subprocess.run([*GONGKAI, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"gongkai {' '.join(args)} failed: {done.stderr[-2000:]}")
    return done.stdout


@contextlib.contextmanager
def started(
    args: list[str], env: Mapping[str, str], *, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A long-running process, stopped with SIGTERM (then SIGKILL) on the way out."""
    with log.open("ab") as out:
        proc = subprocess.Popen(args, env=dict(env), stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[bytes], *, grace: float = 15.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_http(url: str, *, proc: subprocess.Popen[bytes] | None = None, limit: float = 60) -> None:
    """Wait until ``url`` answers 200 (the process has finished starting)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} while starting")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {limit} s")


@contextlib.contextmanager
def cms_fake(*, secret: str, delay: float, log: Path) -> Iterator[str]:
    """The loopback CMS fake as a process of its own, answering after ``delay`` seconds."""
    args = [sys.executable, "-m", "tests.fakes.cms", "--port", "0", "--secret", secret]
    args += ["--delay", str(delay)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log.open("ab"), text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        if not line or line[0] != "READY":
            raise RuntimeError("the CMS fake did not start")
        yield line[1]
    finally:
        proc.terminate()
        proc.wait(10)


def rss_bytes(pid: int) -> int:
    """Resident memory of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


async def feed(port: int, token: str, items: int, *, title: str, channels: Sequence[str]) -> None:
    """Queue ``items`` items of org ``bench`` through the API, four clients at a time;
    ``title`` is formatted with each item's number."""
    headers = {"Authorization": f"Bearer {token}"}
    numbers = iter(range(1, items + 1))

    async def client() -> None:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as c:
            for n in numbers:
                body = {"org": "bench", "title": title.format(n), "body": "正文。"}
                response = await c.post(
                    "/api/v1/items", json={**body, "channels": list(channels)}, headers=headers
                )
                response.raise_for_status()

    await asyncio.gather(*(client() for _ in range(4)))
