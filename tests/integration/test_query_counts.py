"""List routes run a fixed number of SQL statements, however many rows they show.

Each route is loaded with 5 published items and again with 50; the statement count
(read from Tortoise's ``tortoise.db_client`` logger) must not grow.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.console.pages_dashboard import QUEUE_SHOWN
from bot.settings import Settings
from tests.integration.load_world import ITEM, StatementLog, World, fetch, open_world

LIST_ROUTES = [
    "/api/v1/items",
    "/api/v1/items?channel=website",
    "/api/v1/items?limit=500",
    "/console/",
    "/console/items",
    "/console/items?channel=noticeboard",
]


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    async with open_world(settings) as opened:
        yield opened


async def publish(world: World, count: int) -> None:
    """Queue ``count`` items for the site and the notice board, publish them, and post
    every other notice (so lists show postings, attempts and both delivery states)."""
    boards: list[int] = []
    for n in range(count):
        item = {**ITEM, "title": f"{ITEM['title']}（{n}）"}
        created = await world.api.post("/api/v1/items", json=item, headers=world.token)
        assert created.status_code == 201, created.text
        boards += [d["id"] for d in created.json()["deliveries"] if d["channel"] == "noticeboard"]
    await world.runtime.dispatcher.run_until_idle(limit_seconds=120)
    for board in boards[::2]:
        posted = await world.api.post(
            f"/api/v1/deliveries/{board}/posted",
            json={"location": "乡政府公开栏", "posted_by": "李明", "period_days": 7},
            headers=world.token,
        )
        assert posted.status_code == 200, posted.text


async def counts(world: World) -> dict[str, int]:
    log = StatementLog()
    found = {}
    for path in LIST_ROUTES:
        client = world.api if path.startswith("/api/") else world.console
        await fetch(client, path, world)  # warm: sessions, caches
        with log.capture() as statements:
            await fetch(client, path, world)
        found[path] = len(statements)
    return found


async def test_list_routes_do_not_query_per_row(world: World) -> None:
    """5 rows or 50 rows: the same number of statements for every list route."""
    await publish(world, 5)
    few = await counts(world)
    await publish(world, 45)
    listed = await world.api.get("/api/v1/items?limit=500", headers=world.token)
    assert listed.json()["total"] == 50
    many = await counts(world)
    grown = {path: (few[path], many[path]) for path in LIST_ROUTES if many[path] > few[path]}
    assert not grown, f"statements at 5 and at 50 rows: {grown}"


async def test_the_dashboard_lists_the_earliest_of_a_busy_day_and_counts_the_rest(
    world: World,
) -> None:
    """More items planned today than the dashboard lists: the first ones by time are shown,
    the header counts them all, and the rest are pointed to the item list."""
    shown = QUEUE_SHOWN
    for n in range(shown + 3):
        item = {**ITEM, "title": f"今日第{n:02d}条", "channels": ["website"]}
        created = await world.api.post("/api/v1/items", json=item, headers=world.token)
        assert created.status_code == 201, created.text
    page = (await fetch(world.console, "/console/", world)).text
    queue = page.split('id="queue-h"', 1)[1].split("</section>", 1)[0]
    assert [f"今日第{n:02d}条" in queue for n in range(shown + 3)] == [True] * shown + [False] * 3
    assert f'<span class="big">{shown + 3}</span> 今日计划发布' in page
    assert "另有 3 条今日计划发布的信息" in queue
