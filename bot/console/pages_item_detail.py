"""One item: its review trail, a per-channel timeline of every attempt (kept live by
polling ``/live``), and the actions staff take on it: retry, cancel, withdraw, a WeChat
preview to a phone, and a person's decision on an uncertain delivery."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from bot import publishing, wechat_titles
from bot.console import item_forms as forms
from bot.console.auth import ConsoleError, ConsoleUser, can, client_ip, require_role
from bot.console.pages_items import WRITERS, item_in_scope, log, runtime_of
from bot.console.templates import FormState, flash, render, templates
from bot.publishing import Conflict, InputError
from bot.web.schemas import ItemOut
from bot.web.views import load_item_out
from bot.wechat_preview import PreviewRefused, check_recipient
from channels.registry import CHANNEL_LABELS
from channels.wechat import limits_of
from storage import audit
from storage.delivery import FINAL
from storage.items import UNRELEASED, ItemStatus
from storage.models import Delivery, Item
from storage.reviews import reviews_of
from storage.wechat import preview_recipients

router = APIRouter(prefix="/items")
ReaderDep = Annotated[ConsoleUser, Depends(require_role("editor", "reviewer", "admin"))]
EditorDep = Annotated[ConsoleUser, Depends(require_role("editor", "admin"))]
PREVIEWERS = ("editor", "reviewer", "admin")
NOT_A_RECIPIENT = (
    "这条信息尚未通过保密审查，只能发送预览到管理员登记的预览接收人（渠道设置—预览接收人）。"
)
NO_WECHAT_TITLE = "这条信息不通过政务微信发布（或本单位尚未配置公众号），没有微信标题。"
DECISION_LABELS = {
    "approved": "审核通过",
    "rejected": "退回修改",
    "forced": "紧急发布（未经审核）",
    "post_review": "事后审查",
}


def photo_path(data_dir: Path, delivery_id: int) -> Path | None:
    """The posting photo saved for a notice-board delivery, if any."""
    for ext in ("jpg", "png"):
        path = data_dir / "postings" / f"{delivery_id}.{ext}"
        if path.is_file():
            return path
    return None


async def _timeline(request: Request, user: ConsoleUser, item: Item, out: ItemOut) -> str:
    data_dir = runtime_of(request).settings.data_dir
    photos = {d.id for d in out.deliveries if photo_path(data_dir, d.id)}
    return templates.env.get_template("_item_timeline.html").render(
        item=item,
        out=out,
        photos=photos,
        held=item.status in UNRELEASED,
        may_act=can(user, item.organization_id, *WRITERS),
        csrf_token=request.session.get("csrf", ""),
        CSRF_FIELD="csrf_token",
        L=forms,
    )


def _settled(out: ItemOut) -> bool:
    return all(d.state in FINAL for d in out.deliveries)


async def _page(
    request: Request,
    user: ConsoleUser,
    item: Item,
    *,
    form: FormState | None = None,
    status_code: int = 200,
) -> Response:
    out = await load_item_out(item)
    runtime = runtime_of(request)
    return render(
        request,
        "item_detail.html",
        status_code=status_code,
        item=item,
        out=out,
        timeline=await _timeline(request, user, item, out),
        reviews=await reviews_of(item.id),
        decisions=DECISION_LABELS,
        form=form or FormState(),
        may_act=can(user, item.organization_id, *WRITERS),
        may_edit=item.status in UNRELEASED or item.status == "active",
        may_cancel=item.status in UNRELEASED or item.status == "active",
        wechat=any(d.channel == "wechat" for d in out.deliveries) and "wechat" in runtime.channels,
        may_preview=can(user, item.organization_id, *PREVIEWERS),
        preview_any=item.status == ItemStatus.ACTIVE,
        preview_options=[
            (r.openid, f"{r.name}（{r.openid}）" if r.name else r.openid)
            for r in await preview_recipients(item.organization_id)
        ],
        settled=_settled(out),
        wechat_title=await wechat_titles.item_view(runtime.wechat.accounts, item),
        L=forms,
    )


@router.get("/{item_id}", response_class=HTMLResponse)
async def item_detail(request: Request, user: ReaderDep, item_id: int) -> Response:
    return await _page(request, user, await item_in_scope(user, item_id))


@router.get("/{item_id}/live")
async def item_live(request: Request, user: ReaderDep, item_id: int) -> Response:
    """What the page polls every few seconds: the item as JSON and its timeline re-rendered."""
    item = await item_in_scope(user, item_id)
    out = await load_item_out(item)
    return JSONResponse(
        {
            "item": out.model_dump(mode="json"),
            "status": item.status,
            "settled": _settled(out),
            "html": await _timeline(request, user, item, out),
        }
    )


def _back(item: Item) -> RedirectResponse:
    return RedirectResponse(f"/console/items/{item.id}", status_code=303)


@router.post("/{item_id}/retry")
async def retry(
    request: Request, user: EditorDep, item_id: int, channel: Annotated[str, Form()] = ""
) -> Response:
    item = await item_in_scope(user, item_id, *WRITERS)
    try:
        retried = await publishing.retry(item, channel=channel or None)
    except Conflict:
        flash(
            request, "没有需要重试的渠道：只有失败、结果不确定或等待重试的渠道可以重试。", "error"
        )
        return _back(item)
    await log(request, user, "item.retried", item, channel=channel, deliveries=retried)
    label = CHANNEL_LABELS.get(channel, "所有失败的渠道")
    flash(request, f"已安排{label}重新发布，页面会自动显示进度。")
    return _back(item)


@router.post("/{item_id}/cancel")
async def cancel(request: Request, user: EditorDep, item_id: int) -> Response:
    item = await item_in_scope(user, item_id, *WRITERS)
    try:
        stopped = await publishing.cancel(item, reason=f"由 {user.display_name} 在工作台撤销")
    except Conflict as error:
        raise ConsoleError(409, "这条信息当前状态不能撤销。") from error
    await log(request, user, "item.cancelled", item, deliveries=stopped)
    flash(request, "已撤销：尚未发布的渠道不会再发布。已经公开的内容请用“撤回”。")
    return _back(item)


@router.post("/{item_id}/withdraw", response_class=HTMLResponse)
async def withdraw(
    request: Request, user: EditorDep, item_id: int, reason: Annotated[str, Form()] = ""
) -> Response:
    item = await item_in_scope(user, item_id, *WRITERS)
    runtime = runtime_of(request)
    try:
        notes = await publishing.withdraw(item, reason=reason, channels=runtime.channels)
    except InputError:
        form = FormState(values={"reason": reason}, errors={"reason": "请写明撤回原因"})
        return await _page(request, user, item, form=form, status_code=400)
    except Conflict as error:
        raise ConsoleError(409, "这条信息已撤销，无需撤回。") from error
    await log(request, user, "item.withdrawn", item, reason=reason.strip(), notes=notes)
    flash(request, "已撤回。各渠道的处理结果见下方时间线；纸质公告请到公开栏撤下。")
    return _back(item)


@router.post("/{item_id}/wechat-preview", response_class=HTMLResponse)
async def wechat_preview(
    request: Request, user: ReaderDep, item_id: int, openid: Annotated[str, Form()] = ""
) -> Response:
    item = await item_in_scope(user, item_id, *PREVIEWERS)  # a reviewer previews before signing
    try:
        if openid.strip():
            await check_recipient(item, openid)
    except PreviewRefused:
        form = FormState(values={"openid": openid}, errors={"openid": NOT_A_RECIPIENT})
        return await _page(request, user, item, form=form, status_code=403)
    try:
        await publishing.preview_wechat(item, openid, channels=runtime_of(request).channels)
    except InputError:
        form = FormState(
            values={"openid": openid}, errors={"openid": "请填写接收预览的微信号 openid"}
        )
        return await _page(request, user, item, form=form, status_code=400)
    except Conflict as error:
        form = FormState(values={"openid": openid}, errors={"openid": _wechat_error(error)})
        return await _page(request, user, item, form=form, status_code=409)
    await log(request, user, "item.wechat_preview", item, openid=openid.strip())
    flash(request, "预览已发送到该微信号，请在手机上查看。不会群发，也不占用额度。")
    return _back(item)


@router.post("/{item_id}/wechat-title", response_class=HTMLResponse)
async def set_wechat_title(
    request: Request, user: EditorDep, item_id: int, wechat_title: Annotated[str, Form()] = ""
) -> Response:
    """The clerk's 微信标题, checked by the API's rule; empty goes back to the shortened form."""
    item = await item_in_scope(user, item_id, *WRITERS)
    runtime = runtime_of(request)
    account = await wechat_titles.account_for(runtime.wechat.accounts, item)
    if account is None:
        raise ConsoleError(409, NO_WECHAT_TITLE)
    title = wechat_titles.tidy(wechat_title)
    problem = wechat_titles.title_problem(title, limits_of(account))
    if problem:
        form = FormState(values={"wechat_title": title}, errors={"wechat_title": problem})
        return await _page(request, user, item, form=form, status_code=400)
    async with audit.changing(
        "item.wechat_title",
        user_id=user.id,
        username=user.username,
        organization_id=item.organization_id,
        target=f"item:{item.id} {item.title}",
        detail={"title": title},
        ip=client_ip(request),
    ):
        await wechat_titles.save_title(item.id, title, set_by=user.username)
    flash(request, "微信标题已保存。" if title else "已恢复为自动缩短的微信标题。")
    return _back(item)


def _wechat_error(error: Conflict) -> str:
    text = str(error)
    return text if "预览" in text else "这条信息不通过政务微信发布，不能发送预览。"


@router.post("/{item_id}/deliveries/{delivery_id}/resolve")
async def resolve(
    request: Request,
    user: EditorDep,
    item_id: int,
    delivery_id: int,
    outcome: Annotated[str, Form()] = "",
) -> Response:
    item = await item_in_scope(user, item_id, *WRITERS)
    delivery = await Delivery.get_or_none(id=delivery_id, item_id=item.id)
    if delivery is None:
        raise ConsoleError(404, "没有找到这个渠道的发布记录。")
    if outcome not in ("published", "retry"):
        raise ConsoleError(400, "请选择“已发布”或“重新发布”。")
    try:
        await publishing.resolve_uncertain(delivery, published=outcome == "published")
    except Conflict:
        flash(request, "这个渠道已不是“结果不确定”状态，无需处理。", "error")
        return _back(item)
    detail: dict[str, Any] = {"channel": delivery.channel, "outcome": outcome}
    await log(request, user, "delivery.resolved", item, **detail)
    label = CHANNEL_LABELS.get(delivery.channel, delivery.channel)
    flash(request, f"已记录：{label}{'确已发布' if outcome == 'published' else '将重新发布'}。")
    return _back(item)
