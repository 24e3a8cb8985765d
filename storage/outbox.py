"""The outbox: the only code that creates or changes Delivery rows.

Every change is a compare-and-set: ``UPDATE … WHERE id = ? AND state IN (the states
that may lead to the target)``, plus ``lease_owner = ?`` for a worker's own claim. An
update that matches no row raises ``TransitionRefused``; nothing is changed silently.
A delivery that becomes ``published`` gets its ledger row in the same transaction, and
the ledger's unique ``delivery_id`` makes a second row impossible.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from storage import wakeup
from storage.db import connection, is_postgres
from storage.delivery import CLAIMABLE, Decision, State, Step, predecessors
from storage.ledger import local_date
from storage.models import Delivery, DeliveryAttempt, Item, Posting, Publication


class TransitionRefused(Exception):
    """A delivery was not in a state (or lease) that allows the requested change."""

    def __init__(self, delivery_id: int, target: State, detail: str = "") -> None:
        super().__init__(f"delivery {delivery_id}: refused change to {target}{detail}")
        self.delivery_id = delivery_id
        self.target = target


@dataclass(frozen=True, slots=True)
class Claim:
    """Deliveries one worker holds until ``expires_at``; ``token`` proves the lease."""

    token: str
    delivery_ids: list[int]
    expires_at: dt.datetime


async def create_deliveries(
    item: Item, channels: Sequence[str], *, conn: BaseDBAsyncClient, held: bool = False
) -> list[Delivery]:
    """Create one pending delivery per channel; call inside the item's transaction.

    ``held`` (an item waiting for its 保密审查): no ``next_attempt_at``, so never claimed.
    Deliveries due now wake the workers when the transaction commits.
    """
    created = [
        await Delivery.create(
            item=item,
            channel=channel,
            state=State.PENDING,
            step=Step.PREPARE,
            next_attempt_at=None if held else item.publish_at,
            priority=item.priority,
            idempotency_key=uuid.uuid4().hex,  # 32 ASCII chars: fits WeChat's clientmsgid
            using_db=conn,
        )
        for channel in channels
    ]
    if created and not held and item.publish_at <= dt.datetime.now(dt.UTC):
        await wakeup.notify_due(conn)
    return created


async def release_held(item: Item, *, now: dt.datetime, conn: BaseDBAsyncClient) -> int:
    """Let the item's held deliveries go out at its publish time (or now, if that has passed)."""
    released: int = await (
        Delivery.filter(item_id=item.id, state=State.PENDING, next_attempt_at__isnull=True)
        .using_db(conn)
        .update(next_attempt_at=max(item.publish_at, now), updated_at=now)
    )
    if released and item.publish_at <= now:
        await wakeup.notify_due(conn)
    return released


async def drop_held(item_id: int, *, conn: BaseDBAsyncClient) -> int:
    """Delete the held, never-tried deliveries of an item whose text is edited before release."""
    return await (
        Delivery.filter(
            item_id=item_id, state=State.PENDING, next_attempt_at__isnull=True, attempts=0
        )
        .using_db(conn)
        .delete()
    )


async def claim(*, worker: str, now: dt.datetime, lease_seconds: float, limit: int) -> Claim:
    """Take up to ``limit`` due deliveries for ``worker``; each is claimed by one worker.

    On PostgreSQL the pick and the claim share a transaction with SKIP LOCKED, so workers
    never wait on each other. SQLite has no row locks, and a read-then-write transaction
    cannot wait for another process's write lock: there each statement stands alone and
    the compare-and-set UPDATE alone decides who gets a row.
    """
    token = f"{worker}/{secrets.token_hex(4)}"
    expires = now + dt.timedelta(seconds=lease_seconds)
    if is_postgres():
        async with in_transaction() as conn:
            ids = await _take(conn, token=token, now=now, expires=expires, limit=limit)
    else:
        ids = await _take(None, token=token, now=now, expires=expires, limit=limit)
    return Claim(token=token, delivery_ids=sorted(ids), expires_at=expires)


async def _take(
    conn: BaseDBAsyncClient | None,
    *,
    token: str,
    now: dt.datetime,
    expires: dt.datetime,
    limit: int,
) -> list[int]:
    due = (
        Delivery.filter(state__in=CLAIMABLE, next_attempt_at__lte=now)
        .order_by("-priority", "next_attempt_at", "id")
        .limit(limit)
    )
    if conn is not None:
        # .only(), not .values(): Tortoise drops FOR UPDATE from values() queries.
        due = due.using_db(conn).select_for_update(skip_locked=True)
    ids = [delivery.id for delivery in await due.only("id")]
    if not ids:
        return []
    update = Delivery.filter(id__in=ids, state__in=CLAIMABLE)
    held = Delivery.filter(id__in=ids, lease_owner=token, state=State.SENDING)
    if conn is not None:
        update, held = update.using_db(conn), held.using_db(conn)
    await update.update(
        state=State.SENDING,
        lease_owner=token,
        lease_expires_at=expires,
        attempts=F("attempts") + 1,
    )
    return [int(row["id"]) for row in await held.values("id")]


