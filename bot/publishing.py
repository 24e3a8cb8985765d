"""What staff and other systems can do with items, shared by the API, the CLI and the console.

Each function validates first and stores nothing when it refuses (``InputError`` names the
field and the limit), then changes the database through ``storage`` only.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tortoise.expressions import Q

from bot.content import UnsafeContent, render_body
from bot.dispatcher import publishable, utcnow
from channels.base import (
    Channel,
    ChannelError,
    Previewable,
    Publishable,
    ValidatingChannel,
    Withdrawable,
)
from channels.registry import CHANNEL_LABELS, DEFAULT_CHANNELS, unavailable_reason
from storage import items as item_store
from storage import outbox
from storage.delivery import NEEDS_A_PERSON, State
from storage.items import ItemDraft, ItemStatus
from storage.ledger import local_date, local_today
from storage.models import Delivery, Item, Organization, Posting

log = logging.getLogger("gongkai.publishing")


class InputError(ValueError):
    """A request that breaks a rule; ``field`` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(LookupError):
    pass


class Conflict(Exception):
    """The request is valid but the item's state does not allow it now."""


@dataclass(frozen=True, slots=True)
class ItemInput:
    """An item as the API, the CLI or the console submits it (already type-checked)."""

    org: Organization
    title: str
    body: str
    summary: str = ""
    category: str = ""
    doc_number: str = ""
    normative: bool = False
    formed_on: dt.date | None = None
    channels: Sequence[str] = DEFAULT_CHANNELS
    publish_at: dt.datetime | None = None
    author: str = ""
    priority: int = 0
    urgent: bool = False
    author_user_id: int | None = None  # the console user writing it; None for a token or CLI
    author_token_id: int | None = None  # the API token writing it; None for a user or CLI


def _draft(data: ItemInput, *, max_body_bytes: int, now: dt.datetime) -> ItemDraft:
    title = data.title.strip()
    if not title:
        raise InputError("title", "must not be empty")
    size = len(data.body.encode("utf-8"))
    if size > max_body_bytes:
        raise InputError("body", f"is {size} bytes; the limit is {max_body_bytes} bytes")
    try:
        rendered = render_body(data.body)
    except UnsafeContent as exc:
        raise InputError("body", str(exc)) from exc
    publish_at = data.publish_at or now
    if publish_at.tzinfo is None:
        raise InputError("publish_at", "must carry a time zone, e.g. 2026-01-05T09:00:00+08:00")
    return ItemDraft(
        organization=data.org,
        title=title,
        body_md=data.body,
        body_html=rendered.html,
        summary=data.summary.strip(),
        category=data.category.strip(),
        doc_number=data.doc_number.strip(),
        normative=data.normative,
        formed_on=data.formed_on,
        publish_at=publish_at.astimezone(dt.UTC),
        channels=list(dict.fromkeys(data.channels)),
        author=data.author,
        priority=data.priority,
        urgent=data.urgent,
        author_user_id=data.author_user_id,
        author_token_id=data.author_token_id,
    )


def check_channels(names: Sequence[str], available: Mapping[str, Channel]) -> None:
    if not names:
        raise InputError("channels", "choose at least one channel")
    for name in names:
        reason = unavailable_reason(name, dict(available))
        if reason:
            raise InputError("channels", reason)


async def queue(
    data: ItemInput,
    *,
    channels: Mapping[str, Channel],
    max_body_bytes: int,
    now: dt.datetime | None = None,
) -> Item:
    """Validate and queue an item once, its deliveries created with it, skipping review.

    For callers exempt from the 保密审查 gate; everyone else goes through bot.review.submit.
    """
    draft = await prepare(data, channels=channels, max_body_bytes=max_body_bytes, now=now)
    return await item_store.queue_item(draft)


async def prepare(
    data: ItemInput,
    *,
    channels: Mapping[str, Channel],
    max_body_bytes: int,
    now: dt.datetime | None = None,
) -> ItemDraft:
    """Validate an item (limits, body, channels and their own limits) into a draft to store."""
    check_channels(data.channels, channels)
    draft = _draft(data, max_body_bytes=max_body_bytes, now=now or utcnow())
    await _channel_limits(draft, channels)
    return draft


async def _channel_limits(draft: ItemDraft, channels: Mapping[str, Channel]) -> None:
    """Let channels with limits of their own (WeChat) refuse the item now, naming the field."""
    pub = _unsaved(draft)
    for name in draft.channels:
        channel = channels.get(name)
        if isinstance(channel, ValidatingChannel):
            for field, message in await channel.validate(pub):
                raise InputError(field, message)


