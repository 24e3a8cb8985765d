"""Console accounts: argon2 passwords and their policy, per-organization roles, scope, and
the sign-in lockout.

The password policy follows 等保 2.0 (身份鉴别): at least ``MIN_PASSWORD_LENGTH``
characters of at least three of the four classes (upper case, lower case, digits,
symbols), not containing the username, not one of the last ``PASSWORD_HISTORY``
passwords; a password an administrator chose must be changed at the next sign-in.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
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
MIN_PASSWORD_LENGTH = 10
MIN_PASSWORD_CLASSES = 3
PASSWORD_HISTORY = 5  # the current password and the four before it
PASSWORD_RULE = (
    f"密码至少 {MIN_PASSWORD_LENGTH} 个字符，须包含大写字母、小写字母、数字、符号中的至少"
    f"三类，不能包含用户名，不能与最近 {PASSWORD_HISTORY} 次使用过的密码相同。"
)
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
    """A random password that is easy to read out: three groups of four characters.

    Lower case, digits and the dashes make three classes, so it passes the policy.
    """
    while True:
        chars = [secrets.choice(_TEMP_ALPHABET) for _ in range(12)]
        if any(c.isdigit() for c in chars) and any(c.isalpha() for c in chars):
            return "-".join("".join(chars[i : i + 4]) for i in (0, 4, 8))


def character_classes(password: str) -> int:
    """How many of upper case, lower case, digits and symbols (anything else) it uses."""
    kinds = (
        any(c.isascii() and c.isupper() for c in password),
        any(c.isascii() and c.islower() for c in password),
        any(c.isascii() and c.isdigit() for c in password),
        any(not (c.isascii() and c.isalnum()) for c in password),
    )
    return sum(kinds)


def password_problem(password: str, username: str) -> str | None:
    """The first rule of the policy the password breaks, in Chinese, or None.

    The history rule needs the stored hashes: ``set_password`` checks it.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"密码太短：至少需要 {MIN_PASSWORD_LENGTH} 个字符（现在 {len(password)} 个）。"
    if len(password) > 128:
        return "密码太长：不能超过 128 个字符。"
    if character_classes(password) < MIN_PASSWORD_CLASSES:
        return "密码太简单：须包含大写字母、小写字母、数字、符号这四类中的至少三类。"
    name = normalize_username(username)
    if name and name in password.lower():
        return "密码不能包含用户名。"
    return None


def _check_password(password: str, username: str) -> None:
    problem = password_problem(password, username)
    if problem is not None:
        raise UserError("password", problem)


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
    username: str,
    display_name: str,
    password: str,
    *,
    is_platform_admin: bool = False,
    must_change: bool = True,
) -> User:
    """Create an active user, or raise UserError for a bad or taken username or password.

    ``must_change``: the password was chosen by an administrator (the console or the
    CLI), so the user must replace it at the first sign-in.
    """
    username = normalize_username(username)
    if not USERNAME_RE.fullmatch(username):
        raise UserError("username", "用户名须为 3 到 32 位小写字母、数字或 _ . -")
    display_name = display_name.strip()
    if not 1 <= len(display_name) <= 50:
        raise UserError("display_name", "请填写姓名（不超过 50 个字）")
    _check_password(password, username)
    if await User.exists(username=username):
        raise UserError("username", "该用户名已被使用")
    return await User.create(
        username=username,
        display_name=display_name,
        password_hash=await hash_password(password),
        is_platform_admin=is_platform_admin,
        must_change_password=must_change,
        password_changed_at=dt.datetime.now(dt.UTC),
    )


async def _used_before(user: User, password: str) -> bool:
    recent = [user.password_hash, *user.password_history][:PASSWORD_HISTORY]
    for stored in recent:
        if await asyncio.to_thread(_matches, stored, password):
            return True
    return False


async def set_password(user: User, password: str, *, must_change: bool) -> None:
    """Replace the user's password, or raise UserError naming the rule it breaks.

    The old hash goes into the history. ``must_change``: an administrator chose it.
    """
    _check_password(password, user.username)
    if await _used_before(user, password):
        raise UserError(
            "password", f"不能与最近 {PASSWORD_HISTORY} 次使用过的密码相同，请换一个新密码。"
        )
    user.password_history = [user.password_hash, *user.password_history][: PASSWORD_HISTORY - 1]
    user.password_hash = await hash_password(password)
    user.must_change_password = must_change
    user.password_changed_at = dt.datetime.now(dt.UTC)
    await user.save(
        update_fields=[
            "password_hash",
            "password_history",
            "must_change_password",
            "password_changed_at",
        ]
    )


