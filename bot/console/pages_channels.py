"""渠道设置: the organization's WeChat account, and the server's CMS and printer, each testable.

Secrets are write-only: the page says 已设置 or 未设置, a blank secret field leaves the
stored one unchanged, and no secret is ever put back into a page or the audit log.
"""

from __future__ import annotations

import logging
import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from bot.console import channel_accounts as accounts
from bot.console.auth import ConsoleError, ConsoleUser, OrgRef, client_ip, ensure, require_role
from bot.console.templates import ACTION_LABELS, FormState, current_org, flash, render
from bot.settings import Settings
from bot.web.wechat_settings import WechatSettingsIn
from channels.accounts import AccountInputError
from channels.base import AccountBound, ChannelError
from channels.registry import CHANNEL_LABELS
from storage import audit
from storage import wechat as wechat_store
from storage.models import Organization
from storage.wechat_models import WechatAccount

log = logging.getLogger("gongkai.console")
router = APIRouter(prefix="/channels")
AdminDep = Annotated[ConsoleUser, Depends(require_role("admin"))]

ACTION_LABELS.update(
    {
        "settings.wechat": "修改微信公众号设置",
        "channel.tested": "测试渠道连接",
        "settings.wechat_preview_recipient": "修改微信预览接收人",
        **accounts.action_labels(),
    }
)
OPENID = re.compile(r"[A-Za-z0-9_-]{1,64}")
SECRET_FIELDS = ("secret", "token", "encoding_aes_key")
SECRET_LABELS = {"secret": "AppSecret", "token": "Token", "encoding_aes_key": "EncodingAESKey"}
FIELD_MESSAGES = {
    "appid": "AppID 以 wx 开头，共 18 位字母或数字（在公众号后台“设置与开发—基本配置”中查看）",
    "secret": "AppSecret 应为 16 至 64 位字符",
    "token": "令牌（Token）应为 3 至 32 位字母或数字",
    "encoding_aes_key": "消息加解密密钥（EncodingAESKey）应为 43 位字母或数字",
    "mode": "请选择发布方式",
    "account_kind": "请选择公众号类型",
    "broadcast_time": "请按“时:分”填写，例如 18:00",
    "tag_id": "标签编号应为整数；留空表示群发给全部粉丝",
    "original_id": "原始 ID 以 gh_ 开头，最多 32 位",
    "author": "作者最多 16 个字",
    "title_limit": "标题长度上限应在 8 到 128 之间",
    "limit_unit": "请选择计数方式",
}
UNIT_OPTIONS = [
    ("chars", "按字数（微信文档：标题 32 字）"),
    ("bytes", "按字节（一个汉字算 3 字节）"),
]
MODE_OPTIONS = [
    ("broadcast", "群发（推送给粉丝，占用群发次数）"),
    ("publish", "发布（不推送，不占次数）"),
]
KIND_OPTIONS = [
    ("subscription", "订阅号（每天可群发 1 次）"),
    ("service", "服务号（每月可群发 4 次）"),
]


def _org(request: Request, user: ConsoleUser) -> OrgRef:
    org = current_org(request)
    if org is None:
        raise ConsoleError(404, "您还没有被分配到任何机构，请联系管理员。")
    ensure(user, org.id, "admin")
    return org


