"""仪表盘: today's queue, what needs a person, reminders, WeChat quota and the year's counts.

Everything is for the organization picked in the top bar and the organizations under it
that the user may see. Channels and states are named as on the item pages (item_forms).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from bot.applications import desk_reminders
from bot.console.auth import ConsoleUser, OrgRef, current_user
from bot.console.item_forms import STATE_LABELS, STATUS_LABELS
from bot.console.templates import current_org, render
from bot.reminders import Reminder, reminders
from channels.registry import BUCKET_LABELS, CHANNEL_LABELS, ReportBucket, bucket_channels
from channels.wechat import MONTHLY_BROADCASTS
from storage.delivery import State
from storage.items import ItemStatus
from storage.ledger import BUSINESS_TZ, channel_tally, local_today
from storage.models import Delivery, Item
from storage.wechat_models import WechatAccount

router = APIRouter()
UserDep = Annotated[ConsoleUser, Depends(current_user)]

UNCLAIMED_GRACE = dt.timedelta(minutes=10)  # due this long and no worker took it: stuck
OPEN_STATUSES = (ItemStatus.DRAFT, ItemStatus.IN_REVIEW, ItemStatus.REJECTED, ItemStatus.ACTIVE)
# Today's queue lists the earliest this many; the rest are counted and left to the item
# list, so a busy day does not make every clerk's dashboard load and draw hundreds of rows.
QUEUE_SHOWN = 20


def delivery_label(delivery: Delivery, item: Item) -> str:
    """A delivery's state as a clerk reads it (held for review, waiting to be posted…)."""
    held = delivery.state == State.PENDING and delivery.next_attempt_at is None
    if held and item.status in (ItemStatus.DRAFT, ItemStatus.IN_REVIEW, ItemStatus.REJECTED):
        return STATE_LABELS["held"]
    if delivery.channel == "noticeboard" and delivery.state == State.ACCEPTED:
        return "等待张贴确认"
    return STATE_LABELS.get(delivery.state, delivery.state)


def scope_ids(user: ConsoleUser, org: OrgRef) -> list[int]:
    """The organization and every organization under it that the user may see."""
    ids = [org.id]
    for _ in range(3):  # county → township → village at most
        ids += [o.id for o in user.orgs if o.parent_id in ids and o.id not in ids]
    return ids


@dataclass(frozen=True, slots=True)
class Attention:
    """A delivery a person must look at, with what to do about it."""

    item: Item
    delivery: Delivery
    problem: str
    advice: str
    href: str


async def _attention(org_ids: list[int], now: dt.datetime) -> list[Attention]:
    found: list[Attention] = []
    query = Delivery.filter(item__organization_id__in=org_ids, item__status=ItemStatus.ACTIVE)
    stuck = query.filter(
        state__in=(State.PENDING, State.RETRY_WAIT), next_attempt_at__lt=now - UNCLAIMED_GRACE
    )
    for d in await stuck.prefetch_related("item").order_by("next_attempt_at"):
        advice = "已到发布时间但没有被处理，请检查发布服务是否在运行。"
        found.append(Attention(d.item, d, "到期未发", advice, f"/console/items/{d.item_id}"))
    for d in await query.filter(state=State.FAILED).prefetch_related("item").order_by("-id"):
        advice = d.last_error or "请查看详情后重试或取消。"
        found.append(Attention(d.item, d, "发布失败", advice, f"/console/items/{d.item_id}"))
    for d in await query.filter(state=State.UNCERTAIN).prefetch_related("item").order_by("-id"):
        advice = "无法确定是否已发出，请到平台核对后在详情页确认或重试。"
        found.append(Attention(d.item, d, "结果不明", advice, f"/console/items/{d.item_id}"))
    posting = query.filter(state=State.ACCEPTED, channel="noticeboard").prefetch_related("item")
    for d in await posting.order_by("id"):
        advice = "请打印并张贴，然后在打印队列中确认张贴。"
        found.append(Attention(d.item, d, "待张贴", advice, "/console/print"))
    return found


@dataclass(frozen=True, slots=True)
class Queue:
    """Today's queue: how many items, and the earliest of them with their channel states."""

    total: int
    shown: list[tuple[Item, list[tuple[str, str]]]]


