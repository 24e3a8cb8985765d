"""用户与角色: administrators list, create and manage the users of the organizations they run."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.console import session as console_session
from bot.console.auth import ConsoleError, ConsoleUser, OrgRef, client_ip, require_role
from bot.console.templates import FormState, flash, render
from storage import audit, users
from storage import console_sessions as sessions
from storage.console_models import ROLE_LABELS, ROLES, Membership, User
from storage.models import Organization

router = APIRouter(prefix="/users")
AdminDep = Annotated[ConsoleUser, Depends(require_role("admin"))]
NOT_FOUND = "没有找到这个用户，或您无权查看。"


def admin_orgs(user: ConsoleUser) -> list[OrgRef]:
    """The organizations whose users this administrator manages."""
    scope = user.org_ids_with("admin")
    return [org for org in user.orgs if scope is None or org.id in scope]


async def _visible(user: ConsoleUser, user_id: int) -> User:
    """A user with a role in one of the administrator's organizations, else 404."""
    target = await User.get_or_none(id=user_id)
    scope = user.org_ids_with("admin")
    if target is None:
        raise ConsoleError(404, NOT_FOUND)
    if scope is not None and not await Membership.exists(
        user_id=target.id, organization_id__in=list(scope)
    ):
        raise ConsoleError(404, NOT_FOUND)
    return target


async def _manageable(user: ConsoleUser, target: User) -> None:
    """403 unless every role of ``target`` lies within the administrator's organizations."""
    if target.id == user.id:
        raise ConsoleError(403, "不能在这里修改自己的账号，请联系其他管理员。")
    if user.is_platform_admin:
        return
    scope = list(user.org_ids_with("admin") or ())
    outside = await Membership.filter(user_id=target.id).exclude(organization_id__in=scope).exists()
    if target.is_platform_admin or outside:
        raise ConsoleError(403, "该用户还在您无权管理的机构任职，请联系上级管理员。")


def _org_in_scope(user: ConsoleUser, raw: str) -> OrgRef | None:
    return next((org for org in admin_orgs(user) if str(org.id) == raw.strip()), None)


async def _log(
    request: Request, user: ConsoleUser, action: str, target: User, **detail: Any
) -> None:
    await audit.record(
        action,
        user_id=user.id,
        username=user.username,
        organization_id=detail.get("organization_id"),
        target=f"user:{target.id} {target.username}",
        detail=detail,
        ip=client_ip(request),
    )


@router.get("", response_class=HTMLResponse)
async def user_list(request: Request, user: AdminDep) -> Response:
    scope = user.org_ids_with("admin")
    query = Membership.all().prefetch_related("organization", "user").order_by("user_id", "id")
    if scope is not None:
        query = query.filter(organization_id__in=list(scope))
    rows: dict[int, tuple[User, list[Membership]]] = {}
    for membership in await query:
        rows.setdefault(membership.user_id, (membership.user, []))[1].append(membership)
    if scope is None:  # platform administrators also see users without any role
        for record in await User.all().order_by("id"):
            rows.setdefault(record.id, (record, []))
    listed = sorted(rows.values(), key=lambda row: row[0].username)
    return render(request, "users.html", rows=listed)


def _new_form_context(user: ConsoleUser, form: FormState) -> dict[str, Any]:
    return {
        "form": form,
        "org_options": [(str(o.id), o.name) for o in admin_orgs(user)],
        "role_options": list(ROLE_LABELS.items()),
    }


@router.get("/new", response_class=HTMLResponse)
async def new_user_page(request: Request, user: AdminDep) -> Response:
    return render(request, "user_new.html", **_new_form_context(user, FormState()))


@router.post("", response_class=HTMLResponse)
async def create_user(
    request: Request,
    user: AdminDep,
    username: Annotated[str, Form()] = "",
    display_name: Annotated[str, Form()] = "",
    org_id: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    platform_admin: Annotated[str, Form()] = "",
) -> Response:
    values = {"username": username, "display_name": display_name, "org_id": org_id, "role": role}
    form = FormState(values=values)
    make_admin = platform_admin == "1"
    if make_admin and not user.is_platform_admin:
        raise ConsoleError(403, "只有平台管理员可以设置平台管理员。")
    org = _org_in_scope(user, org_id)
    if org is None and not make_admin:
        form.errors["org_id"] = "请选择您管理的机构"
    if role not in ROLES and not (make_admin and not role):
        form.errors["role"] = "请选择角色：编辑、审核或管理员"
    password = users.temporary_password()
    if not form.errors:
        try:
            target = await users.create_user(
                username, display_name, password, is_platform_admin=make_admin, must_change=True
            )
        except users.UserError as error:
            form.errors[error.field] = error.message
    if form.errors:
        context = _new_form_context(user, form)
        return render(request, "user_new.html", status_code=400, **context)
    if org is not None and role:
        await users.set_role(target, await Organization.get(id=org.id), role)
    await _log(
        request,
        user,
        "user.created",
        target,
        organization_id=org.id if org else None,
        role=role,
        platform_admin=make_admin,
    )
    return render(request, "secret_once.html", kind="user", target=target, secret=password)


