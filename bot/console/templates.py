"""Rendering console pages: one Jinja2 environment and ``render`` with the shared context."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from bot.console.auth import CSRF_FIELD, ConsoleUser, OrgRef, csrf_token
from bot.console.nav import nav_for
from storage.console_models import ROLE_LABELS
from storage.ledger import BUSINESS_TZ

ORG_COOKIE = "gk_org"
TEMPLATES_DIR = Path(__file__).parent / "templates"

# Chinese names of audit actions; pages that record new actions add theirs here.
ACTION_LABELS: dict[str, str] = {
    "login.succeeded": "登录成功",
    "login.failed": "登录失败",
    "login.locked": "登录被锁定",
    "logout": "退出登录",
    "password.changed": "修改密码",
    "session.expired": "登录会话超时结束",
    "session.ended": "结束登录会话",
    "session.ended_others": "结束其他登录会话",
    "user.sessions_ended": "结束用户的登录会话",
    "user.created": "新建用户",
    "user.role_changed": "设置角色",
    "user.role_removed": "移除角色",
    "user.deactivated": "停用用户",
    "user.activated": "启用用户",
    "user.password_reset": "重置密码",
    "user.platform_admin_changed": "设置平台管理员",
    "token.created": "新建接口令牌",
    "token.revoked": "吊销接口令牌",
    "item.submitted": "提交审核",
    "item.draft_saved": "保存草稿",
    "item.edited": "修改信息",
    "item.revised": "修改信息（新版本）",
    "item.retried": "重新发布",
    "item.cancelled": "撤销信息",
    "item.withdrawn": "撤回信息",
    "item.wechat_preview": "发送微信预览",
    "delivery.resolved": "核实不确定的发布",
    "posting.confirmed": "登记张贴",
    "posting.removed": "登记撤下",
}


def _local(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return "" if value is None else value.astimezone(BUSINESS_TZ).strftime(fmt)


def _compact_json(value: object) -> str:
    """An audit detail as "key：value；…" (nested values as JSON)."""
    if not isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False) if value else ""
    return "；".join(
        f"{key}：{item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)}"
        for key, item in sorted(value.items())
    )


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["local"] = _local
_env.filters["role_label"] = lambda role: ROLE_LABELS.get(role or "", role or "")
_env.filters["action_label"] = lambda action: ACTION_LABELS.get(action, action)
_env.filters["compact_json"] = _compact_json
_env.globals["ROLE_LABELS"] = ROLE_LABELS
_env.globals["CSRF_FIELD"] = CSRF_FIELD
templates = Jinja2Templates(env=_env)


@dataclass
class FormState:
    """What a form shows again: the values typed and an error message per field."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def value(self, name: str) -> str:
        return self.values.get(name, "")

    def error(self, name: str) -> str:
        return self.errors.get(name, "")


def flash(request: Request, message: str, kind: str = "ok") -> None:
    """Show ``message`` once on the next page (kind: ok, error or info)."""
    request.session.setdefault("flash", []).append([kind, message])


def _pop_flashes(request: Request) -> list[tuple[str, str]]:
    return [(kind, text) for kind, text in request.session.pop("flash", [])]


def console_user(request: Request) -> ConsoleUser | None:
    """The user ``current_user`` found for this request, if any."""
    user: ConsoleUser | None = getattr(request.state, "console_user", None)
    return user


def current_org(request: Request) -> OrgRef | None:
    """The organization picked in the top bar (kept in a cookie), else the user's first one."""
    user = console_user(request)
    if user is None or not user.orgs:
        return None
    chosen = request.cookies.get(ORG_COOKIE, "")
    picked = user.org(int(chosen)) if chosen.isdigit() else None
    return picked or user.orgs[0]


def render(request: Request, name: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render a page with the user, CSRF token, current organization, flashes and nav."""
    user = console_user(request)
    org = current_org(request)
    shared: dict[str, Any] = {
        "user": user,
        "csrf_token": csrf_token(request),
        "current_org": org,
        "orgs": user.orgs if user else (),
        "flashes": _pop_flashes(request),
        "nav": nav_for(user, org.id if org else None, request.url.path),
        "path": request.url.path,
    }
    return templates.TemplateResponse(request, name, {**shared, **context}, status_code=status_code)
