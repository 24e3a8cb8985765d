"""No read route scans a large table (PostgreSQL): EXPLAIN of every statement they run.

A realistic dataset is generated with INSERT … SELECT generate_series: 500 townships,
20,000 items, 60,000 deliveries with their attempts, ledger rows and postings, then
ANALYZE, so the planner's choices are the ones it makes on a real server (no
``enable_seqscan`` tricks). The template rows are made through the API and the
dispatcher first, and every generated row copies all of its template's columns but the
few it varies, so columns added later need no change here.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest

from bot.settings import Settings
from storage.db import connection
from tests.integration.load_world import StatementLog, World, fetch, open_world, publish_one

TOWNSHIPS = 500
ITEMS = 20_000
LARGE_ROWS = 10_000  # a table with more rows than this must not be read whole


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    if not settings.effective_database_url.startswith("postgres"):
        pytest.skip("query plans are checked on PostgreSQL")
    async with open_world(settings) as opened:
        yield opened


async def _columns(table: str) -> list[str]:
    rows = await connection().execute_query_dict(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
        [table],
    )
    return [str(r["column_name"]) for r in rows]


async def _copy(table: str, template: str, varied: dict[str, str], source: str) -> None:
    """INSERT INTO table SELECT the template row's columns, with ``varied`` expressions."""
    columns = [c for c in await _columns(table) if c != "id"]
    select = ", ".join(varied.get(c, f't."{c}"') for c in columns)
    names = ", ".join(f'"{c}"' for c in columns)
    sql = f'INSERT INTO "{table}" ({names}) SELECT {select} FROM "{table}" t, {source} '  # noqa: S608
    await connection().execute_script(sql + f"WHERE t.id = {int(template)}")


async def generate(world: World, template_item: int) -> None:
    """Grow the database around one published item to a province's everyday size."""
    one = await connection().execute_query_dict(
        "SELECT d.channel, d.id AS delivery, a.id AS attempt, p.id AS publication, "
        "g.id AS posting FROM delivery d "
        "LEFT JOIN delivery_attempt a ON a.delivery_id = d.id "
        "LEFT JOIN publication p ON p.delivery_id = d.id "
        "LEFT JOIN posting g ON g.delivery_id = d.id WHERE d.item_id = $1",
        [template_item],
    )
    web = next(r for r in one if r["channel"] == "website")
    board = next(r for r in one if r["channel"] == "noticeboard" and r["posting"])
    await _copy(
        "organization",
        str(world.tiande.id),
        {"code": "'g' || n", "name": "'第' || n || '乡人民政府'"},
        f"generate_series(1, {TOWNSHIPS}) n",
    )
    # Items spread over every township and tiande, one every 20 minutes back in time.
    await _copy(
        "item",
        str(template_item),
        {
            "organization_id": f"(SELECT id FROM organization WHERE code = CASE "  # noqa: S608
            f"WHEN n % {TOWNSHIPS + 1} = 0 THEN 'tiande' ELSE 'g' || (n % {TOWNSHIPS + 1}) END)",
            "index_no": "'gen/' || n",
            "lineage_id": "NULL",
            "publish_at": "t.publish_at - n * interval '20 minutes'",
            "created_at": "t.created_at - n * interval '20 minutes'",
        },
        f"generate_series(1, {ITEMS}) n",
    )
    generated = "(SELECT id AS item_id FROM item WHERE index_no LIKE 'gen/%') i"
    channels = "(VALUES ('website'), ('noticeboard'), ('wechat')) c(ch)"
    await _copy(
        "delivery",
        str(web["delivery"]),
        {
            "item_id": "i.item_id",
            "channel": "c.ch",
            "idempotency_key": "md5(i.item_id || c.ch)",
            "state": "CASE WHEN i.item_id % 97 = 0 THEN 'failed' ELSE 'published' END",
            "url": "'http://site.test/' || i.item_id || '/' || c.ch",
        },
        f"{generated}, {channels}",
    )
    deliveries = (
        "(SELECT d.id AS delivery_id, d.item_id, d.channel FROM delivery d "
        "JOIN item ON item.id = d.item_id WHERE item.index_no LIKE 'gen/%') d"
    )
    await _copy(
        "delivery_attempt",
        str(web["attempt"]),
        {"delivery_id": "d.delivery_id"},
        deliveries,
    )
    await _copy(
        "publication",
        str(web["publication"]),
        {
            "delivery_id": "d.delivery_id",
            "item_id": "d.item_id",
            "lineage_id": "d.item_id",
            "channel": "d.channel",
            "organization_id": "(SELECT organization_id FROM item WHERE id = d.item_id)",
        },
        deliveries.replace("WHERE", "WHERE d.channel <> 'wechat' AND"),
    )
    await _copy(
        "posting",
        str(board["posting"]),
        {"delivery_id": "d.delivery_id"},
        deliveries.replace("WHERE", "WHERE d.channel = 'noticeboard' AND"),
    )
    await connection().execute_script("ANALYZE")


def _scans(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _scans(child)


async def test_no_read_route_scans_a_large_table(world: World, settings: Settings) -> None:
    """The item, the lists, the dashboard, the items page and the report use indexes."""
    template = await publish_one(world)
    await generate(world, template)
    sizes = await connection().execute_query_dict(
        "SELECT relname, reltuples::bigint AS n FROM pg_class "
        "WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace"
    )
    large = {str(r["relname"]) for r in sizes if int(r["n"]) > LARGE_ROWS}
    assert {"item", "delivery", "delivery_attempt", "publication", "posting"} <= large

    log = StatementLog()
    explained = 0
    problems: list[str] = []
    conn = await asyncpg.connect(settings.effective_database_url)
    try:
        for client, path in world.read_routes(template):
            with log.capture() as statements:
                await fetch(client, path, world)
            for statement in statements:
                if not statement.sql.lstrip().upper().startswith(("SELECT", "WITH")):
                    continue
                plan = json.loads(
                    await conn.fetchval(f"EXPLAIN (FORMAT JSON) {statement.sql}", *statement.values)
                )[0]["Plan"]
                explained += 1
                for node in _scans(plan):
                    if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in large:
                        problems.append(
                            f"{path}: Seq Scan on {node['Relation Name']} in {statement.sql}"
                        )
    finally:
        await conn.close()
    assert explained >= len(world.read_routes(template))
    assert not problems, "\n".join(problems)
