"""Storing 保密审查 decisions: each one changes the item and adds its Review in one transaction.

Every status change is a compare-and-set from the states that may lead to it; a change
that matches no row raises ValueError and stores nothing.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from storage import outbox
from storage.items import ItemDraft, ItemStatus, revise_in, store_item
from storage.models import Item
from storage.review_models import Review


class ReviewDecision(enum.StrEnum):
    """What a Review row records."""

    APPROVED = "approved"
    REJECTED = "rejected"
    FORCED = "forced"  # published in an emergency without review, with a written reason
    POST_REVIEW = "post_review"  # the review a forced item owes, done afterwards


@dataclass(frozen=True, slots=True)
class ReviewRecord:
    """A decision about to be stored: who, what was checked and found, and why."""

    decision: ReviewDecision
    reviewer_name: str
    reviewer_id: int | None = None
    reviewer_token_id: int | None = None
    checks: Mapping[str, bool] = field(default_factory=dict)
    checked_at: Mapping[str, str] = field(default_factory=dict)
    findings: Sequence[Mapping[str, Any]] = ()
    override_reason: str = ""
    comment: str = ""


async def _add(item_id: int, record: ReviewRecord, conn: BaseDBAsyncClient) -> Review:
    return await Review.create(
        item_id=item_id,
        reviewer_id=record.reviewer_id,
        reviewer_token_id=record.reviewer_token_id,
        reviewer_name=record.reviewer_name,
        decision=record.decision,
        checks=dict(record.checks),
        checked_at=dict(record.checked_at),
        findings=[dict(f) for f in record.findings],
        override_reason=record.override_reason,
        comment=record.comment,
        using_db=conn,
    )


async def _move(
    item: Item,
    sources: Collection[ItemStatus],
    target: ItemStatus,
    conn: BaseDBAsyncClient,
    now: dt.datetime,
) -> None:
    changed = (
        await Item.filter(id=item.id, status__in=sorted(sources))
        .using_db(conn)
        .update(status=target, updated_at=now)
    )
    if changed != 1:
        raise ValueError(f"item {item.id} is no longer {'/'.join(sorted(sources))}")


async def release(
    item: Item, record: ReviewRecord, *, sources: Collection[ItemStatus], now: dt.datetime
) -> Review:
    """Approve or force: the item becomes active and its held deliveries are due at
    max(publish_at, now), with the Review row, all or nothing."""
    async with in_transaction() as conn:
        await _move(item, sources, ItemStatus.ACTIVE, conn, now)
        fresh = await Item.filter(id=item.id).using_db(conn).get()
        await outbox.release_held(fresh, now=now, conn=conn)
        review = await _add(item.id, record, conn)
    item.status = ItemStatus.ACTIVE
    return review


async def send_back(item: Item, record: ReviewRecord, *, now: dt.datetime) -> Review:
    """Reject: the item returns to its author with the comment, deliveries still held."""
    async with in_transaction() as conn:
        await _move(item, (ItemStatus.IN_REVIEW,), ItemStatus.REJECTED, conn, now)
        review = await _add(item.id, record, conn)
    item.status = ItemStatus.REJECTED
    return review


async def add_review(item: Item, record: ReviewRecord) -> Review:
    """A review that changes nothing else (the post review of a forced item)."""
    async with in_transaction() as conn:
        return await _add(item.id, record, conn)


async def queue_reviewed(draft: ItemDraft, record: ReviewRecord) -> Item:
    """Queue an item already reviewed upstream: active at once, with its Review, all or nothing."""
    async with in_transaction() as conn:
        item = await store_item(draft, conn, status=ItemStatus.ACTIVE)
        await _add(item.id, record, conn)
    return item


async def revise_reviewed(previous: Item, draft: ItemDraft, record: ReviewRecord) -> Item:
    """A new active revision already reviewed upstream, with its Review, all or nothing."""
    async with in_transaction() as conn:
        item = await revise_in(previous, draft, conn, status=ItemStatus.ACTIVE)
        await _add(item.id, record, conn)
    return item


def _scoped(org_ids: Collection[int] | None) -> dict[str, Any]:
    return {} if org_ids is None else {"organization_id__in": sorted(org_ids)}


async def in_review(org_ids: Collection[int] | None) -> list[Item]:
    """Items waiting for review, oldest first (None: every organization)."""
    query = Item.filter(status=ItemStatus.IN_REVIEW, **_scoped(org_ids))
    return list(await query.prefetch_related("organization").order_by("created_at", "id"))


async def pending_post_reviews(org_ids: Collection[int] | None) -> list[Item]:
    """Force-published items with no post review after their last forced publishing."""
    query = Review.filter(decision=ReviewDecision.FORCED)
    if org_ids is not None:
        query = query.filter(item__organization_id__in=sorted(org_ids))
    forced = await query
    if not forced:
        return []
    last_forced: dict[int, int] = {}
    for review in forced:
        last_forced[review.item_id] = max(review.id, last_forced.get(review.item_id, 0))
    done = await Review.filter(
        decision=ReviewDecision.POST_REVIEW, item_id__in=sorted(last_forced)
    ).values_list("item_id", "id")
    closed = {int(item_id) for item_id, rid in done if int(rid) > last_forced[int(item_id)]}
    open_ids = sorted(set(last_forced) - closed)
    items = await Item.filter(id__in=open_ids).prefetch_related("organization").order_by("id")
    return list(items)


async def reviews_of(item_id: int) -> list[Review]:
    """The item's review trail, oldest first."""
    return list(await Review.filter(item_id=item_id).order_by("id"))
