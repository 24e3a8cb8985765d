"""An organization's WeChat account: set it, read it back (never its secrets), test it."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from bot import wechat_titles
from bot.web.deps import ADMINS, EDITORS, PrincipalDep, RuntimeDep, field_error
from channels.base import AccountBound, ChannelError
from channels.wechat import limits_of
from channels.wechat.state import AccountConfig
from storage import wechat as wechat_store
from storage.models import Item, Organization
from storage.wechat_models import WechatAccount

router = APIRouter(prefix="/api/v1")
BEIJING = ZoneInfo("Asia/Shanghai")
HHMM = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


class WechatSettingsIn(BaseModel):
    """The account's settings; secrets are write-only and left unchanged when omitted."""

    model_config = ConfigDict(extra="forbid")

    appid: Annotated[str, StringConstraints(pattern=r"^wx[0-9a-zA-Z]{16}$")]
    secret: Annotated[str, StringConstraints(min_length=16, max_length=64)] | None = None
    token: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{3,32}$")] | None = None
    encoding_aes_key: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9]{43}$")] | None = None
    api_base: str = Field(default="", max_length=300)
    mode: Literal["broadcast", "publish"] = "broadcast"
    account_kind: Literal["subscription", "service"] = "subscription"
    broadcast_time: HHMM = "18:00"
    fallback_to_publish: bool = False
    tag_id: int | None = Field(default=None, ge=0)
    original_id: str = Field(default="", max_length=32)
    author: str = Field(default="", max_length=16)
    welcome_text: str = Field(default="", max_length=600)
    keywords: list[Annotated[str, StringConstraints(min_length=1, max_length=20)]] = Field(
        default_factory=list, max_length=20
    )
    default_reply: str = Field(default="", max_length=600)
    title_limit: int = Field(default=32, ge=8, le=128)
    limit_unit: Literal["chars", "bytes"] = "chars"


class WechatSettingsOut(BaseModel):
    org: str
    appid: str
    api_base: str
    mode: str
    account_kind: str
    broadcast_time: str
    fallback_to_publish: bool
    tag_id: int | None
    original_id: str
    secret_set: bool
    token_set: bool
    encoding_aes_key_set: bool
    callback_path: str
    title_limit: int
    limit_unit: str
    paused_reason: str
    last_test_at: dt.datetime | None
    last_test_ok: bool
    last_test_message: str


def _out(org: Organization, row: WechatAccount) -> WechatSettingsOut:
    return WechatSettingsOut(
        org=org.code,
        appid=row.app_id,
        api_base=row.api_base,
        mode=row.mode,
        account_kind=row.kind,
        broadcast_time=row.slot_time,
        fallback_to_publish=row.allow_publish_fallback,
        tag_id=row.tag_id,
        original_id=row.original_id,
        secret_set=bool(row.app_secret_sealed),
        token_set=bool(row.callback_token_sealed),
        encoding_aes_key_set=bool(row.aes_key_sealed),
        callback_path=f"/wechat/callback/{org.code}",
        title_limit=row.title_limit,
        limit_unit=row.limit_unit,
        paused_reason=row.paused_reason,
        last_test_at=row.last_test_at,
        last_test_ok=row.last_test_ok,
        last_test_message=row.last_test_message,
    )


@router.put("/orgs/{org}/channels/wechat")
async def put_wechat(
    org: str, data: WechatSettingsIn, principal: PrincipalDep, runtime: RuntimeDep
) -> WechatSettingsOut:
    """Create or change the organization's account; secrets are stored sealed."""
    organization = await _org(principal, org)
    await principal.demand(organization.id, *ADMINS, action="settings.wechat", target=f"org:{org}")
    existing = await WechatAccount.get_or_none(organization_id=organization.id)
    if existing is None and not data.secret:
        raise field_error("secret", "required when the account is first configured")
    if data.api_base and not re.match(r"^https?://", data.api_base):
        raise field_error("api_base", "must start with http:// or https://")
    moved = _moved(existing, data)
    if moved and not data.secret:
        # The secret is bound to where it goes: a new address or AppID must not inherit it.
        raise field_error(
            "secret", f"changing {moved} requires the AppSecret again in the same request"
        )
    taken = (
        await WechatAccount.filter(app_id=data.appid)
        .exclude(organization_id=organization.id)
        .exists()
    )
    if taken:
        raise field_error("appid", "this AppID is already used by another organization")
    audited = principal.audited("settings.wechat", org_id=organization.id, target=f"org:{org}")
    async with audited as change:
        change.detail = {"appid": data.appid, "api_base": data.api_base, "mode": data.mode}
        change.detail["secrets_changed"] = [
            name for name in ("secret", "token", "encoding_aes_key") if getattr(data, name)
        ]
        row = await _configure(runtime, organization, data)
    return _out(organization, row)


async def _configure(
    runtime: RuntimeDep, organization: Organization, data: WechatSettingsIn
) -> WechatAccount:
    return await runtime.wechat.accounts.configure(
        organization,
        app_id=data.appid,
        app_secret=data.secret,
        callback_token=data.token,
        aes_key=data.encoding_aes_key,
        api_base=data.api_base,
        mode=data.mode,
        kind=data.account_kind,
        slot_time=data.broadcast_time,
        allow_publish_fallback=data.fallback_to_publish,
        tag_id=data.tag_id,
        original_id=data.original_id,
        author=data.author,
        welcome_text=data.welcome_text,
        keywords=data.keywords,
        default_reply=data.default_reply,
        title_limit=data.title_limit,
        limit_unit=data.limit_unit,
    )


