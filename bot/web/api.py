"""The HTTP API under /api/v1. Every route checks the caller, the organization and the
role the console asks for the same action; every change is in the audit log."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from bot import publishing, review, submission, wechat_preview
from bot.publishing import Conflict, InputError, ItemInput
from bot.report import channel_section
from bot.web.deps import (
    ADMINS,
    EDITORS,
    PREVIEWERS,
    Principal,
    PrincipalDep,
    RuntimeDep,
    as_http,
    field_error,
    item_for,
    item_target,
    org_for,
)
from bot.web.idempotency import idempotent
from bot.web.inputs import INT4_MAX, QueryDay
from bot.web.reviews import router as reviews_router
from bot.web.schemas import (
    ChannelName,
    ChannelReportOut,
    ImportIn,
    ItemFields,
    ItemIn,
    ItemOut,
    ItemPage,
    OrgIn,
    OrgOut,
    PreviewIn,
    RetryIn,
    WithdrawIn,
)
from bot.web.views import load_item_out, load_items_out, org_out
from storage import audit
from storage.items import ItemStatus
from storage.ledger import BUSINESS_TZ, backfilled_items, wechat_reach
from storage.models import Item, Organization

router = APIRouter(prefix="/api/v1")
router.include_router(reviews_router)


def _input(
    data: ItemFields,
    org: Organization,
    author: Principal,
    *,
    channels: list[str],
    publish_at: dt.datetime | None,
) -> ItemInput:
    return ItemInput(
        org=org,
        title=data.title,
        body=data.body,
        summary=data.summary,
        category=data.category,
        doc_number=data.doc_number,
        normative=data.normative,
        formed_on=data.formed_on,
        channels=channels,
        publish_at=publish_at,
        author=author.name,
        author_token_id=author.token_id,
        priority=data.priority,
        urgent=data.urgent,
    )


@router.post("/orgs", status_code=201)
async def create_org(data: OrgIn, principal: PrincipalDep) -> OrgOut:
    """Create an organization; only a platform administrator's token may."""
    async with principal.audited("org.created", org_id=None, target=f"org:{data.code}") as change:
        if not principal.is_admin:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, "only a platform administrator's token may do this"
            )
        parent = await org_for(principal, data.parent, field="parent") if data.parent else None
        if await Organization.exists(code=data.code):
            raise field_error("code", f"organization {data.code!r} already exists")
        org = await Organization.create(
            code=data.code, name=data.name, parent=parent, area_word=data.area_word
        )
        change.organization_id = org.id
        change.detail = {"name": org.name, "parent": data.parent or ""}
    return await org_out(org)


@router.get("/orgs")
async def list_orgs(principal: PrincipalDep) -> list[OrgOut]:
    query = Organization.all().order_by("code")
    if principal.org_ids is not None:
        query = query.filter(id__in=sorted(principal.org_ids))
    return [await org_out(org) for org in await query]


@router.post("/items", status_code=201)
@idempotent  # Idempotency-Key: a retry returns the first answer
async def queue_item(data: ItemIn, principal: PrincipalDep, runtime: RuntimeDep) -> ItemOut:
    """Queue an item once for every chosen channel: it waits for the 保密审查 (status
    in_review, nothing delivered) unless the token is review-exempt (active at once)."""
    org = await org_for(principal, data.org)
    record = _input(data, org, principal, channels=list(data.channels), publish_at=data.publish_at)
    channels, limit = runtime.channels, runtime.settings.max_body_bytes
    async with principal.audited("item.queued", org_id=org.id, target=data.title) as change:
        principal.require(org.id, *EDITORS)
        try:
            if principal.review_exempt:
                item = await submission.queue_exempt(
                    record,
                    upstream=principal.name,
                    channels=channels,
                    max_body_bytes=limit,
                    words=review.review_words(runtime.settings),
                )
            else:
                item = await submission.submit(record, channels=channels, max_body_bytes=limit)
        except InputError as exc:
            raise as_http(exc) from exc
        change.target = item_target(item)
        change.detail = {"status": item.status, "channels": list(item.channels)}
    item.organization = org
    return await load_item_out(item)


