"""Writing items: queue one (with its deliveries, in one transaction), import, cancel."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import F
from tortoise.transactions import in_transaction

from storage import outbox
from storage.ledger import local_date
from storage.models import IndexCounter, Item, Organization


class ItemStatus(enum.StrEnum):
    """An item's lifecycle as staff decide it; channel progress lives on its deliveries."""

    ACTIVE = "active"
    CANCELLED = "cancelled"
    WITHDRAWN = "withdrawn"
    SUPERSEDED = "superseded"  # a newer revision replaced it


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


async def _next_index_no(org: Organization, year: int, conn: BaseDBAsyncClient) -> str:
    """索引号: organization code, year and a sequence number that never repeats."""
    await IndexCounter.get_or_create(organization=org, year=year, using_db=conn)
    counter = IndexCounter.filter(organization=org, year=year).using_db(conn)
    await counter.update(last_number=F("last_number") + 1)
    row = await counter.get()
    return f"{org.code}/{year}-{row.last_number:05d}"


async def _create(
    draft: ItemDraft, conn: BaseDBAsyncClient, *, imported: bool, previous: Item | None = None
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
        title=draft.title,
        body_md=draft.body_md,
        body_html=draft.body_html,
        summary=draft.summary,
        category=draft.category,
        doc_number=draft.doc_number,
        normative=draft.normative,
        formed_on=draft.formed_on,
        publish_at=draft.publish_at,
        channels=list(draft.channels),
        author=draft.author,
        priority=draft.priority,
        urgent=draft.urgent,
        imported=imported,
        using_db=conn,
    )
    if previous is None:
        item.lineage_id = item.id
        await item.save(update_fields=["lineage_id"], using_db=conn)
    return item


async def queue_item(draft: ItemDraft) -> Item:
    """Store the item and one pending delivery per chosen channel, all or nothing."""
    async with in_transaction() as conn:
        item = await _create(draft, conn, imported=False)
        await outbox.create_deliveries(item, draft.channels, conn=conn)
    return item


async def revise_item(previous: Item, draft: ItemDraft) -> Item:
    """A new revision with the same 索引号 and its own deliveries; the old one is superseded.

    What the public saw of the old revision stays on record; its unfinished deliveries stop.
    """
    async with in_transaction() as conn:
        changed = (
            await Item.filter(id=previous.id, status=ItemStatus.ACTIVE)
            .using_db(conn)
            .update(status=ItemStatus.SUPERSEDED)
        )
        if changed != 1:
            raise ValueError(f"item {previous.id} is not active and cannot be revised")
        item = await _create(draft, conn, imported=False, previous=previous)
        await outbox.cancel_unfinished(
            previous, reason=f"superseded by revision {item.revision}", conn=conn
        )
        await outbox.create_deliveries(item, draft.channels, conn=conn)
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
