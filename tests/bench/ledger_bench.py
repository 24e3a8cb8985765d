"""Ledger tally on PostgreSQL: storage.ledger.channel_tally versus a bare count of the same rows.

The ledger is filled in SQL with generate_series (organizations, items, deliveries and
publications, all with valid foreign keys), vacuumed and analyzed, then both queries run
interleaved through storage.db.fetch_all so that only the SQL differs.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Awaitable, Callable

import asyncpg

from storage.db import close_database, fetch_all, open_database
from storage.ledger import channel_tally
from tests.bench import Figure, median, reset_bench_database, verdict

WEBSITE, WECHAT = "website", "wechat"  # the candidate query names them; the ledger asks

ORGANIZATIONS = 20
YEARS = (2021, 2022, 2023, 2024, 2025)
RUNS = 15
WARMUP = 3
TARGET_MS = 200.0
TARGET_RATIO = 5.0
# (organization, year) pairs the timed runs cycle through.
SAMPLES = ((3, 2022), (7, 2023), (12, 2024), (17, 2025), (20, 2021))

COUNT_SQL = (
    "SELECT count(*) AS n FROM publication "
    "WHERE organization_id = ? AND local_date >= ? AND local_date < ?"
)

# Candidate for storage/ledger.py: one hash aggregate per lineage instead of five sorts.
GROUPED_TALLY_SQL = """
SELECT COUNT(*) AS total, SUM(n) AS normative, SUM(w) AS website, SUM(c) AS wechat,
       SUM(o) AS other
FROM (SELECT lineage_id,
             MAX(CASE WHEN normative THEN 1 ELSE 0 END) AS n,
             MAX(CASE WHEN channel = ? THEN 1 ELSE 0 END) AS w,
             MAX(CASE WHEN channel = ? THEN 1 ELSE 0 END) AS c,
             MAX(CASE WHEN channel NOT IN (?, ?) THEN 1 ELSE 0 END) AS o
      FROM publication
      WHERE organization_id = ? AND local_date >= ? AND local_date < ?
      GROUP BY lineage_id) AS per_lineage
"""
# Candidate for storage/models.py: every column the tally reads is in the index, so it is
# an index-only scan (Tortoise indexes have no INCLUDE, and SQLite has none either).
WIDE_INDEX_SQL = (
    "CREATE INDEX bench_publication_tally "
    "ON publication (organization_id, local_date, lineage_id, channel, normative)"
)

# Item g belongs to organization (g-1) % orgs + 1 and is that organization's k-th item,
# k = (g-1) / orgs. Items are laid out year by year, evenly over the days of each year.
# Every tenth item (k % 10 = 5) is revision 2 of the organization's previous item, so
# revisions share a lineage. Each item has two deliveries, both published, on one of
# three channel pairs; delivery and publication ids are 2g-1 and 2g.
FILL_SQL = """
INSERT INTO organization (id, code, name, area_word, first_report_year, created_at)
SELECT o, 'org' || o, '第' || o || '乡人民政府', '', 2008, now()
FROM generate_series(1, $orgs) AS o;

INSERT INTO item (id, organization_id, index_no, lineage_id, revision, supersedes_id, title,
                  body_md, body_html, summary, category, doc_number, normative, formed_on,
                  publish_at, channels, status, author, priority, urgent, imported, created_at,
                  updated_at)
SELECT g, org, 'B-' || lineage, lineage, CASE WHEN rev THEN 2 ELSE 1 END,
       CASE WHEN rev THEN lineage END, '第' || g || '号通知', '正文。', '<p>正文。</p>', '',
       '', '', g % 7 = 0, NULL, at, '["website", "wechat"]', 'active', 'bench', 0, false,
       false, at, at
FROM (
    SELECT g, org, rev, CASE WHEN rev THEN g - $orgs ELSE g END AS lineage,
           make_timestamptz($first_year + k / $per_year, 1, 1, 9, 0, 0, 'Asia/Shanghai')
             + ((k % $per_year) * 365 / $per_year) * interval '1 day' AS at
    FROM (
        SELECT g, (g - 1) % $orgs + 1 AS org, (g - 1) / $orgs AS k,
               ((g - 1) / $orgs) % 10 = 5 AS rev
        FROM generate_series(1, $items) AS g
    ) AS numbered
) AS laid_out;