async def _change(
    delivery_id: int,
    target: State,
    *,
    conn: BaseDBAsyncClient | None = None,
    sources: Iterable[State] | None = None,
    lease_token: str | None = None,
    **values: Any,
) -> None:
    allowed = set(sources) if sources is not None else set(predecessors(target))
    query = Delivery.filter(id=delivery_id, state__in=sorted(allowed))
    if lease_token is not None:
        query = query.filter(lease_owner=lease_token)
    if conn is not None:
        query = query.using_db(conn)
    values.setdefault("updated_at", dt.datetime.now(dt.UTC))  # .update() skips auto_now
    if target is not State.SENDING:
        values.setdefault("lease_owner", None)
        values.setdefault("lease_expires_at", None)
    changed = await query.update(state=target, **values)
    if changed != 1:
        held = f" (lease {lease_token})" if lease_token else ""
        raise TransitionRefused(delivery_id, target, held)


async def assign_batch(delivery_ids: Sequence[int], *, batch_key: str, lease_token: str) -> None:
    """Record which held deliveries will be committed together, before the commit."""
    changed = await Delivery.filter(
        id__in=list(delivery_ids), state=State.SENDING, lease_owner=lease_token, batch_key=None
    ).update(batch_key=batch_key)
    if changed != len(delivery_ids):
        raise TransitionRefused(delivery_ids[0], State.SENDING, " (batch assignment lost)")


async def claim_more_for_batch(
    *,
    channel: str,
    organization_id: int,
    lease_token: str,
    now: dt.datetime,
    expires_at: dt.datetime,
    limit: int,
) -> list[int]:
    """Top a new batch up with the organization's other due deliveries on that channel,
    so a claim cut short by the worker's free slots does not split a day's broadcast."""
    due = (
        Delivery.filter(
            channel=channel,
            state__in=CLAIMABLE,
            next_attempt_at__lte=now,
            batch_key=None,
            item__organization_id=organization_id,
        )
        .order_by("-priority", "next_attempt_at", "id")
        .limit(limit)
    )
    ids = [delivery.id for delivery in await due.only("id")]
    if not ids:
        return []
    await Delivery.filter(id__in=ids, state__in=CLAIMABLE).update(
        state=State.SENDING,
        lease_owner=lease_token,
        lease_expires_at=expires_at,
        attempts=F("attempts") + 1,
    )
    held = Delivery.filter(id__in=ids, lease_owner=lease_token, state=State.SENDING)
    return sorted(delivery.id for delivery in await held.only("id"))


async def claim_batch_siblings(
    batch_key: str, *, lease_token: str, expires_at: dt.datetime
) -> list[int]:
    """Claim the rest of a batch so it is always committed whole, under the same lease."""
    await Delivery.filter(batch_key=batch_key, state__in=CLAIMABLE).update(
        state=State.SENDING,
        lease_owner=lease_token,
        lease_expires_at=expires_at,
        attempts=F("attempts") + 1,
    )
    held = Delivery.filter(batch_key=batch_key, lease_owner=lease_token, state=State.SENDING)
    return sorted(delivery.id for delivery in await held.only("id"))


async def save_prepared(delivery_id: int, *, lease_token: str, prepared: dict[str, Any]) -> None:
    """Store what prepare produced and move on to the commit step, keeping the lease."""
    changed = await Delivery.filter(
        id=delivery_id, state=State.SENDING, lease_owner=lease_token
    ).update(prepared=prepared, step=Step.COMMIT)
    if changed != 1:
        raise TransitionRefused(delivery_id, State.SENDING, " (lease lost before commit)")


async def log_attempt(
    delivery: Delivery,
    *,
    step: Step,
    outcome: str,
    started_at: dt.datetime,
    duration_ms: int,
    worker: str,
    error_code: str | None = None,
    error_message: str | None = None,
) -> None:
    """Append one row to the attempt log."""
    await DeliveryAttempt.create(
        delivery_id=delivery.id,
        number=delivery.attempts,
        step=step,
        outcome=outcome,
        error_code=error_code,
        error_message=error_message,
        worker=worker,
        started_at=started_at,
        duration_ms=duration_ms,
    )


