"""A township with a clerk (API token and console user), the read routes they use most,
and a record of the SQL each request runs, for the query-plan and query-count tests.

Statements are read from Tortoise's own ``tortoise.db_client`` logger (every backend logs
each statement and its parameters there at DEBUG), not by patching the driver.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI

from bot.app import Runtime
from bot.settings import Settings
from bot.web import create_app
from storage import users
from storage.console_models import User
from storage.models import Organization
from storage.tokens import create_token

PASSWORD = "correct-horse-1"
HTML = {"Accept": "text/html"}
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
ITEM: dict[str, Any] = {
    "org": "tiande",
    "title": "关于开展2026年春季植树活动的通知",
    "body": "各村：\n\n请于3月12日前完成植树任务。",
    "category": "工作动态",
    "channels": ["website", "noticeboard"],
}


@dataclass
class Statement:
    sql: str
    values: list[Any]


@dataclass
class StatementLog(logging.Handler):
    """Collects the statements Tortoise runs while ``capture`` is open."""

    statements: list[Statement] = field(default_factory=list)

    def __post_init__(self) -> None:
        logging.Handler.__init__(self, level=logging.DEBUG)

    def __hash__(self) -> int:
        return id(self)

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        if len(args) == 2 and isinstance(args[0], str):  # "%s: %s", query, values
            values = args[1]
            listed = list(values) if isinstance(values, list | tuple) else []
            self.statements.append(Statement(args[0], listed))
        elif not args and isinstance(record.msg, str) and record.msg.lstrip()[:6].isalpha():
            first = record.msg.lstrip().split(None, 1)[0].upper()
            if first in {"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"}:  # execute_script
                self.statements.append(Statement(record.msg, []))

    @contextlib.contextmanager
    def capture(self) -> Iterator[list[Statement]]:
        logger = logging.getLogger("tortoise.db_client")
        before = logger.level
        self.statements = []
        logger.addHandler(self)
        logger.setLevel(logging.DEBUG)
        try:
            yield self.statements
        finally:
            logger.removeHandler(self)
            logger.setLevel(before)


@dataclass
class World:
    app: FastAPI
    api: httpx.AsyncClient
    console: httpx.AsyncClient
    token: dict[str, str]
    tiande: Organization
    county: Organization

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    def read_routes(self, item_id: int) -> list[tuple[httpx.AsyncClient, str]]:
        """What a township clerk opens all day: an item, the lists, the dashboard, the
        report."""
        year = dt.datetime.now(dt.UTC).year
        return [
            (self.api, f"/api/v1/items/{item_id}"),
            (self.api, "/api/v1/items"),
            (self.api, "/api/v1/items?channel=website"),
            (self.api, f"/api/v1/reports/tiande/{year}/channels"),
            (self.console, "/console/"),
            (self.console, "/console/items"),
            (self.console, "/console/items?channel=website"),
            (self.console, f"/console/items/{item_id}"),
        ]


@contextlib.asynccontextmanager
async def open_world(settings: Settings) -> AsyncIterator[World]:
    """The app (no worker) with a county, its township tiande, a review-exempt API token
    and a signed-in console editor of tiande."""
    app = create_app(settings, run_worker=False)
    async with app.router.lifespan_context(app):
        county = await Organization.create(code="shulan", name="舒兰市人民政府")
        tiande = await Organization.create(code="tiande", name="天德乡人民政府", parent=county)
        token = await create_token("天德乡编辑", tiande, role="admin", review_exempt=True)
        digest = await users.hash_password(PASSWORD)
        user = await User.create(username="td_admin", display_name="张管理", password_hash=digest)
        await users.set_role(user, tiande, "admin")
        transport = httpx.ASGITransport(app=app)
        base = "http://gongkai.test"
        async with (
            httpx.AsyncClient(transport=transport, base_url=base) as api,
            httpx.AsyncClient(transport=transport, base_url=base, headers=HTML) as console,
        ):
            signed_in = await post_form(
                console, "/console/login", username="td_admin", password=PASSWORD
            )
            assert signed_in.status_code == 303, signed_in.text
            yield World(app, api, console, {"Authorization": f"Bearer {token}"}, tiande, county)


async def post_form(client: httpx.AsyncClient, path: str, **data: str) -> httpx.Response:
    """Post a console form with the CSRF token of the page that shows it."""
    found = CSRF_RE.search((await client.get(path)).text)
    assert found, f"no CSRF token on {path}"
    return await client.post(path, data={"csrf_token": found.group(1), **data})


async def publish_one(world: World, **changes: Any) -> int:
    """Queue an item through the API, publish it and post its notice: every table of the
    delivery path gets its rows (deliveries, attempts, ledger, posting)."""
    created = await world.api.post("/api/v1/items", json={**ITEM, **changes}, headers=world.token)
    assert created.status_code == 201, created.text
    item = created.json()
    await world.runtime.dispatcher.run_until_idle()
    board = next(d for d in item["deliveries"] if d["channel"] == "noticeboard")
    posted = await world.api.post(
        f"/api/v1/deliveries/{board['id']}/posted",
        json={"location": "乡政府公开栏", "posted_by": "李明", "period_days": 7},
        headers=world.token,
    )
    assert posted.status_code == 200, posted.text
    return int(item["id"])


async def fetch(client: httpx.AsyncClient, path: str, world: World) -> httpx.Response:
    headers = world.token if path.startswith("/api/") else None
    response = await client.get(path, headers=headers)
    assert response.status_code == 200, f"{path}: {response.status_code} {response.text[:300]}"
    return response
