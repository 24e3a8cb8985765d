"""The item form of the console: Chinese labels, parsing the posted fields into an
``ItemInput`` (errors per field), and the three previews of an unsaved item."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from markupsafe import Markup
from starlette.datastructures import FormData

from bot.app import Runtime
from bot.console.auth import ConsoleUser
from bot.console.templates import FormState, templates
from bot.console.text_guard import LABELS, field_errors
from bot.content import UnsafeContent, render_body
from bot.publishing import InputError, ItemInput
from channels.base import AccountBound, ChannelError, ConfigurationError, Publishable
from channels.registry import CHANNEL_LABELS
from channels.website import StaticWebsite
from channels.wechat import WeChatChannel
from channels.wechat.content import to_wechat_html
from storage.ledger import BUSINESS_TZ, local_date
from storage.models import Item, Organization

STATUS_LABELS = {
    "draft": "草稿",
    "in_review": "待审核",
    "rejected": "已退回修改",
    "active": "已通过审核",
    "cancelled": "已撤销",
    "withdrawn": "已撤回",
    "superseded": "已被新版本替换",
}
PROGRESS_LABELS = {
    "empty": "未选渠道",
    "needs_attention": "需要人工处理",
    "cancelled": "已取消",
    "withdrawn": "已撤回",
    "published": "已全部发布",
    "awaiting_confirmation": "等待张贴确认",
    "publishing": "发布中",
    "held": "等待审核放行",
}
STATE_LABELS = {
    "pending": "排队中",
    "held": "等待审核放行",
    "sending": "正在发送",
    "retry_wait": "等待重试",
    "accepted": "已受理，待确认",
    "published": "已发布",
    "failed": "发布失败",
    "uncertain": "结果不确定，需核实",
    "cancelled": "已取消",
    "withdrawn": "已撤回",
}
STEP_LABELS = {"prepare": "准备内容", "commit": "提交发布", "confirm": "确认结果"}
OUTCOME_LABELS = {
    "committed": "成功发布",
    "accepted": "已受理",
    "temporary": "临时故障，将自动重试",
    "permanent": "失败，不再自动重试",
    "configuration": "渠道配置有误",
    "deferred": "延后（等待发送时段或额度）",
    "unknown": "结果不明，需人工核实",
    "lease_expired": "处理中断，将重新处理",
}
PRIORITY_OPTIONS = [("0", "普通"), ("1", "较高"), ("2", "最高")]
TEXT_FIELDS = ("title", "body", "summary", "category", "doc_number", "formed_on", "publish_at")
FIELD_LABELS = {
    **{field: LABELS[field] for field in TEXT_FIELDS},
    "channels": "发布渠道",
    "priority": "优先级",
}
_CJK = re.compile(r"[\u4e00-\u9fff]")
_LIMITS = {"title": 200, "summary": 500, "category": 50, "doc_number": 100}


def chinese(field: str, message: str) -> str:
    """An ``InputError`` message as a clerk reads it (channel messages are Chinese already)."""
    if _CJK.search(message):
        return message
    label = FIELD_LABELS.get(field, field)
    if "must not be empty" in message:
        return f"请填写{label}"
    if field == "body" and "bytes" in message:
        return "正文太长，请删减后再保存（" + message.replace("is ", "现为 ") + "）"
    if field == "body":
        return "正文去掉不安全的代码后没有可以发布的内容，请填写正文"
    if field == "channels" and "at least" in message:
        return "请至少选择一个发布渠道"
    if field == "channels":
        return "所选渠道在本服务器上未配置，请联系管理员"
    if field == "publish_at":
        return "请填写正确的发布时间"
    return f"{label}填写有误：{message}"


@dataclass
class ParsedItem:
    """What the form posted: the values to show again, errors, and the input if valid."""

    form: FormState
    data: ItemInput | None


def form_values(item: Item) -> FormState:
    """An item's fields as the edit form shows them."""
    publish = item.publish_at.astimezone(BUSINESS_TZ).strftime("%Y-%m-%dT%H:%M")
    values = {
        "title": item.title,
        "body": item.body_md,
        "summary": item.summary,
        "category": item.category,
        "doc_number": item.doc_number,
        "formed_on": item.formed_on.isoformat() if item.formed_on else "",
        "publish_at": publish,
        "normative": "1" if item.normative else "",
        "urgent": "1" if item.urgent else "",
        "priority": str(item.priority),
        "channels": ",".join(item.channels),
    }
    return FormState(values=values)


