"""The only module that talks to the WeChat Official Account API (through wechatpy 1.8.18).

``_WeChatClient`` (in ``channels.wechat.sdk``) fixes what the library lacks: stable_token,
draft, freepublish, a mass body with ``tag_id``. ``WeChatApi`` is the async facade the
channel uses: it shares one token per account through a ``TokenStore``, refreshes it once
on a token error, dedupes uploads through a ``MediaStore`` and raises only the channel
error types (mapping in ``channels.wechat.errors``).
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeGuard, TypeVar

import requests
from wechatpy.exceptions import WeChatClientException

from channels.base import PermanentError
from channels.wechat.errors import TOKEN_ERRORS, NoQuotaError, redacted, translate
from channels.wechat.sdk import DEFAULT_API_BASE, _WeChatClient, mass_sendall_body
from channels.wechat.tokens import (
    MediaKind,
    MediaStore,
    MemoryMediaStore,
    MemoryTokenStore,
    StoredMedia,
    StoredToken,
    TokenStore,
)

__all__ = [
    "DEFAULT_API_BASE",
    "MassSent",
    "MediaStore",
    "MemoryMediaStore",
    "MemoryTokenStore",
    "NoQuotaError",
    "PublishStatus",
    "PublishedArticle",
    "StoredMedia",
    "StoredToken",
    "TokenStore",
    "WeChatApi",
    "mass_sendall_body",
    "store_key",
]

TOKEN_MARGIN = 60.0  # seconds a stored token must still be valid to be used
BUSY_RETRY_SECONDS = 1.0  # "system busy" (-1) is asked once more after this, then backs off
# At most one forced token refresh per account in this many seconds: WeChat allows 20 a
# day, and other tools of the same account may need some.
FORCE_REFRESH_INTERVAL = 3600.0
_T = TypeVar("_T")


def store_key(appid: str, api_base: str) -> str:
    """The key an account's token and uploads are stored under: the AppID for WeChat's
    own address, the AppID plus a digest of the address for any other one, so a token
    fetched from one API address is never sent to another (and uploads are not reused)."""
    base = api_base if api_base.endswith("/") else api_base + "/"
    if base == DEFAULT_API_BASE:
        return appid
    digest = base64.b32encode(hashlib.sha256(base.encode()).digest()).decode().lower()
    return f"{appid[:18]}@{digest[:13]}"  # fits the 32 characters the tables keep


@dataclass(frozen=True, slots=True)
class MassSent:
    """An accepted mass send; ``adopted`` means WeChat already had it (45065)."""

    msg_id: str
    msg_data_id: str | None
    adopted: bool = False


@dataclass(frozen=True, slots=True)
class PublishStatus:
    """The state of a free-publish job (0 success, 1 publishing, 2–6 failures/removals)."""

    status: int
    article_id: str | None
    article_urls: list[str] = field(default_factory=list)
    fail_idx: list[int] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PublishedArticle:
    """One free-published article group as listed by ``freepublish/batchget``."""

    article_id: str
    update_time: int
    titles: list[str]
    urls: list[str]


def _mimetype(data: bytes) -> str:
    return "image/png" if data.startswith(b"\x89PNG\r\n\x1a\n") else "image/jpeg"


def _items(result: dict[str, Any]) -> list[dict[str, Any]]:
    return list(result.get("article_detail", {}).get("item") or [])


class WeChatApi:
    """Async WeChat calls for one account; raises only TemporaryError/PermanentError/..."""

    def __init__(
        self,
        *,
        appid: str,
        secret: str,
        api_base: str,
        tokens: TokenStore,
        media: MediaStore,
        timeout: float = 10.0,
        busy_retry_seconds: float = BUSY_RETRY_SECONDS,
    ) -> None:
        self.appid = appid
        self._busy_retry_seconds = busy_retry_seconds
        self.store_key = store_key(appid, api_base)
        self._client = _WeChatClient(appid, secret, timeout=timeout, api_base=api_base)
        self._tokens = tokens
        self._media = media
        self._busy = asyncio.Lock()  # requests.Session is not safe for concurrent use

    def __repr__(self) -> str:
        return f"WeChatApi(appid={self.appid!r}, api_base={self._client.API_BASE_URL!r})"

    async def aclose(self) -> None:
        """Release the HTTP session."""
        self._client.close()

    async def access_token(self) -> str:
        """Return a token valid for over a minute, fetching one under the store lock if needed."""
        return (await self._valid_token()).token

    async def verify_credentials(self) -> None:
        """Ask stable_token with the configured secret (normal mode, so nobody's token
        changes): a cached token would hide a wrong secret."""
        fresh = await self._fetch_token()
        async with self._tokens.lock(self.store_key):
            await self._tokens.put(self.store_key, fresh)

    async def upload_body_image(self, data: bytes, filename: str) -> str:
        """Upload an image for the article body once per account and return its mmbiz URL."""
        media = await self._upload(data, filename, "uploadimg")
        return str(media.url)

    async def upload_cover(self, data: bytes, filename: str) -> str:
        """Upload a cover as permanent image material once per account and return its id."""
        media = await self._upload(data, filename, "image")
        return str(media.media_id)

    async def draft_add(self, articles: list[dict[str, Any]]) -> str:
        """Create a draft and return its media_id."""
        result = await self._call("新建草稿", lambda c: c.draft.add(articles))
        return str(_require(result, "media_id", "新建草稿"))

    async def draft_count(self) -> int:
        """How many drafts the account's 草稿箱 holds (read-only: tests the draft API)."""
        result = await self._call("查询草稿数", lambda c: c.draft.count())
        return int(result.get("total_count") or 0)

    async def mass_permitted(self) -> bool:
        """Whether the account may use the mass-send APIs, asked read-only: the status of
        a msg_id that cannot exist answers 40059 with the permission, 48001 without."""
        try:
            await self._call("查询群发权限", lambda c: c.mass.get("0"))
        except PermanentError as exc:
            if exc.code == "40059":
                return True
            raise
        return True

    async def draft_delete(self, media_id: str) -> None:
        """Delete a draft."""
        await self._call("删除草稿", lambda c: c.draft.delete(media_id))

    async def sendall(
        self, media_id: str, *, tag_id: int | None, clientmsgid: str, send_ignore_reprint: int = 0
    ) -> MassSent:
        """Mass-send a draft; a 45065 repeat that names the earlier msg_id counts as sent."""
        body = mass_sendall_body(
            media_id,
            tag_id=tag_id,
            clientmsgid=clientmsgid,
            send_ignore_reprint=send_ignore_reprint,
        )
        result = await self._call("群发", lambda c: c.mass.sendall(body), adopt=45065)
        adopted = result.get("errcode") == 45065
        msg_id = result.get("msg_id") or result.get("msgid")
        if not msg_id:
            exc = WeChatClientException(result.get("errcode", -1), result.get("errmsg"))
            raise translate(exc, "群发")
        data_id = result.get("msg_data_id")
        return MassSent(str(msg_id), None if data_id is None else str(data_id), adopted)

    async def preview(self, media_id: str, openid: str) -> None:
        """Send a preview of a draft to one follower."""
        await self._call("群发预览", lambda c: c.mass.preview(media_id, openid))

    async def mass_get(self, msg_id: str) -> str:
        """Return the mass-send status (SEND_SUCCESS, SENDING, SEND_FAIL or DELETE)."""
        result = await self._call("查询群发状态", lambda c: c.mass.get(msg_id))
        return str(result.get("msg_status", ""))

    async def mass_delete(self, msg_id: str, article_idx: int = 0) -> None:
        """Delete a mass-sent article (article_idx 1-based, 0 = all)."""
        await self._call("删除群发", lambda c: c.mass.delete(msg_id, article_idx))

    async def freepublish_submit(self, media_id: str) -> str:
        """Submit a draft for free publishing and return the publish_id."""
        result = await self._call("提交发布", lambda c: c.freepublish.submit(media_id))
        return str(_require(result, "publish_id", "提交发布"))

    async def freepublish_get(self, publish_id: str) -> PublishStatus:
        """Return the state of a free-publish job."""
        result = await self._call("查询发布状态", lambda c: c.freepublish.get(publish_id))
        article_id = result.get("article_id")
        return PublishStatus(
            status=int(_require(result, "publish_status", "查询发布状态")),
            article_id=str(article_id) if article_id else None,
            article_urls=[str(item["article_url"]) for item in _items(result)],
            fail_idx=[int(idx) for idx in result.get("fail_idx") or []],
        )

    async def freepublish_delete(self, article_id: str, index: int = 0) -> None:
        """Delete a published article (index 1-based, 0 = the whole group)."""
        await self._call("删除已发布文章", lambda c: c.freepublish.delete(article_id, index))

    async def freepublish_batchget(self, offset: int, count: int) -> list[PublishedArticle]:
        """List free-published articles, newest first, with their titles and URLs."""
        result = await self._call(
            "查询已发布列表", lambda c: c.freepublish.batchget(offset, count, 1)
        )
        return [_published(item) for item in result.get("item") or [] if item.get("article_id")]

    async def quota(self, cgi_path: str) -> tuple[int, int, int]:
        """Return (daily_limit, used, remain) of one API, e.g. ``/cgi-bin/freepublish/submit``."""
        result = await self._call("查询接口额度", lambda c: c.uploads.quota(cgi_path))
        quota = _require(result, "quota", "查询接口额度")
        return (
            int(quota.get("daily_limit", 0)),
            int(quota.get("used", 0)),
            int(quota.get("remain", 0)),
        )

    async def _upload(self, data: bytes, filename: str, kind: MediaKind) -> StoredMedia:
        """Upload ``data`` unless this account already has it, remembering the result."""
        digest = hashlib.sha256(data).hexdigest()
        known = await self._media.get(self.store_key, digest, kind)
        if known is not None:
            return known

        def media() -> tuple[str, io.BytesIO, str]:
            # A fresh stream for every try: a retry after a token error must send the same
            # bytes, and the first try has consumed its stream.
            return (filename, io.BytesIO(data), _mimetype(data))

        if kind == "uploadimg":
            result = await self._call("上传正文图片", lambda c: c.uploads.uploadimg(media()))
            stored = StoredMedia(media_id=None, url=str(_require(result, "url", "上传正文图片")))
        else:
            result = await self._call("上传封面", lambda c: c.uploads.add_image(media()))
            media_id = str(_require(result, "media_id", "上传封面"))
            stored = StoredMedia(media_id=media_id, url=result.get("url"))
        await self._media.put(self.store_key, digest, kind, stored)
        return stored

    async def _call(
        self, action: str, call: Callable[[_WeChatClient], Any], *, adopt: int | None = None
    ) -> dict[str, Any]:
        """Run one API call with a valid token, refreshing it once on a token error (and
        forcing a new one once when WeChat keeps refusing the token it hands out), and
        asking once more at once when WeChat is busy (-1)."""
        stale: str | None = None
        forced = busy_retried = False
        while True:
            token = await self._valid_token(stale)
            try:
                result = await self._run(token, call)
            except WeChatClientException as exc:
                if exc.errcode in TOKEN_ERRORS and stale is None:
                    stale = token.token
                    continue
                if exc.errcode in TOKEN_ERRORS and token.token == stale and not forced:
                    forced = True
                    if await self._force_refresh(stale):
                        continue
                if exc.errcode == -1 and not busy_retried:
                    busy_retried = True
                    await asyncio.sleep(self._busy_retry_seconds)
                    continue
                if adopt is not None and exc.errcode == adopt:
                    return _error_body(exc)
                raise translate(exc, action) from exc
            except requests.RequestException as exc:
                raise translate(exc, action) from redacted(exc)
            if not isinstance(result, dict):
                raise translate(ValueError("not a JSON object"), action)
            return result

    async def _run(self, token: StoredToken, call: Callable[[_WeChatClient], _T]) -> _T:
        """Run a blocking wechatpy call in a thread, one at a time per instance."""

        def run() -> _T:
            self._client.use_token(token)
            return call(self._client)

        async with self._busy:
            return await asyncio.to_thread(run)

    async def _valid_token(self, stale: str | None = None) -> StoredToken:
        """Return the stored token, or fetch and store a new one while holding the lock."""
        stored = await self._tokens.get(self.store_key)
        if _usable(stored, stale):
            return stored
        async with self._tokens.lock(self.store_key):
            stored = await self._tokens.get(self.store_key)
            if _usable(stored, stale):
                return stored
            fresh = await self._fetch_token()
            await self._tokens.put(self.store_key, fresh)
            return fresh

    async def _force_refresh(self, stale: str) -> bool:
        """Replace a token WeChat refuses although ``stable_token`` still hands it out;
        False when the rate limit (kept in the token store, shared by every worker) says
        not now, so a stuck token cannot eat the 20 forced refreshes WeChat allows a day."""
        async with self._tokens.lock(self.store_key):
            stored = await self._tokens.get(self.store_key)
            if _usable(stored, stale):
                return True  # another worker replaced it meanwhile
            if not await self._tokens.claim_force(self.store_key, FORCE_REFRESH_INTERVAL):
                return False
            fresh = await self._fetch_token(force=True)
            await self._tokens.put(self.store_key, fresh)
            return True

    async def _fetch_token(self, *, force: bool = False) -> StoredToken:
        """Ask ``stable_token`` for the account's current token."""
        try:
            async with self._busy:
                result = await asyncio.to_thread(self._client.fetch_access_token, force)
        except WeChatClientException as exc:
            raise translate(exc, "获取令牌", token_endpoint=True) from exc
        except requests.RequestException as exc:
            raise translate(exc, "获取令牌", token_endpoint=True) from redacted(exc)
        expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(
            seconds=int(result.get("expires_in", 7200))
        )
        return StoredToken(str(result["access_token"]), expires_at)


