"""Who is signed in, what they may do where, and the CSRF check on every POST."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from fastapi import Depends, Request

from bot.console import session as console_session
from storage.console_models import User
from storage.models import Organization
from storage.users import roles_for

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
LOGIN_PATH = "/console/login"
HOME_PATH = "/console/"
PASSWORD_PATH = "/console/password"  # noqa: S105 (a page, not a password)
# What a user who must change their password may still open.
PASSWORD_CHANGE_PATHS = frozenset({PASSWORD_PATH, "/console/logout"})
CSRF_FAILED = "页面已过期或来源不明（安全校验未通过）。请返回上一页，刷新后再试。"


class ConsoleError(Exception):
    """An error page (or, for scripts, a JSON error) with a status and a Chinese message."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


class LoginRequired(Exception):
    """No live session: HTML requests go to the sign-in page, scripts get 401."""

    def __init__(self, next_path: str, *, expired: bool) -> None:
        super().__init__(next_path)
        self.next_path = next_path
        self.expired = expired


class PasswordChangeRequired(Exception):
    """The password was chosen by an administrator: pages go to the change page first."""


@dataclass(frozen=True, slots=True)
class OrgRef:
    """An organization as the top bar and forms show it."""

    id: int
    code: str
    name: str
    parent_id: int | None


@dataclass(frozen=True, slots=True)
class ConsoleUser:
    """The signed-in user with their role per organization (a county role covers its townships)."""

    id: int
    username: str
    display_name: str
    is_platform_admin: bool
    roles: dict[int, str] = field(hash=False)
    org_ids: frozenset[int] | None  # None: every organization (platform administrators)
    orgs: tuple[OrgRef, ...] = ()  # the organizations they may switch to, in order
    must_change_password: bool = False

    def role_in(self, org_id: int | None) -> str | None:
        """Their role in the organization, or None (platform administrators: "admin")."""
        if self.is_platform_admin:
            return "admin"
        return None if org_id is None else self.roles.get(org_id)

    def org_ids_with(self, *roles: str) -> frozenset[int] | None:
        """The organizations where they hold one of ``roles`` (None: every organization)."""
        if self.is_platform_admin:
            return None
        return frozenset(org for org, role in self.roles.items() if role in roles)

    def org(self, org_id: int | None) -> OrgRef | None:
        """One of their organizations by id, or None."""
        return next((o for o in self.orgs if o.id == org_id), None)


def can(user: ConsoleUser, org_id: int | None, *roles: str) -> bool:
    """Whether the user holds one of ``roles`` (any role, if none given) in the organization."""
    if user.is_platform_admin:
        return True
    role = user.role_in(org_id)
    return role is not None and (not roles or role in roles)


def ensure(user: ConsoleUser, org_id: int | None, *roles: str) -> None:
    """404 when the organization is outside the user's view, 403 when the role is missing."""
    if not can(user, org_id):
        raise ConsoleError(404, "没有找到这条记录，或您无权查看。")
    if not can(user, org_id, *roles):
        raise ConsoleError(403, "您的角色不能进行这项操作。")


async def load_user(user_id: int) -> ConsoleUser | None:
    """The active user with this id, with roles and organizations, or None."""
    user = await User.get_or_none(id=user_id, is_active=True)
    if user is None:
        return None
    if user.is_platform_admin:
        roles: dict[int, str] = {}
        scope: frozenset[int] | None = None
        orgs = await Organization.all().order_by("id")
    else:
        roles = await roles_for(user.id)
        scope = frozenset(roles)
        orgs = await Organization.filter(id__in=list(roles)).order_by("id")
    return ConsoleUser(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        is_platform_admin=user.is_platform_admin,
        roles=roles,
        org_ids=scope,
        orgs=tuple(OrgRef(o.id, o.code, o.name, o.parent_id) for o in orgs),
        must_change_password=user.must_change_password,
    )


def wants_json(request: Request) -> bool:
    """Scripts (htmx, fetch, XHR, JSON clients) get status codes, not redirects."""
    headers = request.headers
    if headers.get("hx-request") or headers.get("x-requested-with", "").lower() == "xmlhttprequest":
        return True
    accept = headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def safe_next(value: str | None) -> str:
    """A console path to return to after sign-in; anything else becomes the dashboard."""
    if not value or not value.startswith("/console") or "\\" in value:
        return HOME_PATH
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or any(c in value for c in "\r\n"):
        return HOME_PATH
    return value


def login_url(next_path: str, *, expired: bool = False) -> str:
    """The sign-in page that returns to ``next_path``."""
    url = f"{LOGIN_PATH}?next={quote(safe_next(next_path), safe='/')}"
    return url + "&expired=1" if expired else url


async def current_user(request: Request) -> ConsoleUser:
    """The signed-in user; without a live session, a redirect to sign in (or 401 for scripts).

    A user whose password an administrator chose is sent to the change page first.
    """
    cached: ConsoleUser | None = getattr(request.state, "console_user", None)
    if cached is not None:
        return cached
    uid = request.session.get("uid")
    user = await load_user(uid) if isinstance(uid, int) else None
    if user is None:
        if uid is not None:  # deactivated or deleted since signing in
            await console_session.end(request, "deactivated")
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        expired = bool(getattr(request.state, "session_expired", False))
        raise LoginRequired(target, expired=expired)
    request.state.console_user = user
    if user.must_change_password and request.url.path not in PASSWORD_CHANGE_PATHS:
        raise PasswordChangeRequired()
    return user


def require_role(*roles: str) -> Callable[[Request], Awaitable[ConsoleUser]]:
    """A dependency: the user must hold one of ``roles`` in some organization, else 403.

    Pages still check the organization of each object with ``can`` or ``ensure``.
    """

    async def dependency(user: ConsoleUser = Depends(current_user)) -> ConsoleUser:  # noqa: B008
        if user.is_platform_admin or any(role in roles for role in user.roles.values()):
            return user
        raise ConsoleError(403, "您的角色不能打开这个页面。")

    return dependency  # type: ignore[return-value]


def csrf_token(request: Request) -> str:
    """The session's CSRF token, giving a first-time visitor an id to carry it."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or not token:
        token = console_session.start_anonymous(request)
    return token


async def csrf_protect(request: Request) -> None:
    """Every POST carries the session's token as ``csrf_token`` or ``X-CSRF-Token``, else 403.

    A request without a signed-in session carries no authority to abuse, so it goes on to
    ``current_user`` (redirect or 401); the sign-in form itself is always checked.
    """
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if "uid" not in request.session and request.url.path != LOGIN_PATH:
        return
    expected = request.session.get("csrf")
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        value = (await request.form()).get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if (
        not isinstance(expected, str)
        or not given
        or not hmac.compare_digest(given.encode(), expected.encode())
    ):
        raise ConsoleError(403, CSRF_FAILED)


def client_ip(request: Request) -> str:
    """The caller's address, as the session records it."""
    return console_session.client_address(request)
