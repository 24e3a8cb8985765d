"""Run Gongkai and the fake CMS as real subprocesses, the way an operator would."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def gongkai(args: list[str], env: Mapping[str, str]) -> str:
    """Run one CLI command to completion and return its output."""
    done = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(f"gongkai {args} failed: {done.stderr}")
    return done.stdout.strip()


class Process:
    """A started subprocess with its output going to a log file."""

    def __init__(self, args: list[str], env: Mapping[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("ab")
        self.proc = subprocess.Popen(
            args, cwd=ROOT, env=dict(env), stdout=self._out, stderr=subprocess.STDOUT
        )

    def stop(self) -> None:
        """Stop the process if it still runs (SIGTERM, then SIGKILL after 30 s)."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._out.close()

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._out.close()

    def terminate(self, timeout: float = 60) -> int:
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout=timeout)
        self._out.close()
        return code


class Service(Process):
    """``gongkai serve`` on a free port."""

    def __init__(self, env: Mapping[str, str], log: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        super().__init__([sys.executable, "-m", "bot", "serve", "--port", str(self.port)], env, log)
        try:
            wait_for(lambda: _get_status(f"{self.base}/healthz") == 200, what="service up", log=log)
        except BaseException:
            self.stop()  # nobody else holds it yet
            raise

    def call(self, method: str, path: str, token: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.base + path,
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())


class FakeCmsProcess(Process):
    """The fake CMS in its own process, so it outlives a killed service."""

    def __init__(self, *, secret: str, delay: float, log: Path) -> None:
        self.port = free_port()
        super().__init__(
            [
                sys.executable,
                "-m",
                "tests.fakes.cms",
                "--port",
                str(self.port),
                "--secret",
                secret,
                "--delay",
                str(delay),
            ],
            os.environ,
            log,
        )
        self.url = f"http://127.0.0.1:{self.port}/api/items"
        try:
            wait_for(
                lambda: _get_status(f"http://127.0.0.1:{self.port}/_stats") == 200,
                what="fake CMS up",
                log=log,
            )
        except BaseException:
            self.stop()  # nobody else holds it yet
            raise

    def stats(self) -> dict[str, Any]:
        url = f"http://127.0.0.1:{self.port}/_stats"
        with urllib.request.urlopen(url, timeout=10) as response:
            stats: dict[str, Any] = json.loads(response.read())
            return stats


def _get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return int(response.status)
    except OSError:
        return 0


def wait_for(check: Any, *, what: str, log: Path | None = None, limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise AssertionError(f"timed out waiting for {what}\n{tail}")
