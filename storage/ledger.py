"""The publication ledger's clock and its queries.

A year is a year of Asia/Shanghai dates: an item published at 23:30 on 31 December
Beijing time (15:30 UTC) belongs to that year. Counts are always computed from ledger
rows, never kept in counters.

Which channel counts in which bucket (政府网站 / 政务微信 / 其他方式) is the channel
registry's to say (``channels.registry``); a ledger row whose ``counted`` is false (a
message to an internal group, for instance) is proof of publication but not 公开.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from zoneinfo import ZoneInfo

from channels.registry import bucket_channels
from channels.spec import BUCKET_LABELS, ReportBucket
from storage.db import fetch_all

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")
WECHAT = "wechat"  # the WeChat reach query reads WeChat's own job table


def local_date(moment: dt.datetime) -> dt.date:
    """The Asia/Shanghai calendar date of an aware moment."""
    if moment.tzinfo is None:
        raise ValueError("local_date needs an aware datetime")
    return moment.astimezone(BUSINESS_TZ).date()


def local_today(now: dt.datetime | None = None) -> dt.date:
    return local_date(now or dt.datetime.now(dt.UTC))


@dataclass(frozen=True, slots=True)
class ChannelTally:
    """One organization's year: items published, and items per channel bucket.

    An item counts once in ``total`` however many channels carried it
    (不同渠道和方式公开相同信息计1条), and once in each channel that carried it.
    """

    total: int
    normative: int
    website: int
    wechat: int
    other: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


_BUCKETS: tuple[ReportBucket, ...] = tuple(BUCKET_LABELS)  # the report's three, in order


def _in(channels: tuple[str, ...]) -> str:
    """An ``IN (?, …)`` list (never empty: a bucket without channels matches nothing)."""
    return "IN (" + ", ".join("?" for _ in channels) + ")" if channels else "IN (NULL)"


def _tally_query(organization_id: int, year: int) -> tuple[str, list[object]]:
    columns = [
        "COUNT(DISTINCT lineage_id) AS total",
        "COUNT(DISTINCT CASE WHEN normative THEN lineage_id END) AS normative",
    ]
    params: list[object] = []
    for bucket in _BUCKETS:
        channels = bucket_channels(bucket)
        columns.append(
            f"COUNT(DISTINCT CASE WHEN channel {_in(channels)} THEN lineage_id END) AS {bucket}"
        )
        params += channels
    counted = tuple(c for bucket in _BUCKETS for c in bucket_channels(bucket))
    # Only placeholders and the registry's bucket names are put into the text.
    sql = (
        f"SELECT {', '.join(columns)} FROM publication "  # noqa: S608
        "WHERE organization_id = ? AND local_date >= ? AND local_date < ? "
        f"AND counted AND channel {_in(counted)}"
    )
    params += [organization_id, dt.date(year, 1, 1), dt.date(year + 1, 1, 1), *counted]
    return sql, params


async def channel_tally(organization_id: int, year: int) -> ChannelTally:
    """Count the organization's published items in ``year`` from the ledger: the rows
    that count, of channels the registry gives a report bucket."""
    sql, params = _tally_query(organization_id, year)
    rows = await fetch_all(sql, *params)
    row = rows[0]
    return ChannelTally(**{key: int(row[key] or 0) for key in ChannelTally.__slots__})


_BACKFILLED_SQL = """
SELECT COUNT(DISTINCT lineage_id) AS backfilled
FROM publication
WHERE organization_id = ? AND imported AND local_date >= ? AND local_date < ?
"""


async def backfilled_items(organization_id: int, year: int) -> int:
    """Items of the year's tally that were entered by 补录 rather than published here."""
    rows = await fetch_all(
        _BACKFILLED_SQL, organization_id, dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
    )
    return int(rows[0]["backfilled"] or 0)


async def items_counted(
    organization_id: int,
    year: int,
    *,
    channel_bucket: ReportBucket | None = None,
    normative_only: bool = False,
) -> list[int]:
    """The lineage ids behind one tally number, so each number can link to its items."""
    sql = (
        "SELECT DISTINCT lineage_id FROM publication WHERE organization_id = ? "
        "AND local_date >= ? AND local_date < ?"
    )
    params: list[object] = [organization_id, dt.date(year, 1, 1), dt.date(year + 1, 1, 1)]
    if normative_only:
        sql += " AND normative"
    chosen = _BUCKETS if channel_bucket is None else (channel_bucket,)
    channels = tuple(c for bucket in chosen for c in bucket_channels(bucket))
    sql += f" AND counted AND channel {_in(channels)}"
    params += channels
    rows = await fetch_all(sql + " ORDER BY lineage_id", *params)
    return [int(row["lineage_id"]) for row in rows]


_REACH_SQL = """
SELECT COALESCE(SUM(sent_count), 0) AS sent, COALESCE(SUM(total_count), 0) AS audience
FROM wechat_job
WHERE mode = 'broadcast' AND batch_key IN (
    SELECT DISTINCT d.batch_key FROM publication p JOIN delivery d ON d.id = p.delivery_id
    WHERE p.organization_id = ? AND p.channel = ? AND p.local_date >= ? AND p.local_date < ?
)
"""


async def wechat_reach(organization_id: int, year: int) -> tuple[int, int]:
    """Followers reached by the year's broadcasts (SentCount) and their audience (TotalCount)."""
    rows = await fetch_all(
        _REACH_SQL, organization_id, WECHAT, dt.date(year, 1, 1), dt.date(year + 1, 1, 1)
    )
    return int(rows[0]["sent"] or 0), int(rows[0]["audience"] or 0)
