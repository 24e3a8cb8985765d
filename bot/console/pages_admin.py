"""接口令牌 and 审计日志: API tokens and the audit log of the organizations one administers."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.console.auth import ConsoleError, ConsoleUser, client_ip, require_role
from bot.console.pages_users import admin_orgs
from bot.console.templates import ACTION_LABELS, FormState, flash, render
from storage import audit
from storage.audit import AuditFilter
from storage.console_models import ROLE_LABELS, ROLES, AuditEvent
from storage.ledger import BUSINESS_TZ
from storage.models import ApiToken, Organization
from storage.tokens import create_token, find_token, revoke_token

router = APIRouter()
AdminDep = Annotated[ConsoleUser, Depends(require_role("admin"))]
PAGE_SIZE = 50
ALL_ORGS = "all"


async def _creators(token_ids: list[int]) -> dict[str, str]:
    """Who created each token, from the audit log (``token:<id>`` -> username)."""
    targets = [f"token:{token_id}" for token_id in token_ids]
    events = await AuditEvent.filter(action="token.created", target__in=targets)
    return {event.target: event.username for event in events}


async def _token_page(
    request: Request, user: ConsoleUser, form: FormState, *, status_code: int = 200
) -> Response:
    scope = user.org_ids_with("admin")
    query = ApiToken.all().prefetch_related("organization").order_by("-id")
    if scope is not None:
        query = query.filter(organization_id__in=list(scope))
    tokens = await query
    org_options = [(str(o.id), o.name) for o in admin_orgs(user)]
    if user.is_platform_admin:
        org_options.append((ALL_ORGS, "全部机构（平台管理员令牌）"))
    return render(
        request,
        "tokens.html",
        status_code=status_code,
        tokens=tokens,
        creators=await _creators([t.id for t in tokens]),
        form=form,
        org_options=org_options,
        role_labels=ROLE_LABELS,
        role_options=[(role, ROLE_LABELS[role]) for role in ROLES],
    )


@router.get("/tokens", response_class=HTMLResponse)
async def token_list(request: Request, user: AdminDep) -> Response:
    return await _token_page(request, user, FormState())


@router.post("/tokens", response_class=HTMLResponse)
async def token_create(
    request: Request,
    user: AdminDep,
    name: Annotated[str, Form()] = "",
    org_id: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "editor",
) -> Response:
    form = FormState(values={"name": name, "org_id": org_id, "role": role})
    name = name.strip()
    if not 1 <= len(name) <= 100:
        form.errors["name"] = "请填写令牌用途（不超过 100 个字），例如“网站对接”"
    org = next((o for o in admin_orgs(user) if str(o.id) == org_id), None)
    everywhere = org_id == ALL_ORGS and user.is_platform_admin
    if org is None and not everywhere:
        form.errors["org_id"] = "请选择您管理的机构"
    if role not in ROLES:
        form.errors["role"] = "请选择令牌的角色：编辑、审核或管理员"
    if form.errors:
        return await _token_page(request, user, form, status_code=400)
    organization = await Organization.get(id=org.id) if org else None
    secret = await create_token(name, organization, role=role)
    token = await find_token(secret)
    assert token is not None  # noqa: S101 (just created)
    await audit.record(
        "token.created",
        user_id=user.id,
        username=user.username,
        organization_id=org.id if org else None,
        target=f"token:{token.id}",
        detail={"name": name, "role": token.role, "created_by": user.username},
        ip=client_ip(request),
    )
    return render(request, "secret_once.html", kind="token", target=token, secret=secret)


@router.post("/tokens/{token_id}/revoke")
async def token_revoke(request: Request, user: AdminDep, token_id: int) -> Response:
    token = await ApiToken.get_or_none(id=token_id)
    scope = user.org_ids_with("admin")
    if token is None or (scope is not None and token.organization_id not in scope):
        raise ConsoleError(404, "没有找到这个令牌，或您无权管理。")
    if await revoke_token(token.id):
        await audit.record(
            "token.revoked",
            user_id=user.id,
            username=user.username,
            organization_id=token.organization_id,
            target=f"token:{token.id}",
            detail={"name": token.name},
            ip=client_ip(request),
        )
        flash(request, f"令牌“{token.name}”已吊销，使用它的程序将无法再访问。")
    return RedirectResponse("/console/tokens", status_code=303)


def _day(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _start_of(day: dt.date | None) -> dt.datetime | None:
    return None if day is None else dt.datetime.combine(day, dt.time(), tzinfo=BUSINESS_TZ)


@router.get("/audit", response_class=HTMLResponse)
async def audit_log(
    request: Request,
    user: AdminDep,
    action: str = "",
    username: str = "",
    since: str = "",
    until: str = "",
    page: int = 1,
) -> Response:
    first, last = _day(since), _day(until)
    flt = AuditFilter(
        org_ids=user.org_ids_with("admin"),
        action=action if action in ACTION_LABELS or action.endswith(".") else "",
        username=username.strip().lower(),
        since=_start_of(first),
        until=_start_of(last + dt.timedelta(days=1) if last else None),
    )
    total = await audit.count(flt)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, page), pages)
    events = await audit.list_events(flt, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    org_names = {o.id: o.name for o in user.orgs}
    query = {"action": flt.action, "username": flt.username, "since": since, "until": until}
    return render(
        request,
        "audit.html",
        events=events,
        org_names=org_names,
        total=total,
        page=page,
        pages=pages,
        query={k: v for k, v in query.items() if v},
        action_options=[("", "全部操作"), *ACTION_LABELS.items()],
    )
