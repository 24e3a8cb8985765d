"""Server-side console sessions: the browser holds a random id, the database the rest.

Only the SHA-256 of the id is stored, so a copy of the table does not sign anyone in.
Ending a session is final: the row keeps ``ended_at`` and the reason for the record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from storage.console_models import ConsoleSession

ID_BYTES = 32
# Why a session ended, as the audit log and the session list show it.
END_REASONS = {
    "logout": "退出登录",
    "idle": "长时间未操作",
    "expired": "超过最长登录时间",
    "ended_by_user": "本人结束",
    "password_changed": "修改密码",
    "password_reset": "管理员重置密码",
    "ended_by_admin": "管理员结束",
    "deactivated": "账号停用",
    "replaced": "重新登录",
}


def new_id() -> str:
    """A fresh random session id for the cookie."""
    return secrets.token_urlsafe(ID_BYTES)


def key_hash(session_id: str) -> str:
    """What the table stores for an id."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def looks_like_id(value: str | None) -> bool:
    """Whether a cookie value could be an id we issued (anything else is not looked up)."""
    return (
        bool(value)
        and 20 <= len(value or "") <= 64
        and all(c.isascii() and (c.isalnum() or c in "-_") for c in value or "")
    )


@dataclass(frozen=True, slots=True)
class Lifetimes:
    """How long a session may idle, and how long it may live at most."""

    idle_seconds: float
    max_seconds: float

    def dead_reason(self, row: ConsoleSession, now: dt.datetime) -> str:
        """Why ``row`` is no longer live at ``now`` ("" when it still is)."""
        if row.ended_at is not None:
            return row.end_reason or "ended"
        if (now - row.created_at).total_seconds() > self.max_seconds:
            return "expired"
        if (now - row.last_seen_at).total_seconds() > self.idle_seconds:
            return "idle"
        return ""


async def find(session_id: str) -> ConsoleSession | None:
    """The session row for a cookie id (live or ended), or None."""
    return await ConsoleSession.get_or_none(key_hash=key_hash(session_id))


async def create(
    user_id: int, *, now: dt.datetime, ip: str, user_agent: str
) -> tuple[str, ConsoleSession]:
    """A new live session for the user: its cookie id and its row."""
    session_id = new_id()
    row = await ConsoleSession.create(
        key_hash=key_hash(session_id),
        user_id=user_id,
        created_at=now,
        last_seen_at=now,
        ip=ip[:64],
        last_ip=ip[:64],
        user_agent=user_agent[:300],
    )
    return session_id, row


async def touch(
    row: ConsoleSession, *, now: dt.datetime | None, ip: str, data: dict[str, Any] | None
) -> None:
    """Save the last-seen time and address (when ``now``), and the session's data if given."""
    changes: dict[str, Any] = {}
    if now is not None:
        changes.update(last_seen_at=now, last_ip=ip[:64])
    if data is not None:
        changes["data"] = data
    if changes:
        # Only a live row: a session ended meanwhile (another tab, an admin) stays ended.
        await ConsoleSession.filter(id=row.id, ended_at__isnull=True).update(**changes)


async def end(row_id: int, reason: str, *, now: dt.datetime) -> bool:
    """End one live session; False when it had already ended."""
    changed = await ConsoleSession.filter(id=row_id, ended_at__isnull=True).update(
        ended_at=now, end_reason=reason[:32], data={}
    )
    return changed > 0


async def end_for_user(
    user_id: int, reason: str, *, now: dt.datetime, keep: int | None = None
) -> int:
    """End every live session of the user (except ``keep``); how many were ended."""
    query = ConsoleSession.filter(user_id=user_id, ended_at__isnull=True)
    if keep is not None:
        query = query.exclude(id=keep)
    return await query.update(ended_at=now, end_reason=reason[:32], data={})


async def live_for_user(
    user_id: int, lifetimes: Lifetimes, *, now: dt.datetime
) -> list[ConsoleSession]:
    """The user's sessions that are still live, most recently used first."""
    rows = await ConsoleSession.filter(user_id=user_id, ended_at__isnull=True).order_by(
        "-last_seen_at", "-id"
    )
    return [row for row in rows if not lifetimes.dead_reason(row, now)]
