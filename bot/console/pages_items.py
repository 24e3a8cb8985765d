"""信息: the organization's items, and the editor that writes and submits them for review.

New items are submitted to the 保密审查 gate (or saved as drafts), never queued directly.
Editing a released item makes a new revision that waits for review again.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from bot import publishing, submission, wechat_titles
from bot.app import Runtime
from bot.console import item_forms as forms
from bot.console.auth import ConsoleError, ConsoleUser, OrgRef, client_ip, ensure, require_role
from bot.console.templates import FormState, current_org, flash, render
from bot.publishing import Conflict, InputError
from bot.web.views import progress
from channels.base import ChannelError
from channels.registry import CHANNEL_LABELS
from storage import audit
from storage.items import UNRELEASED, ItemStatus
from storage.models import Delivery, Item, Organization

router = APIRouter(prefix="/items")
ReaderDep = Annotated[ConsoleUser, Depends(require_role("editor", "reviewer", "admin"))]
EditorDep = Annotated[ConsoleUser, Depends(require_role("editor", "admin"))]
WRITERS = ("editor", "admin")
PAGE_SIZE = 50
# What a row of the list shows: the bodies stay in the database (they can be long).
LISTED_FIELDS = ("id", "title", "status", "created_at", "index_no", "revision", "urgent")
NOT_FOUND = "没有找到这条信息，或您无权查看。"
PDF_HEADERS = {
    "content-disposition": 'inline; filename="preview.pdf"',
    "x-frame-options": "SAMEORIGIN",
    "content-security-policy": "default-src 'none'; frame-ancestors 'self'",
}


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def org_here(request: Request, user: ConsoleUser, *roles: str) -> OrgRef:
    """The organization chosen in the top bar, if the user holds one of ``roles`` there."""
    org = current_org(request)
    if org is None:
        raise ConsoleError(403, "您还没有被分配到任何机构，请联系管理员。")
    ensure(user, org.id, *roles)
    return org


async def item_in_scope(user: ConsoleUser, item_id: int, *roles: str) -> Item:
    """The item if it belongs to one of the user's organizations (404) and the role fits (403)."""
    item = await Item.get_or_none(id=item_id).prefetch_related("organization")
    if item is None:
        raise ConsoleError(404, NOT_FOUND)
    ensure(user, item.organization_id, *roles)
    return item


async def log(request: Request, user: ConsoleUser, action: str, item: Item, **detail: Any) -> None:
    await audit.record(
        action,
        user_id=user.id,
        username=user.username,
        organization_id=item.organization_id,
        target=f"item:{item.id} {item.title}",
        detail={"index_no": item.index_no, "revision": item.revision, **detail},
        ip=client_ip(request),
    )


@router.get("", response_class=HTMLResponse)
async def item_list(
    request: Request, user: ReaderDep, status: str = "", channel: str = "", page: int = 1
) -> Response:
    org = org_here(request, user)
    query = Item.filter(organization_id=org.id)
    if status in forms.STATUS_LABELS:
        query = query.filter(status=status)
    else:
        query = query.exclude(status=ItemStatus.SUPERSEDED)
    if channel in CHANNEL_LABELS:
        query = query.filter(deliveries__channel=channel).distinct()
    total = await query.count()
    page = max(1, page)
    items = (
        await query.order_by("-created_at", "-id")
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
        .only(*LISTED_FIELDS)
    )
    rows = (
        await Delivery.filter(item_id__in=[i.id for i in items])
        .order_by("id")
        .values("item_id", "channel", "state")
    )
    states: dict[int, list[tuple[str, str]]] = {}
    for row in rows:
        states.setdefault(row["item_id"], []).append((row["channel"], row["state"]))
    listed = [
        (item, _progress(item, states.get(item.id, [])), states.get(item.id, [])) for item in items
    ]
    return render(
        request,
        "items.html",
        rows=listed,
        status=status,
        channel=channel,
        page=page,
        pages=max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE),
        total=total,
        may_write=ensure_ok(user, org.id, *WRITERS),
        L=forms,
    )


def ensure_ok(user: ConsoleUser, org_id: int, *roles: str) -> bool:
    try:
        ensure(user, org_id, *roles)
    except ConsoleError:
        return False
    return True


def _progress(item: Item, states: list[tuple[str, str]]) -> str:
    if item.status in UNRELEASED:
        return "held"
    return progress([state for _, state in states])


async def _editor(
    request: Request,
    org: Organization,
    form: FormState,
    item: Item | None,
    *,
    status_code: int = 200,
) -> Response:
    runtime = runtime_of(request)
    pub = forms.unsaved(form.values, org, item)
    shown = forms.previews(pub, runtime)
    dropped = await forms.dropped_images(runtime, form.value("channels"), pub.body_html)
    return render(
        request,
        "item_edit.html",
        status_code=status_code,
        previews=shown,
        dropped_images=dropped,
        wechat_title=await wechat_titles.item_view(runtime.wechat.accounts, item) if item else None,
        form=form,
        item=item,
        org=org,
        chosen=form.value("channels").split(","),
        channel_options=await forms.channel_options(runtime, org),
        released=item is not None and item.status not in UNRELEASED,
        L=forms,
    )


