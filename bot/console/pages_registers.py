"""年报台账: the annual report's registers as console pages, spreadsheets, table 三 entered
as totals, and the report's written sections.

Reading needs any role in the organization in the top bar, writing an editor or an admin.
Every change is validated as the JSON API validates it (bot.register_specs) and stored
through storage.registers with its audit row in the same transaction.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from bot import register_xlsx as xlsx
from bot.annual.collect import report_text
from bot.annual.figures import APPLICANT_COLUMNS, TABLE3_ROWS
from bot.annual.table3_entry import check_table3, complete_table3
from bot.console.auth import ConsoleError, ConsoleUser, OrgRef, current_user
from bot.console.pages_applications import WRITERS, actor, here, may_write
from bot.console.templates import FormState, flash, render
from bot.register_specs import LIST_REGISTERS, REGISTERS, Register, parse, stored_values
from storage import registers
from storage.ledger import local_today
from storage.models import Item, Organization
from storage.register_models import NormativeDocument, ReportText, Table3Entry

router = APIRouter(prefix="/registers")
UserDep = Annotated[ConsoleUser, Depends(current_user)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
TEXT_FIELDS = {
    "basic_situation": "一、总体情况（基本工作情况）",
    "problems": "存在的主要问题及改进情况",
    "other_matters": "其他需要报告的事项",
    "publication_url": "年报发布网址",
    "contact": "联系方式",
}
NOT_FOUND = "没有找到这条记录，或您无权查看。"


def _register(key: str) -> Register:
    register = REGISTERS.get(key)
    if register is None:
        raise ConsoleError(404, "没有这个台账。")
    return register


def _year(value: int | None) -> int:
    this_year = local_today().year
    if value is None:
        return this_year
    if not 2008 <= value <= this_year + 1:
        raise ConsoleError(404, f"年份须在 2008 至 {this_year + 1} 之间。")
    return value


def _years() -> list[int]:
    return list(range(local_today().year, 2007, -1))


@router.get("")
async def index(request: Request, user: UserDep) -> Response:
    here(request, user)
    return RedirectResponse("/console/registers/responses", status_code=303)


# Table 三 entered as totals ----------------------------------------------------------------


@router.get("/table3", response_class=HTMLResponse)
async def table3_page(
    request: Request, user: UserDep, year: Annotated[int | None, Query()] = None
) -> Response:
    org = here(request, user)
    chosen = _year(year)
    entry = await Table3Entry.get_or_none(organization_id=org.id, year=chosen)
    values = {
        f"c_{row}_{col}": str(cells.get(col, 0))
        for row, cells in (entry.cells if entry else {}).items()
        for col in APPLICANT_COLUMNS
    }
    return _table3(request, user, org, chosen, FormState(values=values), entry, [], 200)


def _table3(
    request: Request,
    user: ConsoleUser,
    org: OrgRef,
    year: int,
    form: FormState,
    entry: Table3Entry | None,
    problems: list[str],
    status_code: int,
) -> Response:
    return render(
        request,
        "register_table3.html",
        status_code=status_code,
        org=org,
        year=year,
        years=_years(),
        form=form,
        entry=entry,
        problems=problems,
        rows=[(k, label) for k, label in TABLE3_ROWS if k != "total"],
        columns=APPLICANT_COLUMNS,
        may_write=may_write(user, org.id),
    )


@router.post("/table3/{year}", response_class=HTMLResponse)
async def table3_save(request: Request, user: UserDep, year: int) -> Response:
    org = here(request, user, *WRITERS)
    year = _year(year)
    raw = await request.form()
    entry = await Table3Entry.get_or_none(organization_id=org.id, year=year)
    if raw.get("action") == "clear":
        if entry is not None:
            await registers.delete_record(entry, actor(request, user))
        flash(request, "已取消汇总填报，表三改由申请台账逐件统计。")
        return RedirectResponse(f"/console/registers/table3?year={year}", status_code=303)
    values = {k: str(v).strip() for k, v in raw.items() if k.startswith("c_")}
    cells, problems = check_table3(values)
    if problems:
        return _table3(request, user, org, year, FormState(values=values), entry, problems, 400)
    await registers.upsert_year(
        Table3Entry, org.id, year, {"cells": complete_table3(cells)}, actor(request, user)
    )
    flash(request, f"{year}年表三已按汇总数保存，报告中将注明“按汇总数填报”。")
    return RedirectResponse(f"/console/registers/table3?year={year}", status_code=303)


# The report's written sections ---------------------------------------------------------------


@router.get("/texts", response_class=HTMLResponse)
async def texts_page(
    request: Request, user: UserDep, year: Annotated[int | None, Query()] = None
) -> Response:
    org = here(request, user)
    chosen = _year(year)
    text = await report_text(await Organization.get(id=org.id), chosen)
    values = {name: str(getattr(text, name) or "") for name in TEXT_FIELDS}
    values["report_date"] = text.report_date.isoformat() if text.report_date else ""
    values["submitted"] = "1" if text.submitted else ""
    return render(
        request,
        "register_texts.html",
        org=org,
        year=chosen,
        years=_years(),
        form=FormState(values=values),
        draft=text.pk is None,
        labels=TEXT_FIELDS,
        may_write=may_write(user, org.id),
    )


@router.post("/texts/{year}", response_class=HTMLResponse)
async def texts_save(request: Request, user: UserDep, year: int) -> Response:
    org = here(request, user, *WRITERS)
    year = _year(year)
    raw = await request.form()
    values: dict[str, Any] = {name: str(raw.get(name) or "").strip() for name in TEXT_FIELDS}
    errors = {}
    for name, limit in (("publication_url", 500), ("contact", 1000)):
        if len(values[name]) > limit:
            errors[name] = f"不能超过 {limit} 个字"
    for name in ("basic_situation", "problems", "other_matters"):
        if len(values[name]) > 50_000:
            errors[name] = "不能超过 50000 个字"
    date_text = str(raw.get("report_date") or "").strip()
    try:
        values["report_date"] = dt.date.fromisoformat(date_text) if date_text else None
    except ValueError:
        errors["report_date"] = "应为日期，格式如 2026-01-20"
    values["submitted"] = bool(raw.get("submitted"))
    if errors:
        shown = {k: str(v or "") for k, v in values.items()}
        shown["report_date"] = date_text
        return render(
            request, "register_texts.html", status_code=400, org=org, year=year, years=_years(),
            form=FormState(values=shown, errors=errors), draft=False, labels=TEXT_FIELDS,
            may_write=True,
        )  # fmt: skip
    await registers.upsert_year(ReportText, org.id, year, values, actor(request, user))
    flash(
        request,
        f"{year}年度报告文字已保存。" + ("已标记为数据报送完毕。" if values["submitted"] else ""),
    )
    return RedirectResponse(f"/console/registers/texts?year={year}", status_code=303)


# Linking items marked 规范性文件 ---------------------------------------------------------------


@router.post("/documents/link/{item_id}")
async def link_item(request: Request, user: UserDep, item_id: int) -> Response:
    org = here(request, user, *WRITERS)
    item = await Item.get_or_none(id=item_id, organization_id=org.id, normative=True)
    if item is None:
        raise ConsoleError(404, NOT_FOUND)
    doc = await registers.link_normative_item(item, actor(request, user))
    flash(request, f"已登记到规范性文件台账：{doc.title}")
    return RedirectResponse("/console/registers/documents", status_code=303)


async def _unlinked_items(org_id: int) -> list[Item]:
    """Normative items (latest revision of each) that no register entry points to."""
    rows = await NormativeDocument.filter(
        organization_id=org_id, item_id__not_isnull=True
    ).values_list("item_id", flat=True)
    linked = {int(str(value)) for value in rows}
    items = (
        await Item.filter(organization_id=org_id, normative=True)
        .exclude(status__in=("superseded", "cancelled"))
        .order_by("id")
    )
    latest: dict[int, Item] = {}
    for item in items:
        latest[item.lineage_id or item.id] = item
    return [item for lineage, item in latest.items() if lineage not in linked]


# Spreadsheets --------------------------------------------------------------------------------


@router.get("/{key}/template.xlsx")
async def template(request: Request, user: UserDep, key: str) -> Response:
    here(request, user)
    register = _register(key)
    return _xlsx(xlsx.workbook(register), f"{key}-template.xlsx")


@router.get("/{key}/export.xlsx")
async def export(
    request: Request, user: UserDep, key: str, year: Annotated[int | None, Query()] = None
) -> Response:
    org = here(request, user)
    register = _register(key)
    query = register.model.filter(organization_id=org.id)
    if register.per_year:
        records = await query.order_by("year")
    else:
        if year is not None:
            bounds = {
                f"{register.date_field}__gte": dt.date(year, 1, 1),
                f"{register.date_field}__lte": dt.date(year, 12, 31),
            }
            query = query.filter(**bounds)
        records = await query.order_by(register.date_field, "id")
    name = f"{re.sub(r'[^A-Za-z0-9_-]', '_', org.code)}-{key}{'-' + str(year) if year else ''}.xlsx"
    return _xlsx(xlsx.workbook(register, list(records)), name)


def _xlsx(body: bytes, name: str) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(body, media_type=XLSX, headers=headers)


@router.get("/{key}/import", response_class=HTMLResponse)
async def import_page(request: Request, user: UserDep, key: str) -> Response:
    org = here(request, user, *WRITERS)
    register = _register(key)
    return render(
        request, "register_import.html", org=org, register=register, result=None, payload="",
        filename="",
    )  # fmt: skip


@router.post("/{key}/import", response_class=HTMLResponse)
async def import_file(request: Request, user: UserDep, key: str) -> Response:
    """Upload: a dry run shown row by row. Commit (with the dry-run's file): all or nothing."""
    org = here(request, user, *WRITERS)
    register = _register(key)
    raw = await request.form()
    upload = raw.get("file")
    filename = ""
    if isinstance(upload, UploadFile) and upload.filename:
        try:
            data = await upload.read(xlsx.MAX_BYTES + 1)
        finally:
            await upload.close()  # the spooled temporary file, at once
        filename = upload.filename
    else:
        try:
            data = base64.b64decode(str(raw.get("payload") or ""), validate=True)
        except (binascii.Error, ValueError):
            data = b""
        filename = str(raw.get("filename") or "")
    if not data:
        raise ConsoleError(400, "请选择要导入的 Excel（.xlsx）文件。")
    result = xlsx.dry_run(register, data)
    if raw.get("action") == "commit" and result.ok:
        rows = [
            {**(r.values or {}), **({"year": r.year} if register.per_year else {})}
            for r in result.rows
        ]
        await registers.import_records(
            register.model, org.id, rows, actor(request, user), source=filename or "upload.xlsx"
        )
        flash(request, f"已导入 {len(rows)} 行到{register.label}台账。")
        target = "/console/applications" if key == "applications" else f"/console/registers/{key}"
        return RedirectResponse(target, status_code=303)
    return render(
        request,
        "register_import.html",
        status_code=200 if result.ok else 422,
        org=org,
        register=register,
        result=result,
        payload=base64.b64encode(data).decode() if result.ok else "",
        filename=filename,
    )


# Record registers ----------------------------------------------------------------------------


@router.get("/{key}", response_class=HTMLResponse)
async def register_page(
    request: Request, user: UserDep, key: str, year: Annotated[int | None, Query()] = None
) -> Response:
    org = here(request, user)
    register = _register(key)
    chosen = _year(year)
    if register.per_year:
        record = await register.model.get_or_none(organization_id=org.id, year=chosen)
        values = (
            {c.name: _as_text(getattr(record, c.name)) for c in register.columns} if record else {}
        )
        return await _page(request, user, org, register, chosen, FormState(values=values), 200)
    return await _page(request, user, org, register, chosen, FormState(), 200)


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


async def _page(
    request: Request,
    user: ConsoleUser,
    org: OrgRef,
    register: Register,
    year: int,
    form: FormState,
    status_code: int,
    editing: Any = None,
) -> Response:
    records: list[Any] = []
    if not register.per_year:
        records = list(
            await register.model.filter(
                organization_id=org.id,
                **{
                    f"{register.date_field}__gte": dt.date(year, 1, 1),
                    f"{register.date_field}__lte": dt.date(year, 12, 31),
                },
            ).order_by(register.date_field, "id")
        )
    unlinked = await _unlinked_items(org.id) if register.key == "documents" else []
    return render(
        request,
        "register_list.html",
        status_code=status_code,
        org=org,
        register=register,
        year=year,
        years=_years(),
        records=records,
        form=form,
        editing=editing,
        unlinked=unlinked,
        may_write=may_write(user, org.id),
        list_registers=LIST_REGISTERS,
    )


def _raw(register: Register, form: Any) -> dict[str, str]:
    return {c.name: str(form.get(c.name) or "").strip() for c in register.columns}


@router.post("/{key}", response_class=HTMLResponse)
async def create(request: Request, user: UserDep, key: str) -> Response:
    org = here(request, user, *WRITERS)
    register = _register(key)
    if register.per_year or key == "applications":
        raise ConsoleError(404, "没有这个台账。")
    raw = _raw(register, await request.form())
    parsed = parse(register, dict(raw))
    if parsed.values is None:
        form = FormState(values=raw, errors=parsed.errors)
        return await _page(request, user, org, register, _year(None), form, 400)
    await registers.create_record(register.model, org.id, parsed.values, actor(request, user))
    flash(request, f"已登记到{register.label}台账。")
    return RedirectResponse(f"/console/registers/{key}", status_code=303)


@router.post("/{key}/year/{year}", response_class=HTMLResponse)
async def save_year(request: Request, user: UserDep, key: str, year: int) -> Response:
    org = here(request, user, *WRITERS)
    register = _register(key)
    if not register.per_year:
        raise ConsoleError(404, "没有这个台账。")
    year = _year(year)
    raw = _raw(register, await request.form())
    parsed = parse(register, dict(raw))
    if parsed.values is None:
        form = FormState(values=raw, errors=parsed.errors)
        return await _page(request, user, org, register, year, form, 400)
    await registers.upsert_year(register.model, org.id, year, parsed.values, actor(request, user))
    flash(request, f"{year}年{register.label}已保存。")
    return RedirectResponse(f"/console/registers/{key}?year={year}", status_code=303)


async def _owned(register: Register, org: OrgRef, record_id: int) -> Any:
    record = await register.model.get_or_none(id=record_id, organization_id=org.id)
    if record is None:
        raise ConsoleError(404, NOT_FOUND)
    return record


@router.get("/{key}/{record_id}/edit", response_class=HTMLResponse)
async def edit(request: Request, user: UserDep, key: str, record_id: int) -> Response:
    org = here(request, user, *WRITERS)
    register = _register(key)
    record = await _owned(register, org, record_id)
    values = {c.name: _as_text(getattr(record, c.name)) for c in register.columns}
    year = getattr(record, register.date_field).year
    return await _page(request, user, org, register, year, FormState(values=values), 200, record)


@router.post("/{key}/{record_id}", response_class=HTMLResponse)
async def update(request: Request, user: UserDep, key: str, record_id: int) -> Response:
    org = here(request, user, *WRITERS)
    register = _register(key)
    record = await _owned(register, org, record_id)
    raw = _raw(register, await request.form())
    parsed = parse(register, dict(raw), base=stored_values(register, record))
    if parsed.values is None:
        form = FormState(values=raw, errors=parsed.errors)
        year = getattr(record, register.date_field).year
        return await _page(request, user, org, register, year, form, 400, record)
    await registers.update_record(record, parsed.values, actor(request, user))
    flash(request, "已保存修改。")
    return RedirectResponse(f"/console/registers/{key}", status_code=303)


@router.post("/{key}/{record_id}/delete")
async def delete(request: Request, user: UserDep, key: str, record_id: int) -> Response:
    org = here(request, user, *WRITERS)
    register = _register(key)
    record = await _owned(register, org, record_id)
    await registers.delete_record(record, actor(request, user))
    flash(request, "已删除。")
    return RedirectResponse(f"/console/registers/{key}", status_code=303)