def masked_url(url: str) -> str:
    """An address without user, password or query (which may carry keys)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    hidden = "?…（参数已隐藏）" if parts.query else ""
    return f"{parts.scheme}://{host}{port}{parts.path}{hidden}"


def _server(settings: Settings) -> dict[str, Any]:
    return {
        "cms": bool(settings.cms_url),
        "cms_url": masked_url(settings.cms_url) if settings.cms_url else "",
        "cms_secret_set": bool(settings.cms_secret.get_secret_value()),
        "site_url": settings.site_base_url,
        "printer": settings.printer_command,
        "queue_dir": str(settings.print_queue_dir),
        "period_days": settings.posting_period_days,
    }


def _values(row: WechatAccount | None) -> dict[str, str]:
    if row is None:
        return {
            "mode": "broadcast",
            "account_kind": "subscription",
            "broadcast_time": "18:00",
            "title_limit": "32",
            "limit_unit": "chars",
        }
    return {
        "appid": row.app_id,
        "mode": row.mode,
        "account_kind": row.kind,
        "broadcast_time": row.slot_time,
        "fallback_to_publish": "1" if row.allow_publish_fallback else "",
        "tag_id": "" if row.tag_id is None else str(row.tag_id),
        "original_id": row.original_id,
        "author": row.author,
        "title_limit": str(row.title_limit),
        "limit_unit": row.limit_unit,
    }


async def _page(
    request: Request,
    org: OrgRef,
    *,
    form: FormState | None = None,
    recipient_form: FormState | None = None,
    results: dict[str, tuple[bool, str]] | None = None,
    account_forms: dict[str, FormState] | None = None,
    status_code: int = 200,
) -> Response:
    row = await WechatAccount.get_or_none(organization_id=org.id)
    stores = request.app.state.runtime.accounts
    return render(
        request,
        "channels.html",
        status_code=status_code,
        org=org,
        account=row,
        form=form or FormState(values=_values(row)),
        secrets_set={
            "secret": bool(row and row.app_secret_sealed),
            "token": bool(row and row.callback_token_sealed),
            "encoding_aes_key": bool(row and row.aes_key_sealed),
        },
        mode_options=MODE_OPTIONS,
        kind_options=KIND_OPTIONS,
        unit_options=UNIT_OPTIONS,
        callback_url=str(request.base_url).rstrip("/") + f"/wechat/callback/{org.code}",
        server=_server(request.app.state.runtime.settings),
        results=results or {},
        recipients=await wechat_store.preview_recipients(org.id),
        recipient_form=recipient_form or FormState(),
        account_sections=await accounts.account_sections(stores, org.id, account_forms),
    )


@router.get("", response_class=HTMLResponse)
async def channels_page(request: Request, user: AdminDep) -> Response:
    return await _page(request, _org(request, user))


@router.post("/wechat", response_class=HTMLResponse)
async def save_wechat(request: Request, user: AdminDep) -> Response:
    org = _org(request, user)
    data = await request.form()
    raw = {k: v.strip() for k, v in data.items() if isinstance(v, str)}
    form = FormState(values={k: v for k, v in raw.items() if k not in SECRET_FIELDS})
    existing = await WechatAccount.get_or_none(organization_id=org.id)
    try:
        settings = WechatSettingsIn.model_validate(
            {
                "appid": raw.get("appid", ""),
                **{name: raw[name] for name in SECRET_FIELDS if raw.get(name)},
                "mode": raw.get("mode", ""),
                "account_kind": raw.get("account_kind", ""),
                "broadcast_time": raw.get("broadcast_time", ""),
                "fallback_to_publish": raw.get("fallback_to_publish") == "1",
                "tag_id": raw.get("tag_id") or None,
                "original_id": raw.get("original_id", ""),
                "author": raw.get("author", ""),
                "title_limit": raw.get("title_limit") or "32",
                "limit_unit": raw.get("limit_unit") or "chars",
            }
        )
    except ValidationError as exc:
        for error in exc.errors():
            name = str(error["loc"][0]) if error["loc"] else "appid"
            form.errors.setdefault(name, FIELD_MESSAGES.get(name, "填写有误"))
        settings = None
    if existing is None and not raw.get("secret"):
        form.errors.setdefault("secret", "首次设置公众号时须填写 AppSecret")
    if existing is not None and raw.get("appid", "") != existing.app_id and not raw.get("secret"):
        # The secret is bound to its account: a new AppID must not inherit the stored one.
        form.errors.setdefault("secret", "更换 AppID 时须重新填写 AppSecret")
    taken = WechatAccount.filter(app_id=raw.get("appid", "")).exclude(organization_id=org.id)
    if settings is not None and await taken.exists():
        form.errors["appid"] = "这个 AppID 已被其他机构使用"
    if form.errors or settings is None:
        return await _page(request, org, form=form, status_code=400)
    await request.app.state.runtime.wechat.accounts.configure(
        await Organization.get(id=org.id),
        app_id=settings.appid,
        app_secret=settings.secret,
        callback_token=settings.token,
        aes_key=settings.encoding_aes_key,
        mode=settings.mode,
        kind=settings.account_kind,
        slot_time=settings.broadcast_time,
        allow_publish_fallback=settings.fallback_to_publish,
        tag_id=settings.tag_id,
        original_id=settings.original_id,
        author=settings.author,
        title_limit=settings.title_limit,
        limit_unit=settings.limit_unit,
    )
    await audit.record(
        "settings.wechat",
        user_id=user.id,
        username=user.username,
        organization_id=org.id,
        target=f"wechat:{org.code}",
        detail={
            "AppID": settings.appid,
            "类型": dict(KIND_OPTIONS)[settings.account_kind].split("（")[0],
            "发布方式": dict(MODE_OPTIONS)[settings.mode].split("（")[0],
            "群发时间": settings.broadcast_time,
            "次数用完改用发布": "是" if settings.fallback_to_publish else "否",
            "群发标签": "全部粉丝" if settings.tag_id is None else str(settings.tag_id),
            "标题上限": f"{settings.title_limit} {dict(UNIT_OPTIONS)[settings.limit_unit][:3]}",
            "更换的密钥": "、".join(SECRET_LABELS[n] for n in SECRET_FIELDS if raw.get(n)) or "无",
        },
        ip=client_ip(request),
    )
    flash(request, "微信公众号设置已保存。建议点击“测试连接”确认可以连通。")
    return RedirectResponse("/console/channels", status_code=303)


@router.post("/wechat/preview-recipients", response_class=HTMLResponse)
async def add_preview_recipient(request: Request, user: AdminDep) -> Response:
    """Register a reviewer's openid: previews of items not yet approved go only there."""
    org = _org(request, user)
    data = await request.form()
    openid = str(data.get("openid") or "").strip()
    name = str(data.get("name") or "").strip()
    form = FormState(values={"openid": openid, "name": name})
    if not OPENID.fullmatch(openid):
        form.errors["openid"] = "openid 为 1 至 64 位字母、数字、下划线或短横线"
    if len(name) > 32:
        form.errors["name"] = "姓名最多 32 个字"
    if not form.errors and await wechat_store.is_preview_recipient(org.id, openid):
        form.errors["openid"] = "这个 openid 已经是预览接收人"
    if form.errors:
        return await _page(request, org, recipient_form=form, status_code=400)
    await wechat_store.add_preview_recipient(org.id, openid, name=name, added_by=user.username)
    await _log_recipients(request, user, org, {"添加": openid, "姓名": name or "（未填）"})
    flash(request, "已添加预览接收人。未经审核的信息只能发送预览到这些微信号。")
    return RedirectResponse("/console/channels", status_code=303)


