"""Turning stored rows into API responses."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from bot.web.schemas import AttemptOut, DeliveryOut, ItemOut, OrgOut, PostingOut, ReachOut
from storage.delivery import NEEDS_A_PERSON, State
from storage.items import UNRELEASED
from storage.models import Delivery, Item, Organization, Posting
from storage.wechat_models import WechatJob


def progress(states: list[str]) -> str:
    """One word for where an item's deliveries stand, for lists and dashboards."""
    if not states:
        return "empty"
    if any(s in NEEDS_A_PERSON for s in states):
        return "needs_attention"
    if all(s == State.CANCELLED for s in states):
        return "cancelled"
    if all(s in (State.PUBLISHED, State.WITHDRAWN, State.CANCELLED) for s in states):
        return "withdrawn" if State.WITHDRAWN in states else "published"
    if any(s == State.ACCEPTED for s in states):
        return "awaiting_confirmation"
    return "publishing"


def posting_out(posting: Posting | None) -> PostingOut | None:
    if posting is None:
        return None
    return PostingOut.model_validate(posting, from_attributes=True)


def reach_out(job: WechatJob | None) -> ReachOut | None:
    if job is None:
        return None
    return ReachOut(
        msg_id=job.msg_id,
        publish_id=job.publish_id,
        status=job.platform_status or job.status,
        total=job.total_count,
        filtered=job.filter_count,
        sent=job.sent_count,
        errors=job.error_count,
    )


def _dropped_images(delivery: Delivery) -> list[str]:
    notes = (delivery.prepared or {}).get("notes")
    return [str(note) for note in notes] if isinstance(notes, list) else []


def delivery_out(
    delivery: Delivery,
    *,
    posting: Posting | None,
    with_log: bool,
    job: WechatJob | None = None,
) -> DeliveryOut:
    log = []
    if with_log:
        log = [
            AttemptOut.model_validate(a, from_attributes=True)
            for a in sorted(delivery.attempt_log, key=lambda a: a.id)
        ]
    return DeliveryOut(
        id=delivery.id,
        channel=delivery.channel,
        state=delivery.state,
        attempts=delivery.attempts,
        url=delivery.url,
        last_error=delivery.last_error,
        last_error_code=delivery.last_error_code,
        external_id=delivery.external_id,
        next_attempt_at=delivery.next_attempt_at,
        published_at=delivery.published_at,
        withdraw_note=delivery.withdraw_note,
        posting=posting_out(posting),
        wechat=reach_out(job),
        dropped_images=_dropped_images(delivery),
        attempt_log=log,
    )


def _progress(item: Item, deliveries: list[DeliveryOut]) -> str:
    if item.status in UNRELEASED:  # held deliveries look pending: say why nothing moves yet
        return item.status
    return progress([d.state for d in deliveries])


def item_out(item: Item, deliveries: list[DeliveryOut]) -> ItemOut:
    return ItemOut(
        id=item.id,
        org=item.organization.code,
        index_no=item.index_no,
        revision=item.revision,
        title=item.title,
        summary=item.summary,
        category=item.category,
        doc_number=item.doc_number,
        normative=item.normative,
        formed_on=item.formed_on,
        publish_at=item.publish_at,
        channels=list(item.channels),
        status=item.status,
        # Held deliveries are pending too: say why nothing moves yet.
        progress=item.status
        if item.status in UNRELEASED
        else progress([d.state for d in deliveries]),
        imported=item.imported,
        author=item.author,
        created_at=item.created_at,
        deliveries=deliveries,
    )


async def load_item_out(item: Item, *, with_log: bool = True) -> ItemOut:
    """The item with every delivery, its posting and (optionally) its attempt log."""
    return (await load_items_out([item], with_log=with_log))[0]


async def load_items_out(items: Sequence[Item], *, with_log: bool = False) -> list[ItemOut]:
    """Several items (their organization fetched) with their deliveries, postings, WeChat
    jobs and (optionally) attempt logs: a fixed number of queries however many items."""
    if not items:
        return []
    query = Delivery.filter(item_id__in=[i.id for i in items]).order_by("id")
    if with_log:
        query = query.prefetch_related("attempt_log")
    deliveries = list(await query)
    ids = [d.id for d in deliveries]
    postings = {p.delivery_id: p for p in await Posting.filter(delivery_id__in=ids)} if ids else {}
    keys = [d.batch_key or d.idempotency_key for d in deliveries if d.channel == "wechat"]
    jobs = {j.batch_key: j for j in await WechatJob.filter(batch_key__in=keys)} if keys else {}
    by_item: dict[int, list[DeliveryOut]] = defaultdict(list)
    for d in deliveries:
        by_item[d.item_id].append(
            delivery_out(
                d,
                posting=postings.get(d.id),
                with_log=with_log,
                job=jobs.get(d.batch_key or d.idempotency_key),
            )
        )
    return [item_out(item, by_item[item.id]) for item in items]


async def org_out(org: Organization) -> OrgOut:
    parent = await Organization.get_or_none(id=org.parent_id) if org.parent_id else None
    return OrgOut(
        code=org.code,
        name=org.name,
        parent=parent.code if parent else None,
        area_word=org.area_word,
    )