INSERT INTO delivery (id, item_id, channel, state, step, attempts, idempotency_key, prepared,
                      priority, published_at, created_at, updated_at)
SELECT 2 * i.id - 1 + s, i.id, (ARRAY['website', 'wechat', 'noticeboard'])[1 + (i.id + s) % 3],
       'published', 'confirm', 1, md5(i.id::text || '/' || s), '{}', 0, i.publish_at,
       i.publish_at, i.publish_at
FROM item AS i CROSS JOIN generate_series(0, 1) AS s;

INSERT INTO publication (id, organization_id, item_id, lineage_id, delivery_id, channel,
                         normative, local_date, published_at, imported)
SELECT d.id, i.organization_id, i.id, i.lineage_id, d.id, d.channel, i.normative,
       (d.published_at AT TIME ZONE 'Asia/Shanghai')::date, d.published_at, false
FROM delivery AS d JOIN item AS i ON i.id = d.item_id;

SELECT setval('organization_id_seq', $orgs);
SELECT setval('item_id_seq', $items);
SELECT setval('delivery_id_seq', 2 * $items);
SELECT setval('publication_id_seq', 2 * $items);
"""


def fill_sql(rows: int) -> str:
    """The fill script for ``rows`` ledger rows, with its sizes written in."""
    items = rows // 2
    per_year = -(-items // (ORGANIZATIONS * len(YEARS)))
    values = {
        "$orgs": ORGANIZATIONS,
        "$items": items,
        "$per_year": per_year,
        "$first_year": YEARS[0],
    }
    sql = FILL_SQL
    for name, value in values.items():
        sql = sql.replace(name, str(value))
    return sql


async def fill(url: str, rows: int) -> float:
    """Fill the migrated bench database with ``rows`` ledger rows; returns seconds."""
    started = time.perf_counter()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(fill_sql(rows))
        await conn.execute("VACUUM (ANALYZE) organization, item, delivery, publication")
    finally:
        await conn.close()
    return time.perf_counter() - started


def year_bounds(year: int) -> tuple[dt.date, dt.date]:
    """The first day of ``year`` and of the year after."""
    return dt.date(year, 1, 1), dt.date(year + 1, 1, 1)


async def tally_once(org: int, year: int) -> None:
    """One call of the real ledger tally."""
    await channel_tally(org, year)


async def count_once(org: int, year: int) -> None:
    """One bare count over the same rows, through the same fetch_all path."""
    await fetch_all(COUNT_SQL, org, *year_bounds(year))


async def grouped_once(org: int, year: int) -> None:
    """One call of the candidate GROUP BY tally."""
    await fetch_all(GROUPED_TALLY_SQL, WEBSITE, WECHAT, WEBSITE, WECHAT, org, *year_bounds(year))


async def timed(query: Callable[[int, int], Awaitable[None]], org: int, year: int) -> float:
    """Milliseconds of one call of ``query``."""
    started = time.perf_counter()
    await query(org, year)
    return (time.perf_counter() - started) * 1000


async def compare(
    first: Callable[[int, int], Awaitable[None]], second: Callable[[int, int], Awaitable[None]]
) -> tuple[float, float]:
    """Median ms of both queries, interleaved over the sample pairs after a warm-up."""
    times: tuple[list[float], list[float]] = ([], [])
    for run in range(WARMUP + RUNS):
        org, year = SAMPLES[run % len(SAMPLES)]
        pair = (await timed(first, org, year), await timed(second, org, year))
        if run >= WARMUP:
            times[0].append(pair[0])
            times[1].append(pair[1])
    return median(times[0]), median(times[1])


async def rows_per_sample() -> int:
    """Ledger rows behind one sample's tally (they are all the same size)."""
    org, year = SAMPLES[0]
    rows = await fetch_all(COUNT_SQL, org, *year_bounds(year))
    return int(rows[0]["n"])