def _unsaved(draft: ItemDraft) -> Publishable:
    """The channel's view of an item that is not stored yet."""
    return Publishable(
        delivery_id=0,
        idempotency_key="",
        org_code=draft.organization.code,
        org_name=draft.organization.name,
        item_id=0,
        lineage_id=0,
        revision=1,
        index_no="",
        title=draft.title,
        body_md=draft.body_md,
        body_html=draft.body_html,
        summary=draft.summary,
        category=draft.category,
        doc_number=draft.doc_number,
        normative=draft.normative,
        formed_on=draft.formed_on,
        publish_date=local_date(draft.publish_at),
        priority=draft.priority,
        urgent=draft.urgent,
        author=draft.author,
    )


async def revise(
    item: Item,
    data: ItemInput,
    *,
    channels: Mapping[str, Channel],
    max_body_bytes: int,
    held: bool = False,
) -> Item:
    """An edit: a new revision under the same 索引号, delivered again on its channels.

    ``held``: the new revision waits for its 保密审查 before any delivery goes out.
    """
    draft = await prepare_revision(item, data, channels=channels, max_body_bytes=max_body_bytes)
    try:
        return await item_store.revise_item(item, draft, held=held)
    except ValueError as exc:  # lost a race with another edit, cancel or withdraw
        raise Conflict(str(exc)) from exc


async def prepare_revision(
    item: Item, data: ItemInput, *, channels: Mapping[str, Channel], max_body_bytes: int
) -> ItemDraft:
    """Check that ``item`` may get a new revision and validate the new text into a draft."""
    if item.status != ItemStatus.ACTIVE:
        raise Conflict(f"item is {item.status}; only the active revision can be edited")
    if data.org.id != item.organization_id:
        raise InputError("org", "a revision stays with the item's organization")
    return await prepare(data, channels=channels, max_body_bytes=max_body_bytes)


async def removal_due(org_ids: Sequence[int] | None, *, today: dt.date) -> list[Posting]:
    """Notices whose 公示期 has ended (or whose item was withdrawn) and are still on the board."""
    query = (
        Posting.filter(removed_at=None)
        .filter(Q(take_down_on__lte=today) | Q(removal_requested_at__isnull=False))
        .prefetch_related("delivery__item__organization")
        .order_by("take_down_on", "id")
    )
    if org_ids is not None:
        query = query.filter(delivery__item__organization_id__in=list(org_ids))
    return list(await query)


async def mark_removed(delivery: Delivery) -> None:
    """Staff took the paper notice down."""
    changed = await Posting.filter(delivery_id=delivery.id, removed_at=None).update(
        removed_at=utcnow()
    )
    if changed != 1:
        raise Conflict("no posting of this delivery is waiting to be taken down")


async def import_published(
    records: Sequence[tuple[ItemInput, dt.datetime]],
    *,
    max_body_bytes: int,
) -> list[Item]:
    """补录 historical items as already published; all records are checked before any is stored.

    A date may not lie in the future, nor before the organization's first reporting year:
    back-filled rows count in the annual report.
    """
    drafts = []
    now = utcnow()
    for index, (data, published_at) in enumerate(records):
        if published_at.tzinfo is None:
            raise InputError(f"items.{index}.published_at", "must carry a time zone")
        if published_at > now:
            raise InputError(
                f"items.{index}.published_at", "must not be in the future (补录 is history)"
            )
        first_year = data.org.first_report_year
        if local_date(published_at).year < first_year:
            raise InputError(
                f"items.{index}.published_at",
                f"must not be before {first_year}, {data.org.code}'s first reporting year",
            )
        if not data.channels:
            raise InputError(f"items.{index}.published_channels", "name at least one channel")
        try:
            drafts.append(
                (_draft(data, max_body_bytes=max_body_bytes, now=published_at), published_at)
            )
        except InputError as exc:
            raise InputError(f"items.{index}.{exc.field}", exc.message) from exc
    return await item_store.import_items(drafts)


async def retry(item: Item, *, channel: str | None = None) -> list[int]:
    """Try again the item's failed or uncertain deliveries (or only the named channel's)."""
    deliveries = await _deliveries(item, channel)
    chosen = [d for d in deliveries if d.state in NEEDS_A_PERSON | {State.RETRY_WAIT}]
    if not chosen:
        raise Conflict("no delivery of this item is failed, uncertain or waiting to retry")
    for delivery in chosen:
        await outbox.retry(delivery.id, now=utcnow())
    return [d.id for d in chosen]


