"""Submitting items to the 保密审查 gate: new items, edits while unreleased, revisions, and
items from review-exempt tokens (a trusted system's own review recorded instead).

Shared by the API and the console. Validation errors raise ``InputError``, state conflicts
``Conflict``, as everywhere in bot.publishing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bot import publishing
from bot.publishing import Conflict, InputError, ItemInput
from bot.review import TextFields, scan_item
from channels.base import Channel
from storage import items as item_store
from storage import reviews as review_store
from storage.items import UNRELEASED, ItemStatus
from storage.models import Item
from storage.reviews import ReviewDecision, ReviewRecord

UPSTREAM_SUFFIX = " (上游审查)"


async def submit(
    data: ItemInput,
    *,
    channels: Mapping[str, Channel],
    max_body_bytes: int,
    draft: bool = False,
) -> Item:
    """Validate and store a new item for review (or as a draft), its deliveries held."""
    stored = await publishing.prepare(data, channels=channels, max_body_bytes=max_body_bytes)
    status = ItemStatus.DRAFT if draft else ItemStatus.IN_REVIEW
    return await item_store.submit_item(stored, status=status)


async def edit(
    item: Item,
    data: ItemInput,
    *,
    channels: Mapping[str, Channel],
    max_body_bytes: int,
    draft: bool = False,
) -> Item:
    """Change a never-released item in place (draft, in review or rejected) and submit it
    again (or keep it a draft); the editor becomes its author for the gate."""
    if item.status not in UNRELEASED:
        raise Conflict(f"该信息状态为 {item.status}，已放行的信息请提交新修订版")
    if data.org.id != item.organization_id:
        raise InputError("org", "不能改变信息所属机构")
    stored = await publishing.prepare(data, channels=channels, max_body_bytes=max_body_bytes)
    status = ItemStatus.DRAFT if draft else ItemStatus.IN_REVIEW
    try:
        return await item_store.edit_unreleased(item, stored, status=status)
    except ValueError as exc:
        raise Conflict(str(exc)) from exc


def _upstream(token_name: str, text: TextFields, words: Sequence[str]) -> ReviewRecord:
    """The Review that stands for a trusted system's own 保密审查 (an exempt token)."""
    return ReviewRecord(
        decision=ReviewDecision.APPROVED,
        reviewer_name=f"{token_name}{UPSTREAM_SUFFIX}"[-100:],
        findings=[finding.as_dict() for finding in scan_item(text, words=words)],
        comment="由上游系统完成并记录保密审查（免审令牌）",
    )


async def queue_exempt(
    data: ItemInput,
    *,
    upstream: str,
    channels: Mapping[str, Channel],
    max_body_bytes: int,
    words: Sequence[str] = (),
) -> Item:
    """Queue an item from a review-exempt token: active at once, its upstream review recorded."""
    stored = await publishing.prepare(data, channels=channels, max_body_bytes=max_body_bytes)
    return await review_store.queue_reviewed(stored, _upstream(upstream, stored, words))


async def revise(
    item: Item,
    data: ItemInput,
    *,
    channels: Mapping[str, Channel],
    max_body_bytes: int,
    exempt_upstream: str | None = None,
    words: Sequence[str] = (),
) -> Item:
    """Edit an item: in place while never released, else a new revision that waits for
    review (or, from an exempt token named ``exempt_upstream``, goes out at once)."""
    if item.status in UNRELEASED:
        return await edit(item, data, channels=channels, max_body_bytes=max_body_bytes)
    if exempt_upstream is None:
        return await publishing.revise(
            item, data, channels=channels, max_body_bytes=max_body_bytes, held=True
        )
    stored = await publishing.prepare_revision(
        item, data, channels=channels, max_body_bytes=max_body_bytes
    )
    try:
        return await review_store.revise_reviewed(
            item, stored, _upstream(exempt_upstream, stored, words)
        )
    except ValueError as exc:
        raise Conflict(str(exc)) from exc