async def _today(org_ids: list[int], today: dt.date) -> Queue:
    start = dt.datetime.combine(today, dt.time(), tzinfo=BUSINESS_TZ)
    query = Item.filter(
        organization_id__in=org_ids,
        status__in=OPEN_STATUSES,
        publish_at__gte=start,
        publish_at__lt=start + dt.timedelta(days=1),
    )
    items = await (
        query.prefetch_related("deliveries").order_by("publish_at", "id").limit(QUEUE_SHOWN)
    )
    return Queue(await query.count(), _with_states(items))


def _with_states(items: list[Item]) -> list[tuple[Item, list[tuple[str, str]]]]:
    return [
        (
            item,
            [
                (CHANNEL_LABELS.get(d.channel, d.channel), delivery_label(d, item))
                for d in sorted(item.deliveries, key=lambda d: d.channel)
            ],
        )
        for item in items
    ]


async def _quota(request: Request, org: OrgRef, today: dt.date) -> dict[str, Any] | None:
    account = await WechatAccount.get_or_none(organization_id=org.id)
    if account is None:
        return None
    jobs = request.app.state.runtime.wechat.jobs
    if account.kind == "service":
        allowance, period = MONTHLY_BROADCASTS, "本月"
        used = await jobs.broadcasts_since(account.app_id, today.replace(day=1))
    else:
        allowance, period = 1, "今日"
        used = await jobs.broadcasts_since(account.app_id, today)
    return {
        "account": account,
        "period": period,
        "allowance": allowance,
        "left": max(0, allowance - used),
        "publish_mode": account.mode == "publish",
    }


def _bucket_label(bucket: ReportBucket) -> str:
    """The bucket's name, with the channels it gathers when there is a choice (其他方式)."""
    channels = bucket_channels(bucket)
    if bucket != "other" or not channels:
        return BUCKET_LABELS[bucket]
    return f"{BUCKET_LABELS[bucket]}（{'、'.join(CHANNEL_LABELS[c] for c in channels)}）"


async def _bars(org: OrgRef, year: int) -> tuple[int, list[dict[str, Any]]]:
    tally = await channel_tally(org.id, year)
    values = [(_bucket_label(bucket), getattr(tally, bucket), bucket) for bucket in BUCKET_LABELS]
    top = max([tally.total, *(v for _, v, _ in values), 1])
    bars = [
        {"label": label, "value": value, "bucket": bucket, "pct": round(value * 100 / top)}
        for label, value, bucket in values
    ]
    return tally.total, bars


async def _reminders(request: Request, org_ids: list[int], today: dt.date) -> list[Reminder]:
    runtime = request.app.state.runtime
    return await reminders(  # applications: the desk's reminders (5/3/1 days) instead
        org_ids,
        today=today,
        calendar=runtime.calendar,
        settings=runtime.settings,
        kinds=("annual_report", "proactive"),
    )


@router.get("/", response_class=HTMLResponse)
async def dashboard(request: Request, user: UserDep) -> Response:
    org = current_org(request)
    if org is None:
        return render(request, "dashboard.html", org=None)
    now = dt.datetime.now(dt.UTC)
    today = local_today(now)
    org_ids = scope_ids(user, org)
    total, bars = await _bars(org, today.year)
    in_review = await Item.filter(organization_id__in=org_ids, status=ItemStatus.IN_REVIEW).count()
    rejected = await Item.filter(
        organization_id__in=org_ids, status=ItemStatus.REJECTED, author_user_id=user.id
    ).order_by("-updated_at")
    return render(
        request,
        "dashboard.html",
        org=org,
        today=today,
        queue=await _today(org_ids, today),
        attention=await _attention(org_ids, now),
        reminders=await _reminders(request, org_ids, today),
        applications_due=await desk_reminders(
            org_ids, today=today, calendar=request.app.state.runtime.calendar
        ),
        quota=await _quota(request, org, today),
        year=today.year,
        total=total,
        bars=bars,
        in_review=in_review,
        rejected=rejected,
        may_review=user.role_in(org.id) in ("reviewer", "admin"),
        channel_labels=CHANNEL_LABELS,
        status_labels=STATUS_LABELS,
    )
