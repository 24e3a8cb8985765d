"""打印队列: notices waiting to be printed and posted on the 公开栏, their PDFs, the posting
confirmation (with an optional photo), and reminders to take notices down."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from bot import publishing
from bot.console import item_forms as forms
from bot.console.auth import ConsoleError, ConsoleUser, client_ip, ensure, require_role
from bot.console.pages_item_detail import photo_path
from bot.console.pages_items import WRITERS, org_here, runtime_of
from bot.console.templates import FormState, flash, render
from bot.publishing import Conflict, InputError
from storage import audit, files
from storage.delivery import State
from storage.ledger import local_today
from storage.models import Delivery

router = APIRouter(prefix="/print")
EditorDep = Annotated[ConsoleUser, Depends(require_role(*WRITERS))]
MAX_PHOTO_BYTES = 5 * 1024 * 1024
_MAGIC = {b"\xff\xd8\xff": "jpg", b"\x89PNG\r\n\x1a\n": "png"}
NOT_FOUND = "没有找到这份公告，或您无权查看。"


async def _delivery(user: ConsoleUser, delivery_id: int) -> Delivery:
    """A notice-board delivery of one of the user's organizations (404), editor or admin (403)."""
    delivery = await Delivery.get_or_none(id=delivery_id).prefetch_related("item__organization")
    if delivery is None or delivery.channel != "noticeboard":
        raise ConsoleError(404, NOT_FOUND)
    ensure(user, delivery.item.organization_id, *WRITERS)
    return delivery


async def _page(
    request: Request,
    user: ConsoleUser,
    *,
    forms_by_id: dict[int, FormState] | None = None,
    status_code: int = 200,
) -> Response:
    org = org_here(request, user, *WRITERS)
    waiting = (
        await Delivery.filter(
            channel="noticeboard", state=State.ACCEPTED, item__organization_id=org.id
        )
        .prefetch_related("item")
        .order_by("created_at", "id")
    )
    due = await publishing.removal_due([org.id], today=local_today())
    return render(
        request,
        "print_queue.html",
        status_code=status_code,
        waiting=waiting,
        due=due,
        forms_by_id=forms_by_id or {},
        today=local_today().isoformat(),
        period=runtime_of(request).settings.posting_period_days,
        L=forms,
    )


@router.get("", response_class=HTMLResponse)
async def print_queue(request: Request, user: EditorDep) -> Response:
    return await _page(request, user)


@router.get("/{delivery_id}/pdf")
async def notice_pdf(request: Request, user: EditorDep, delivery_id: int) -> Response:
    """The print-ready notice PDF in the print queue (as the API's download serves it)."""
    delivery = await _delivery(user, delivery_id)
    path = runtime_of(request).settings.print_queue_dir / (delivery.external_id or "")
    if not delivery.external_id or not path.is_file():
        raise ConsoleError(404, "打印队列中没有这份公告的 PDF（可能尚未生成或已撤回）。")
    return FileResponse(
        path, media_type="application/pdf", filename=f"notice-{delivery.item.id}.pdf"
    )


async def _photo(upload: Any) -> tuple[bytes, str] | str | None:
    """The uploaded photo and its extension, None without one, or an error message."""
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    data = await upload.read(MAX_PHOTO_BYTES + 1)
    if len(data) > MAX_PHOTO_BYTES:
        return "照片不能超过 5 MB，请压缩后再上传"
    ext = next((e for magic, e in _MAGIC.items() if data.startswith(magic)), None)
    if ext is None:
        return "照片只能是 JPG 或 PNG 格式"
    return data, ext


def _place_photo(staged: files.StagedFile, delivery_id: int, ext: str) -> None:
    """Give the staged photo its name once the posting is stored (a leftover is replaced)."""
    try:
        for old in staged.folder.glob(f"{delivery_id}.*"):
            old.unlink()
    except OSError as exc:
        raise files.folder_error(exc, staged.folder) from exc
    staged.place(f"{delivery_id}.{ext}")


def _period(text: str, default: int) -> int | None:
    if not text.strip():
        return default
    return int(text) if text.strip().isdigit() and 1 <= int(text) <= 3650 else None