async def verify(username: str, password: str) -> User | None:
    """The active user whose password this is, else None, in about the same time either way."""
    user = await User.get_or_none(username=normalize_username(username))
    stored = user.password_hash if user is not None else _dummy_hash()
    ok = await asyncio.to_thread(_matches, stored, password)
    if user is None or not ok or not user.is_active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):  # same password, newer parameters
        user.password_hash = await hash_password(password)
        await user.save(update_fields=["password_hash"])
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
    """When failed sign-ins make the next attempt wait (never a permanent lock).

    - One username from one address: after ``max_failures`` failures a delay that starts at
      ``base_delay_seconds`` and doubles with each further failure, up to ``window_seconds``.
    - One address, whatever the usernames (password spraying): the same after
      ``max_failures_per_ip`` failures.
    - One username from anywhere: after ``max_failures_per_account`` failures only a short
      ``account_delay_seconds`` between attempts, so a stranger can slow down guessing at a
      named account but never lock its owner out.
    """

    max_failures: int = 5
    max_failures_per_ip: int = 20
    window_seconds: int = 900
    base_delay_seconds: int = 30
    max_failures_per_account: int = 10
    account_delay_seconds: int = 5


@dataclass(frozen=True, slots=True)
class Lockout:
    """Why sign-in must wait (pair, address or account) and for how many more seconds."""

    reason: str
    seconds: int


def _growing(count: int, threshold: int, limits: LoginLimits) -> float:
    """The delay after ``count`` failures: 0 below the threshold, then doubling, capped."""
    if count < threshold:
        return 0.0
    return float(
        min(limits.window_seconds, limits.base_delay_seconds * 2 ** min(count - threshold, 20))
    )


async def _failures(since: dt.datetime, **where: str) -> tuple[int, dt.datetime | None]:
    rows = LoginFailure.filter(at__gte=since, **where)
    count = await rows.count()
    last = await rows.order_by("-at").first() if count else None
    return count, last.at if last is not None else None


async def lockout(
    username: str, ip: str, limits: LoginLimits, *, now: dt.datetime | None = None
) -> Lockout | None:
    """Whether sign-in must wait for now, counting failures in every process."""
    now = now or dt.datetime.now(dt.UTC)
    since = now - dt.timedelta(seconds=limits.window_seconds)
    name, address = normalize_username(username)[:64], ip[:64]
    waits: list[tuple[float, str]] = []
    count, last = await _failures(since, username=name, ip=address)
    if last is not None:
        waits.append(
            (_growing(count, limits.max_failures, limits) - (now - last).total_seconds(), "pair")
        )
    count, last = await _failures(since, ip=address)
    if last is not None:
        delay = _growing(count, limits.max_failures_per_ip, limits)
        waits.append((delay - (now - last).total_seconds(), "address"))
    count, last = await _failures(since, username=name)
    if last is not None and count >= limits.max_failures_per_account:
        waits.append((limits.account_delay_seconds - (now - last).total_seconds(), "account"))
    seconds, reason = max(waits, default=(0.0, ""))
    if seconds <= 0:
        return None
    return Lockout(reason=reason, seconds=max(1, math.ceil(seconds)))


async def record_failure(username: str, ip: str, limits: LoginLimits) -> None:
    """Remember a failed sign-in and forget those older than the window."""
    now = dt.datetime.now(dt.UTC)
    stale = now - dt.timedelta(seconds=limits.window_seconds)
    await LoginFailure.filter(at__lt=stale).delete()
    await LoginFailure.create(username=normalize_username(username)[:64], ip=ip[:64], at=now)


async def clear_failures(username: str, ip: str) -> None:
    """Forget the failures of this username from this address after it signs in there.

    Failures from other addresses stay: someone else's guessing is not forgiven because
    the owner signed in.
    """
    await LoginFailure.filter(username=normalize_username(username)[:64], ip=ip[:64]).delete()
