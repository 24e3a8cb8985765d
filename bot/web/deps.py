"""Request dependencies: who is asking, for which organizations, and the runtime."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from bot.app import Runtime
from bot.publishing import InputError
from bot.review import SelfReview
from storage.models import Item, Organization
from storage.tokens import descendant_ids, find_token

_bearer = HTTPBearer(auto_error=False)


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: a named token, scoped to some organizations or (admin) to all."""

    name: str
    org_ids: frozenset[int] | None  # None: every organization
    review_exempt: bool = False  # a trusted system's token: its items skip the review gate

    @property
    def is_admin(self) -> bool:
        return self.org_ids is None

    def may_access(self, org_id: int) -> bool:
        return self.org_ids is None or org_id in self.org_ids


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def get_principal(
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
    return Principal(name=token.name, org_ids=scope, review_exempt=token.review_exempt)


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