def ratio_line(label: str, tally_ms: float, count_ms: float) -> Figure:
    """Print one query's median against its bare count and return its summary row."""
    ratio = tally_ms / count_ms
    fast, close = tally_ms < TARGET_MS, ratio <= TARGET_RATIO
    both = verdict(fast and close)
    print(f"{label:44} {tally_ms:7.2f} ms  count {count_ms:5.2f} ms  {ratio:5.2f}x  {both}")
    return Figure(
        f"ledger/{label}", "ms, x count", f"{tally_ms:.2f}, {ratio:.2f}x", "<200, <=5x", both
    )


async def same_answers() -> bool:
    """Whether the candidate GROUP BY tally gives channel_tally's numbers on every sample."""
    for org, year in SAMPLES:
        expected = (await channel_tally(org, year)).as_dict()
        args = (WEBSITE, WECHAT, WEBSITE, WECHAT, org, *year_bounds(year))
        row = (await fetch_all(GROUPED_TALLY_SQL, *args))[0]
        if {key: int(row[key] or 0) for key in expected} != expected:
            return False
    return True


async def add_wide_index(url: str) -> str:
    """Create the candidate wide index, vacuum, and return its size."""
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(WIDE_INDEX_SQL)
        await conn.execute("VACUUM (ANALYZE) publication")
        size = await conn.fetchval(
            "SELECT pg_size_pretty(pg_relation_size('bench_publication_tally'))"
        )
    finally:
        await conn.close()
    return str(size)


async def explore(url: str) -> list[Figure]:
    """Measure the candidate query shape and wide index against the same bare count."""
    print("\ncandidates (not in storage/; same data, same bare count):")
    print(f"GROUP BY shape gives the same numbers: {await same_answers()}")
    figures = [ratio_line("GROUP BY shape", *await compare(grouped_once, count_once))]
    size = await add_wide_index(url)
    print(f"wide index created ({size}); the bare count keeps its 2-column index")
    figures.append(ratio_line("current SQL + wide index", *await compare(tally_once, count_once)))
    figures.append(
        ratio_line("GROUP BY shape + wide index", *await compare(grouped_once, count_once))
    )
    return figures


async def main(rows: int, *, candidates: bool = True) -> list[Figure]:
    """Fill the ledger, time the tally against the bare count, print and return figures."""
    url = await reset_bench_database()
    await open_database(url)  # applies the migrations to the empty schema
    try:
        fill_seconds = await fill(url, rows)
        per_sample = await rows_per_sample()
        tally_ms, count_ms = await compare(tally_once, count_once)
        figures = report(rows, fill_seconds, per_sample, tally_ms, count_ms)
        if candidates:
            figures += await explore(url)
    finally:
        await close_database()
    return figures


def report(
    rows: int, fill_seconds: float, per_sample: int, tally_ms: float, count_ms: float
) -> list[Figure]:
    """Print the main ledger figures and return their summary rows."""
    ratio = tally_ms / count_ms
    fast, close = tally_ms < TARGET_MS, ratio <= TARGET_RATIO
    print(f"\n== ledger on postgres: {rows:,} rows, {ORGANIZATIONS} orgs x {len(YEARS)} years ==")
    print(f"filled in {fill_seconds:.1f} s; {per_sample:,} rows per organization-year")
    print(f"median of {RUNS} interleaved runs after {WARMUP} warm-up, cycling {len(SAMPLES)} pairs")
    print(f"channel_tally : {tally_ms:8.2f} ms  target < {TARGET_MS:.0f} ms: {verdict(fast)}")
    print(f"bare count(*) : {count_ms:8.2f} ms  (baseline)")
    print(f"ratio         : {ratio:8.2f}x    target <= {TARGET_RATIO:.0f}x: {verdict(close)}")
    return [
        Figure("ledger/postgres", "channel_tally ms", f"{tally_ms:.2f}", "< 200", verdict(fast)),
        Figure("ledger/postgres", "bare count ms", f"{count_ms:.2f}"),
        Figure("ledger/postgres", "tally/count", f"{ratio:.2f}", "<= 5", verdict(close)),
    ]
