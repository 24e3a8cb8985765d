"""Signing in and out, changing one's own password, and one's own sign-in sessions."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.console import session as console_session
from bot.console.auth import ConsoleError, ConsoleUser, client_ip, current_user, safe_next
from bot.console.templates import FormState, flash, render
from bot.settings import Settings
from storage import audit, users
from storage import console_sessions as sessions
from storage.console_models import Membership, User

router = APIRouter()
BAD_LOGIN = "用户名或密码错误"
UserDep = Annotated[ConsoleUser, Depends(current_user)]


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


async def _log(request: Request, user: ConsoleUser, action: str, **detail: Any) -> None:
    await audit.record(
        action,
        user_id=user.id,
        username=user.username,
        organization_id=await _home_org(user.id),
        detail=detail,
        ip=client_ip(request),
    )


def _wait_text(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds} 秒"
    return f"{-(-seconds // 60)} 分钟"


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
    locked = await users.lockout(name, ip, limits)
    if locked is not None:
        await audit.record(
            "login.locked",
            username=name,
            organization_id=org_id,
            detail={"reason": locked.reason, "seconds": locked.seconds},
            ip=ip,
        )
        message = (
            f"登录失败次数过多，已暂时锁定。请 {_wait_text(locked.seconds)}后再试；"
            "忘记密码请联系本单位管理员重置。"
        )
        return render(request, "login.html", status_code=429, form=form, message=message)
    user = await users.verify(name, password) if name and password else None
    if user is None:
        await users.record_failure(name, ip, limits)
        await audit.record("login.failed", username=name, organization_id=org_id, ip=ip)
        return render(request, "login.html", status_code=400, form=form, message=BAD_LOGIN)
    await users.clear_failures(name, ip)
    user.last_login_at = dt.datetime.now(dt.UTC)
    await user.save(update_fields=["last_login_at"])
    row = await console_session.begin(request, user.id)
    await audit.record(
        "login.succeeded",
        user_id=user.id,
        username=user.username,
        organization_id=org_id,
        target=f"session:{row.id}",
        detail={"must_change_password": True} if user.must_change_password else {},
        ip=ip,
    )
    if user.must_change_password:
        return RedirectResponse("/console/password", status_code=303)
    return RedirectResponse(safe_next(next), status_code=303)


@router.post("/logout")
async def logout(request: Request, user: UserDep) -> Response:
    session_id = console_session.current_id(request)
    await console_session.end(request, "logout")
    await audit.record(
        "logout",
        user_id=user.id,
        username=user.username,
        organization_id=await _home_org(user.id),
        target=f"session:{session_id}",
        ip=client_ip(request),
    )
    return RedirectResponse("/console/login", status_code=303)


@router.get("/password", response_class=HTMLResponse)
async def password_page(request: Request, user: UserDep) -> Response:
    return render(request, "password.html", form=FormState(), rule=users.PASSWORD_RULE)


@router.post("/password", response_class=HTMLResponse)
async def change_password(
    request: Request,
    user: UserDep,
    current: Annotated[str, Form()] = "",
    new: Annotated[str, Form()] = "",
    confirm: Annotated[str, Form()] = "",
) -> Response:
    form = FormState()
    record = await users.verify(user.username, current)
    if record is None:
        form.errors["current"] = "当前密码不正确"
    elif new != confirm:
        form.errors["confirm"] = "两次输入的新密码不一致"
    elif new == current:
        form.errors["new"] = "新密码不能与当前密码相同。"
    if record is not None and not form.errors:
        try:
            await users.set_password(record, new, must_change=False)
        except users.UserError as error:
            form.errors["new"] = error.message
    if record is None or form.errors:
        return render(
            request, "password.html", status_code=400, form=form, rule=users.PASSWORD_RULE
        )
    ended = await _end_other_sessions(request, user, "password_changed")
    await _log(request, user, "password.changed", other_sessions_ended=ended)
    message = "密码已修改。"
    if ended:
        message += f"您在其他设备上的 {ended} 个登录已全部退出。"
    flash(request, message)
    return RedirectResponse("/console/", status_code=303)


def _device(user_agent: str) -> str:
    """A short description of a browser from its user agent."""
    ua = user_agent.lower()
    system = next(
        (
            label
            for key, label in (
                ("android", "安卓手机"),
                ("iphone", "苹果手机"),
                ("ipad", "iPad"),
                ("windows", "Windows 电脑"),
                ("mac os", "苹果电脑"),
                ("linux", "Linux 电脑"),
            )
            if key in ua
        ),
        "未知设备",
    )
    browser = next(
        (
            label
            for key, label in (
                ("micromessenger", "微信"),
                ("edg/", "Edge"),
                ("chrome", "Chrome"),
                ("firefox", "Firefox"),
                ("safari", "Safari"),
            )
            if key in ua
        ),
        "",
    )
    return f"{system} · {browser}" if browser else system


@router.get("/sessions", response_class=HTMLResponse)
async def my_sessions(request: Request, user: UserDep) -> Response:
    live = await sessions.live_for_user(
        user.id, console_session.lifetimes(request), now=console_session.now()
    )
    rows = [(row, _device(row.user_agent)) for row in live]
    return render(
        request, "sessions.html", rows=rows, current_id=console_session.current_id(request)
    )


@router.post("/sessions/{session_id}/end")
async def end_my_session(request: Request, user: UserDep, session_id: int) -> Response:
    live = await sessions.live_for_user(
        user.id, console_session.lifetimes(request), now=console_session.now()
    )
    if not any(row.id == session_id for row in live):
        raise ConsoleError(404, "没有找到这个登录会话，它可能已经结束。")
    if session_id == console_session.current_id(request):
        await console_session.end(request, "logout")
        await _log(request, user, "logout", session=session_id)
        return RedirectResponse("/console/login", status_code=303)
    await sessions.end(session_id, "ended_by_user", now=console_session.now())
    await _log(request, user, "session.ended", session=session_id)
    flash(request, "已结束该登录会话，那台设备需要重新登录。")
    return RedirectResponse("/console/sessions", status_code=303)


@router.post("/sessions/end-others")
async def end_other_sessions(request: Request, user: UserDep) -> Response:
    ended = await _end_other_sessions(request, user, "ended_by_user")
    await _log(request, user, "session.ended_others", count=ended)
    flash(request, f"已结束其他 {ended} 个登录会话。" if ended else "没有其他登录会话。")
    return RedirectResponse("/console/sessions", status_code=303)


async def _end_other_sessions(request: Request, user: ConsoleUser, reason: str) -> int:
    """End the user's sessions other than this one; how many ended."""
    return await sessions.end_for_user(
        user.id, reason, now=console_session.now(), keep=console_session.current_id(request)
    )