@router.post("/wechat/preview-recipients/{recipient_id}/delete")
async def remove_preview_recipient(request: Request, user: AdminDep, recipient_id: int) -> Response:
    org = _org(request, user)
    row = await wechat_store.remove_preview_recipient(org.id, recipient_id)
    if row is None:
        raise ConsoleError(404, "没有找到这个预览接收人。")
    await _log_recipients(request, user, org, {"删除": row.openid, "姓名": row.name or "（未填）"})
    flash(request, "已删除预览接收人。")
    return RedirectResponse("/console/channels", status_code=303)


async def _log_recipients(
    request: Request, user: ConsoleUser, org: OrgRef, detail: dict[str, Any]
) -> None:
    await audit.record(
        "settings.wechat_preview_recipient",
        user_id=user.id,
        username=user.username,
        organization_id=org.id,
        target=f"wechat_preview:{org.code}",
        detail=detail,
        ip=client_ip(request),
    )


async def _check(request: Request, org: OrgRef, target: str) -> tuple[bool, str]:
    ok, message = await _run_check(request, org, target)
    cms_url: str = request.app.state.runtime.settings.cms_url
    if cms_url:  # the CMS names its address; never with a password or key in it
        message = message.replace(cms_url.rstrip("/"), masked_url(cms_url))
    return ok, message


async def _run_check(request: Request, org: OrgRef, target: str) -> tuple[bool, str]:
    channel = request.app.state.runtime.channels.get(target)
    if channel is None:
        return False, "该渠道没有启用。"
    try:
        if isinstance(channel, AccountBound):
            message: str = await channel.check_account(org.code)
        else:
            message = await channel.check()
    except ChannelError as error:
        return False, f"连接失败：{error.message}"
    except Exception as error:  # the button must answer whatever went wrong
        log.warning("channel test %s for %s failed: %r", target, org.code, error)
        return False, f"连接失败：{type(error).__name__}，请检查网络和设置后重试。"
    return True, message


@router.post("/{name}/account", response_class=HTMLResponse)
async def save_account(request: Request, user: AdminDep, name: str) -> Response:
    """Save a channel's per-organization account (a group robot, say) from its section."""
    org = _org(request, user)
    spec = accounts.spec_for(name)
    if spec is None:
        raise ConsoleError(404, "没有这个渠道。")
    form, data = accounts.parse_account(spec, await request.form())
    if data is None:
        return await _page(request, org, account_forms={name: form}, status_code=400)
    store = request.app.state.runtime.accounts[name]
    try:
        async with audit.changing(
            f"settings.{name}",
            user_id=user.id,
            username=user.username,
            organization_id=org.id,
            target=f"{name}:{org.code}",
            ip=client_ip(request),
        ) as change:
            change.detail = await accounts.save_account(store, spec, org.id, data)
    except AccountInputError as error:
        accounts.refusal(spec, error, form)
        return await _page(request, org, account_forms={name: form}, status_code=400)
    flash(request, f"{spec.title}设置已保存。建议点击“测试连接”确认可以连通。")
    return RedirectResponse("/console/channels", status_code=303)


@router.post("/{target}/test", response_class=HTMLResponse)
async def test_channel(request: Request, user: AdminDep, target: str) -> Response:
    org = _org(request, user)
    if target not in CHANNEL_LABELS:
        raise ConsoleError(404, "没有这个渠道。")
    ok, message = await _check(request, org, target)
    if target == "wechat":
        await wechat_store.record_test(org.id, ok=ok, message=message)
    await audit.record(
        "channel.tested",
        user_id=user.id,
        username=user.username,
        organization_id=org.id,
        target=f"channel:{target}",
        detail={
            "渠道": CHANNEL_LABELS[target],
            "结果": "正常" if ok else "失败",
            "信息": message[:300],
        },
        ip=client_ip(request),
    )
    return await _page(request, org, results={target: (ok, message)})