@router.get("/{user_id}", response_class=HTMLResponse)
async def user_detail(request: Request, user: AdminDep, user_id: int) -> Response:
    target = await _visible(user, user_id)
    scope = user.org_ids_with("admin")
    mine, others = [], 0
    for membership in await users.memberships(target.id):
        if scope is None or membership.organization_id in scope:
            mine.append(membership)
        else:
            others += 1
    return render(
        request,
        "user_detail.html",
        target=target,
        memberships=mine,
        hidden_roles=others,
        org_options=[(str(o.id), o.name) for o in admin_orgs(user)],
        role_options=[("", "无（移除角色）"), *ROLE_LABELS.items()],
        live_sessions=await sessions.live_for_user(
            target.id, console_session.lifetimes(request), now=console_session.now()
        ),
    )


@router.post("/{user_id}/role")
async def change_role(
    request: Request,
    user: AdminDep,
    user_id: int,
    org_id: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
) -> Response:
    target = await _visible(user, user_id)
    if target.id == user.id:
        raise ConsoleError(403, "不能修改自己的角色，请联系其他管理员。")
    org = _org_in_scope(user, org_id)
    if org is None:
        raise ConsoleError(404, "没有找到这个机构，或您无权管理。")
    if role and role not in ROLES:
        raise ConsoleError(400, "请选择角色：编辑、审核或管理员。")
    organization = await Organization.get(id=org.id)
    if role:
        await users.set_role(target, organization, role)
        await _log(request, user, "user.role_changed", target, organization_id=org.id, role=role)
        flash(request, f"已将 {target.display_name} 在{org.name}的角色设为{ROLE_LABELS[role]}。")
    elif await users.remove_role(target, organization):
        await _log(request, user, "user.role_removed", target, organization_id=org.id)
        flash(request, f"已移除 {target.display_name} 在{org.name}的角色。")
    return RedirectResponse(f"/console/users/{target.id}", status_code=303)


@router.post("/{user_id}/active")
async def set_active(
    request: Request, user: AdminDep, user_id: int, active: Annotated[str, Form()] = "0"
) -> Response:
    target = await _visible(user, user_id)
    await _manageable(user, target)
    target.is_active = active == "1"
    await target.save(update_fields=["is_active"])
    ended = 0
    if not target.is_active:
        ended = await sessions.end_for_user(target.id, "deactivated", now=console_session.now())
    action = "user.activated" if target.is_active else "user.deactivated"
    await _log(request, user, action, target, **({"sessions_ended": ended} if ended else {}))
    flash(request, f"已{'启用' if target.is_active else '停用'} {target.display_name} 的账号。")
    return RedirectResponse(f"/console/users/{target.id}", status_code=303)


@router.post("/{user_id}/password", response_class=HTMLResponse)
async def reset_password(request: Request, user: AdminDep, user_id: int) -> Response:
    target = await _visible(user, user_id)
    await _manageable(user, target)
    password = users.temporary_password()
    await users.set_password(target, password, must_change=True)
    ended = await sessions.end_for_user(target.id, "password_reset", now=console_session.now())
    await _log(request, user, "user.password_reset", target, sessions_ended=ended)
    return render(request, "secret_once.html", kind="password", target=target, secret=password)


@router.post("/{user_id}/sessions/end")
async def end_sessions(request: Request, user: AdminDep, user_id: int) -> Response:
    target = await _visible(user, user_id)
    await _manageable(user, target)
    ended = await sessions.end_for_user(target.id, "ended_by_admin", now=console_session.now())
    await _log(request, user, "user.sessions_ended", target, count=ended)
    flash(request, f"已结束 {target.display_name} 的 {ended} 个登录会话。")
    return RedirectResponse(f"/console/users/{target.id}", status_code=303)


@router.post("/{user_id}/platform")
async def set_platform_admin(
    request: Request, user: AdminDep, user_id: int, value: Annotated[str, Form()] = "0"
) -> Response:
    if not user.is_platform_admin:
        raise ConsoleError(403, "只有平台管理员可以设置平台管理员。")
    target = await _visible(user, user_id)
    await _manageable(user, target)
    target.is_platform_admin = value == "1"
    await target.save(update_fields=["is_platform_admin"])
    await _log(request, user, "user.platform_admin_changed", target, value=target.is_platform_admin)
    flash(request, f"已更新 {target.display_name} 的平台管理员设置。")
    return RedirectResponse(f"/console/users/{target.id}", status_code=303)