@router.post("/{delivery_id}/posted", response_class=HTMLResponse)
async def posted(request: Request, user: EditorDep, delivery_id: int) -> Response:
    """Staff put the notice on the board: where, when, by whom, for how long (photo optional)."""
    delivery = await _delivery(user, delivery_id)
    raw = await request.form()
    names = ("location", "posted_on", "posted_by", "period_days")
    form = FormState(values={name: str(raw.get(name) or "") for name in names})
    runtime = runtime_of(request)
    period = _period(form.value("period_days"), runtime.settings.posting_period_days)
    if period is None:
        form.errors["period_days"] = "公示天数须为 1 到 3650 之间的整数"
    posted_on: dt.date | None = None
    try:
        if form.value("posted_on"):
            posted_on = dt.date.fromisoformat(form.value("posted_on"))
    except ValueError:
        form.errors["posted_on"] = "张贴日期格式不对，请按 2026-03-01 的格式填写"
    try:
        photo = await _photo(raw.get("photo"))
    finally:
        await raw.close()  # the upload's temporary file
    if isinstance(photo, str):
        form.errors["photo"] = photo
    staged: files.StagedFile | None = None
    if not form.errors and period is not None:
        if isinstance(photo, tuple):  # on disk and fsynced before the row; removed if it fails
            folder = runtime.settings.data_dir / "postings"
            try:
                staged = await asyncio.to_thread(files.stage, folder, photo[0])
            except files.FolderError as error:
                raise ConsoleError(error.status_code, error.message_zh) from error
        stored = False
        try:
            await publishing.confirm_posting(
                delivery,
                location=form.value("location"),
                posted_by=form.value("posted_by"),
                posted_on=posted_on,
                period_days=period,
            )
            stored = True
        except InputError as error:
            label = {"location": "张贴地点", "posted_by": "张贴人"}.get(error.field, "")
            form.errors[error.field] = f"请填写{label}" if label else error.message
        except Conflict as error:
            raise ConsoleError(409, "这份公告已确认过张贴，或已撤销。") from error
        finally:
            if staged is not None and not stored:
                await asyncio.to_thread(staged.discard)
    if form.errors:
        return await _page(request, user, forms_by_id={delivery.id: form}, status_code=400)
    unplaced: files.FolderError | None = None
    if staged is not None and isinstance(photo, tuple):
        try:
            await asyncio.to_thread(_place_photo, staged, delivery.id, photo[1])
        except files.FolderError as error:  # the posting is stored: record it, then say so
            unplaced = error
    placed = isinstance(photo, tuple) and unplaced is None
    await _log(request, user, "posting.confirmed", delivery, **form.values, photo=placed)
    if unplaced is not None:
        where = f"{unplaced.folder}（{unplaced.strerror}）"
        raise ConsoleError(500, f"张贴已记录，但照片未能放入文件夹 {where}，请联系管理员。")
    flash(request, f"已记录张贴：《{delivery.item.title}》，公示 {period} 天。")
    return RedirectResponse("/console/print", status_code=303)


@router.post("/{delivery_id}/removed")
async def removed(request: Request, user: EditorDep, delivery_id: int) -> Response:
    delivery = await _delivery(user, delivery_id)
    try:
        await publishing.mark_removed(delivery)
    except Conflict as error:
        raise ConsoleError(409, "这份公告没有等待撤下的张贴记录。") from error
    await _log(request, user, "posting.removed", delivery)
    flash(request, f"已记录撤下：《{delivery.item.title}》。")
    return RedirectResponse("/console/print", status_code=303)


@router.get("/{delivery_id}/photo")
async def photo(request: Request, user: EditorDep, delivery_id: int) -> Response:
    delivery = await _delivery(user, delivery_id)
    path = photo_path(runtime_of(request).settings.data_dir, delivery.id)
    if path is None:
        raise ConsoleError(404, "这次张贴没有上传照片。")
    return FileResponse(path, media_type=f"image/{'png' if path.suffix == '.png' else 'jpeg'}")


async def _log(
    request: Request, user: ConsoleUser, action: str, delivery: Delivery, **detail: Any
) -> None:
    await audit.record(
        action,
        user_id=user.id,
        username=user.username,
        organization_id=delivery.item.organization_id,
        target=f"item:{delivery.item.id} {delivery.item.title}",
        detail={"delivery_id": delivery.id, **detail},
        ip=client_ip(request),
    )
