"""The console's session: a signed cookie holding the user id, the CSRF token and two times.

The cookie is HttpOnly, SameSite=Lax, Secure on https, and scoped to /console. A session
idle longer than ``session_idle_minutes`` or older than ``session_max_hours`` is dropped
here, before any route sees it; routes read and change ``request.session``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.settings import Settings
from storage.crypto import load_key

COOKIE = "gk_session"
PATH = "/console"
clock: Callable[[], float] = time.time  # tests move time forward by replacing this
SECURITY_HEADERS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
}


def session_secret(settings: Settings) -> str:
    """The configured secret, or one derived from the server key so restarts keep sessions."""
    configured = settings.session_secret.get_secret_value()
    if configured:
        return configured
    key = load_key(settings.secret_key.get_secret_value(), settings.data_dir / "secret.key")
    return hmac.new(key, b"gongkai console session v1", hashlib.sha256).hexdigest()


class ConsoleSessionMiddleware:
    """Loads ``scope["session"]`` from the cookie for /console paths and writes it back."""

    def __init__(
        self, app: ASGIApp, *, secret: str, idle_seconds: float, max_seconds: float
    ) -> None:
        self.app = app
        self.serializer = URLSafeTimedSerializer(secret, salt="gongkai.console.session")
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds

    def _load(self, raw: str | None) -> tuple[dict[str, Any], str, bool]:
        """The live session in the cookie, its JSON as it came, and whether it just expired."""
        if not raw:
            return {}, "", False
        try:
            data = self.serializer.loads(raw, max_age=int(self.max_seconds) + 60)
        except BadSignature:
            return {}, "-", False
        if not isinstance(data, dict):
            return {}, "-", False
        loaded = json.dumps(data, sort_keys=True)
        now = clock()
        seen, born = float(data.get("seen", 0)), float(data.get("iat", 0))
        if now - seen > self.idle_seconds or now - born > self.max_seconds:
            return {}, loaded, "uid" in data
        if now - seen >= min(60.0, self.idle_seconds / 4):
            data["seen"] = int(now)  # written back below: the idle clock restarts
        return data, loaded, False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PATH):
            await self.app(scope, receive, send)
            return
        raw = HTTPConnection(scope).cookies.get(COOKIE)
        session, loaded, expired = self._load(raw)
        scope["session"] = session
        scope.setdefault("state", {})["session_expired"] = expired
        secure = "; secure" if scope.get("scheme") == "https" else ""
        static = scope["path"].startswith(PATH + "/static/")

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                current: dict[str, Any] = scope["session"]
                if current and json.dumps(current, sort_keys=True) != loaded:
                    value = self.serializer.dumps(current)
                    headers.append(
                        "set-cookie",
                        f"{COOKIE}={value}; path={PATH}; httponly; samesite=lax{secure}",
                    )
                elif raw and not current:
                    headers.append(
                        "set-cookie",
                        f"{COOKIE}=; path={PATH}; max-age=0; httponly; samesite=lax{secure}",
                    )
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if not static:
                    headers.setdefault("cache-control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def start(session: dict[str, Any], *, user_id: int | None, csrf: str) -> None:
    """Replace the session's contents with a fresh one (sign-in, or a first page view)."""
    now = int(clock())
    session.clear()
    session.update({"csrf": csrf, "seen": now, "iat": now})
    if user_id is not None:
        session["uid"] = user_id