def parse_item(raw: FormData, org: Organization, user: ConsoleUser) -> ParsedItem:
    """Read the posted item fields; ``data`` is None when a field is malformed."""
    values = {name: str(raw.get(name) or "") for name in TEXT_FIELDS}
    chosen = [str(c) for c in raw.getlist("channels") if str(c) in CHANNEL_LABELS]
    values.update(
        normative="1" if raw.get("normative") else "",
        urgent="1" if raw.get("urgent") else "",
        priority=str(raw.get("priority") or "0"),
        channels=",".join(chosen),
    )
    form = FormState(values=values)
    for name, limit in _LIMITS.items():
        if len(values[name].strip()) > limit:
            form.errors[name] = f"{FIELD_LABELS[name]}不能超过 {limit} 个字"
    form.errors.update(field_errors({name: values[name] for name in TEXT_FIELDS}))
    formed_on = _date(values["formed_on"], form)
    publish_at = _datetime(values["publish_at"], form)
    priority = int(values["priority"]) if values["priority"] in ("0", "1", "2") else 0
    if form.errors:
        return ParsedItem(form, None)
    data = ItemInput(
        org=org,
        title=values["title"],
        body=values["body"],
        summary=values["summary"],
        category=values["category"],
        doc_number=values["doc_number"],
        normative=bool(values["normative"]),
        formed_on=formed_on,
        channels=chosen,
        publish_at=publish_at,
        author=user.display_name,
        priority=priority,
        urgent=bool(values["urgent"]),
        author_user_id=user.id,
    )
    return ParsedItem(form, data)


def _date(text: str, form: FormState) -> dt.date | None:
    if not text.strip():
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        form.errors["formed_on"] = "成文日期格式不对，请按 2026-03-01 的格式填写"
        return None


def _datetime(text: str, form: FormState) -> dt.datetime | None:
    """A ``datetime-local`` value read as Beijing time; empty: publish at once."""
    if not text.strip():
        return None
    try:
        naive = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        form.errors["publish_at"] = "发布时间格式不对，请按 2026-03-01 09:00 的格式填写"
        return None
    return naive.replace(tzinfo=BUSINESS_TZ) if naive.tzinfo is None else naive


def record_error(form: FormState, error: InputError) -> None:
    """Put a service-layer error beside its field (unknown fields go on 标题's general line)."""
    field = error.field if error.field in FIELD_LABELS else "general"
    form.errors[field] = chinese(error.field, error.message)


async def channel_options(runtime: Runtime, org: Organization) -> list[tuple[str, str]]:
    """The channels this organization may choose: those with per-organization accounts
    (WeChat, a group robot) only once its account is set up."""
    options = []
    for name, label in CHANNEL_LABELS.items():
        channel = runtime.channels.get(name)
        if channel is not None and await _usable_by(channel, org.code):
            options.append((name, label))
    return options


async def _usable_by(channel: object, org_code: str) -> bool:
    if not isinstance(channel, AccountBound):
        return True
    try:
        await channel.account(org_code)
    except ConfigurationError:
        return False
    return True


@dataclass(frozen=True)
class Previews:
    """The phone view and the website page of an unsaved item, as HTML documents."""

    wechat: str
    website: str


def unsaved(values: Mapping[str, str], org: Organization, item: Item | None) -> Publishable:
    """The channels' view of what the form holds now, valid or not."""
    try:
        body_html = render_body(values.get("body", "")).html
    except UnsafeContent:
        body_html = "<p>（正文为空）</p>"
    form = FormState()
    publish_at = _datetime(values.get("publish_at", ""), form) or dt.datetime.now(dt.UTC)
    formed_on = _date(values.get("formed_on", ""), form)
    return Publishable(
        delivery_id=0,
        idempotency_key="preview",
        org_code=org.code,
        org_name=org.name,
        item_id=item.id if item else 0,
        lineage_id=(item.lineage_id or item.id) if item else 0,
        revision=item.revision if item else 1,
        index_no=item.index_no if item else "（保存后生成）",
        title=values.get("title", "").strip() or "（未填写标题）",
        body_md=values.get("body", ""),
        body_html=body_html,
        summary=values.get("summary", "").strip(),
        category=values.get("category", "").strip(),
        doc_number=values.get("doc_number", "").strip(),
        normative=bool(values.get("normative")),
        formed_on=formed_on,
        publish_date=local_date(publish_at),
    )


def previews(pub: Publishable, runtime: Runtime) -> Previews:
    """The WeChat phone view (the article HTML WeChat gets) and the website item page."""
    wechat = templates.env.get_template("_preview_wechat.html").render(
        pub=pub,
        content=Markup(to_wechat_html(pub.body_html)),  # noqa: S704 - sanitized, then restyled
    )
    site = StaticWebsite(Path("/nonexistent"), base_url=runtime.settings.site_base_url)
    try:
        website = site._render_item(pub).decode("utf-8")  # the channel's own template
    except ChannelError as error:
        website = str(Markup("<p>{}</p>").format(error.message))
    return Previews(wechat=wechat, website=website)


async def dropped_images(runtime: Runtime, chosen: str, body_html: str) -> list[str]:
    """The body images WeChat would not get (too large, wrong type, could not fetch), with
    why, shown in the preview before the item is submitted."""
    channel = runtime.channels.get("wechat")
    if "wechat" not in chosen.split(",") or not isinstance(channel, WeChatChannel):
        return []
    return await channel.dropped_images(body_html)


async def preview_pdf(pub: Publishable, runtime: Runtime) -> bytes:
    """The A4 notice exactly as the notice board would print it."""
    from channels.printpdf import render_notice  # reportlab loads on the first preview

    rendered = await asyncio.to_thread(render_notice, pub, font_path=runtime.settings.pdf_font_path)
    return rendered.pdf
