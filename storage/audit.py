"""The audit log: append a record, read records back; there is no way to change or delete one."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from tortoise.queryset import QuerySet

from storage.console_models import AuditEvent

__all__ = ["AuditFilter", "count", "list_events", "record"]


async def record(
    action: str,
    *,
    user_id: int | None = None,
    username: str = "",
    organization_id: int | None = None,
    target: str = "",
    detail: dict[str, Any] | None = None,
    ip: str = "",
) -> AuditEvent:
    """Append one event, stamped now (UTC)."""
    return await AuditEvent.create(
        at=dt.datetime.now(dt.UTC),
        user_id=user_id,
        username=username[:64],
        organization_id=organization_id,
        action=action[:64],
        target=target[:200],
        detail=detail or {},
        ip=ip[:64],
    )


@dataclass(frozen=True, slots=True)
class AuditFilter:
    """What to show: organizations in scope (None: all) and optional narrowing."""

    org_ids: Collection[int] | None
    action: str = ""  # exact action, or a prefix ending in "." (login.)
    username: str = ""
    since: dt.datetime | None = None  # inclusive
    until: dt.datetime | None = None  # exclusive


def _query(flt: AuditFilter) -> QuerySet[AuditEvent]:
    query = AuditEvent.all()
    if flt.org_ids is not None:
        query = query.filter(organization_id__in=list(flt.org_ids))
    if flt.action.endswith("."):
        query = query.filter(action__startswith=flt.action)
    elif flt.action:
        query = query.filter(action=flt.action)
    if flt.username:
        query = query.filter(username=flt.username)
    if flt.since is not None:
        query = query.filter(at__gte=flt.since)
    if flt.until is not None:
        query = query.filter(at__lt=flt.until)
    return query


async def list_events(flt: AuditFilter, *, limit: int = 50, offset: int = 0) -> list[AuditEvent]:
    """The matching events, newest first."""
    return await _query(flt).order_by("-at", "-id").offset(offset).limit(limit)


async def count(flt: AuditFilter) -> int:
    """How many events match."""
    return await _query(flt).count()
