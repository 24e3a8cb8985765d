"""Writing items: queue one (with its deliveries, in one transaction), submit one for review,
import, cancel.

An item waiting for its 保密审查 (draft, in review, rejected) has its deliveries HELD: pending
with no ``next_attempt_at``, which no worker ever claims. Approval releases them.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from storage import outbox
from storage.ledger import local_date
from storage.models import IndexCounter, Item, Organization


class ItemStatus(enum.StrEnum):
    """An item's lifecycle as staff decide it; channel progress lives on its deliveries."""

    DRAFT = "draft"  # saved, not yet submitted for review
    IN_REVIEW = "in_review"  # waiting for the 保密审查, deliveries held
    REJECTED = "rejected"  # sent back to the author with the reviewer's comment
    ACTIVE = "active"
    CANCELLED = "cancelled"
    WITHDRAWN = "withdrawn"
    SUPERSEDED = "superseded"  # a newer revision replaced it


# Never released: the text may still be edited in place, nothing has reached a channel.
UNRELEASED = frozenset({ItemStatus.DRAFT, ItemStatus.IN_REVIEW, ItemStatus.REJECTED})


@dataclass(frozen=True, slots=True)
class ItemDraft:
    """A validated item, ready to be stored (the web layer checks limits first)."""

    organization: Organization
    title: str
    body_md: str
    body_html: str
    summary: str
    category: str
    doc_number: str
    normative: bool
    formed_on: dt.date | None
    publish_at: dt.datetime
    channels: Sequence[str]
    author: str
    priority: int = 0
    urgent: bool = False
    author_user_id: int | None = None  # the console user; None for an API token or the CLI
    author_token_id: int | None = None  # the API token; None for a console user or the CLI


async def _next_index_no(org: Organization, year: int, conn: BaseDBAsyncClient) -> str:
    """索引号: organization code, year and a sequence number that never repeats."""
    await IndexCounter.get_or_create(organization=org, year=year, using_db=conn)
    counter = IndexCounter.filter(organization=org, year=year).using_db(conn)
    await counter.update(last_number=F("last_number") + 1)
    row = await counter.get()
    return f"{org.code}/{year}-{row.last_number:05d}"


def _content(draft: ItemDraft) -> dict[str, Any]:
    """The columns an item takes from its draft: what the author wrote and chose."""
    return {
        "title": draft.title,
        "body_md": draft.body_md,
        "body_html": draft.body_html,
        "summary": draft.summary,
        "category": draft.category,
        "doc_number": draft.doc_number,
        "normative": draft.normative,
        "formed_on": draft.formed_on,
        "publish_at": draft.publish_at,
        "channels": list(draft.channels),
        "author": draft.author,
        "author_user_id": draft.author_user_id,
        "author_token_id": draft.author_token_id,
        "priority": draft.priority,
        "urgent": draft.urgent,
    }


async def _create(
    draft: ItemDraft,
    conn: BaseDBAsyncClient,
    *,
    imported: bool,
    previous: Item | None = None,
    status: ItemStatus = ItemStatus.ACTIVE,
) -> Item:
    if previous is None:
        year = local_date(draft.publish_at).year
        index_no = await _next_index_no(draft.organization, year, conn)
    else:
        index_no = previous.index_no
    item = await Item.create(
        organization=draft.organization,
        index_no=index_no,
        revision=previous.revision + 1 if previous else 1,
        supersedes=previous,
        lineage_id=previous.lineage_id if previous else None,
        status=status,
        imported=imported,
        using_db=conn,
        **_content(draft),
    )
    if previous is None:
        item.lineage_id = item.id
        await item.save(update_fields=["lineage_id"], using_db=conn)
    return item


async def store_item(
    draft: ItemDraft,
    conn: BaseDBAsyncClient,
    *,
    status: ItemStatus,
    previous: Item | None = None,
) -> Item:
    """Create the item and its deliveries inside ``conn``'s transaction, held unless active."""
    item = await _create(draft, conn, imported=False, previous=previous, status=status)
    held = status is not ItemStatus.ACTIVE
    await outbox.create_deliveries(item, draft.channels, conn=conn, held=held)
    return item


async def queue_item(draft: ItemDraft) -> Item:
    """Store the item and one pending delivery per chosen channel, all or nothing.

    For callers exempt from the review gate (the CLI, imports, a trusted system's token).
    """
    async with in_transaction() as conn:
        return await store_item(draft, conn, status=ItemStatus.ACTIVE)


async def submit_item(draft: ItemDraft, *, status: ItemStatus = ItemStatus.IN_REVIEW) -> Item:
    """Store the item for review (or as a draft) with its deliveries held, all or nothing."""
    if status not in UNRELEASED:
        raise ValueError(f"an item submitted for review cannot start {status}")
    async with in_transaction() as conn:
        return await store_item(draft, conn, status=status)


async def edit_unreleased(item: Item, draft: ItemDraft, *, status: ItemStatus) -> Item:
    """Change a never-released item in place (same id, 索引号 and revision), deliveries
    re-made and still held, then leave it ``status`` (a draft, or in review again)."""
    if status not in UNRELEASED:
        raise ValueError(f"an edited item cannot become {status}")
    async with in_transaction() as conn:
        changed = (
            await Item.filter(id=item.id, status__in=sorted(UNRELEASED))
            .using_db(conn)
            .update(status=status, updated_at=dt.datetime.now(dt.UTC), **_content(draft))
        )
        if changed != 1:
            raise ValueError(f"item {item.id} has been released and cannot be edited in place")
        await outbox.drop_held(item.id, conn=conn)
        fresh = await Item.filter(id=item.id).using_db(conn).get()
        await outbox.create_deliveries(fresh, draft.channels, conn=conn, held=True)
    return fresh


async def revise_item(previous: Item, draft: ItemDraft, *, held: bool = False) -> Item:
    """A new revision with the same 索引号 and its own deliveries; the old one is superseded.

    What the public saw of the old revision stays on record; its unfinished deliveries stop.
    With ``held`` the new revision waits for review (its deliveries held).
    """
    status = ItemStatus.IN_REVIEW if held else ItemStatus.ACTIVE
    async with in_transaction() as conn:
        return await revise_in(previous, draft, conn, status=status)


async def revise_in(
    previous: Item, draft: ItemDraft, conn: BaseDBAsyncClient, *, status: ItemStatus
) -> Item:
    """The new revision inside ``conn``'s transaction; ValueError if ``previous`` is not active."""
    changed = (
        await Item.filter(id=previous.id, status=ItemStatus.ACTIVE)
        .using_db(conn)
        .update(status=ItemStatus.SUPERSEDED)
    )
    if changed != 1:
        raise ValueError(f"item {previous.id} is not active and cannot be revised")
    item = await store_item(draft, conn, status=status, previous=previous)
    await outbox.cancel_unfinished(
        previous, reason=f"superseded by revision {item.revision}", conn=conn
    )
    return item


async def import_items(records: Sequence[tuple[ItemDraft, dt.datetime]]) -> list[Item]:
    """补录: items published before Gongkai, each on its draft's channels, all or none."""
    imported = []
    async with in_transaction() as conn:
        for draft, published_at in records:
            item = await _create(draft, conn, imported=True)
            for channel in draft.channels:
                await outbox.record_imported(item, channel, published_at=published_at, conn=conn)
            imported.append(item)
    return imported


async def set_status(item: Item, status: ItemStatus) -> None:
    await Item.filter(id=item.id).update(status=status)
    item.status = status
