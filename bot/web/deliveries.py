"""Routes on single deliveries: a person's decision on an uncertain one, and the notice
board's PDF, posting confirmation and removal reminders.

As in the console's item page and print queue, the changes need an editor (编辑) or admin
(管理员) token and are in the audit log; reading needs any role."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import FileResponse

from bot import publishing
from bot.publishing import Conflict, InputError
from bot.web.deps import EDITORS, Principal, PrincipalDep, RuntimeDep, as_http, item_target
from bot.web.schemas import ItemOut, PostedIn, ReminderOut, ResolveIn
from bot.web.views import load_item_out
from storage.ledger import local_today
from storage.models import Delivery

router = APIRouter(prefix="/api/v1")


async def _delivery(principal: Principal, delivery_id: int) -> Delivery:
    delivery = await Delivery.get_or_none(id=delivery_id).prefetch_related("item__organization")
    if delivery is None or not principal.may_access(delivery.item.organization_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"delivery {delivery_id} not found")
    return delivery


@router.post("/deliveries/{delivery_id}/resolve")
async def resolve(delivery_id: int, data: ResolveIn, principal: PrincipalDep) -> ItemOut:
    """A person checked the platform: the uncertain delivery is public, or should be retried."""
    delivery = await _delivery(principal, delivery_id)
    org_id = delivery.item.organization_id
    detail = {"delivery": delivery.id, "channel": delivery.channel, "outcome": data.outcome}
    target = item_target(delivery.item)
    async with principal.audited("delivery.resolved", org_id=org_id, target=target, detail=detail):
        principal.require(org_id, *EDITORS)
        try:
            await publishing.resolve_uncertain(delivery, published=data.outcome == "published")
        except Conflict as exc:
            raise as_http(exc) from exc
    return await load_item_out(delivery.item)


@router.post("/deliveries/{delivery_id}/posted")
async def confirm_posted(
    delivery_id: int, data: PostedIn, principal: PrincipalDep, runtime: RuntimeDep
) -> ItemOut:
    """Staff confirm the printed notice is on the board: who, where and when."""
    delivery = await _delivery(principal, delivery_id)
    org_id = delivery.item.organization_id
    detail = {"delivery": delivery.id, "location": data.location, "posted_by": data.posted_by}
    target = item_target(delivery.item)
    async with principal.audited("delivery.posted", org_id=org_id, target=target, detail=detail):
        principal.require(org_id, *EDITORS)
        try:
            await publishing.confirm_posting(
                delivery,
                location=data.location,
                posted_by=data.posted_by,
                posted_on=data.posted_on,
                period_days=data.period_days or runtime.settings.posting_period_days,
            )
        except (Conflict, InputError) as exc:
            raise as_http(exc) from exc
    return await load_item_out(delivery.item)


@router.post("/deliveries/{delivery_id}/removed")
async def confirm_removed(delivery_id: int, principal: PrincipalDep) -> ItemOut:
    """Staff took the paper notice down at the end of its 公示期 (or after a withdrawal)."""
    delivery = await _delivery(principal, delivery_id)
    org_id = delivery.item.organization_id
    detail = {"delivery": delivery.id}
    target = item_target(delivery.item)
    async with principal.audited("delivery.removed", org_id=org_id, target=target, detail=detail):
        principal.require(org_id, *EDITORS)
        try:
            await publishing.mark_removed(delivery)
        except Conflict as exc:
            raise as_http(exc) from exc
    return await load_item_out(delivery.item)


@router.get("/deliveries/{delivery_id}/pdf")
async def notice_pdf(
    delivery_id: int, principal: PrincipalDep, runtime: RuntimeDep
) -> FileResponse:
    """The print-ready notice PDF of a notice-board delivery."""
    delivery = await _delivery(principal, delivery_id)
    path = runtime.settings.print_queue_dir / (delivery.external_id or "")
    if delivery.channel != "noticeboard" or not delivery.external_id or not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no PDF in the print queue")
    return FileResponse(
        path, media_type="application/pdf", filename=f"notice-{delivery.item.id}.pdf"
    )


@router.get("/reminders/removals")
async def removal_reminders(principal: PrincipalDep) -> list[ReminderOut]:
    """Notices due to come down: 公示期 over, or the item withdrawn, and not yet removed."""
    today = local_today()
    due = await publishing.removal_due(
        None if principal.org_ids is None else sorted(principal.org_ids), today=today
    )
    return [
        ReminderOut(
            delivery_id=p.delivery.id,
            item_id=p.delivery.item.id,
            org=p.delivery.item.organization.code,
            title=p.delivery.item.title,
            location=p.location,
            take_down_on=p.take_down_on,
            reason="withdrawn" if p.removal_requested_at else "period_ended",
        )
        for p in due
    ]
