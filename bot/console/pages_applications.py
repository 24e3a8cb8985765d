"""依申请公开: the desk where a clerk registers applications and answers them in time.

Reading needs any role in the organization in the top bar; registering, extending,
pausing, recording a correction, replying and deleting need an editor or an admin. Every
change goes through storage.registers (audited in the same transaction) after the same
validation as the JSON API (bot.register_specs).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot import applications as desk
from bot.console.auth import ConsoleError, ConsoleUser, OrgRef, client_ip, current_user, ensure
from bot.console.templates import FormState, current_org, flash, render
from bot.deadlines import MAX_EXTENSION_WORKDAYS, WorkCalendar
from bot.register_specs import APPLICATIONS, CASES, parse, stored_values
from storage import registers
from storage.ledger import local_today
from storage.register_models import Application, Case

router = APIRouter(prefix="/applications")
UserDep = Annotated[ConsoleUser, Depends(current_user)]
WRITERS = ("editor", "admin")
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
NOT_FOUND = "没有找到这件申请，或您无权查看。"


def here(request: Request, user: ConsoleUser, *roles: str) -> OrgRef:
    """The organization in the top bar, if the user holds one of ``roles`` there (any role
    when none are given)."""
    org = current_org(request)
    if org is None:
        raise ConsoleError(403, "您还没有被分配到任何机构，请联系管理员。")
    ensure(user, org.id, *roles)
    return org


def actor(request: Request, user: ConsoleUser) -> registers.Actor:
    return registers.Actor(user.id, user.username, client_ip(request))


def may_write(user: ConsoleUser, org_id: int) -> bool:
    try:
        ensure(user, org_id, *WRITERS)
    except ConsoleError:
        return False
    return True


def calendar_of(request: Request) -> WorkCalendar:
    calendar: WorkCalendar = request.app.state.runtime.calendar
    return calendar


async def _owned(org: OrgRef, app_id: int) -> Application:
    app = await Application.get_or_none(id=app_id, organization_id=org.id)
    if app is None:
        raise ConsoleError(404, NOT_FOUND)
    return app


def _week(today: dt.date) -> tuple[dt.date, dt.date]:
    monday = today - dt.timedelta(days=today.weekday())
    return monday, monday + dt.timedelta(days=6)


@router.get("", response_class=HTMLResponse)
async def application_list(
    request: Request,
    user: UserDep,
    year: Annotated[int | None, Query(ge=2008, le=2100)] = None,
    show: str = "",
) -> Response:
    org = here(request, user)
    return await _list_page(request, user, org, year, show, FormState(), 200)


async def _list_page(
    request: Request,
    user: ConsoleUser,
    org: OrgRef,
    year: int | None,
    show: str,
    form: FormState,
    status_code: int,
) -> Response:
    today = local_today()
    chosen = year or today.year
    calendar = calendar_of(request)
    apps = await Application.filter(
        organization_id=org.id,
        received_on__gte=dt.date(chosen, 1, 1),
        received_on__lte=dt.date(chosen, 12, 31),
    ).order_by("-received_on", "-id")
    carried = await Application.filter(
        organization_id=org.id, received_on__lt=dt.date(chosen, 1, 1), replied_on=None
    ).order_by("received_on", "id")
    rows = []
    for app in [*carried, *apps]:
        try:
            clock = desk.clock(app, today=today, calendar=calendar)
        except ValueError:
            continue
        if show == "open" and app.replied_on is not None:
            continue
        rows.append((app, clock))
    monday, sunday = _week(today)
    open_apps = await Application.filter(organization_id=org.id, replied_on=None).order_by(
        "received_on", "id"
    )
    due_week = []
    for app in open_apps:
        try:
            clock = desk.clock(app, today=today, calendar=calendar)
        except ValueError:
            continue
        if clock.final_due <= sunday:
            due_week.append((app, clock))
    due_week.sort(key=lambda pair: pair[1].final_due)
    if not form.values:
        form = FormState(values={"received_on": today.isoformat(), "channel": "网络",
                                 "applicant_type": "自然人"})  # fmt: skip
    return render(
        request,
        "applications.html",
        status_code=status_code,
        org=org,
        year=chosen,
        years=list(range(today.year, 2007, -1)),
        show=show,
        rows=rows,
        due_week=due_week,
        week=(monday, sunday),
        form=form,
        may_write=may_write(user, org.id),
        spec=APPLICATIONS,
        outcome_label=desk.outcome_label,
    )


def _form_values(raw: Any, names: tuple[str, ...]) -> dict[str, str]:
    values = {}
    for name in names:
        value = raw.get(name)
        values[name] = value.strip() if isinstance(value, str) else ""
    return values


@router.post("", response_class=HTMLResponse)
async def create_application(request: Request, user: UserDep) -> Response:
    org = here(request, user, *WRITERS)
    raw = await request.form()
    names = ("received_on", "channel", "applicant_type", "applicant_name", "request")
    values = _form_values(raw, names)
    parsed = parse(APPLICATIONS, dict(values))
    if parsed.values is None:
        form = FormState(values=values, errors=parsed.errors)
        return await _list_page(request, user, org, None, "", form, 400)
    app = await registers.create_record(Application, org.id, parsed.values, actor(request, user))
    clock = desk.clock(app, today=local_today(), calendar=calendar_of(request))
    flash(request, f"已登记，应于{_cn(clock.final_due)}前答复。")
    return RedirectResponse(f"/console/applications/{app.id}", status_code=303)


def _cn(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


@router.get("/{app_id}", response_class=HTMLResponse)
async def application_detail(request: Request, user: UserDep, app_id: int) -> Response:
    org = here(request, user)
    app = await _owned(org, app_id)
    return await _detail(request, user, org, app, FormState(), 200)


async def _detail(
    request: Request,
    user: ConsoleUser,
    org: OrgRef,
    app: Application,
    form: FormState,
    status_code: int,
) -> Response:
    today = local_today()
    clock = desk.clock(app, today=today, calendar=calendar_of(request))
    cases = await Case.filter(organization_id=org.id, application_id=app.id).order_by("id")
    if not form.values:
        form = FormState(
            values={
                "replied_on": (app.replied_on or today).isoformat(),
                "outcome": app.outcome or "open",
                "reply_note": app.reply_note,
                "fee_basis": app.fee_basis,
                "fee_pages": str(app.fee_pages or ""),
                "case_received_on": today.isoformat(),
            }
        )
    return render(
        request,
        "application_detail.html",
        status_code=status_code,
        org=org,
        app=app,
        clock=clock,
        cases=cases,
        form=form,
        may_write=may_write(user, org.id),
        outcome_label=desk.outcome_label,
        outcome_choices=desk.OUTCOME_CHOICES,
        max_extension=MAX_EXTENSION_WORKDAYS,
        case_spec=CASES,
    )


async def _change(
    request: Request,
    user: ConsoleUser,
    org: OrgRef,
    app: Application,
    changes: dict[str, object],
    *,
    action: str,
    shown: dict[str, str],
    done: str,
) -> Response:
    """Validate the record with ``changes`` as the API would, then store it audited."""
    base = stored_values(APPLICATIONS, app)
    parsed = parse(APPLICATIONS, changes, base=base)
    if parsed.values is None:
        errors = {f"{name}": message for name, message in parsed.errors.items()}
        labelled = "；".join(f"{APPLICATIONS.label_for(k)}：{v}" for k, v in errors.items())
        form = FormState(values=shown, errors={**errors, "_all": labelled})
        return await _detail(request, user, org, app, form, 400)
    await registers.update_record(app, parsed.values, actor(request, user), action=action)
    flash(request, done)
    return RedirectResponse(f"/console/applications/{app.id}", status_code=303)


@router.post("/{app_id}/extend", response_class=HTMLResponse)
async def extend(request: Request, user: UserDep, app_id: int) -> Response:
    org = here(request, user, *WRITERS)
    app = await _owned(org, app_id)
    raw = await request.form()
    days = str(raw.get("extension_workdays") or "").strip()
    return await _change(
        request, user, org, app, {"extension_workdays": days},
        action="extended", shown={"extension_workdays": days},
        done=f"已登记延期 {days} 个工作日。",
    )  # fmt: skip


@router.post("/{app_id}/pause", response_class=HTMLResponse)
async def pause(request: Request, user: UserDep, app_id: int) -> Response:
    """Third-party consultation from one day to another: those working days are not counted."""
    org = here(request, user, *WRITERS)
    app = await _owned(org, app_id)
    raw = await request.form()
    shown = _form_values(raw, ("pause_from", "pause_to"))
    try:
        start = dt.date.fromisoformat(shown["pause_from"])
        end = dt.date.fromisoformat(shown["pause_to"])
    except ValueError:
        form = FormState(
            values=shown, errors={"pause_from": "请填写征求意见的起止日期，格式如 2025-03-01"}
        )
        return await _detail(request, user, org, app, form, 400)
    if end < start or start < app.received_on:
        message = "结束日期不能早于开始日期，开始日期不能早于收到申请日期"
        form = FormState(values=shown, errors={"pause_from": message})
        return await _detail(request, user, org, app, form, 400)
    days = calendar_of(request).workdays_between(start - dt.timedelta(days=1), end)
    return await _change(
        request, user, org, app, {"paused_workdays": app.paused_workdays + days},
        action="paused", shown=shown,
        done=f"征求第三方意见 {days} 个工作日不计入答复期限。",
    )  # fmt: skip


@router.post("/{app_id}/correct", response_class=HTMLResponse)
async def correct(request: Request, user: UserDep, app_id: int) -> Response:
    """The corrected request (补正) arrived: the 20 working days start again from that day."""
    org = here(request, user, *WRITERS)
    app = await _owned(org, app_id)
    raw = await request.form()
    shown = _form_values(raw, ("corrected_on",))
    return await _change(
        request, user, org, app, dict(shown), action="corrected", shown=shown,
        done="已登记补正，答复期限自补正到达之日重新计算。",
    )  # fmt: skip


@router.post("/{app_id}/reply", response_class=HTMLResponse)
async def reply(request: Request, user: UserDep, app_id: int) -> Response:
    org = here(request, user, *WRITERS)
    app = await _owned(org, app_id)
    raw = await request.form()
    shown = _form_values(raw, ("replied_on", "outcome", "reply_note", "fee_basis", "fee_pages"))
    shown["replies_already_public"] = "1" if raw.get("replies_already_public") else ""
    basis = shown["fee_basis"] if shown["fee_basis"] in ("按件", "按量") else ""
    pages_text = shown["fee_pages"] or "0"
    if not pages_text.isdigit():
        form = FormState(values=shown, errors={"fee_pages": "页数应为整数"})
        return await _detail(request, user, org, app, form, 400)
    fee = await desk.fee_for(app, basis, int(pages_text))
    changes: dict[str, object] = {
        "replied_on": shown["replied_on"],
        "outcome": shown["outcome"],
        "reply_note": shown["reply_note"],
        "fee_basis": basis,
        "fee_pages": pages_text,
        "fee_yuan": str(fee),
        "replies_already_public": bool(shown["replies_already_public"]),
    }
    return await _change(
        request, user, org, app, changes, action="replied", shown=shown,
        done="已登记答复。" + (f"信息处理费 {fee} 元。" if fee else ""),
    )  # fmt: skip


@router.post("/{app_id}/cases", response_class=HTMLResponse)
async def add_case(request: Request, user: UserDep, app_id: int) -> Response:
    """A 行政复议 or 行政诉讼 that followed the reply, linked to the application."""
    org = here(request, user, *WRITERS)
    app = await _owned(org, app_id)
    raw = await request.form()
    shown = _form_values(raw, ("case_kind", "case_received_on"))
    parsed = parse(CASES, {"kind": shown["case_kind"], "received_on": shown["case_received_on"]})
    if parsed.values is None:
        errors = {f"case_{k}": v for k, v in parsed.errors.items()}
        return await _detail(request, user, org, app, FormState(values=shown, errors=errors), 400)
    await registers.create_record(
        Case, org.id, {**parsed.values, "application_id": app.id}, actor(request, user)
    )
    flash(request, "已登记复议/诉讼，请在“复议诉讼”中登记结果。")
    return RedirectResponse(f"/console/applications/{app.id}", status_code=303)


@router.post("/{app_id}/delete")
async def delete(request: Request, user: UserDep, app_id: int) -> Response:
    org = here(request, user, *WRITERS)
    app = await _owned(org, app_id)
    await registers.delete_record(app, actor(request, user))
    flash(request, "已删除这件申请。")
    return RedirectResponse("/console/applications", status_code=303)


@router.get("/{app_id}/letter.docx")
async def letter(request: Request, user: UserDep, app_id: int) -> Response:
    """The 告知书 for the recorded outcome, as a Word document."""
    org = here(request, user)
    app = await _owned(org, app_id)
    if app.replied_on is None or app.outcome is None:
        raise ConsoleError(409, "这件申请还没有登记答复，不能生成告知书。")
    body = desk.letter_docx(app, org.name)
    name = re.sub(r"[^A-Za-z0-9_-]", "_", f"{org.code}-application-{app.id}")
    headers = {"Content-Disposition": f'attachment; filename="{name}.docx"'}
    return Response(body, media_type=DOCX, headers=headers)