async def apply_decision(
    delivery: Delivery,
    decision: Decision,
    *,
    lease_token: str,
    now: dt.datetime,
    external_id: str | None = None,
    url: str | None = None,
    error: str | None = None,
    error_code: str | None = None,
    counted: bool = True,
) -> None:
    """Record a worker's result for a delivery it holds; publishing writes the ledger too
    (``counted``: whether the publication counts in the annual report)."""
    values: dict[str, Any] = {"last_error": error, "last_error_code": error_code}
    if external_id is not None:
        values["external_id"] = external_id
    if url is not None:
        values["url"] = url
    if decision.state is State.RETRY_WAIT:
        values["next_attempt_at"] = now + dt.timedelta(seconds=decision.delay_seconds or 0)
    if decision.reason == "deferred":
        values["batch_key"] = None  # nothing was sent: regroup with whatever is due then
        values["attempts"] = max(delivery.attempts - 1, 0)  # waiting is not a failed try
    if decision.state is State.PENDING:
        values["next_attempt_at"] = now
    if decision.state is State.ACCEPTED:
        values["step"] = Step.CONFIRM
    if decision.state is not State.PUBLISHED:
        await _change(delivery.id, decision.state, lease_token=lease_token, **values)
        if decision.state is State.PENDING:
            await wakeup.notify_due(connection())
        return
    async with in_transaction() as conn:
        await _change(
            delivery.id,
            State.PUBLISHED,
            conn=conn,
            lease_token=lease_token,
            published_at=now,
            **values,
        )
        await _write_ledger(
            delivery.id,
            published_at=now,
            conn=conn,
            known=(delivery.channel, delivery.item),
            counted=counted,
        )


async def _write_ledger(
    delivery_id: int,
    *,
    published_at: dt.datetime,
    conn: BaseDBAsyncClient,
    on: dt.date | None = None,
    known: tuple[str, Item] | None = None,
    counted: bool = True,
) -> None:
    """Add the delivery's ledger row; ``known`` (channel, item) saves re-reading them."""
    if known is None:
        delivery = await Delivery.get(id=delivery_id, using_db=conn)
        known = (delivery.channel, await Item.get(id=delivery.item_id, using_db=conn))
    channel, item = known
    await Publication.create(
        organization_id=item.organization_id,
        item_id=item.id,
        lineage_id=item.lineage_id or item.id,
        delivery_id=delivery_id,
        channel=channel,
        normative=item.normative,
        local_date=on or local_date(published_at),
        published_at=published_at,
        imported=item.imported,
        counted=counted,
        using_db=conn,
    )


async def confirm(
    delivery_id: int,
    *,
    now: dt.datetime,
    external_id: str | None = None,
    url: str | None = None,
    sources: Iterable[State] = (State.ACCEPTED,),
) -> None:
    """A platform (or a person) confirmed an accepted delivery: it is published."""
    values: dict[str, Any] = {"last_error": None, "last_error_code": None}
    if external_id:
        values["external_id"] = external_id
    if url:
        values["url"] = url
    async with in_transaction() as conn:
        await _change(
            delivery_id, State.PUBLISHED, conn=conn, sources=sources, published_at=now, **values
        )
        await _write_ledger(delivery_id, published_at=now, conn=conn)


async def confirm_posting(
    delivery_id: int,
    *,
    location: str,
    posted_by: str,
    posted_on: dt.date,
    period_days: int,
    now: dt.datetime,
) -> Posting:
    """Staff posted the printed notice: publish the delivery and start its 公示期."""
    async with in_transaction() as conn:
        await _change(
            delivery_id, State.PUBLISHED, conn=conn, sources=(State.ACCEPTED,), published_at=now
        )
        await _write_ledger(delivery_id, published_at=now, conn=conn, on=posted_on)
        return await Posting.create(
            delivery_id=delivery_id,
            location=location,
            posted_by=posted_by,
            posted_on=posted_on,
            period_days=period_days,
            take_down_on=posted_on + dt.timedelta(days=period_days),
            using_db=conn,
        )


async def fail_accepted(delivery_id: int, *, reason: str, code: str | None = None) -> None:
    """The platform rejected a delivery after accepting it."""
    await _change(
        delivery_id,
        State.FAILED,
        sources=(State.ACCEPTED,),
        last_error=reason,
        last_error_code=code,
    )


async def expired_leases(now: dt.datetime) -> list[Delivery]:
    """Deliveries whose worker vanished: still ``sending`` after their lease ran out."""
    return await Delivery.filter(state=State.SENDING, lease_expires_at__lt=now)


