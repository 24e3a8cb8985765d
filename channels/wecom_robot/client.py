"""The webhook API, translated into the channel's errors in one place.

``POST <api_base>send?key=KEY`` with a JSON message answers ``{"errcode": 0, "errmsg":
"ok"}`` or an error code:

- 93000 the key is not a valid robot's (deleted, or mistyped): ``ConfigurationError``;
- 45009 more than 20 messages a minute from this robot: ``TemporaryError`` after a minute;
- 40008 / 44004 / 40058 the message type, an empty content or a parameter is refused:
  ``PermanentError`` (sending it again cannot help);
- -1 the platform is busy: ``TemporaryError``; any other code: ``PermanentError``.

A request that failed before it was sent (no connection) may be repeated. One whose
answer was lost (a timeout after sending) may have been posted: ``OutcomeUnknown``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from channels.base import (
    ChannelError,
    ConfigurationError,
    OutcomeUnknown,
    PermanentError,
    TemporaryError,
)

if TYPE_CHECKING:
    import httpx

INVALID_KEY, RATE_LIMITED, SYSTEM_BUSY = 93000, 45009, -1
REFUSED_MESSAGE = {40008: "消息类型无效", 44004: "消息内容为空", 40058: "消息参数无效"}


class RobotApi:
    """A thin client for the group robot webhook."""

    def __init__(self, api_base: str, *, timeout: float) -> None:
        self._send_url = api_base.rstrip("/") + "/send"
        self._timeout = timeout
        self._opened: httpx.AsyncClient | None = None

    @property
    def _client(self) -> httpx.AsyncClient:
        """The HTTP client, made on first use (httpx is not loaded before a message)."""
        if self._opened is None:
            import httpx

            self._opened = httpx.AsyncClient(timeout=self._timeout)
        return self._opened

    def __repr__(self) -> str:
        return f"RobotApi({self._send_url!r})"  # keys travel per request, never kept here

    async def send(self, key: str, message: dict[str, Any]) -> None:
        """Post ``message`` with the robot ``key``; raise a channel error on any refusal."""
        import httpx

        try:
            response = await self._client.post(self._send_url, params={"key": key}, json=message)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise TemporaryError("无法连接企业微信接口", code="connection") from exc
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise ConfigurationError("企业微信接口地址无效，请检查服务器设置") from exc
        except httpx.TransportError as exc:
            raise OutcomeUnknown(
                "发送后没有收到企业微信的答复，消息可能已发到群里，请到群里查看", code="no_answer"
            ) from exc
        raise_for(response)

    async def aclose(self) -> None:
        if self._opened is not None:
            await self._opened.aclose()


def raise_for(response: httpx.Response) -> None:
    """Nothing for errcode 0; the matching channel error otherwise."""
    if response.status_code >= 500:
        raise TemporaryError(f"企业微信接口暂时不可用（HTTP {response.status_code}）", code="http")
    try:
        data = response.json()
    except ValueError:
        data = None
    if not response.is_success or not isinstance(data, dict):
        raise PermanentError(f"企业微信接口答复异常（HTTP {response.status_code}）", code="http")
    code = int(data.get("errcode", 0) or 0)
    if code != 0:
        raise error_for(code, str(data.get("errmsg", "")))


def error_for(code: int, errmsg: str) -> ChannelError:
    """The channel error for one webhook error code (the platform's text is kept short)."""
    said = f"（{code}：{errmsg[:80]}）"
    if code == INVALID_KEY:
        return ConfigurationError(f"群机器人密钥无效或机器人已被移除{said}", code=str(code))
    if code == RATE_LIMITED:
        return TemporaryError(
            f"群机器人每分钟最多发送 20 条消息{said}", code=str(code), retry_after=60
        )
    if code == SYSTEM_BUSY:
        return TemporaryError(f"企业微信系统繁忙{said}", code=str(code))
    reason = REFUSED_MESSAGE.get(code, "企业微信拒绝了这条消息")
    return PermanentError(f"{reason}{said}", code=str(code))
