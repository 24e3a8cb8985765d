"""The audit log: append a record, read records back; there is no way to change or delete one."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable, Collection
from dataclasses import dataclass, field
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.queryset import QuerySet
from tortoise.transactions import in_transaction

from storage import audit_chain
from storage.console_models import AuditEvent

__all__ = ["AuditFilter", "Change", "changing", "count", "list_events", "record"]


async def record(
    action: str,
    *,
    user_id: int | None = None,
    username: str = "",
    token_id: int | None = None,
    organization_id: int | None = None,
    target: str = "",
    detail: dict[str, Any] | None = None,
    ip: str = "",
    outcome: str = "ok",
    using_db: BaseDBAsyncClient | None = None,
) -> AuditEvent:
    """Append one event, stamped now (UTC): who (a console user, or an API token by id and
    name), in which organization, what to what, from where, and the outcome (ok, or why
    nothing changed: denied, conflict). ``using_db``: inside the change's transaction."""
    event = AuditEvent(
        at=dt.datetime.now(dt.UTC),
        user_id=user_id,
        username=username[:64],
        token_id=token_id,
        organization_id=organization_id,
        action=action[:64],
        target=target[:200],
        detail=detail or {},
        ip=ip[:64],
        outcome=outcome[:16],
    )
    return await audit_chain.append(event, using_db)


@dataclass(slots=True)
class Change:
    """The audit row of a change in progress: the code inside ``changing`` may fill in
    the organization, the target and the detail once it knows them."""

    organization_id: int | None
    target: str
    detail: dict[str, Any] = field(default_factory=dict)


@contextlib.asynccontextmanager
async def changing(
    action: str,
    *,
    user_id: int | None = None,
    username: str = "",
    token_id: int | None = None,
    organization_id: int | None = None,
    target: str = "",
    detail: dict[str, Any] | None = None,
    ip: str = "",
    refused: Callable[[Exception], str | None] | None = None,
) -> AsyncIterator[Change]:
    """Run a change and write its audit row in one database transaction: both or neither.

    If the change raises and ``refused`` names an outcome for the exception (a refusal
    such as "denied" or "conflict"), the attempt is recorded in a small transaction of
    its own after the rollback, and the exception goes on.
    """
    change = Change(organization_id=organization_id, target=target, detail=dict(detail or {}))
    who: dict[str, Any] = {"user_id": user_id, "username": username, "token_id": token_id}
    try:
        async with in_transaction() as conn:
            yield change
            await record(
                action,
                **who,
                organization_id=change.organization_id,
                target=change.target,
                detail=change.detail,
                ip=ip,
                using_db=conn,
            )
    except Exception as exc:
        outcome = refused(exc) if refused is not None else None
        if outcome is None:
            raise
        async with in_transaction() as conn:
            await record(
                action,
                **who,
                organization_id=change.organization_id,
                target=change.target,
                detail={**change.detail, "refused": _reason(exc)},
                ip=ip,
                outcome=outcome,
                using_db=conn,
            )
        raise


def _reason(exc: Exception) -> str:
    detail = getattr(exc, "detail", None)
    return str(detail if isinstance(detail, str) else exc)[:300]


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