@router.get("/items")
async def list_items(
    principal: PrincipalDep,
    org: Annotated[str | None, Query(max_length=32)] = None,
    status_: Annotated[ItemStatus | None, Query(alias="status")] = None,
    channel: ChannelName | None = None,
    since: QueryDay | None = None,
    until: QueryDay | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=INT4_MAX)] = 0,
) -> ItemPage:
    """Items newest first, filtered by organization, status, channel or publish date."""
    query = Item.all().prefetch_related("organization").order_by("-publish_at", "-id")
    if principal.org_ids is not None:
        query = query.filter(organization_id__in=sorted(principal.org_ids))
    if org:
        query = query.filter(organization_id=(await org_for(principal, org)).id)
    if status_:
        query = query.filter(status=status_)
    if channel:
        query = query.filter(deliveries__channel=channel).distinct()
    if since:
        query = query.filter(publish_at__gte=_start_of(since))
    if until:
        query = query.filter(publish_at__lt=_start_of(until + dt.timedelta(days=1)))
    total = await query.count()
    page = await query.offset(offset).limit(limit)
    return ItemPage(total=total, items=await load_items_out(page))


def _start_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), BUSINESS_TZ)


@router.get("/items/{item_id}")
async def get_item(item_id: int, principal: PrincipalDep) -> ItemOut:
    """The item with each delivery's state, attempts, URL, last error and attempt log."""
    return await load_item_out(await item_for(principal, item_id))


@router.post("/items/{item_id}/retry")
async def retry_item(item_id: int, principal: PrincipalDep, data: RetryIn | None = None) -> ItemOut:
    item = await item_for(principal, item_id)
    channel = data.channel if data else None
    async with principal.audited(
        "item.retried", org_id=item.organization_id, target=item_target(item)
    ) as change:
        principal.require(item.organization_id, *EDITORS)
        try:
            change.detail = {
                "channel": channel or "",
                "deliveries": await publishing.retry(item, channel=channel),
            }
        except Conflict as exc:
            raise as_http(exc) from exc
    return await load_item_out(item)


@router.post("/items/{item_id}/cancel")
async def cancel_item(item_id: int, principal: PrincipalDep) -> ItemOut:
    item = await item_for(principal, item_id)
    async with principal.audited(
        "item.cancelled", org_id=item.organization_id, target=item_target(item)
    ) as change:
        principal.require(item.organization_id, *EDITORS)
        try:
            change.detail = {"deliveries": await publishing.cancel(item)}
        except Conflict as exc:
            raise as_http(exc) from exc
    return await load_item_out(item)


@router.post("/items/{item_id}/withdraw")
async def withdraw_item(
    item_id: int, data: WithdrawIn, principal: PrincipalDep, runtime: RuntimeDep
) -> ItemOut:
    item = await item_for(principal, item_id)
    async with principal.audited(
        "item.withdrawn", org_id=item.organization_id, target=item_target(item)
    ) as change:
        principal.require(item.organization_id, *EDITORS)
        try:
            notes = await publishing.withdraw(item, reason=data.reason, channels=runtime.channels)
        except (Conflict, InputError) as exc:
            raise as_http(exc) from exc
        change.detail = {"reason": data.reason.strip(), "notes": notes}
    return await load_item_out(item)


@router.post("/items/{item_id}/wechat/preview")
async def preview_item(
    item_id: int, data: PreviewIn, principal: PrincipalDep, runtime: RuntimeDep
) -> dict[str, str]:
    """Send the WeChat article to a reviewer's phone before the broadcast."""
    item = await item_for(principal, item_id)
    principal.require(item.organization_id, *PREVIEWERS)
    try:
        await wechat_preview.check_recipient(item, data.openid)
    except wechat_preview.PreviewRefused as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, str(exc)) from exc
    try:
        await publishing.preview_wechat(item, data.openid, channels=runtime.channels)
    except (Conflict, InputError) as exc:
        raise as_http(exc) from exc
    return {"status": "sent", "openid": data.openid}


