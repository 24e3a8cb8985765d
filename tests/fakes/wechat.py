"""A loopback WeChat Official Account API emulator for tests that drive the real client.

In-process::

    with FakeWeChat.start(appid="wx123", secret="s3cret", kind="subscription",
                          callback_url=url, callback_token="tok", aes_key=None) as wx:
        client_base = wx.api_base                 # http://127.0.0.1:PORT/cgi-bin/
        wx.fail("message/mass/sendall", errcode=-1, times=1)
        wx.fail("message/mass/sendall", delay=3.0)   # performed, answer arrives too late
        wx.supersede_token(); wx.expire_token(); wx.advance(86400)
        ...wx.calls, wx.drafts, wx.publish_jobs, wx.mass_jobs, wx.callbacks...

As a subprocess (prints ``READY <base>`` once listening)::

    python -m tests.fakes.wechat --port 0 --appid wx123 --secret s3cret \\
        [--kind subscription|service] [--callback-url URL --callback-token T [--aes-key K]] \\
        [--gh-id gh_… --nickname 名称]

A follower's phone view of the account (``GET /`` redirects there): ``/__emu/phone``, see
``tests.fakes.wechat_phone``; the image URLs the emulator hands out are served under
``/__emu/media/``.

Admin endpoints (JSON): ``GET /__emu/stats``, ``GET /__emu/calls``, ``GET /__emu/callbacks``,
``POST /__emu/reset``, ``/__emu/fail``, ``/__emu/advance``, ``/__emu/push``, ``/__emu/token``,
``/__emu/permission``, ``/__emu/quota``, ``/__emu/outcome``, ``/__emu/config``, ``/__emu/tag``.
Behaviour and the sources for it: docs/wechat.md ("Emulator spec").
"""

from __future__ import annotations

import argparse
import copy
import json
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, Self

from tests.fakes import wechat_phone
from tests.fakes.wechat_api import Reply, Request
from tests.fakes.wechat_callbacks import CallbackPush, cdata, envelope
from tests.fakes.wechat_endpoints import WeChatEndpoints
from tests.fakes.wechat_state import (
    Call,
    CallbackMode,
    EmulatorConfig,
    Fault,
    Kind,
    MassJob,
    api_name,
)

__all__ = ["Call", "CallbackPush", "EmulatorConfig", "FakeWeChat", "Fault", "MassJob"]


