"""A loopback fake of the group robot webhook, and the channel's contract subjects.

It answers as https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=… does: errcode 0
for a message it posts, 93000 for a key that is no robot's, 45009 past 20 messages a
minute per robot, 40008 for an unknown message type, 44004 for empty content and 40058
for a bad parameter (Markdown over 4096 bytes, a news card without title or link).

    with FakeRobotServer.start(keys=["k-1"]) as fake:
        ...fake.api_base, fake.posted("k-1"), fake.fail_next(-1)...
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from channels.base import Publishable
from channels.contract import ContractSubject, SubjectFactory
from channels.wecom_robot.channel import WecomRobotChannel
from channels.wecom_robot.message import MARKDOWN_MAX_BYTES
from channels.wecom_robot.store import MemoryRobots, Robot

SEND_PATH = "/cgi-bin/webhook/send"
KNOWN_TYPES = {"text", "markdown", "markdown_v2", "image", "news", "file", "voice", "template_card"}
PER_MINUTE = 20


class FakeRobotServer:
    """The webhook API's state: robots (keys), what each posted, and forced errors."""

    def __init__(self, keys: Iterable[str]) -> None:
        self.keys = set(keys)
        self.requests: list[dict[str, Any]] = []
        self._posted: dict[str, list[dict[str, Any]]] = {}
        self._recent: dict[str, deque[float]] = {}
        self._forced: list[int] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @classmethod
    @contextmanager
    def start(cls, keys: Iterable[str] = ()) -> Iterator[FakeRobotServer]:
        fake = cls(keys)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
        fake._server = server
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield fake
        finally:
            server.shutdown()
            server.server_close()
            thread.join()

    @property
    def api_base(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake is not running; use FakeRobotServer.start()")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/cgi-bin/webhook/"

    def posted(self, key: str) -> list[dict[str, Any]]:
        """The messages posted to the group of robot ``key``, oldest first."""
        with self._lock:
            return list(self._posted.get(key, []))

    def fail_next(self, errcode: int) -> None:
        """Answer the next send with ``errcode`` (nothing is posted)."""
        with self._lock:
            self._forced.append(errcode)

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._posted.clear()
            self._recent.clear()
            self._forced.clear()

    def answer(self, key: str, body: bytes) -> tuple[int, str]:
        """What the platform says to one send request (and post it if it is good)."""
        with self._lock:
            self.requests.append({"key": key, "body": body})
            if key not in self.keys:
                return 93000, "invalid webhook url"
            if self._forced:
                code = self._forced.pop(0)
                return code, "forced by the test"
            if not self._within_rate(key):
                return 45009, "api freq out of limit"
            try:
                message = json.loads(body)
            except ValueError:
                return 40058, "invalid json"
            code, text = _check(message)
            if code == 0:
                self._posted.setdefault(key, []).append(message)
            return code, text

    def _within_rate(self, key: str) -> bool:
        recent = self._recent.setdefault(key, deque())
        now = time.monotonic()
        while recent and recent[0] <= now - 60:
            recent.popleft()
        if len(recent) >= PER_MINUTE:
            return False
        recent.append(now)
        return True


def _check(message: Any) -> tuple[int, str]:
    if not isinstance(message, dict) or message.get("msgtype") not in KNOWN_TYPES:
        return 40008, "invalid message type"
    kind = message["msgtype"]
    part = message.get(kind)
    if not isinstance(part, dict):
        return 40058, f"invalid parameter: {kind}"
    if kind in ("text", "markdown"):
        content = part.get("content")
        if not isinstance(content, str) or not content:
            return 44004, "empty content"
        if kind == "markdown" and len(content.encode("utf-8")) > MARKDOWN_MAX_BYTES:
            return 40058, "markdown.content exceed max length 4096"
    if kind == "news":
        articles = part.get("articles")
        if not isinstance(articles, list) or not 1 <= len(articles) <= 8:
            return 40058, "invalid parameter: news.articles"
        if not all(isinstance(a, dict) and a.get("title") and a.get("url") for a in articles):
            return 40058, "invalid parameter: article title and url are required"
    return 0, "ok"


def _handler(fake: FakeRobotServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            if parts.path != SEND_PATH:
                self._reply(404, {"errcode": 404, "errmsg": "not found"})
                return
            key = parse_qs(parts.query).get("key", [""])[0]
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            code, text = fake.answer(key, body)
            self._reply(200, {"errcode": code, "errmsg": text})

        def _reply(self, status: int, data: dict[str, Any]) -> None:
            raw = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


CONTRACT_KEY = "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"


async def _robot(tmp_path: Path) -> AsyncIterator[ContractSubject]:
    with FakeRobotServer.start(keys=[CONTRACT_KEY]) as fake:
        robots = MemoryRobots(tiande=Robot(group_name="天德乡村民群", key=CONTRACT_KEY))
        channel = WecomRobotChannel(robots=robots, api_base=fake.api_base, timeout=5)

        def copies(pub: Publishable) -> int:
            posted = fake.posted(CONTRACT_KEY)
            return sum(pub.index_no in json.dumps(m, ensure_ascii=False) for m in posted)

        yield ContractSubject(channel, copies)
        await channel.aclose()


CONTRACT_SUBJECTS: dict[str, SubjectFactory] = {"wecom-robot": _robot}
