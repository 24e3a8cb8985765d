"""The app's edge: who the client is, how much it may send, who may read the API docs.

- ``ForwardedFor``: ``X-Forwarded-For`` is believed only from a socket peer named in the
  ``trusted_proxies`` setting (default none), walking the header from the right past the
  trusted hops. uvicorn's own proxy handling is off (bot.cli), so by default the client is
  the socket peer, and the console's sign-in rate limit counts the real address.
- ``BodyLimit``: a body over ``max_request_bytes`` is answered 413 while it arrives: at
  once from its Content-Length, else as soon as the bytes received pass the limit.
- ``install_docs``: /docs, /redoc and /openapi.json need a valid API token (or a signed-in
  console session) unless ``api_docs_public`` opens them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.settings import Settings
from storage.tokens import find_token

__all__ = ["BodyLimit", "BodyTooLarge", "ForwardedFor", "install_docs"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_bearer = HTTPBearer(auto_error=False)


class ForwardedFor:
    """ASGI middleware: the client address from X-Forwarded-For, only via trusted proxies."""

    def __init__(self, app: ASGIApp, trusted: Sequence[str]) -> None:
        self.app = app
        self.trusted: list[Network] = [ipaddress.ip_network(t, strict=False) for t in trusted]

    def _is_trusted(self, address: str) -> bool:
        if not self.trusted:
            return False
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if scope["type"] in ("http", "websocket") and client and self._is_trusted(client[0]):
            chain = [
                value.decode("latin-1")
                for name, value in scope.get("headers", [])
                if name == b"x-forwarded-for"
            ]
            hops = [hop.strip() for line in chain for hop in line.split(",") if hop.strip()]
            for hop in reversed(hops):  # the nearest untrusted hop is the client
                if not self._is_trusted(hop):
                    if _is_address(hop):
                        scope = {**scope, "client": (hop, 0)}
                    break
        await self.app(scope, receive, send)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once the body passes the limit; answered 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"request body larger than {limit} bytes (max_request_bytes)",
        )


class BodyLimit:
    """ASGI middleware: refuse a body over ``limit`` bytes while it is arriving."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.limit:
            await _refuse(self.limit, scope, receive, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            await _refuse(self.limit, scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _refuse(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
    response = JSONResponse(
        {"detail": f"request body larger than {limit} bytes (max_request_bytes)"},
        status_code=status.HTTP_413_CONTENT_TOO_LARGE,
        headers={"Connection": "close"},
    )
    await response(scope, receive, send)


async def _docs_reader(request: Request) -> None:
    """A valid API token, or a signed-in console user; else 401."""
    from bot.console.auth import ConsoleError, LoginRequired, current_user

    credentials: HTTPAuthorizationCredentials | None = await _bearer(request)
    if credentials is not None and await find_token(credentials.credentials) is not None:
        return
    if credentials is None and "session" in request.scope:
        try:
            await current_user(request)
        except (LoginRequired, ConsoleError):
            pass
        else:
            return
    raise HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        "the API documentation needs a valid bearer token",
        headers={"WWW-Authenticate": "Bearer"},
    )


DocsReader = Annotated[None, Depends(_docs_reader)]


def install_docs(app: FastAPI, settings: Settings) -> None:
    """The guarded /openapi.json, /docs and /redoc (nothing to do when they are public)."""
    if settings.api_docs_public:
        return

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(_reader: DocsReader) -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get("/docs", include_in_schema=False)
    async def swagger(_reader: DocsReader) -> HTMLResponse:
        return get_swagger_ui_html(openapi_url="/openapi.json", title=f"{app.title} - API")

    @app.get("/redoc", include_in_schema=False)
    async def redoc(_reader: DocsReader) -> HTMLResponse:
        return get_redoc_html(openapi_url="/openapi.json", title=f"{app.title} - API")
