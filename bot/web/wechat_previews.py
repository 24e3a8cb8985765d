"""Preview recipients: the openids that may receive previews of items not yet released.

Administrators of the organization register them (the console's 渠道设置 page does the
same); see ``bot.wechat_preview`` for the rule they serve.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, status
from pydantic import BaseModel, ConfigDict, StringConstraints

from bot.web.deps import ADMINS, Principal, PrincipalDep, field_error
from storage import wechat as wechat_store
from storage.models import Organization
from storage.wechat_models import WechatPreviewRecipient

router = APIRouter(prefix="/api/v1")
OPENID = r"^[A-Za-z0-9_-]{1,64}$"


class RecipientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    openid: Annotated[str, StringConstraints(strip_whitespace=True, pattern=OPENID)]
    name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] = ""


class RecipientOut(BaseModel):
    id: int
    openid: str
    name: str
    added_by: str


def _out(row: WechatPreviewRecipient) -> RecipientOut:
    return RecipientOut(id=row.id, openid=row.openid, name=row.name, added_by=row.added_by)


async def _org(principal: Principal, code: str) -> Organization:
    organization = await Organization.get_or_none(code=code)
    if organization is None or not principal.may_access(organization.id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"organization {code!r} not found")
    return organization


@router.get("/orgs/{org}/wechat/preview-recipients")
async def list_recipients(org: str, principal: PrincipalDep) -> list[RecipientOut]:
    """The registered preview recipients (admin)."""
    organization = await _org(principal, org)
    principal.require(organization.id, *ADMINS)
    return [_out(row) for row in await wechat_store.preview_recipients(organization.id)]


@router.post("/orgs/{org}/wechat/preview-recipients", status_code=201)
async def add_recipient(org: str, data: RecipientIn, principal: PrincipalDep) -> RecipientOut:
    """Register an openid for previews of unreleased items (admin); 422 if registered."""
    organization = await _org(principal, org)
    target = f"wechat_preview:{org}"
    await principal.demand(
        organization.id, *ADMINS, action="settings.wechat_preview_recipient", target=target
    )
    if await wechat_store.is_preview_recipient(organization.id, data.openid):
        raise field_error("openid", "this openid is already a preview recipient")
    async with principal.audited(
        "settings.wechat_preview_recipient",
        org_id=organization.id,
        target=target,
        detail={"added": data.openid, "name": data.name},
    ):
        row = await wechat_store.add_preview_recipient(
            organization.id, data.openid, name=data.name, added_by=principal.name
        )
    if row is None:
        raise field_error("openid", "this openid is already a preview recipient")
    return _out(row)


@router.delete("/orgs/{org}/wechat/preview-recipients/{recipient_id}", status_code=204)
async def remove_recipient(
    org: str,
    recipient_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    principal: PrincipalDep,
) -> None:
    """Remove a preview recipient (admin)."""
    organization = await _org(principal, org)
    target = f"wechat_preview:{org}"
    await principal.demand(
        organization.id, *ADMINS, action="settings.wechat_preview_recipient", target=target
    )
    async with principal.audited(
        "settings.wechat_preview_recipient", org_id=organization.id, target=target
    ) as change:
        row = await wechat_store.remove_preview_recipient(organization.id, recipient_id)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no preview recipient {recipient_id}")
        change.detail = {"removed": row.openid, "name": row.name}
