"""Translation of WeChat API failures into the channel error types, in one place.

Messages are Chinese because staff read them; they never contain the AppSecret or a token.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import requests
from wechatpy.exceptions import WeChatClientException

from channels.base import (
    ChannelError,
    ConfigurationError,
    PermanentError,
    TemporaryError,
)

BEIJING = ZoneInfo("Asia/Shanghai")
TOKEN_ERRORS = frozenset({40001, 40014, 42001})

_TEMPORARY = {
    -1: "微信系统繁忙",
    45009: "接口今日调用次数已用完",
    45011: "接口每分钟调用次数已用完",
    45066: "同一 clientmsgid 重试过快，需间隔 1 分钟",
    53501: "请求过于频繁",
}
_PER_MINUTE = frozenset({45011, 45066, 53501})
_CONFIGURATION = {
    40013: "AppID 无效，请检查公众号设置",
    40125: "AppSecret 无效，请在公众号后台重新获取",
    40243: "AppSecret 已被冻结，请在公众号后台解冻",
    48001: (
        "公众号没有该接口权限（未认证的公众号不能群发；2025 年 7 月起未认证账号不能调用发布接口）"
    ),
    89503: "此次调用需要公众号管理员确认，请管理员确认后重试",
    89506: "公众号管理员拒绝了本服务器 IP 的调用，24 小时内不能再调用",
    89507: "公众号管理员拒绝了本服务器 IP 的调用，1 小时内不能再调用",
}
_PERMANENT = {
    40005: "图片格式不支持（只能是 jpg 或 png）",
    40007: "素材 media_id 无效（草稿已被发布或群发，或封面不是永久素材）",
    40009: "图片大小超过限制（正文图片须小于 1 MB）",
    40152: "群发标签 tag_id 无效",
    41039: "“阅读原文”链接无效",
    45001: "素材大小超过限制",
    45002: "正文超过长度限制（2 万字符或 1 MB）",
    45003: "标题超过长度限制",
    45004: "摘要超过长度限制",
    45065: "该群发已提交过（clientmsgid 重复），但微信没有返回原群发编号",
    45067: "clientmsgid 过长",
    45110: "作者超过长度限制",
    45166: "正文内容无效（含有不允许的内容）",
    53503: "草稿未通过发布检查",
}
# "API 群发安全保护": the administrator confirms a send to all in the WeChat app (30 min).
ADMIN_CONFIRMATION = {
    89504: "正在等待公众号管理员在微信上确认本次群发，确认后自动继续（30 分钟内未确认将重新请求）",
    89505: "已请公众号管理员在微信上确认本次群发，确认后自动继续",
}
# Seconds between asks while waiting: the tries a delivery has then cover WeChat's 30 min.
ADMIN_CONFIRMATION_POLL = 300.0
_IP = re.compile(r"invalid ip ([0-9A-Fa-f.:]+)")
_TOKEN_IN_URL = re.compile(r"(access_token|secret)=[^&\s)'\"]*")


class NoQuotaError(TemporaryError):
    """The account has no mass-send quota left today; the item should wait for the next slot."""


class RedactedTransportError(Exception):
    """Stands in for a transport exception whose text could contain the access token."""


def seconds_until_beijing_midnight(now: dt.datetime | None = None) -> float:
    """Return the seconds until WeChat's daily quotas reset (00:00 Asia/Shanghai)."""
    local = (now or dt.datetime.now(dt.UTC)).astimezone(BEIJING)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), BEIJING)
    return (midnight - local).total_seconds()


def redacted(exc: BaseException) -> BaseException:
    """Return ``exc``, or a copy with tokens removed when its text may contain the URL."""
    if isinstance(exc, requests.RequestException):
        text = _TOKEN_IN_URL.sub(r"\1=***", str(exc))
        return RedactedTransportError(f"{type(exc).__name__}: {text}")
    return exc


def translate(exc: BaseException, action: str, *, token_endpoint: bool = False) -> ChannelError:
    """Map a wechatpy/requests failure (or an error body) to the matching channel error."""
    if isinstance(exc, requests.Timeout):
        return TemporaryError(f"微信：{action}超时", code="timeout")
    if isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema):
        return ConfigurationError("微信：接口地址无效，请检查配置", code="invalid_url")
    if isinstance(exc, requests.TooManyRedirects):
        return ConfigurationError(
            "微信：接口地址返回了跳转，为保护密钥已拒绝跟随，请检查接口地址", code="redirect"
        )
    if isinstance(exc, requests.RequestException):
        return TemporaryError(f"微信：无法连接接口（{action}）", code="connection")
    if not isinstance(exc, WeChatClientException):
        return TemporaryError(f"微信：{action}时返回了无法识别的内容", code="bad_response")
    if exc.errcode is None:
        status = getattr(exc.response, "status_code", 0)
        if status >= 500 or status == 0:
            return TemporaryError(
                f"微信：{action}时服务器出错（HTTP {status}）", code=f"http_{status}"
            )
        return ConfigurationError(
            f"微信：{action}时接口返回 HTTP {status}，请检查接口地址", code=f"http_{status}"
        )
    errcode, errmsg, code = int(exc.errcode), str(exc.errmsg or ""), str(exc.errcode)
    if errcode == 40164:
        match = _IP.search(errmsg)
        ip = match.group(1) if match else "（未知）"
        return ConfigurationError(f"微信：IP {ip} 不在公众号白名单中（40164）", code=code)
    if errcode in ADMIN_CONFIRMATION:
        # Not Deferred: the confirmed send will carry this clientmsgid, so the batch (and
        # its key) must stay as it is for the repeat to be recognised (45065).
        text = f"微信：{ADMIN_CONFIRMATION[errcode]}（{code}）"
        return TemporaryError(text, code=code, retry_after=ADMIN_CONFIRMATION_POLL)
    if errcode == 45028:
        wait = seconds_until_beijing_midnight()
        return NoQuotaError(f"微信：今日群发次数已用完（{code}）", code=code, retry_after=wait)
    if errcode in TOKEN_ERRORS and token_endpoint:
        return ConfigurationError(f"微信：AppSecret 错误，无法获取令牌（{code}）", code=code)
    if errcode in TOKEN_ERRORS:
        return TemporaryError(f"微信：刷新后访问令牌仍然无效（{code}）", code=code)
    if errcode in _TEMPORARY:
        retry = 60.0 if errcode in _PER_MINUTE else None
        if errcode == 45009:
            retry = seconds_until_beijing_midnight()
        text = f"微信：{action}失败：{_TEMPORARY[errcode]}（{code}）"
        return TemporaryError(text, code=code, retry_after=retry)
    if errcode in _CONFIGURATION:
        return ConfigurationError(f"微信：{_CONFIGURATION[errcode]}（{code}）", code=code)
    if errcode in _PERMANENT:
        return PermanentError(f"微信：{action}失败：{_PERMANENT[errcode]}（{code}）", code=code)
    return PermanentError(f"微信：{action}失败：{errmsg}（{code}）", code=code)
