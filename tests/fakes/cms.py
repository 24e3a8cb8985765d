"""A real loopback HTTP server that behaves like an external CMS, for channel tests.

In-process::

    with FakeCms.start(secret="s3cret") as cms:
        cms.script(503, times=2)      # the next two API calls fail
        ...cms.url, cms.calls, cms.created...

As a subprocess (prints ``READY <url>`` once listening)::

    python -m tests.fakes.cms --port 0 --secret s3cret [--delay 0.5] [--no-dedupe]

API: ``POST <url>`` creates (deduped by ``Idempotency-Key``), ``DELETE <url>/<id>`` removes,
``GET <url>`` answers a signed check. ``GET /_stats`` reports counts; ``POST /_control``
takes ``{"reset": true, "delay": 0.5, "script": {"status": 503, "times": 2}}``.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

API_PATH = "/api/items"
MAX_SKEW_SECONDS = 300


@dataclass(frozen=True)
class Call:
    """One request the fake received, as the test sees it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int

    def json(self) -> Any:
        """Return the request body decoded as JSON."""
        return json.loads(self.body)


@dataclass
class Scripted:
    """A canned response served for the next ``times`` API calls."""

    status: int
    times: int
    body: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)


class FakeCms:
    """State and behaviour of the fake CMS, served by a ThreadingHTTPServer."""

    def __init__(self, secret: str, *, delay: float = 0.0, dedupe: bool = True) -> None:
        self.secret = secret.encode("utf-8")
        self.delay = delay
        self.dedupe = dedupe
        self.calls: list[Call] = []
        self.created: dict[str, dict[str, Any]] = {}
        self.deleted: list[str] = []
        self.creates_per_key: Counter[str] = Counter()
        self._by_key: dict[str, str] = {}
        self._scripts: list[Scripted] = []
        self._next_id = 1
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def start(
        cls, secret: str, *, port: int = 0, delay: float = 0.0, dedupe: bool = True
    ) -> FakeCms:
        """Start a fake CMS on 127.0.0.1 in a background thread and return it."""
        cms = cls(secret, delay=delay, dedupe=dedupe)
        cms._server = _Server(("127.0.0.1", port), _Handler, cms)
        cms._thread = threading.Thread(
            target=cms._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        cms._thread.start()
        return cms

    @property
    def base(self) -> str:
        """Return the server root, e.g. ``http://127.0.0.1:PORT``."""
        assert self._server is not None, "the fake CMS is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def url(self) -> str:
        """Return the API address to configure as the channel's ``url``."""
        return self.base + API_PATH

    def script(
        self,
        status: int,
        times: int = 1,
        *,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` API calls with ``status`` instead of handling them."""
        body = body if body is not None else {"message": f"scripted HTTP {status}"}
        with self._lock:
            self._scripts.append(Scripted(status, times, body, headers or {}))

    def reset(self) -> None:
        """Forget every call, item, script and delay."""
        with self._lock:
            self.calls.clear()
            self.created.clear()
            self.deleted.clear()
            self.creates_per_key.clear()
            self._by_key.clear()
            self._scripts.clear()
            self.delay = 0.0

    def stats(self) -> dict[str, Any]:
        """Return counts a subprocess-based test can read from ``GET /_stats``."""
        with self._lock:
            return {
                "created": len(self.created),
                "per_key": dict(self.creates_per_key),
                "calls": len(self.calls),
                "deleted": list(self.deleted),
            }

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> _Reply:
        """Decide the reply to one API request and log the call."""
        self._sleep()
        reply = (
            self._scripted()
            or self._verify(headers, body)
            or self._route(method, path, body, headers)
        )
        with self._lock:
            self.calls.append(Call(method, path, headers, body, reply[0]))
        return reply

    def _sleep(self) -> None:
        # Sleep in slices so stop() is not held up by a request that is meant to time out.
        deadline = time.monotonic() + self.delay
        while not self._stopping.is_set() and time.monotonic() < deadline:
            time.sleep(min(0.02, max(0.0, deadline - time.monotonic())))

    def _scripted(self) -> _Reply | None:
        with self._lock:
            if not self._scripts:
                return None
            scripted = self._scripts[0]
            scripted.times -= 1
            if scripted.times <= 0:
                self._scripts.pop(0)
        return scripted.status, scripted.body, scripted.headers

    def _verify(self, headers: dict[str, str], body: bytes) -> _Reply | None:
        timestamp = headers.get("x-gongkai-timestamp", "")
        given = headers.get("x-gongkai-signature", "")
        mac = hmac.new(self.secret, timestamp.encode() + b"." + body, hashlib.sha256)
        expected = f"sha256={mac.hexdigest()}".encode()
        if not hmac.compare_digest(given.encode("utf-8", "replace"), expected):
            return 401, {"message": "签名错误"}, {}
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > MAX_SKEW_SECONDS:
            return 401, {"message": "时间戳过期"}, {}
        return None

    def _route(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> _Reply:
        if method == "POST" and path == API_PATH:
            return self._create(body, headers.get("idempotency-key", ""))
        if method == "DELETE" and path.startswith(API_PATH + "/"):
            return self._delete(path.removeprefix(API_PATH + "/"))
        if method == "GET" and path == API_PATH:
            return 200, {"ok": True, "items": len(self.created)}, {}
        return 404, {"message": "not found"}, {}

    def _create(self, body: bytes, key: str) -> _Reply:
        try:
            item = json.loads(body)
        except ValueError:
            return 400, {"message": "请求体不是 JSON"}, {}
        with self._lock:
            if self.dedupe and key in self._by_key and self._by_key[key] in self.created:
                return 200, self._describe(self._by_key[key]), {}
            item_id = f"cms-{self._next_id}"
            self._next_id += 1
            self.created[item_id] = item
            self._by_key[key] = item_id
            self.creates_per_key[key] += 1
            return 201, self._describe(item_id), {}

    def _delete(self, item_id: str) -> _Reply:
        with self._lock:
            if self.created.pop(item_id, None) is None:
                return 404, {"message": "没有这条信息"}, {}
            self.deleted.append(item_id)
        return 200, {"deleted": item_id}, {}

    def _describe(self, item_id: str) -> dict[str, Any]:
        return {"id": item_id, "url": f"{self.base}/p/{item_id}.html"}


_Reply = tuple[int, dict[str, Any], dict[str, str]]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[_Handler], cms: FakeCms) -> None:
        super().__init__(address, handler)
        self.cms = cms

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: a client that timed out and hung up is an expected test case."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        cms = self.server.cms
        if self.path == "/_stats":
            self._reply((200, cms.stats(), {}))
        elif self.path == "/_control" and method == "POST":
            self._reply(self._control(cms, json.loads(body or b"{}")))
        else:
            headers = {k.lower(): v for k, v in self.headers.items()}
            self._reply(cms.handle(method, self.path, headers, body))

    @staticmethod
    def _control(cms: FakeCms, command: dict[str, Any]) -> _Reply:
        if command.get("reset"):
            cms.reset()
        if "delay" in command:
            cms.delay = float(command["delay"])
        if "script" in command:
            cms.script(**command["script"])
        return 200, cms.stats(), {}

    def _reply(self, reply: _Reply) -> None:
        status, payload, headers = reply
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def main(argv: list[str] | None = None) -> None:
    """Run the fake CMS in the foreground until killed."""
    parser = argparse.ArgumentParser(description="Fake CMS for Gongkai tests")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--no-dedupe", action="store_true")
    args = parser.parse_args(argv)
    cms = FakeCms(args.secret, delay=args.delay, dedupe=not args.no_dedupe)
    server = _Server(("127.0.0.1", args.port), _Handler, cms)
    cms._server = server
    print(f"READY {cms.url}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