@router.get("/new", response_class=HTMLResponse)
async def new_item(request: Request, user: EditorDep) -> Response:
    org = await Organization.get(id=org_here(request, user, *WRITERS).id)
    form = FormState(values={"channels": "website,noticeboard", "priority": "0"})
    return await _editor(request, org, form, None)


@router.post("", response_class=HTMLResponse)
async def create_item(request: Request, user: EditorDep) -> Response:
    org = await Organization.get(id=org_here(request, user, *WRITERS).id)
    raw = await request.form()
    parsed = forms.parse_item(raw, org, user)
    as_draft = raw.get("action") == "draft"
    if parsed.data is not None:
        runtime = runtime_of(request)
        try:
            item = await submission.submit(
                parsed.data,
                channels=runtime.channels,
                max_body_bytes=runtime.settings.max_body_bytes,
                draft=as_draft,
            )
        except InputError as error:
            forms.record_error(parsed.form, error)
        else:
            await log(request, user, "item.draft_saved" if as_draft else "item.submitted", item)
            flash(request, "草稿已保存。" if as_draft else "已提交审核，审核通过后才会发布。")
            return RedirectResponse(f"/console/items/{item.id}", status_code=303)
    return await _editor(request, org, parsed.form, None, status_code=400)


@router.post("/preview")
async def preview(request: Request, user: EditorDep, item_id: int = 0) -> Response:
    """The WeChat phone view and the website page of what the form holds, and its errors."""
    org, item = await _preview_target(request, user, item_id)
    raw = await request.form()
    parsed = forms.parse_item(raw, org, user)
    if parsed.data is not None:
        runtime = runtime_of(request)
        try:
            await publishing.prepare(
                parsed.data,
                channels=runtime.channels,
                max_body_bytes=runtime.settings.max_body_bytes,
            )
        except InputError as error:
            forms.record_error(parsed.form, error)
    pub = forms.unsaved(parsed.form.values, org, item)
    runtime = runtime_of(request)
    shown = forms.previews(pub, runtime)
    dropped = await forms.dropped_images(runtime, parsed.form.value("channels"), pub.body_html)
    return JSONResponse(
        {
            "wechat": shown.wechat,
            "website": shown.website,
            "errors": parsed.form.errors,
            "dropped_images": dropped,
        }
    )


@router.post("/preview.pdf")
async def preview_pdf(request: Request, user: EditorDep, item_id: int = 0) -> Response:
    """The printed A4 notice of what the form holds (the form posts into the preview frame)."""
    org, item = await _preview_target(request, user, item_id)
    raw = await request.form()
    values = forms.parse_item(raw, org, user).form.values
    try:
        pdf = await forms.preview_pdf(forms.unsaved(values, org, item), runtime_of(request))
    except ChannelError as error:
        return Response(f"无法生成打印预览：{error.message}", media_type="text/plain", headers={
            "x-frame-options": "SAMEORIGIN", "content-security-policy": "frame-ancestors 'self'"
        })  # fmt: skip
    return Response(pdf, media_type="application/pdf", headers=PDF_HEADERS)


async def _preview_target(
    request: Request, user: ConsoleUser, item_id: int
) -> tuple[Organization, Item | None]:
    if item_id:
        item = await item_in_scope(user, item_id, *WRITERS)
        return item.organization, item
    return await Organization.get(id=org_here(request, user, *WRITERS).id), None


@router.get("/{item_id}/edit", response_class=HTMLResponse)
async def edit_item(request: Request, user: EditorDep, item_id: int) -> Response:
    item = await item_in_scope(user, item_id, *WRITERS)
    _editable(item)
    return await _editor(request, item.organization, forms.form_values(item), item)


def _editable(item: Item) -> None:
    if item.status not in UNRELEASED and item.status != ItemStatus.ACTIVE:
        label = forms.STATUS_LABELS.get(item.status, item.status)
        raise ConsoleError(409, f"这条信息{label}，不能再修改。")


@router.post("/{item_id}", response_class=HTMLResponse)
async def update_item(request: Request, user: EditorDep, item_id: int) -> Response:
    item = await item_in_scope(user, item_id, *WRITERS)
    _editable(item)
    raw = await request.form()
    parsed = forms.parse_item(raw, item.organization, user)
    as_draft = raw.get("action") == "draft" and item.status in UNRELEASED
    if parsed.data is not None:
        runtime = runtime_of(request)
        limits: dict[str, Any] = {
            "channels": runtime.channels,
            "max_body_bytes": runtime.settings.max_body_bytes,
        }
        try:
            if item.status in UNRELEASED:
                saved = await submission.edit(item, parsed.data, draft=as_draft, **limits)
            else:
                saved = await submission.revise(item, parsed.data, **limits)
        except InputError as error:
            forms.record_error(parsed.form, error)
        except Conflict as error:
            raise ConsoleError(409, f"保存失败：{error}。请刷新页面后再试。") from error
        else:
            action = "item.revised" if saved.id != item.id else "item.edited"
            await log(request, user, action, saved, draft=as_draft, previous=item.id)
            if saved.id != item.id:
                flash(request, f"已生成第 {saved.revision} 版修订，审核通过后将重新发布。")
            else:
                flash(request, "草稿已保存。" if as_draft else "已保存并提交审核。")
            return RedirectResponse(f"/console/items/{saved.id}", status_code=303)
    return await _editor(request, item.organization, parsed.form, item, status_code=400)
