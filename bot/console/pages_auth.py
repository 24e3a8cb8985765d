"""Signing in and out, and changing one's own password."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.console.auth import ConsoleUser, client_ip, current_user, safe_next
from bot.console.session import start as start_session
from bot.console.templates import FormState, flash, render
from bot.settings import Settings
from storage import audit, users
from storage.console_models import Membership, User

router = APIRouter()
BAD_LOGIN = "用户名或密码错误"


def _limits(request: Request) -> users.LoginLimits:
    settings: Settings = request.app.state.runtime.settings
    return users.LoginLimits(
        max_failures=settings.console_login_max_failures,
        max_failures_per_ip=settings.console_login_max_failures_per_ip,
        window_seconds=settings.console_login_window_seconds,
    )


async def _home_org(user_id: int | None) -> int | None:
    """The organization a user's sign-in events are filed under: their first membership's."""
    if user_id is None:
        return None
    first = await Membership.filter(user_id=user_id).order_by("id").first()
    return first.organization_id if first else None


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str = "", expired: str = "") -> Response:
    if "uid" in request.session:
        return RedirectResponse(safe_next(next), status_code=303)
    message = "您长时间没有操作，已自动退出，请重新登录。" if expired else ""
    form = FormState(values={"next": safe_next(next)})
    return render(request, "login.html", form=form, message=message)


@router.post("/login", response_class=HTMLResponse)
async def login(
    request: Request,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    name, ip, limits = users.normalize_username(username), client_ip(request), _limits(request)
    form = FormState(values={"username": name, "next": safe_next(next)})
    known = await User.get_or_none(username=name)
    org_id = await _home_org(known.id if known else None)
    if await users.is_locked(name, ip, limits):
        await audit.record("login.locked", username=name, organization_id=org_id, ip=ip)
        minutes = max(1, limits.window_seconds // 60)
        message = f"登录失败次数过多，账号已暂时锁定。请 {minutes} 分钟后再试，或联系管理员。"
        return render(request, "login.html", status_code=429, form=form, message=message)
    user = await users.verify(name, password) if name and password else None
    if user is None:
        await users.record_failure(name, ip, limits)
        await audit.record("login.failed", username=name, organization_id=org_id, ip=ip)
        return render(request, "login.html", status_code=400, form=form, message=BAD_LOGIN)
    await users.clear_failures(name)
    user.last_login_at = dt.datetime.now(dt.UTC)
    await user.save(update_fields=["last_login_at"])
    await audit.record(
        "login.succeeded", user_id=user.id, username=user.username, organization_id=org_id, ip=ip
    )
    start_session(request.session, user_id=user.id, csrf=secrets.token_urlsafe(32))
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
async def logout(request: Request, user: Annotated[ConsoleUser, Depends(current_user)]) -> Response:
    await audit.record(
        "logout",
        user_id=user.id,
        username=user.username,
        organization_id=await _home_org(user.id),
        ip=client_ip(request),
    )
    request.session.clear()
    return RedirectResponse("/console/login", status_code=303)


@router.get("/password", response_class=HTMLResponse)
async def password_page(
    request: Request, _user: Annotated[ConsoleUser, Depends(current_user)]
) -> Response:
    return render(request, "password.html", form=FormState())


@router.post("/password", response_class=HTMLResponse)
async def change_password(
    request: Request,
    user: Annotated[ConsoleUser, Depends(current_user)],
    current: Annotated[str, Form()] = "",
    new: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
) -> Response:
    form = FormState()
    record = await users.verify(user.username, current)
    if record is None:
        form.errors["current"] = "当前密码不正确"
    elif len(new) < users.MIN_PASSWORD_LENGTH:
        form.errors["new"] = f"新密码至少需要 {users.MIN_PASSWORD_LENGTH} 个字符"
    elif new != confirm:
        form.errors["confirm"] = "两次输入的新密码不一致"
    if record is None or form.errors:
        return render(request, "password.html", status_code=400, form=form)
    await users.set_password(record, new)
    await audit.record(
        "password.changed",
        user_id=user.id,
        username=user.username,
        organization_id=await _home_org(user.id),
        ip=client_ip(request),
    )
    flash(request, "密码已修改。")
    return RedirectResponse("/console/", status_code=303)