@router.post("/items/{item_id}/revisions", status_code=201)
async def revise_item(
    item_id: int, data: ItemIn, principal: PrincipalDep, runtime: RuntimeDep
) -> ItemOut:
    """Edit an item: a new revision under the same 索引号 (the old stops), which waits for
    review unless the token is review-exempt; an item never released (in review or
    rejected) is changed in place and submitted for review again."""
    item = await item_for(principal, item_id)
    org = await org_for(principal, data.org)
    async with principal.audited(
        "item.revised", org_id=item.organization_id, target=item_target(item)
    ) as change:
        principal.require(item.organization_id, *EDITORS)
        try:
            revised = await submission.revise(
                item,
                _input(
                    data, org, principal, channels=list(data.channels), publish_at=data.publish_at
                ),
                channels=runtime.channels,
                max_body_bytes=runtime.settings.max_body_bytes,
                exempt_upstream=principal.name if principal.review_exempt else None,
                words=review.review_words(runtime.settings),
            )
        except (Conflict, InputError) as exc:
            raise as_http(exc) from exc
        change.detail = {
            "revision": revised.revision,
            "new_item": revised.id,
            "status": revised.status,
        }
    revised.organization = org
    return await load_item_out(revised)


@router.post("/imports", status_code=201)
@idempotent  # Idempotency-Key: a retry returns the first answer
async def import_items(
    data: ImportIn, principal: PrincipalDep, runtime: RuntimeDep
) -> list[ItemOut]:
    """补录 historical items as published on the given channels and dates, all or none;
    administrators only, each item in the audit log as 补录."""
    records = []
    for index, entry in enumerate(data.items):
        org = await org_for(principal, entry.org, field=f"items.{index}.org")
        record = _input(
            entry,
            org,
            principal,
            channels=list(entry.published_channels),
            publish_at=entry.published_at,
        )
        records.append((record, entry.published_at))
    first = records[0][0].org.id if records else None
    async with principal.audited("item.imported", org_id=first, target="补录") as change:
        for record, _when in records:
            principal.require(record.org.id, *ADMINS)
        try:
            items = await publishing.import_published(
                records, max_body_bytes=runtime.settings.max_body_bytes
            )
        except InputError as exc:
            raise as_http(exc) from exc
        for index, (item, (record, when)) in enumerate(zip(items, records, strict=True)):
            detail = {"补录": True, "published_at": when.isoformat(), "channels": item.channels}
            if index == 0:  # the row ``audited`` writes; the others beside it
                change.target, change.detail = item_target(item), detail
                continue
            await audit.record(
                "item.imported",
                username=principal.name,
                token_id=principal.token_id,
                organization_id=record.org.id,
                target=item_target(item),
                detail=detail,
                ip=principal.ip,
            )
    return [
        await load_item_out(
            await Item.get(id=i.id).prefetch_related("organization"), with_log=False
        )
        for i in items
    ]


@router.get("/reports/{org}/{year}/channels")
async def channel_report(org: str, year: int, principal: PrincipalDep) -> ChannelReportOut:
    """Section 二 tallies for one organization and year, and the two rendered paragraphs."""
    if not 2000 <= year <= 2100:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [{"loc": ["path", "year"], "msg": "year must be 2000..2100", "type": "value_error"}],
        )
    organization = await Organization.get_or_none(code=org)
    if organization is None or not principal.may_access(organization.id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"organization {org!r} not found")
    section = await channel_section(organization, year)
    reached, audience = await wechat_reach(organization.id, year)
    return ChannelReportOut(
        wechat_followers_reached=reached,
        wechat_audience=audience,
        backfilled_items=await backfilled_items(organization.id, year),
        org=org,
        year=year,
        normative_issued=section.normative_issued,
        paragraphs=[section.active_paragraph, section.channel_paragraph],
        **section.tally.as_dict(),
    )