async def website_pages(item_ids: Sequence[int]) -> dict[int, str]:
    """The published website URL of each item that has one (WeChat's 阅读原文 link)."""
    rows = await Delivery.filter(
        item_id__in=list(item_ids), channel="website", state=State.PUBLISHED, url__isnull=False
    ).only("item_id", "url")
    return {row.item_id: row.url for row in rows if row.url}


async def count_due(before: dt.datetime) -> int:
    """Deliveries that a worker may claim at or before ``before``."""
    return await Delivery.filter(state__in=CLAIMABLE, next_attempt_at__lte=before).count()


async def count_overdue(now: dt.datetime, *, grace_seconds: float) -> int:
    """Gauge: deliveries due for longer than ``grace_seconds`` that nobody claimed."""
    cutoff = now - dt.timedelta(seconds=grace_seconds)
    return await Delivery.filter(state__in=CLAIMABLE, next_attempt_at__lt=cutoff).count()


async def count_unconfirmed(now: dt.datetime, *, grace_seconds: float) -> int:
    """Gauge: deliveries accepted longer than ``grace_seconds`` ago and not yet confirmed."""
    cutoff = now - dt.timedelta(seconds=grace_seconds)
    return await Delivery.filter(state=State.ACCEPTED, updated_at__lt=cutoff).count()


async def release(delivery: Delivery, target: State, *, now: dt.datetime, reason: str) -> None:
    """Take back an expired or abandoned lease: to ``pending`` or, if unsafe, ``uncertain``."""
    await _change(
        delivery.id,
        target,
        sources=(State.SENDING,),
        lease_token=delivery.lease_owner,
        next_attempt_at=now if target is State.PENDING else None,
        last_error=reason,
    )
    if target is State.PENDING:
        await wakeup.notify_due(connection())  # another worker may take it at once


async def retry(delivery_id: int, *, now: dt.datetime) -> None:
    """Staff asked for one more try: a fresh attempt budget, due now."""
    async with in_transaction() as conn:
        await _change(
            delivery_id,
            State.PENDING,
            conn=conn,
            sources=(State.FAILED, State.UNCERTAIN, State.RETRY_WAIT),
            next_attempt_at=now,
            attempts=0,
        )
        await wakeup.notify_due(conn)


async def resolve_uncertain_as_published(delivery_id: int, *, now: dt.datetime) -> None:
    """Staff checked the platform and found the uncertain delivery public after all."""
    await confirm(delivery_id, now=now, sources=(State.UNCERTAIN,))


CANCELLABLE = (State.PENDING, State.RETRY_WAIT, State.ACCEPTED, State.FAILED, State.UNCERTAIN)


async def cancel(delivery_id: int, *, reason: str) -> None:
    await _change(delivery_id, State.CANCELLED, sources=CANCELLABLE, last_error=reason)


async def cancel_unfinished(item: Item, *, reason: str, conn: BaseDBAsyncClient) -> int:
    """Cancel every delivery of ``item`` that has not gone public and is not in flight."""
    return await (
        Delivery.filter(item_id=item.id, state__in=CANCELLABLE)
        .using_db(conn)
        .update(state=State.CANCELLED, last_error=reason, lease_owner=None, lease_expires_at=None)
    )


async def cancel_held(delivery: Delivery, *, lease_token: str, reason: str) -> None:
    """A worker found the item cancelled before commit and gives the delivery up."""
    await _change(
        delivery.id,
        State.CANCELLED,
        sources=(State.SENDING,),
        lease_token=lease_token,
        last_error=reason,
    )


async def mark_withdrawn(delivery_id: int, *, now: dt.datetime, note: str) -> None:
    async with in_transaction() as conn:
        await _change(delivery_id, State.WITHDRAWN, conn=conn, withdrawn_at=now, withdraw_note=note)
        await (
            Posting.filter(delivery_id=delivery_id, removed_at=None)
            .using_db(conn)
            .update(removal_requested_at=now)
        )


async def record_imported(
    item: Item, channel: str, *, published_at: dt.datetime, conn: BaseDBAsyncClient
) -> Delivery:
    """补录: a delivery that happened before Gongkai, entered as published with its ledger row."""
    delivery = await Delivery.create(
        item=item,
        channel=channel,
        state=State.PUBLISHED,
        step=Step.CONFIRM,
        idempotency_key=uuid.uuid4().hex,
        published_at=published_at,
        using_db=conn,
    )
    await _write_ledger(delivery.id, published_at=published_at, conn=conn, known=(channel, item))
    return delivery


async def fill_missing_url(delivery_id: int, url: str) -> None:
    """Record a published delivery's address learnt after it was confirmed (a WeChat job
    event matched late); an address already recorded is kept."""
    await Delivery.filter(id=delivery_id, state=State.PUBLISHED, url=None).update(url=url)
