"""The console's session: a random id in the cookie, the session itself in the database.

The cookie (HttpOnly, SameSite=Lax, Secure on https, scoped to /console) carries only a
random id; storage.console_sessions keeps the SHA-256 of it with the user, the times, the
address and the browser. Signing out, changing the password, an administrator or a
deactivation end sessions for good, so a copied cookie stops working at once. A session
idle longer than ``session_idle_minutes`` or older than ``session_max_hours`` ends here,
before any route sees it.

Routes read ``request.session`` (a dict: ``uid``, ``csrf`` and the flash messages) and
call ``begin`` / ``end`` to sign in and out. Before sign-in a visitor gets an anonymous
id (not stored) whose CSRF token is derived from it with the server's secret.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.settings import Settings
from storage import audit
from storage import console_sessions as store
from storage.console_models import ConsoleSession
from storage.crypto import load_key

COOKIE = "gk_session"
PATH = "/console"
SCOPE_KEY = "gongkai.console_session"
clock: Callable[[], float] = time.time  # tests move time forward by replacing this
log = logging.getLogger("gongkai.console")
SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
}
DATABASE_DOWN = (
    "系统暂时无法连接数据库，页面无法打开，您的操作没有被保存。"
    "请稍后刷新重试；如持续出现，请联系系统管理员。"
)
_INTERNAL_KEYS = ("uid", "csrf")  # derived on every request, never stored in ``data``


def now() -> dt.datetime:
    """The current time as sessions see it (``clock``), in UTC."""
    return dt.datetime.fromtimestamp(clock(), dt.UTC)


def session_secret(settings: Settings) -> str:
    """The configured secret, or one derived from the server key so restarts keep sessions."""
    configured = settings.session_secret.get_secret_value()
    if configured:
        return configured
    key = load_key(settings.secret_key.get_secret_value(), settings.data_dir / "secret.key")
    return hmac.new(key, b"gongkai console session v1", hashlib.sha256).hexdigest()


@dataclass
class SessionContext:
    """One request's view of its session: the cookie id, the row, and what to write back."""

    secret: bytes
    lifetimes: store.Lifetimes
    ip: str
    user_agent: str
    cookie_id: str | None  # the id the browser sent, if it looked like one of ours
    row: ConsoleSession | None = None
    data: dict[str, Any] = field(default_factory=dict)
    stored: str = "{}"  # ``data`` as loaded, to see whether it changed
    new_id: str | None = None  # a fresh id to send (sign-in, or a first visit)
    drop_cookie: bool = False  # the browser's id is dead: tell it to forget it
    expired: bool = False  # a signed-in session just idled or aged out
    seen_due: bool = False  # last-seen is old enough to be worth writing

    def csrf_for(self, session_id: str) -> str:
        return hmac.new(self.secret, b"csrf:" + session_id.encode(), hashlib.sha256).hexdigest()

    async def load(self) -> None:
        """Find the live session for the cookie; end it here if it idled or aged out."""
        if self.cookie_id is None:
            return
        row = await store.find(self.cookie_id)
        if row is None:  # an anonymous visitor's id: good for the sign-in form only
            self.data = {"csrf": self.csrf_for(self.cookie_id)}
            return
        at = now()
        reason = self.lifetimes.dead_reason(row, at)
        if reason:
            self.drop_cookie = True
            if row.ended_at is None:
                self.expired = True
                if await store.end(row.id, reason, now=at):
                    await audit.record(
                        "session.expired",
                        user_id=row.user_id,
                        target=f"session:{row.id}",
                        detail={"reason": reason},
                        ip=self.ip,
                    )
            return
        self.row = row
        self.stored = json.dumps(row.data, sort_keys=True)
        self.data = dict(row.data)
        self.data.update(uid=row.user_id, csrf=self.csrf_for(self.cookie_id))
        idle = self.lifetimes.idle_seconds
        self.seen_due = (at - row.last_seen_at).total_seconds() >= min(60.0, idle / 4)

    async def save(self) -> None:
        """Write back what changed: last seen, the flash messages, or the end of the session."""
        if self.row is None:
            return
        if "uid" not in self.data:  # a route cleared the session: that is signing out
            await store.end(self.row.id, "logout", now=now())
            return
        kept = {k: v for k, v in self.data.items() if k not in _INTERNAL_KEYS}
        changed = json.dumps(kept, sort_keys=True) != self.stored
        if self.seen_due or changed:
            await store.touch(
                self.row,
                now=now() if self.seen_due else None,
                ip=self.ip,
                data=kept if changed else None,
            )

    def cookie_header(self, secure: str) -> str | None:
        """The Set-Cookie value this response needs, if any."""
        if self.new_id is not None:
            return f"{COOKIE}={self.new_id}; path={PATH}; httponly; samesite=lax{secure}"
        if self.drop_cookie:
            return f"{COOKIE}=; path={PATH}; max-age=0; httponly; samesite=lax{secure}"
        return None


