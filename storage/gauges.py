"""The figures ``/metrics`` reports, read from the database so they cover every worker."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from storage import outbox
from storage.db import fetch_all
from storage.delivery import CLAIMABLE, NEEDS_A_PERSON, State
from storage.models import Delivery

__all__ = ["Gauges", "read_gauges"]

BEIJING = ZoneInfo("Asia/Shanghai")
MONTHLY_BROADCASTS = 4  # service accounts (channels.wechat keeps the same figure)
_HELD_UP = sorted({State.RETRY_WAIT, *NEEDS_A_PERSON, State.FAILED})


@dataclass(frozen=True)
class Gauges:
    deliveries: list[tuple[str, str, int]]  # channel, state, count
    due_unclaimed: int
    oldest_due_seconds: float
    accepted_unconfirmed: int
    errors: list[tuple[str, str, int]]  # channel, error code, deliveries held up by it
    broadcasts_left: list[tuple[str, int]]  # organization code, WeChat broadcasts left


async def read_gauges(now: dt.datetime, *, lease_seconds: float) -> Gauges:
    """One reading of every database gauge, at ``now``."""
    return Gauges(
        deliveries=await _by_state(),
        due_unclaimed=await outbox.count_overdue(now, grace_seconds=lease_seconds),
        oldest_due_seconds=await _oldest_due(now),
        accepted_unconfirmed=await outbox.count_unconfirmed(now, grace_seconds=86400),
        errors=await _errors(),
        broadcasts_left=await _broadcasts_left(now),
    )


async def _by_state() -> list[tuple[str, str, int]]:
    rows = await fetch_all(
        "SELECT channel, state, COUNT(*) AS n FROM delivery GROUP BY channel, state"
    )
    return sorted((r["channel"], r["state"], int(r["n"])) for r in rows)


async def _oldest_due(now: dt.datetime) -> float:
    """How long the longest-waiting due delivery has waited (0 when none is due)."""
    due = (
        await Delivery.filter(state__in=CLAIMABLE, next_attempt_at__lte=now)
        .order_by("next_attempt_at")
        .first()
        .values_list("next_attempt_at", flat=True)
    )
    if not isinstance(due, dt.datetime):
        return 0.0
    return max(0.0, (now - due).total_seconds())


async def _errors() -> list[tuple[str, str, int]]:
    marks = ", ".join("?" for _ in _HELD_UP)
    rows = await fetch_all(
        f"SELECT channel, last_error_code AS code, COUNT(*) AS n FROM delivery "  # noqa: S608
        f"WHERE state IN ({marks}) AND last_error_code IS NOT NULL "
        f"GROUP BY channel, last_error_code",
        *_HELD_UP,
    )
    return sorted((r["channel"], str(r["code"]), int(r["n"])) for r in rows)


async def _broadcasts_left(now: dt.datetime) -> list[tuple[str, int]]:
    """WeChat mass sends each enabled account has left: today (subscription accounts, one
    a day) or this month (service accounts, four), counted from our own accepted jobs."""
    today = now.astimezone(BEIJING).date()
    rows = await fetch_all(
        "SELECT o.code AS org, a.kind AS kind, "
        "SUM(CASE WHEN j.local_date >= ? THEN 1 ELSE 0 END) AS today, COUNT(j.id) AS month "
        "FROM wechat_account a JOIN organization o ON o.id = a.organization_id "
        "LEFT JOIN wechat_job j ON j.app_id = a.app_id AND j.mode = 'broadcast' "
        "AND j.msg_id IS NOT NULL AND j.local_date >= ? "
        "WHERE a.enabled GROUP BY o.code, a.kind",
        today,
        today.replace(day=1),
    )
    left = []
    for row in rows:
        if row["kind"] == "service":
            left.append((row["org"], max(0, MONTHLY_BROADCASTS - int(row["month"] or 0))))
        else:
            left.append((row["org"], max(0, 1 - int(row["today"] or 0))))
    return sorted(left)
