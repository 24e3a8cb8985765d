"""Request dependencies: who is asking, for which organizations, with which role, and the
runtime.

A token holds one of the console's roles in its organization (and those under it), and
every route asks for the role the console asks for the same action: reading needs any
role, writing and staff actions on items ``EDITORS``, the 保密审查 ``REVIEWERS``, settings,
imports and 紧急发布 ``ADMINS``. A platform token (no organization) is admin everywhere.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bot.app import Runtime
from bot.publishing import Conflict, InputError
from bot.review import Reviewer, SelfReview
from storage import audit
from storage.console_models import ROLE_LABELS
from storage.models import Item, Organization
from storage.tokens import descendant_ids, find_token

_bearer = HTTPBearer(auto_error=False)

# The console's groups (bot.console.pages_items.WRITERS, pages_review.REVIEW_ROLES).
EDITORS = ("editor", "admin")
REVIEWERS = ("reviewer", "admin")
ADMINS = ("admin",)
PREVIEWERS = ("editor", "reviewer", "admin")  # a reviewer previews on their own phone


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: a named token with a role, scoped to some organizations or (platform
    administrator) to all; ``ip`` is where the request came from, for the audit log."""

    name: str
    org_ids: frozenset[int] | None  # None: every organization
    review_exempt: bool = False  # a trusted system's token: its items skip the review gate
    role: str = "editor"  # editor, reviewer or admin in its organizations
    token_id: int | None = None
    ip: str = ""

    @property
    def is_admin(self) -> bool:
        """A platform administrator's token (no organization): every organization."""
        return self.org_ids is None

    def may_access(self, org_id: int) -> bool:
        return self.org_ids is None or org_id in self.org_ids

    def role_in(self, org_id: int) -> str | None:
        """The token's role in the organization, or None outside its scope."""
        if self.is_admin:
            return "admin"
        return self.role if self.may_access(org_id) else None

    def can(self, org_id: int, *roles: str) -> bool:
        """Whether the token holds one of ``roles`` (any role, if none given) there."""
        role = self.role_in(org_id)
        return role is not None and (not roles or role in roles)

    def require(self, org_id: int, *roles: str) -> None:
        """403 unless the token holds one of ``roles`` in the organization."""
        if not self.can(org_id, *roles):
            needed = " or ".join(f"{r} ({ROLE_LABELS[r]})" for r in roles)
            have = f"{self.role} ({ROLE_LABELS.get(self.role, self.role)})"
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this token's role is {have}; this action needs {needed}",
            )

    async def demand(self, org_id: int, *roles: str, action: str, target: str = "") -> None:
        """``require``, recording a refusal in the audit log (for routes whose change is not
        inside ``audited``)."""
        if not self.can(org_id, *roles):
            async with self.audited(action, org_id=org_id, target=target):
                self.require(org_id, *roles)

    @property
    def reviewer(self) -> Reviewer:
        """The token as the review gate knows it: by token id, recorded under its name."""
        return Reviewer(name=self.name, token_id=self.token_id)

    async def record_test(
        self, action: str, *, org_id: int, target: str, result: dict[str, str]
    ) -> None:
        """Record a channel's "test connection" answer (``status`` ok or error, ``message``)."""
        await audit.record(
            action,
            username=self.name,
            token_id=self.token_id,
            organization_id=org_id,
            target=target,
            detail={"result": result["status"], "message": result["message"][:300]},
            ip=self.ip,
            outcome="ok" if result["status"] == "ok" else "failed",
        )

    def audited(
        self,
        action: str,
        *,
        org_id: int | None,
        target: str = "",
        detail: dict[str, Any] | None = None,
    ) -> contextlib.AbstractAsyncContextManager[audit.Change]:
        """The change inside runs in one transaction with its audit row (who: this token);
        a refusal (403, 409) is recorded after the rollback in a transaction of its own."""
        return audit.changing(
            action,
            username=self.name,
            token_id=self.token_id,
            organization_id=org_id,
            target=target,
            detail=detail,
            ip=self.ip,
            refused=_refusal,
        )


def _refusal(exc: Exception) -> str | None:
    """The audit outcome of a refused attempt, or None for errors that are not refusals."""
    code = exc.status_code if isinstance(exc, HTTPException) else None
    if isinstance(exc, SelfReview) or code == status.HTTP_403_FORBIDDEN:
        return "denied"
    if isinstance(exc, Conflict) or code == status.HTTP_409_CONFLICT:
        return "conflict"
    return None


def item_target(item: Item) -> str:
    """How the audit log names an item."""
    return f"item:{item.id} {item.title}"


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    token = await find_token(credentials.credentials)
    if token is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "invalid or revoked token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    org_id = token.organization_id
    scope = None if org_id is None else frozenset(await descendant_ids(org_id))
    return Principal(
        name=token.name,
        org_ids=scope,
        review_exempt=token.review_exempt,
        role=token.role,
        token_id=token.id,
        ip=request.client.host if request.client else "",
    )


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def item_for(principal: Principal, item_id: int) -> Item:
    """The item if the caller may see it; 404 for absent and for another organization's."""
    item = await Item.get_or_none(id=item_id).prefetch_related("organization")
    if item is None or not principal.may_access(item.organization_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"item {item_id} not found")
    return item


async def org_for(principal: Principal, code: str, *, field: str = "org") -> Organization:
    """The organization named ``code`` if the caller may act for it; 422 names the field."""
    org = await Organization.get_or_none(code=code)
    if org is None or not principal.may_access(org.id):
        # Same answer for "absent" and "not yours": no probing other organizations.
        raise field_error(field, f"unknown organization {code!r}")
    return org


def field_error(field: str, message: str) -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors, naming the field."""
    loc = ["body", *field.split(".")]
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        [{"loc": loc, "msg": message, "type": "value_error"}],
    )


def as_http(exc: Exception) -> HTTPException:
    """422 naming the field for bad input; 403 for reviewing one's own item; 409 for a
    request the item's state refuses."""
    if isinstance(exc, InputError):
        return field_error(exc.field, exc.message)
    if isinstance(exc, SelfReview):
        return HTTPException(status.HTTP_403_FORBIDDEN, str(exc))
    return HTTPException(status.HTTP_409_CONFLICT, str(exc))