def context(request: HTTPConnection) -> SessionContext:
    """The request's session context (set by the middleware on every /console request)."""
    found: SessionContext = request.scope[SCOPE_KEY]
    return found


class ConsoleSessionMiddleware:
    """Loads ``scope["session"]`` from the database for /console paths and writes it back."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        secret: str,
        idle_seconds: float,
        max_seconds: float,
        down_errors: tuple[type[Exception], ...],
    ) -> None:
        self.app = app
        self.down_errors = down_errors
        self.secret = hashlib.sha256(b"gongkai.console.session:" + secret.encode()).digest()
        self.lifetimes = store.Lifetimes(idle_seconds=idle_seconds, max_seconds=max_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PATH):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        static = scope["path"].startswith(PATH + "/static/")
        raw = connection.cookies.get(COOKIE)
        ctx = SessionContext(
            secret=self.secret,
            lifetimes=self.lifetimes,
            ip=client_address(connection),
            user_agent=connection.headers.get("user-agent", ""),
            cookie_id=raw if store.looks_like_id(raw) else None,
            drop_cookie=bool(raw) and not store.looks_like_id(raw),
        )
        if not static:
            try:
                await ctx.load()
            except self.down_errors as exc:
                log.error("database unavailable loading a console session: %s", type(exc).__name__)
                await _database_down(scope)(scope, receive, _with_headers(scope, send, static))
                return
        scope["session"] = ctx.data
        scope[SCOPE_KEY] = ctx
        scope.setdefault("state", {})["session_expired"] = ctx.expired
        secure = "; secure" if scope.get("scheme") == "https" else ""
        headers_sent = _with_headers(scope, send, static)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                try:
                    await ctx.save()
                except self.down_errors as exc:
                    log.error("database unavailable saving a console session: %s", exc)
                cookie = ctx.cookie_header(secure)
                if cookie is not None:
                    MutableHeaders(scope=message).append("set-cookie", cookie)
            await headers_sent(message)

        await self.app(scope, receive, send_with_cookie)


def _with_headers(scope: Scope, send: Send, static: bool) -> Send:
    """``send`` with the security headers (and no-store for pages) on the response."""

    async def sender(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            for name, value in SECURITY_HEADERS.items():
                headers.setdefault(name, value)
            if not static:
                headers.setdefault("cache-control", "no-store")
        await send(message)

    return sender


def _database_down(scope: Scope) -> Response:
    """A Chinese 503 page (JSON for scripts) when the session cannot be looked up."""
    # Imported here: both import this module.
    from bot.console.auth import wants_json
    from bot.console.templates import templates

    request = Request(scope)
    headers = {"Retry-After": "30"}
    if wants_json(request):
        return JSONResponse({"detail": DATABASE_DOWN}, status_code=503, headers=headers)
    page = templates.get_template("error.html").render(
        user=None,
        csrf_token="",
        current_org=None,
        orgs=(),
        flashes=[],
        nav=[],
        path=request.url.path,
        message=DATABASE_DOWN,
    )
    return HTMLResponse(page, status_code=503, headers=headers)


def client_address(request: HTTPConnection) -> str:
    """The caller's address as the server sees it."""
    return request.client.host if request.client else ""


def start_anonymous(request: HTTPConnection) -> str:
    """Give a first-time visitor an id (not stored) and return its CSRF token."""
    ctx = context(request)
    ctx.new_id = store.new_id()
    ctx.drop_cookie = False
    token = ctx.csrf_for(ctx.new_id)
    ctx.data.clear()
    ctx.data["csrf"] = token
    return token


async def begin(request: HTTPConnection, user_id: int) -> ConsoleSession:
    """Sign the user in: a new session with a new id (any previous one of this browser ends)."""
    ctx = context(request)
    at = now()
    if ctx.row is not None:
        await store.end(ctx.row.id, "replaced", now=at)
    session_id, row = await store.create(user_id, now=at, ip=ctx.ip, user_agent=ctx.user_agent)
    ctx.row, ctx.new_id, ctx.stored, ctx.seen_due = row, session_id, "{}", False
    ctx.data.clear()
    ctx.data.update(uid=user_id, csrf=ctx.csrf_for(session_id))
    return row


async def end(request: HTTPConnection, reason: str) -> None:
    """End this browser's session (signing out) and make the browser forget the id."""
    ctx = context(request)
    if ctx.row is not None:
        await store.end(ctx.row.id, reason, now=now())
    ctx.row, ctx.new_id, ctx.drop_cookie = None, None, True
    ctx.data.clear()


def current_id(request: HTTPConnection) -> int | None:
    """The database id of this browser's live session, if signed in."""
    row = context(request).row
    return row.id if row is not None else None


def lifetimes(request: HTTPConnection) -> store.Lifetimes:
    """The idle and maximum lifetimes the middleware enforces."""
    return context(request).lifetimes
