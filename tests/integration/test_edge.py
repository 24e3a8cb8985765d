"""The edge of the service: X-Forwarded-For only from trusted proxies (a real `gongkai serve`
on 127.0.0.1, where uvicorn used to believe any local process), the API documentation
behind a token, and an oversized body refused by the real server while it arrives."""

from __future__ import annotations

import os
import re
import select
import socket
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from fastapi import FastAPI

from bot.settings import Settings
from bot.web import create_app
from storage.console_models import LoginFailure
from storage.models import Organization
from storage.tokens import create_token
from tests.e2e.service import Service

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
DOCS = ("/docs", "/redoc", "/openapi.json")
MiB = 1024 * 1024


def _failed_login(client: httpx.Client, username: str, forwarded_for: str) -> int:
    page = client.get("/console/login")
    found = CSRF_RE.search(page.text)
    assert found, page.text
    response = client.post(
        "/console/login",
        data={"csrf_token": found.group(1), "username": username, "password": "wrong-1234"},
        headers={"X-Forwarded-For": forwarded_for, "Accept": "text/html"},
    )
    return response.status_code


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """`gongkai serve` with its defaults, except a low per-address sign-in limit."""
    data = tmp_path_factory.mktemp("edge")
    env = {
        **os.environ,
        "GONGKAI_DATA_DIR": str(data),
        "GONGKAI_CONSOLE_LOGIN_MAX_FAILURES_PER_IP": "3",
        "GONGKAI_CONSOLE_LOGIN_MAX_FAILURES": "100",
    }
    env.pop("GONGKAI_DATABASE_URL", None)
    env.pop("GONGKAI_TRUSTED_PROXIES", None)
    server = Service(env, data / "serve.log")
    try:
        yield server
    finally:
        server.terminate()


def test_forwarded_for_from_a_local_process_is_not_believed(service: Service) -> None:
    """Each attempt claims another address; all come from 127.0.0.1, so the fourth is locked."""
    with httpx.Client(base_url=service.base, timeout=30) as client:
        answers = [
            _failed_login(client, f"user{n}", f"203.0.113.{n}, 198.51.100.{n}") for n in range(4)
        ]
    assert answers == [400, 400, 400, 429]


def test_a_declared_oversized_body_is_refused_before_it_is_sent(service: Service) -> None:
    with socket.create_connection(("127.0.0.1", service.port), timeout=30) as sock:
        sock.sendall(
            b"POST /api/v1/items HTTP/1.1\r\nHost: gongkai.test\r\n"
            b"Content-Type: application/json\r\n"
            + f"Content-Length: {60 * MiB}\r\n\r\n".encode()
            + b" " * MiB
        )
        answer = sock.recv(4096)  # answered though 59 MiB were never sent
    assert answer.startswith(b"HTTP/1.1 413"), answer


def test_a_chunked_oversized_body_is_refused_while_it_arrives(service: Service) -> None:
    sent = 0
    with socket.create_connection(("127.0.0.1", service.port), timeout=30) as sock:
        sock.sendall(
            b"POST /api/v1/items HTTP/1.1\r\nHost: gongkai.test\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        chunk = f"{MiB:x}\r\n".encode() + b" " * MiB + b"\r\n"
        deadline = time.monotonic() + 60
        while sent < 60 and time.monotonic() < deadline:
            readable, _, _ = select.select([sock], [], [], 0.05)
            if readable:
                break
            try:
                sock.sendall(chunk)
            except OSError:
                break  # the server closed the connection after answering
            sent += 1
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413"), answer
    assert sent < 60


@pytest.fixture
async def edge_app(settings: Settings) -> AsyncIterator[tuple[FastAPI, dict[str, str]]]:
    app = create_app(settings, run_worker=False)
    async with app.router.lifespan_context(app):
        org = await Organization.create(code="tiande", name="天德乡人民政府")
        token = await create_token("天德乡编辑", org)
        yield app, {"Authorization": f"Bearer {token}"}


async def _get(app: FastAPI, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gongkai.test") as client:
        return await client.get(path, headers=headers or {})


async def test_the_api_docs_need_a_token(edge_app: tuple[FastAPI, dict[str, str]]) -> None:
    app, token = edge_app
    for path in DOCS:
        assert (await _get(app, path)).status_code == 401, path
        wrong = {"Authorization": "Bearer not-a-token"}
        assert (await _get(app, path, wrong)).status_code == 401, path
        assert (await _get(app, path, token)).status_code == 200, path
    schema = (await _get(app, "/openapi.json", token)).json()
    assert "/api/v1/items" in schema["paths"]


async def test_api_docs_public_opens_them(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"api_docs_public": True}), run_worker=False)
    async with app.router.lifespan_context(app):
        for path in DOCS:
            assert (await _get(app, path)).status_code == 200, path


async def test_a_trusted_proxy_names_the_client(settings: Settings) -> None:
    """Behind a proxy named in trusted_proxies, the address it reports is the one limited."""
    trusted = settings.model_copy(
        update={"trusted_proxies": ["127.0.0.0/8"], "console_login_max_failures_per_ip": 2}
    )
    app = create_app(trusted, run_worker=False)
    async with app.router.lifespan_context(app):
        await LoginFailure.all().delete()
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gongkai.test") as c:

            async def attempt(name: str, chain: str) -> int:
                page = await c.get("/console/login")
                found = CSRF_RE.search(page.text)
                assert found
                response = await c.post(
                    "/console/login",
                    data={"csrf_token": found.group(1), "username": name, "password": "x-123456"},
                    headers={"X-Forwarded-For": chain},
                )
                return response.status_code

            # A client-supplied first hop is ignored: the proxy appended the real address.
            assert await attempt("a", "1.1.1.1, 203.0.113.7") == 400
            assert await attempt("b", "2.2.2.2, 203.0.113.7") == 400
            assert await attempt("c", "3.3.3.3, 203.0.113.7") == 429
            assert await attempt("d", "203.0.113.8") == 400
        ips = {str(ip) for ip in await LoginFailure.all().values_list("ip", flat=True)}
        assert ips == {"203.0.113.7", "203.0.113.8"}