async def preview_wechat(item: Item, openid: str, *, channels: Mapping[str, Channel]) -> None:
    """Send the item's WeChat article to one reviewer's phone (mass/preview) before the
    real broadcast; nothing is published and no quota is used."""
    channel = channels.get("wechat")
    delivery = (
        await Delivery.filter(item_id=item.id, channel="wechat")
        .prefetch_related("item__organization")
        .first()
    )
    if not isinstance(channel, Previewable) or delivery is None:
        raise Conflict("this item is not going out on WeChat")
    if not openid.strip():
        raise InputError("openid", "name the reviewer's openid")
    pages = await outbox.website_pages([item.id])
    pub = publishable(delivery, source_url=pages.get(item.id))
    try:
        prepared = delivery.prepared or await channel.prepare(pub)
        await channel.preview(pub, prepared, openid.strip())
    except ChannelError as error:
        raise Conflict(f"预览发送失败：{error.message}") from error


async def resolve_uncertain(delivery: Delivery, *, published: bool) -> None:
    """Record a person's check of an uncertain delivery: public after all, or to be retried."""
    if delivery.state != State.UNCERTAIN:
        raise Conflict(f"delivery is {delivery.state}, not uncertain")
    if published:
        await outbox.resolve_uncertain_as_published(delivery.id, now=utcnow())
    else:
        await outbox.retry(delivery.id, now=utcnow())


async def cancel(item: Item, *, reason: str = "cancelled by staff") -> list[int]:
    """Stop every delivery that has not gone public yet; deliveries in flight stop before commit.

    An item still waiting for review (or rejected) can be cancelled too.
    """
    if item.status != ItemStatus.ACTIVE and item.status not in item_store.UNRELEASED:
        raise Conflict(f"item is {item.status}")
    await item_store.set_status(item, ItemStatus.CANCELLED)
    stopped = []
    for delivery in await _deliveries(item, None):
        if delivery.state in outbox.CANCELLABLE:
            await outbox.cancel(delivery.id, reason=reason)
            stopped.append(delivery.id)
    return stopped


async def withdraw(item: Item, *, reason: str, channels: Mapping[str, Channel]) -> dict[str, str]:
    """Take the item down wherever it went public, cancel the rest, and say what happened."""
    if not reason.strip():
        raise InputError("reason", "say why the item is withdrawn")
    if item.status == ItemStatus.CANCELLED:
        raise Conflict("item is cancelled")
    await item_store.set_status(item, ItemStatus.WITHDRAWN)
    notes: dict[str, str] = {}
    for delivery in await _deliveries(item, None):
        if delivery.state == State.PUBLISHED:
            notes[delivery.channel] = await _withdraw_one(delivery, reason, channels)
        elif delivery.state in outbox.CANCELLABLE:
            await outbox.cancel(delivery.id, reason=f"withdrawn: {reason}")
            notes[delivery.channel] = "未发布，已取消"
    return notes


async def _withdraw_one(delivery: Delivery, reason: str, channels: Mapping[str, Channel]) -> str:
    channel = channels.get(delivery.channel)
    lines = [f"撤回原因：{reason}"]
    if channel is None:
        lines.append(f"未能撤下：{delivery.channel} 渠道当前未配置，请人工处理。")
    elif not isinstance(channel, Withdrawable):
        label = CHANNEL_LABELS.get(delivery.channel, delivery.channel)
        lines.append(f"未能撤下：{label}发出的消息无法由系统撤回，请到该渠道人工撤回或更正。")
    else:
        try:
            result = await channel.withdraw(publishable(delivery))
            lines += [f"已撤下：{text}" for text in result.undone]
            lines += [f"未能撤下：{text}" for text in result.not_undone]
        except ChannelError as error:
            lines.append(f"未能撤下：{error.message}")
    note = "\n".join(lines)
    await outbox.mark_withdrawn(delivery.id, now=utcnow(), note=note)
    return note


async def confirm_posting(
    delivery: Delivery,
    *,
    location: str,
    posted_by: str,
    posted_on: dt.date | None,
    period_days: int,
) -> Posting:
    """Record that the printed notice is on the board; it now counts as published."""
    if delivery.channel != "noticeboard":
        raise InputError("delivery", "only notice-board deliveries are confirmed by posting")
    if delivery.state != State.ACCEPTED:
        raise Conflict(f"delivery is {delivery.state}, not waiting for posting")
    for field, value in (("location", location), ("posted_by", posted_by)):
        if not value.strip():
            raise InputError(field, "must not be empty")
    return await outbox.confirm_posting(
        delivery.id,
        location=location.strip(),
        posted_by=posted_by.strip(),
        posted_on=posted_on or local_today(),
        period_days=period_days,
        now=utcnow(),
    )


async def _deliveries(item: Item, channel: str | None) -> list[Delivery]:
    query = Delivery.filter(item_id=item.id).prefetch_related("item__organization")
    if channel:
        query = query.filter(channel=channel)
    return list(await query.order_by("id"))
