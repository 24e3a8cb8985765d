"""Console accounts: argon2 passwords, per-organization roles, scope and the sign-in rate limit."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from storage.console_models import ROLES, LoginFailure, Membership, User
from storage.models import Organization
from storage.tokens import descendant_ids

USERNAME_RE = re.compile(r"[a-z0-9_.-]{3,32}")
MIN_PASSWORD_LENGTH = 8
_hasher = PasswordHasher()
_TEMP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read out over the phone


class UserError(ValueError):
    """Input a form or the CLI must reject, naming the field and saying why in Chinese."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def normalize_username(username: str) -> str:
    """Usernames are compared lower-case and without surrounding spaces."""
    return username.strip().lower()


def temporary_password() -> str:
    """A random password that is easy to read out: three groups of four characters."""
    chars = [secrets.choice(_TEMP_ALPHABET) for _ in range(12)]
    return "-".join("".join(chars[i : i + 4]) for i in (0, 4, 8))


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError("password", f"密码至少需要 {MIN_PASSWORD_LENGTH} 个字符")


async def hash_password(password: str) -> str:
    """An argon2id hash, computed off the event loop."""
    return await asyncio.to_thread(_hasher.hash, password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def _matches(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


async def create_user(
    username: str, display_name: str, password: str, *, is_platform_admin: bool = False
) -> User:
    """Create an active user, or raise UserError for a bad or taken username or password."""
    username = normalize_username(username)
    if not USERNAME_RE.fullmatch(username):
        raise UserError("username", "用户名须为 3 到 32 位小写字母、数字或 _ . -")
    display_name = display_name.strip()
    if not 1 <= len(display_name) <= 50:
        raise UserError("display_name", "请填写姓名（不超过 50 个字）")
    _check_password(password)
    if await User.exists(username=username):
        raise UserError("username", "该用户名已被使用")
    return await User.create(
        username=username,
        display_name=display_name,
        password_hash=await hash_password(password),
        is_platform_admin=is_platform_admin,
    )


async def set_password(user: User, password: str) -> None:
    """Replace the user's password hash."""
    _check_password(password)
    user.password_hash = await hash_password(password)
    await user.save(update_fields=["password_hash"])


async def verify(username: str, password: str) -> User | None:
    """The active user whose password this is, else None, in about the same time either way."""
    user = await User.get_or_none(username=normalize_username(username))
    stored = user.password_hash if user is not None else _dummy_hash()
    ok = await asyncio.to_thread(_matches, stored, password)
    if user is None or not ok or not user.is_active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        await set_password(user, password)
    return user


async def memberships(user_id: int) -> list[Membership]:
    """The user's memberships, with their organizations, in organization order."""
    return (
        await Membership.filter(user_id=user_id)
        .prefetch_related("organization")
        .order_by("organization_id")
    )


async def set_role(user: User, organization: Organization, role: str) -> Membership:
    """Give the user ``role`` in the organization, replacing any role they had there."""
    if role not in ROLES:
        raise UserError("role", "请选择角色：编辑、审核或管理员")
    membership, created = await Membership.get_or_create(
        user_id=user.id, organization_id=organization.id, defaults={"role": role}
    )
    if not created and membership.role != role:
        membership.role = role
        await membership.save(update_fields=["role"])
    return membership


async def remove_role(user: User, organization: Organization) -> bool:
    """Take away the user's role in the organization; False when they had none."""
    return await Membership.filter(user_id=user.id, organization_id=organization.id).delete() > 0


async def roles_for(user_id: int) -> dict[int, str]:
    """The role the user holds in every organization they may act in.

    A county membership covers the organizations under it. A membership nearer the
    organization wins over one of an ancestor.
    """
    covered = [
        (m.role, await descendant_ids(m.organization_id))
        for m in await Membership.filter(user_id=user_id)
    ]
    roles: dict[int, str] = {}
    # An ancestor covers more organizations than any of its descendants: apply it first.
    for role, org_ids in sorted(covered, key=lambda pair: -len(pair[1])):
        roles.update(dict.fromkeys(org_ids, role))
    return roles


@dataclass(frozen=True, slots=True)
class LoginLimits:
    """How many failures lock a username or an address, within what window."""

    max_failures: int = 5
    max_failures_per_ip: int = 20
    window_seconds: int = 900


async def is_locked(username: str, ip: str, limits: LoginLimits) -> bool:
    """Whether sign-in is refused for now, counting failures in every process."""
    since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=limits.window_seconds)
    name = normalize_username(username)[:64]
    if await LoginFailure.filter(username=name, at__gte=since).count() >= limits.max_failures:
        return True
    by_ip = await LoginFailure.filter(ip=ip[:64], at__gte=since).count()
    return by_ip >= limits.max_failures_per_ip


async def record_failure(username: str, ip: str, limits: LoginLimits) -> None:
    """Remember a failed sign-in and forget those older than the window."""
    now = dt.datetime.now(dt.UTC)
    stale = now - dt.timedelta(seconds=limits.window_seconds)
    await LoginFailure.filter(at__lt=stale).delete()
    await LoginFailure.create(username=normalize_username(username)[:64], ip=ip[:64], at=now)


async def clear_failures(username: str) -> None:
    """Forget a username's failures after it signs in."""
    await LoginFailure.filter(username=normalize_username(username)[:64]).delete()