class FakeWeChat(WeChatEndpoints):
    """The emulator: state, behaviour, a ThreadingHTTPServer and a job scheduler thread."""

    _server: _Server | None = None
    _threads: tuple[threading.Thread, ...] = ()
    _background = False
    nickname = "政务公开测试号"  # the account's name, shown by the phone view

    @classmethod
    def start(
        cls,
        appid: str = "wx0123456789abcdef",
        secret: str = "emulator-secret",  # noqa: S107 (a test fixture)
        kind: Kind = "subscription",
        callback_url: str | None = None,
        callback_token: str | None = None,
        aes_key: str | None = None,
        *,
        callback_mode: CallbackMode | None = None,
        port: int = 0,
        gh_id: str | None = None,
        config: EmulatorConfig | None = None,
        **settings: Any,
    ) -> FakeWeChat:
        """Start the emulator on 127.0.0.1 (``settings`` override EmulatorConfig fields)."""
        config = copy.deepcopy(config or EmulatorConfig())
        config.update(settings)
        emu = cls(
            appid,
            secret,
            kind,
            config=config,
            callback_url=callback_url,
            callback_token=callback_token,
            aes_key=aes_key,
            callback_mode=callback_mode,
            gh_id=gh_id,
        )
        emu.serve(port, background=True)
        return emu

    def serve(self, port: int = 0, *, background: bool) -> None:
        """Bind the HTTP server and start the scheduler (and the server, if ``background``)."""
        self._server = _Server(("127.0.0.1", port), _Handler, self)
        ticker = threading.Thread(target=self._tick_loop, name="wechat-emu-jobs", daemon=True)
        threads = [ticker]
        if background:
            threads.append(
                threading.Thread(
                    target=self._server.serve_forever,
                    kwargs={"poll_interval": 0.05},
                    name="wechat-emu-http",
                    daemon=True,
                )
            )
        self._threads = tuple(threads)
        self._background = background
        for thread in threads:
            thread.start()

    def _tick_loop(self) -> None:
        while not self._stopping.wait(0.02):
            self.run_due()

    @property
    def base(self) -> str:
        """Return the server root, e.g. ``http://127.0.0.1:PORT``."""
        assert self._server is not None, "the emulator is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_base(self) -> str:
        """Return the client's API base URL (``<base>/cgi-bin/``)."""
        return self.base + "/cgi-bin/"

    def stop(self) -> None:
        """Stop serving, finish the scheduler and release the port."""
        self._stopping.set()
        if self._server is not None:
            if self._background:
                self._server.shutdown()
            self._server.server_close()
        for thread in (*self._threads, *self._push_threads):
            thread.join(timeout=2)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------- uploaded bytes

    def _clear_state(self) -> None:
        super()._clear_state()
        self.images: dict[str, bytes] = {}  # mmbiz URL path -> bytes, for the phone view

    def _uploadimg(self, request: Request) -> dict[str, Any]:
        reply = super()._uploadimg(request)
        self._keep_image(str(reply["url"]), request)
        return reply

    def _add_material(self, request: Request) -> dict[str, Any]:
        reply = super()._add_material(request)
        self._keep_image(self.materials[str(reply["media_id"])].url, request)
        return reply

    def _keep_image(self, url: str, request: Request) -> None:
        key = wechat_phone.media_key(url)
        if key is not None:
            self.images[key] = self._media(request)[1]

    # -------------------------------------------------------------- controls

    def reset(self) -> None:
        """Forget every call, token, draft, job, push, fault and quota; restore settings."""
        with self._lock:
            self._clear_state()
            self.config = copy.deepcopy(self._initial_config)
            self.clock.offset = 0.0

    def configure(self, **settings: Any) -> None:
        """Change EmulatorConfig fields, e.g. ``configure(publish_delay=1.0)``."""
        with self._lock:
            self.config.update(settings)

    def fail(
        self,
        path: str,
        *,
        errcode: int | None = None,
        errmsg: str | None = None,
        times: int = 1,
        skip: int = 0,
        http_status: int | None = None,
        drop: bool = False,
        delay: float = 0.0,
        after: bool = False,
        body: bytes | None = None,
        content_type: str | None = None,
        invalidate_token: bool = False,
    ) -> Fault:
        """Inject a fault into the next ``times`` calls of ``path`` (``"*"`` = any API).

        ``errcode`` answers a JSON error (default -1 when nothing else is given);
        ``http_status`` answers that HTTP status; ``drop`` resets the connection;
        ``body``/``content_type`` send a raw body; ``delay`` performs the action and then
        answers that many seconds late; ``after=True`` performs the action before any fault;
        ``invalidate_token=True`` supersedes the current token as the call arrives (another
        process refreshed it), so the call meets WeChat's own 40001 after sending its body.
        """
        fault = Fault(
            api_name(path) if path != "*" else "*",
            times,
            skip,
            errcode,
            errmsg,
            http_status,
            drop,
            delay,
            after,
            body,
            content_type,
            invalidate_token=invalidate_token,
        )
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        """Remove every pending fault."""
        with self._lock:
            self.faults.clear()

    def advance(self, seconds: float) -> None:
        """Move the emulated clock forward (tokens expire, quotas reset on the Beijing date)."""
        with self._lock:
            self.clock.advance(seconds)
        self.run_due()

    def set_permission(self, path_prefix: str = "", allowed: bool = False) -> None:
        """Grant or deny APIs by name prefix (``""`` = all business APIs) → 48001."""
        with self._lock:
            self.denied[api_name(path_prefix) if path_prefix else ""] = allowed

    def set_quota(self, path: str, *, daily: int | None = None, minute: int | None = None) -> None:
        """Override the daily and/or per-minute call quota of an API."""
        with self._lock:
            if daily is not None:
                self.daily_limits[api_name(path)] = daily
            if minute is not None:
                self.minute_limits[api_name(path)] = minute

    def exhaust_quota(
        self,
        path: str = "message/mass/sendall",
        which: Literal["daily", "minute", "mass"] = "daily",
    ) -> None:
        """Use up a quota now: ``daily`` → 45009, ``minute`` → 45011, ``mass`` → 45028."""
        name = api_name(path)
        with self._lock:
            if which == "daily":
                self.daily_used[(self.clock.day(), name)] = self.daily_limit(name)
            elif which == "minute":
                self.minute_used[(self.clock.minute(), name)] = self.minute_limit(name) or 0
            else:
                cfg = self.config
                limit = (
                    cfg.subscription_mass_daily
                    if self.kind == "subscription"
                    else (cfg.service_mass_daily)
                )
                self.mass_success[self.clock.day()] = limit

    def set_publish_outcome(
        self, status: int, fail_idx: list[int] | None = None, times: int = 1
    ) -> None:
        """Make the next ``times`` publish jobs end in ``status`` (2/3/4 fail, 0 success)."""
        with self._lock:
            for _ in range(times):
                self.publish_outcomes.append((status, list(fail_idx or [])))

    def set_mass_outcome(
        self, status: str = "err(20001)", error_count: int = 0, times: int = 1
    ) -> None:
        """Make the next mass jobs finish with ``status`` (``send fail``, ``err(N)``...)."""
        with self._lock:
            for _ in range(times):
                self.mass_outcomes.append((status, error_count))

    def add_tag(self, tag_id: int, name: str, followers: int) -> None:
        """Define a follower tag usable as ``filter.tag_id``."""
        with self._lock:
            self.tags[tag_id] = (name, followers)

    # --------------------------------------------------------------- queries

    def calls_to(self, path: str) -> list[Call]:
        """Return the recorded calls of one API, e.g. ``calls_to("draft/add")``."""
        name = api_name(path)
        with self._lock:
            return [c for c in self.calls if c.name == name]

    def sent_mass(self, *, to_all: bool | None = None, tag_id: int | None = None) -> list[MassJob]:
        """Return the accepted mass-send jobs, optionally only to-all or only one tag."""
        with self._lock:
            jobs = list(self.mass_jobs.values())
        if to_all is not None:
            jobs = [j for j in jobs if (j.scope == "all") == to_all]
        if tag_id is not None:
            jobs = [j for j in jobs if j.scope == f"tag:{tag_id}"]
        return jobs

    def counters(self) -> dict[str, int]:
        """Return today's quota-charged call counts per API name."""
        with self._lock:
            day = self.clock.day()
            return {name: n for (d, name), n in self.daily_used.items() if d == day}

    def stats(self) -> dict[str, Any]:
        """Return a JSON-safe summary (also ``GET /__emu/stats``)."""
        with self._lock:
            return {
                "calls": len(self.calls),
                "token_calls": len(self.token_calls),
                "counters": self.counters(),
                "drafts": len(self.drafts),
                "materials": len(self.materials),
                "uploads": len(self.uploads),
                "publish_jobs": {
                    j.publish_id: {
                        "status": j.status,
                        "article_id": j.article_id,
                        "article_urls": j.article_urls,
                        "fail_idx": j.final_fail_idx,
                    }
                    for j in self.publish_jobs.values()
                },
                "mass_jobs": {
                    str(j.msg_id): {
                        "status": j.status,
                        "scope": j.scope,
                        "clientmsgid": j.clientmsgid,
                        "total": j.total_count,
                        "filter": j.filter_count,
                        "article_urls": j.article_urls,
                    }
                    for j in self.mass_jobs.values()
                },
                "previews": len(self.previews),
                "callbacks": [
                    {"kind": p.kind, "ok": p.ok, "attempts": len(p.attempts)}
                    for p in self.callbacks
                ],
                "faults_pending": sum(f.times for f in self.faults),
                "now": self.clock.now(),
                "beijing_date": self.clock.day().isoformat(),
            }

    # ------------------------------------------------------------- callbacks

    def push_xml(
        self,
        kind: str,
        xml: str,
        openid: str,
        *,
        wait: bool = True,
        bad_signature: bool = False,
        attempts: int | None = None,
    ) -> CallbackPush:
        """Push any message XML to the callback URL (signed; encrypted in safe mode)."""
        assert self.pusher is not None, "start the emulator with callback_url to push"
        push = self.pusher.build(kind, xml, openid, bad_signature=bad_signature)
        self.start_push(push, attempts=attempts)
        if wait:
            push.wait(self.config.callback_timeout * self.config.callback_attempts + 5)
        return push

    def push_text(self, openid: str, content: str, *, wait: bool = True) -> CallbackPush:
        """Push a user's text message (with a fresh MsgId)."""
        msg_id = 24000000000000000 + self.next_serial()
        body = f"<Content>{cdata(content)}</Content><MsgId>{msg_id}</MsgId>"
        xml = envelope(self.gh_id, openid, int(self.clock.now()), "text", body)
        return self.push_xml("text", xml, openid, wait=wait)

    def push_subscribe(self, openid: str, *, wait: bool = True) -> CallbackPush:
        """Push a subscribe event."""
        body = f"<Event>{cdata('subscribe')}</Event><EventKey>{cdata('')}</EventKey>"
        xml = envelope(self.gh_id, openid, int(self.clock.now()), "event", body)
        return self.push_xml("subscribe", xml, openid, wait=wait)

    def push_unsubscribe(self, openid: str, *, wait: bool = True) -> CallbackPush:
        """Push an unsubscribe event."""
        body = f"<Event>{cdata('unsubscribe')}</Event><EventKey>{cdata('')}</EventKey>"
        xml = envelope(self.gh_id, openid, int(self.clock.now()), "event", body)
        return self.push_xml("unsubscribe", xml, openid, wait=wait)

    def push_bad_signature(
        self, openid: str, content: str = "forged", *, wait: bool = True
    ) -> CallbackPush:
        """Push a text message with a wrong signature, once; our server must reject it."""
        body = f"<Content>{cdata(content)}</Content><MsgId>{self.next_serial()}</MsgId>"
        xml = envelope(self.gh_id, openid, int(self.clock.now()), "text", body)
        return self.push_xml(
            "bad_signature", xml, openid, wait=wait, bad_signature=True, attempts=1
        )

    def verify_callback(self, echostr: str | None = None) -> bool:
        """Do the GET URL verification; True when our server echoes ``echostr``."""
        assert self.pusher is not None, "start the emulator with callback_url to verify"
        return self.pusher.verify_url(echostr)[0]

    def wait_callbacks(
        self, count: int, *, kind: str | None = None, timeout: float = 10.0
    ) -> list[CallbackPush]:
        """Wait until ``count`` pushes (of ``kind``) exist and are finished; return them."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                pushes = [p for p in self.callbacks if kind is None or p.kind == kind]
            if len(pushes) >= count and all(p.done.is_set() for p in pushes):
                return pushes
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{len(pushes)} of {count} {kind or ''} pushes after {timeout}s")
            time.sleep(0.01)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[_Handler], emu: FakeWeChat) -> None:
        super().__init__(address, handler)
        self.emu = emu

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet: a client that timed out and hung up is an expected test case."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and
        # the peer's delayed ACK add ~40 ms to every loopback request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output clean."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        emu = self.server.emu
        if method == "GET" and self.path in ("/", "/__emu", "/__emu/"):
            self._redirect(wechat_phone.PHONE)
            return
        if method == "GET":
            with emu._lock:
                page = wechat_phone.serve(emu, self.path)
            if page is not None:
                self._send(Reply(None, page.status, raw=page.body, content_type=page.content_type))
                return
        if self.path.startswith("/__emu/"):
            try:
                self._send(Reply(_admin(emu, method, self.path, body)))
            except (AssertionError, KeyError, TypeError, ValueError) as exc:
                self._send(Reply({"error": f"{type(exc).__name__}: {exc}"}, status=400))
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        self._send(emu.dispatch(method, self.path, headers, body, self.client_address[0]))

    def _redirect(self, location: str) -> None:
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _send(self, reply: Reply) -> None:
        stopping = self.server.emu._stopping
        deadline = time.monotonic() + reply.delay
        while not stopping.is_set() and time.monotonic() < deadline:
            time.sleep(min(0.02, max(0.0, deadline - time.monotonic())))
        if reply.drop:
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        if reply.raw is not None:
            data = reply.raw
        else:
            data = json.dumps(reply.payload, ensure_ascii=False).encode("utf-8")
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True  # the client gave up (timeout test)


def _admin(emu: FakeWeChat, method: str, path: str, body: bytes) -> dict[str, Any]:
    """Serve ``/__emu/...``: read state, change knobs, trigger pushes."""
    action = path.split("?", 1)[0].removeprefix("/__emu/").strip("/")
    if method == "GET":
        with emu._lock:
            if action == "calls":
                return {"calls": [c.describe() for c in emu.calls]}
            if action == "callbacks":
                return {"callbacks": [p.describe() for p in emu.callbacks]}
        if action == "stats":
            return emu.stats()
        raise KeyError(action)
    args: dict[str, Any] = json.loads(body or b"{}")
    if action == "reset":
        emu.reset()
    elif action == "fail":
        raw = args.pop("body", None)
        emu.fail(**args, body=raw.encode("utf-8") if isinstance(raw, str) else None)
    elif action == "advance":
        emu.advance(float(args["seconds"]))
    elif action == "token":
        getattr(emu, f"{args.pop('action')}_token")(**args)
    elif action == "permission":
        emu.set_permission(args.get("path", ""), bool(args.get("allowed", False)))
    elif action == "quota":
        if "exhaust" in args:
            emu.exhaust_quota(args["path"], args["exhaust"])
        else:
            emu.set_quota(args["path"], daily=args.get("daily"), minute=args.get("minute"))
    elif action == "outcome":
        if "publish" in args:
            emu.set_publish_outcome(**args["publish"])
        if "mass" in args:
            emu.set_mass_outcome(**args["mass"])
    elif action == "config":
        emu.configure(**args)
    elif action == "tag":
        emu.add_tag(int(args["tag_id"]), str(args["name"]), int(args["followers"]))
    elif action == "push":
        return _admin_push(emu, args)
    else:
        raise KeyError(action)
    return emu.stats()


def _admin_push(emu: FakeWeChat, args: dict[str, Any]) -> dict[str, Any]:
    kind, openid, wait = args.get("kind", "text"), str(args.get("openid", "o_user")), True
    wait = bool(args.get("wait", True))
    if kind == "verify":
        return {"ok": emu.verify_callback(args.get("echostr"))}
    if kind == "text":
        push = emu.push_text(openid, str(args.get("content", "")), wait=wait)
    elif kind == "subscribe":
        push = emu.push_subscribe(openid, wait=wait)
    elif kind == "unsubscribe":
        push = emu.push_unsubscribe(openid, wait=wait)
    elif kind == "bad_signature":
        push = emu.push_bad_signature(openid, str(args.get("content", "forged")), wait=wait)
    else:
        raise KeyError(kind)
    return push.describe()


def main(argv: list[str] | None = None) -> None:
    """Run the emulator in the foreground until killed."""
    parser = argparse.ArgumentParser(description="Loopback WeChat API emulator for Gongkai tests")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--appid", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--kind", choices=["subscription", "service"], default="subscription")
    parser.add_argument("--callback-url")
    parser.add_argument("--callback-token")
    parser.add_argument("--aes-key")
    parser.add_argument("--callback-mode", choices=["plain", "compat", "safe"])
    parser.add_argument("--gh-id")
    parser.add_argument("--nickname", help="the account's name on the phone view")
    parser.add_argument("--config", default="{}", help="JSON object of EmulatorConfig fields")
    args = parser.parse_args(argv)
    config = EmulatorConfig()
    config.update(json.loads(args.config))
    emu = FakeWeChat(
        args.appid,
        args.secret,
        args.kind,
        config=config,
        callback_url=args.callback_url,
        callback_token=args.callback_token,
        aes_key=args.aes_key,
        callback_mode=args.callback_mode,
        gh_id=args.gh_id,
    )
    if args.nickname:
        emu.nickname = args.nickname
    emu.serve(args.port, background=False)
    assert emu._server is not None
    print(f"READY {emu.base}", flush=True)
    try:
        emu._server.serve_forever(poll_interval=0.05)
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()


if __name__ == "__main__":
    main()
