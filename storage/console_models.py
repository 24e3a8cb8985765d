"""Staff console accounts: users, their per-organization roles, failed sign-ins, the audit log.

Roles are per organization: editor (编辑) writes and queues, reviewer (审核) reviews,
admin (管理员) manages users, channels and settings. A membership of a county also
covers the organizations under it. The audit log is append-only: storage.audit writes
it and reads it, nothing updates or deletes its rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient

from storage.model_base import Model
from storage.models import Organization

ROLES = ("editor", "reviewer", "admin")
ROLE_LABELS = {"editor": "编辑", "reviewer": "审核", "admin": "管理员"}


class User(Model):
    """A staff member who signs in to the console, with an argon2 password hash."""

    id = fields.IntField(primary_key=True)
    username = fields.CharField(max_length=32, unique=True)
    display_name = fields.CharField(max_length=50)
    password_hash = fields.CharField(max_length=255)
    is_active = fields.BooleanField(default=True)
    is_platform_admin = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_login_at = fields.DatetimeField(null=True)
    # Set when an administrator (console or CLI) chose the password: every page then asks
    # for a new one first.
    must_change_password = fields.BooleanField(default=False)
    password_changed_at = fields.DatetimeField(null=True)
    # The hashes of the passwords used before the current one, newest first (see
    # storage.users.PASSWORD_HISTORY): a new password may not be one of them.
    password_history: list[str] = fields.JSONField(default=list)

    memberships: fields.ReverseRelation[Membership]
    sessions: fields.ReverseRelation[ConsoleSession]

    class Meta:
        table = "console_user"

    def __repr__(self) -> str:
        return f"User({self.username!r})"  # never the hash


class Membership(Model):
    """One user's role in one organization (and the organizations under it)."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="memberships", on_delete=fields.CASCADE
    )
    user_id: int
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="memberships", on_delete=fields.CASCADE
    )
    organization_id: int
    role = fields.CharField(max_length=16)  # editor, reviewer or admin
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "membership"
        unique_together = (("user", "organization"),)


class ConsoleSession(Model):
    """A signed-in browser: the cookie holds a random id, and only its SHA-256 is stored here.

    A session ends (``ended_at`` and ``end_reason`` set) on sign-out, when it idles or ages
    out, when the user changes their password (the other sessions), when an administrator
    ends them or deactivates the user; an ended session never comes back.
    """

    id = fields.BigIntField(primary_key=True)
    key_hash = fields.CharField(max_length=64, unique=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="sessions", on_delete=fields.CASCADE
    )
    user_id: int
    created_at = fields.DatetimeField()
    last_seen_at = fields.DatetimeField()
    ip = fields.CharField(max_length=64, default="")  # where it signed in
    last_ip = fields.CharField(max_length=64, default="")
    user_agent = fields.CharField(max_length=300, default="")
    data: dict[str, Any] = fields.JSONField(default=dict)  # messages shown on the next page
    ended_at = fields.DatetimeField(null=True, db_index=True)
    end_reason = fields.CharField(max_length=32, default="")

    class Meta:
        table = "console_session"

    def __repr__(self) -> str:
        return f"ConsoleSession({self.id}, user={self.user_id})"  # never the key hash


class LoginFailure(Model):
    """A failed sign-in, kept for the rate limit shared by every process."""

    id = fields.BigIntField(primary_key=True)
    username = fields.CharField(max_length=64, db_index=True)
    ip = fields.CharField(max_length=64, db_index=True)
    at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "login_failure"


class AuditEvent(Model):
    """Append-only: who did what, to what, when and from where."""

    id = fields.BigIntField(primary_key=True)
    at = fields.DatetimeField(db_index=True)
    user_id = fields.IntField(null=True)  # not a foreign key: the record outlives the user
    username = fields.CharField(max_length=64, default="")
    token_id = fields.IntField(null=True)  # the API token that acted (not a foreign key either)
    organization_id = fields.IntField(null=True, db_index=True)
    action = fields.CharField(max_length=64, db_index=True)
    target = fields.CharField(max_length=200, default="")
    detail: dict[str, Any] = fields.JSONField(default=dict)
    ip = fields.CharField(max_length=64, default="")
    # ok, or why nothing changed: denied (403), conflict (409).
    outcome = fields.CharField(max_length=16, default="ok")
    # The hash chain (storage.audit_chain): the previous row's hash, and this row's.
    prev_hash = fields.CharField(max_length=64, default="", db_default="")
    hash = fields.CharField(max_length=64, default="", db_default="")

    class Meta:
        table = "audit_event"

    async def save(
        self,
        using_db: BaseDBAsyncClient | None = None,
        update_fields: Iterable[str] | None = None,
        force_create: bool = False,
        force_update: bool = False,
    ) -> None:
        """Insert once, never update."""
        if self._saved_in_db or force_update or update_fields:
            raise PermissionError("audit events are append-only")
        await super().save(using_db, update_fields, force_create, force_update)

    async def delete(self, using_db: BaseDBAsyncClient | None = None) -> None:
        """Refuse: audit events are never deleted."""
        raise PermissionError("audit events are append-only")