@router.get("/orgs/{org}/channels/wechat")
async def get_wechat(org: str, principal: PrincipalDep) -> WechatSettingsOut:
    """The account's settings, with secrets only reported as set or not (admin, as the
    console's 渠道设置 page)."""
    organization = await _org(principal, org)
    principal.require(organization.id, *ADMINS)
    row = await WechatAccount.get_or_none(organization_id=organization.id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no WeChat account configured")
    return _out(organization, row)


@router.post("/orgs/{org}/channels/wechat/test")
async def test_wechat(
    org: str, request: Request, principal: PrincipalDep, runtime: RuntimeDep
) -> dict[str, str]:
    """The 'test connection' button: the token and outgoing IP, each API publishing needs,
    and what to paste into 公众平台's 服务器配置 (and whether WeChat has verified it)."""
    organization = await _org(principal, org)
    await principal.demand(organization.id, *ADMINS, action="settings.wechat_test")
    channel = runtime.channels.get("wechat")
    if not isinstance(channel, AccountBound):
        raise HTTPException(status.HTTP_409_CONFLICT, "this server runs no WeChat channel")
    try:
        message = await channel.check_account(organization.code)
    except ChannelError as error:
        result = {"status": "error", "message": error.message}
    else:
        result = {"status": "ok", "message": message}
    row = await WechatAccount.get_or_none(organization_id=organization.id)
    if row is not None:
        result["message"] += "\n" + callback_advice(request, organization.code, row)
        ok = result["status"] == "ok"
        await wechat_store.record_test(organization.id, ok=ok, message=result["message"])
    await principal.record_test(
        "settings.wechat_test", org_id=organization.id, target=f"org:{org}", result=result
    )
    return result


def _moved(existing: WechatAccount | None, data: WechatSettingsIn) -> str:
    """Which of AppID and API address the request changes ("" for neither)."""
    if existing is None:
        return ""
    changed = [
        name
        for name, old, new in (
            ("appid", existing.app_id, data.appid),
            ("api_base", existing.api_base, data.api_base),
        )
        if old != new
    ]
    return " and ".join(changed)


async def _org(principal: PrincipalDep, code: str) -> Organization:
    organization = await Organization.get_or_none(code=code)
    if organization is None or not principal.may_access(organization.id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"organization {code!r} not found")
    return organization


class WechatTitleIn(BaseModel):
    """The item's title on WeChat; empty to go back to the shortened form."""

    model_config = ConfigDict(extra="forbid")
    title: str = Field(default="", max_length=128)


class WechatTitleOut(BaseModel):
    item_id: int
    title: str  # what WeChat gets: the clerk's, else the shortened form (the prefill)
    chosen: bool
    limit: int
    unit: str


@router.get("/items/{item_id}/wechat-title")
async def get_wechat_title(
    item_id: int, principal: PrincipalDep, runtime: RuntimeDep
) -> WechatTitleOut:
    """The WeChat title of an item: the clerk's choice, or the prefilled shortened form."""
    item, account = await _titled_item(item_id, principal, runtime)
    view = await wechat_titles.title_of(item.id, item.title, account)
    return WechatTitleOut(
        item_id=item.id, title=view.title, chosen=view.chosen, limit=view.limit, unit=view.unit
    )


@router.put("/items/{item_id}/wechat-title")
async def put_wechat_title(
    item_id: int, data: WechatTitleIn, principal: PrincipalDep, runtime: RuntimeDep
) -> WechatTitleOut:
    """Set (or clear) the title WeChat gets for this item; it must fit the account's limit."""
    item, account = await _titled_item(item_id, principal, runtime)
    org_id = item.organization.id
    target = f"item:{item.id}"
    await principal.demand(org_id, *EDITORS, action="item.wechat_title", target=target)
    title = wechat_titles.tidy(data.title)
    problem = wechat_titles.title_problem(title, limits_of(account))
    if problem:
        raise field_error("title", problem)
    async with principal.audited("item.wechat_title", org_id=org_id, target=target) as change:
        change.detail = {"title": title}
        await wechat_titles.save_title(item.id, title, set_by=principal.name)
    return await get_wechat_title(item_id, principal, runtime)


async def _titled_item(
    item_id: int, principal: PrincipalDep, runtime: RuntimeDep
) -> tuple[Item, AccountConfig]:
    item = await Item.get_or_none(id=item_id).prefetch_related("organization")
    if item is None or not principal.may_access(item.organization.id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"item {item_id} not found")
    account = await runtime.wechat.accounts.account(item.organization.code)
    if account is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no WeChat account configured")
    return item, account


def callback_advice(request: Request, org_code: str, row: WechatAccount) -> str:
    """What the administrator pastes into 公众平台 → 设置与开发 → 基本配置 → 服务器配置."""
    url = str(request.base_url).rstrip("/") + f"/wechat/callback/{org_code}"
    seen = (
        f"已于 {row.callback_verified_at.astimezone(BEIJING):%Y-%m-%d %H:%M} 收到微信的验证请求"
        if row.callback_verified_at
        else "尚未收到微信的验证请求：在公众平台提交服务器配置后，微信会来验证这个地址"
    )
    token = (
        "已设置（与本系统中的令牌一致）"
        if row.callback_token_sealed
        else "未设置：请先在本页设置令牌"
    )
    key = "已设置（安全模式）" if row.aes_key_sealed else "未设置（明文模式）"
    return (
        f"服务器地址(URL)：{url}\n令牌(Token)：{token}\n"
        f"消息加解密密钥(EncodingAESKey)：{key}\n验证：{seen}"
    )
