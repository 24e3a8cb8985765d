"""The website channel for sites run on an external CMS: a signed JSON push over HTTP.

Every request carries ``X-Gongkai-Timestamp`` and ``X-Gongkai-Signature: sha256=<hex>``,
the HMAC-SHA256 of ``timestamp + "." + body`` under the shared secret; commits also carry
``Idempotency-Key`` so a CMS that honours it creates each delivery once.
"""

from __future__ import annotations

import email.utils
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from channels.base import (
    ChannelError,
    Committed,
    ConfigurationError,
    PermanentError,
    Publishable,
    TemporaryError,
    Withdrawal,
)

MESSAGE_LIMIT = 500
NOT_UNDONE = "搜索引擎、网页快照和转载网站可能仍保留副本，需另行联系删除"


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """Return the signature header value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def payload(pub: Publishable) -> dict[str, Any]:
    """Return the JSON object the CMS receives for one delivery."""
    return {
        "id_key": pub.idempotency_key,
        "org_code": pub.org_code,
        "org_name": pub.org_name,
        "index_no": pub.index_no,
        "title": pub.title,
        "summary": pub.summary,
        "category": pub.category,
        "doc_number": pub.doc_number,
        "normative": pub.normative,
        "formed_on": pub.formed_on.isoformat() if pub.formed_on else None,
        "publish_date": pub.publish_date.isoformat(),
        "body_html": pub.body_html,
        "revision": pub.revision,
        "lineage_id": pub.lineage_id,
    }


def encode(data: Mapping[str, Any]) -> bytes:
    """Serialize as compact UTF-8 JSON with Chinese left readable."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _retry_after(value: str | None) -> float | None:
    """Parse Retry-After given as seconds or as an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _message(response: httpx.Response) -> tuple[str, str]:
    """Return the CMS's own error text and code, falling back to the raw body and status."""
    text, code = response.text, f"http_{response.status_code}"
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("message", "error", "detail", "msg"):
            if data.get(key):
                text = str(data[key])
                break
        if data.get("code") is not None:
            code = str(data["code"])
    text = text.strip() or response.reason_phrase
    return text[:MESSAGE_LIMIT], code


def error_for(response: httpx.Response, action: str) -> ChannelError:
    """Translate a non-2xx CMS response into the matching channel error."""
    status = response.status_code
    text, code = _message(response)
    message = f"{action}：CMS 返回 HTTP {status}：{text}"
    if status == 429:
        retry = _retry_after(response.headers.get("Retry-After"))
        return TemporaryError(message, code=code, retry_after=retry)
    if status >= 500 or status == 408:
        return TemporaryError(message, code=code)
    if status in (401, 403):
        return ConfigurationError(
            f"{action}：CMS 拒绝了签名或权限（HTTP {status}）：{text}", code=code
        )
    if status < 400:
        return ConfigurationError(f"{action}：CMS 地址返回了重定向（HTTP {status}），请检查地址")
    return PermanentError(message, code=code)


class CmsWebsite:
    """Pushes items to an external CMS that publishes the 政府信息公开 column."""

    name: ClassVar[str] = "website"

    def __init__(
        self,
        url: str,
        *,
        secret: str,
        timeout: float,
        idempotent: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.commit_repeatable: bool = idempotent
        self.polls_confirmation = False  # the CMS answers synchronously
        self._url = url.rstrip("/")
        self._secret = secret.encode("utf-8")
        self._client = httpx.AsyncClient(timeout=timeout, transport=transport)

    def __repr__(self) -> str:
        return f"CmsWebsite({self._url!r})"  # never the secret

    async def prepare(self, pub: Publishable) -> dict[str, Any]:
        """Return the digest of the payload; nothing is sent before commit."""
        return {"sha256": hashlib.sha256(encode(payload(pub))).hexdigest()}

    async def commit(self, pub: Publishable, prepared: Mapping[str, Any]) -> Committed:
        """POST the item to the CMS and return the id and URL it reports."""
        headers = {"Idempotency-Key": pub.idempotency_key, "Content-Type": "application/json"}
        response = await self._send("POST", self._url, "推送到 CMS", encode(payload(pub)), headers)
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return Committed()
        external_id = data.get("id")
        url = data.get("url")
        return Committed(
            external_id=None if external_id is None else str(external_id),
            url=None if url is None else str(url),
        )

    async def poll(self, pub: Publishable) -> Committed | None:
        """Return None: the CMS publishes synchronously when it accepts the push."""
        return None

    async def withdraw(self, pub: Publishable) -> Withdrawal:
        """DELETE the item from the CMS; an item the CMS no longer has counts as gone."""
        if not pub.external_id:
            return Withdrawal(
                not_undone=["CMS 没有返回该信息的编号，请在 CMS 后台手工删除", NOT_UNDONE]
            )
        target = f"{self._url}/{quote(pub.external_id, safe='')}"
        response = await self._send("DELETE", target, "从 CMS 撤下", b"", {}, allow={404})
        if response.status_code == 404:
            return Withdrawal(undone=[f"CMS 上已没有该信息（编号 {pub.external_id}）"])
        undone = f"已从 CMS 网站删除该信息（编号 {pub.external_id}）"
        return Withdrawal(undone=[undone], not_undone=[NOT_UNDONE])

    async def check(self) -> str:
        """Send a signed GET to the CMS and describe the result in one Chinese sentence."""
        try:
            response = await self._send("GET", self._url, "连接 CMS", b"", {}, allow={405})
        except PermanentError as exc:
            raise ConfigurationError(exc.message, code=exc.code) from exc
        if response.status_code == 405:
            return f"CMS {self._url} 可以连接，但不支持 GET 检查，签名未经验证"
        return f"CMS {self._url} 连接正常，签名已通过（HTTP {response.status_code}）"

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._client.aclose()

    async def _send(
        self,
        method: str,
        url: str,
        action: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        allow: frozenset[int] | set[int] = frozenset(),
    ) -> httpx.Response:
        """Send one signed request; return a 2xx (or allowed) response, raise otherwise."""
        timestamp = str(int(time.time()))
        signed = {
            **headers,
            "X-Gongkai-Timestamp": timestamp,
            "X-Gongkai-Signature": sign(self._secret, timestamp, body),
        }
        try:
            response = await self._client.request(method, url, content=body, headers=signed)
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            raise ConfigurationError(f"{action}：CMS 地址无效：{url}") from exc
        except httpx.TimeoutException as exc:
            raise TemporaryError(f"{action}：CMS 响应超时", code="timeout") from exc
        except httpx.TransportError as exc:
            message = f"{action}：无法连接 CMS（{type(exc).__name__}）"
            raise TemporaryError(message, code="connection") from exc
        if response.is_success or response.status_code in allow:
            return response
        raise error_for(response, action)
