"""A console with people in two townships, clients that sign in from chosen addresses.

Shared by the console's tests (sessions, passwords, route access, items, registers,
storage faults). Passwords meet the policy (storage.users): at least 10 characters of three
classes, without the username.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI

from bot.app import Runtime
from bot.settings import Settings
from bot.web import create_app
from storage import users
from storage.console_models import LoginFailure, User
from storage.models import Organization

PASSWORD = "Correct-horse-1"
HTML = {"Accept": "text/html"}
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120.0 Safari/537.36"
PHONE = "Mozilla/5.0 (Linux; Android 13) AppleWebKit/537.36 Chrome/120.0 Mobile MicroMessenger/8"


@dataclass
class World:
    app: FastAPI
    orgs: dict[str, Organization]
    users: dict[str, User]

    @property
    def runtime(self) -> Runtime:
        """The app's channels, dispatcher and calendar (its worker does not run)."""
        runtime: Runtime = self.app.state.runtime
        return runtime

    def client(
        self, ip: str = "127.0.0.1", *, https: bool = False, agent: str = BROWSER
    ) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=self.app, client=(ip, 50000))
        base = ("https" if https else "http") + "://gongkai.test"
        headers = {**HTML, "User-Agent": agent}
        return httpx.AsyncClient(transport=transport, base_url=base, headers=headers)

    @contextlib.asynccontextmanager
    async def login(
        self,
        username: str,
        password: str = PASSWORD,
        *,
        ip: str = "127.0.0.1",
        agent: str = BROWSER,
    ) -> AsyncIterator[httpx.AsyncClient]:
        async with self.client(ip, agent=agent) as client:
            response = await sign_in(client, username, password)
            assert response.status_code == 303, response.text
            yield client


async def csrf_of(client: httpx.AsyncClient, path: str = "/console/login") -> str:
    page = await client.get(path)
    found = CSRF_RE.search(page.text)
    assert found, (path, page.status_code, page.text[:500])
    return found.group(1)


async def post_form(
    client: httpx.AsyncClient, path: str, *, csrf_from: str = "/console/", **data: str
) -> httpx.Response:
    token = await csrf_of(client, csrf_from)
    return await client.post(path, data={"csrf_token": token, **data})


async def sign_in(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await post_form(
        client, "/console/login", csrf_from="/console/login", username=username, password=password
    )


async def change_password(
    client: httpx.AsyncClient, current: str, new: str, confirm: str | None = None
) -> httpx.Response:
    return await post_form(
        client,
        "/console/password",
        csrf_from="/console/password",
        current=current,
        new=new,
        confirm=new if confirm is None else confirm,
    )


async def age_failures(seconds: float) -> None:
    """Make every recorded failed sign-in ``seconds`` older (time passing for the lockout)."""
    for failure in await LoginFailure.all():
        failure.at = failure.at - dt.timedelta(seconds=seconds)
        await failure.save(update_fields=["at"])


PEOPLE = [
    ("td_admin", "张管理", "tiande", "admin"),
    ("td_editor", "王编辑", "tiande", "editor"),
    ("td_reviewer", "李审核", "tiande", "reviewer"),
    ("td_clerk", "周文书", "tiande", "editor"),  # the one administrators act on
    ("lh_admin", "赵管理", "lianhe", "admin"),
    ("lh_editor", "钱编辑", "lianhe", "editor"),
]


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    """Two townships under a county; in each an administrator and editors; a reviewer."""
    app = create_app(settings, run_worker=False)
    async with app.router.lifespan_context(app):
        county = await Organization.create(code="shulan", name="舒兰市人民政府")
        orgs = {
            "shulan": county,
            "tiande": await Organization.create(
                code="tiande", name="天德乡人民政府", parent=county
            ),
            "lianhe": await Organization.create(
                code="lianhe", name="联合乡人民政府", parent=county
            ),
        }
        digest = await users.hash_password(PASSWORD)  # one hash for all: argon2 is slow
        people: dict[str, User] = {}
        for username, name, org, role in PEOPLE:
            people[username] = await User.create(
                username=username, display_name=name, password_hash=digest
            )
            await users.set_role(people[username], orgs[org], role)
        yield World(app, orgs, people)