def _usable(stored: StoredToken | None, stale: str | None) -> TypeGuard[StoredToken]:
    """Tell whether a stored token may be used: not the one that failed, and not near expiry."""
    return stored is not None and stored.token != stale and stored.remaining() > TOKEN_MARGIN


def _published(item: dict[str, Any]) -> PublishedArticle:
    """Return one ``freepublish/batchget`` item as a PublishedArticle."""
    news = (item.get("content") or {}).get("news_item") or []
    return PublishedArticle(
        article_id=str(item["article_id"]),
        update_time=int(item.get("update_time") or 0),
        titles=[str(n.get("title", "")) for n in news],
        urls=[str(n.get("url", "")) for n in news],
    )


def _require(result: dict[str, Any], key: str, action: str) -> Any:
    """Return ``result[key]``, treating an answer without it as a garbled (temporary) one."""
    value = result.get(key)
    if value is None or value == "":
        raise translate(ValueError(f"missing {key}"), action)
    return value


def _error_body(exc: WeChatClientException) -> dict[str, Any]:
    """Return the JSON body of a WeChat error response (errcode/errmsg at least)."""
    body: dict[str, Any] = {"errcode": exc.errcode, "errmsg": exc.errmsg}
    try:
        parsed = json.loads(exc.response.content.decode("utf-8", "replace"))
    except (AttributeError, ValueError):
        return body
    return {**parsed, **body} if isinstance(parsed, dict) else body
