"""API bearer tokens: made by the CLI, shown once, stored only as a SHA-256 digest."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from storage.console_models import ROLES
from storage.models import ApiToken, Organization

TOKEN_PREFIX = "gk_"  # noqa: S105 (a public prefix, not a secret)
PLATFORM_ROLE = "admin"  # a token with no organization administers every organization


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


async def create_token(
    name: str,
    organization: Organization | None,
    *,
    role: str = "editor",
    review_exempt: bool = False,
) -> str:
    """Store a new token for ``organization`` (None: every organization) and return it.

    ``role``: editor (编辑), reviewer (审核) or admin (管理员), as for console users; a
    platform token (no organization) is always admin. ``review_exempt``: a trusted system
    that does its own recorded 保密审查, so its items skip Gongkai's review gate (their
    upstream review is recorded instead); only the platform operator may grant it.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await ApiToken.create(
        name=name,
        token_hash=_digest(token),
        organization=organization,
        role=PLATFORM_ROLE if organization is None else role,
        review_exempt=review_exempt,
    )
    return token


async def find_token(token: str) -> ApiToken | None:
    """The live token record for a presented token, or None."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    return await ApiToken.get_or_none(token_hash=_digest(token), revoked_at=None)


async def revoke_token(token_id: int) -> bool:
    changed = await ApiToken.filter(id=token_id, revoked_at=None).update(
        revoked_at=dt.datetime.now(dt.UTC)
    )
    return changed == 1


async def descendant_ids(organization_id: int) -> set[int]:
    """The organization and every organization under it (a county and its townships)."""
    found = {organization_id}
    frontier = [organization_id]
    while frontier:
        rows = await Organization.filter(parent_id__in=frontier).values("id")
        frontier = [int(row["id"]) for row in rows if row["id"] not in found]
        found.update(frontier)
    return found
