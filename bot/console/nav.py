"""The console's navigation: one entry per section, shown to the roles that may use it.

A section whose page is not built yet is listed in ``PLACEHOLDERS`` and answered by a
"建设中" page; adding the real router (see bot.console.ROUTERS) takes it over.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.console.auth import ConsoleUser, can

ANY_ROLE: tuple[str, ...] = ()  # any role in the current organization


@dataclass(frozen=True, slots=True)
class NavLink:
    """One navigation entry; ``roles`` None means every signed-in user."""

    key: str
    label: str
    href: str
    roles: tuple[str, ...] | None = ANY_ROLE


NAV: tuple[NavLink, ...] = (
    NavLink("dashboard", "仪表盘", "/console/", None),
    NavLink("items", "信息", "/console/items", ("editor", "reviewer", "admin")),
    NavLink("review", "审核", "/console/review", ("reviewer", "admin")),
    NavLink("print", "打印队列", "/console/print", ("editor", "admin")),
    NavLink("channels", "渠道设置", "/console/channels", ("admin",)),
    NavLink("users", "用户与角色", "/console/users", ("admin",)),
    NavLink("tokens", "接口令牌", "/console/tokens", ("admin",)),
    NavLink("audit", "审计日志", "/console/audit", ("admin",)),
    NavLink("applications", "依申请公开", "/console/applications"),
    NavLink("registers", "年报台账", "/console/registers"),
    NavLink("report", "年度报告", "/console/report"),
)

# Sections still answered by the placeholder page: remove a key when its page lands.
PLACEHOLDERS: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class NavItem:
    """A link as the template draws it."""

    label: str
    href: str
    current: bool


def nav_for(user: ConsoleUser | None, org_id: int | None, path: str) -> list[NavItem]:
    """The links this user may follow in the current organization, the open one marked."""
    if user is None:
        return []
    items = []
    for link in NAV:
        if link.roles is not None and not can(user, org_id, *link.roles):
            continue
        if link.href == "/console/":
            current = path in ("/console", "/console/")
        else:
            current = path == link.href or path.startswith(link.href + "/")
        items.append(NavItem(link.label, link.href, current))
    return items
