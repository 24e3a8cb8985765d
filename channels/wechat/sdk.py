"""wechatpy 1.8.18 adapted to our needs: configurable base URL, stable_token, the APIs it lacks.

Blocking and low level; only ``channels.wechat.client.WeChatApi`` uses it.
"""

from __future__ import annotations

import io
import json
import time
from typing import Any

import requests
from wechatpy import WeChatClient
from wechatpy.client.api.base import BaseWeChatAPI
from wechatpy.exceptions import WeChatClientException

from channels.wechat.tokens import StoredToken

DEFAULT_API_BASE = "https://api.weixin.qq.com/cgi-bin/"


def mass_sendall_body(
    media_id: str, *, tag_id: int | None, clientmsgid: str, send_ignore_reprint: int = 0
) -> dict[str, Any]:
    """Return a ``message/mass/sendall`` body for a draft, to a tag or (tag_id None) to all."""
    audience: dict[str, Any] = {"is_to_all": tag_id is None}
    if tag_id is not None:
        audience["tag_id"] = tag_id
    return {
        "filter": audience,
        "msgtype": "mpnews",
        "mpnews": {"media_id": media_id},
        "send_ignore_reprint": send_ignore_reprint,
        "clientmsgid": clientmsgid,
    }


class _Draft(BaseWeChatAPI):  # type: ignore[misc]
    def add(self, articles: list[dict[str, Any]]) -> Any:
        return self._post("draft/add", data={"articles": articles})

    def get(self, media_id: str) -> Any:
        return self._post("draft/get", data={"media_id": media_id})

    def delete(self, media_id: str) -> Any:
        return self._post("draft/delete", data={"media_id": media_id})

    def update(self, media_id: str, index: int, article: dict[str, Any]) -> Any:
        return self._post(
            "draft/update", data={"media_id": media_id, "index": index, "articles": article}
        )

    def count(self) -> Any:
        return self._get("draft/count")

    def batchget(self, offset: int, count: int, no_content: int = 1) -> Any:
        body = {"offset": offset, "count": count, "no_content": no_content}
        return self._post("draft/batchget", data=body)


class _FreePublish(BaseWeChatAPI):  # type: ignore[misc]
    def submit(self, media_id: str) -> Any:
        return self._post("freepublish/submit", data={"media_id": media_id})

    def get(self, publish_id: str) -> Any:
        return self._post("freepublish/get", data={"publish_id": publish_id})

    def getarticle(self, article_id: str) -> Any:
        return self._post("freepublish/getarticle", data={"article_id": article_id})

    def delete(self, article_id: str, index: int = 0) -> Any:
        return self._post("freepublish/delete", data={"article_id": article_id, "index": index})

    def batchget(self, offset: int, count: int, no_content: int = 1) -> Any:
        body = {"offset": offset, "count": count, "no_content": no_content}
        return self._post("freepublish/batchget", data=body)


class _Mass(BaseWeChatAPI):  # type: ignore[misc]
    def sendall(self, body: dict[str, Any]) -> Any:
        return self._post("message/mass/sendall", data=body)

    def preview(self, media_id: str, openid: str) -> Any:
        body = {"touser": openid, "msgtype": "mpnews", "mpnews": {"media_id": media_id}}
        return self._post("message/mass/preview", data=body)

    def get(self, msg_id: str) -> Any:
        return self._post("message/mass/get", data={"msg_id": _number(msg_id)})

    def delete(self, msg_id: str, article_idx: int = 0) -> Any:
        body = {"msg_id": _number(msg_id), "article_idx": article_idx}
        return self._post("message/mass/delete", data=body)


def _number(msg_id: str) -> int | str:
    """WeChat's msg_id is a number in JSON (we keep it as text); send it as one."""
    return int(msg_id) if msg_id.isdigit() else msg_id


class _Uploads(BaseWeChatAPI):  # type: ignore[misc]
    def uploadimg(self, media: tuple[str, io.BytesIO, str]) -> Any:
        return self._post("media/uploadimg", files={"media": media})

    def add_image(self, media: tuple[str, io.BytesIO, str]) -> Any:
        return self._post("material/add_material", params={"type": "image"}, files={"media": media})

    def quota(self, cgi_path: str) -> Any:
        return self._post("openapi/quota/get", data={"cgi_path": cgi_path})


class _WeChatClient(WeChatClient):  # type: ignore[misc]
    """wechatpy's client on a configurable base URL, with stable_token and no auto-retry."""

    draft = _Draft()
    freepublish = _FreePublish()
    mass = _Mass()
    uploads = _Uploads()

    def __init__(
        self, appid: str, secret: str, *, timeout: float, api_base: str = DEFAULT_API_BASE
    ) -> None:
        super().__init__(appid, secret, timeout=timeout, auto_retry=False)
        self.API_BASE_URL = api_base if api_base.endswith("/") else api_base + "/"
        # Calls go to the configured host only: a redirect (which could carry the secret
        # or the token elsewhere) is refused with TooManyRedirects instead of followed.
        self._http.max_redirects = 0

    def __repr__(self) -> str:
        return f"_WeChatClient(appid={self.appid!r}, api_base={self.API_BASE_URL!r})"

    def fetch_access_token(self, force_refresh: bool = False) -> dict[str, Any]:
        """POST ``stable_token`` and keep the token in the wechatpy session; normal mode
        unless ``force_refresh`` (which invalidates everyone's token: use rarely)."""
        body = {
            "grant_type": "client_credential",
            "appid": self.appid,
            "secret": self.secret,
            "force_refresh": force_refresh,
        }
        res = self._http.post(
            self.API_BASE_URL + "stable_token",
            data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
            headers={"Content-Type": "application/json"},
            timeout=self.timeout,
        )
        try:
            res.raise_for_status()
        except requests.HTTPError as exc:
            raise WeChatClientException(None, None, client=self, response=res) from exc
        try:
            result = json.loads(res.content.decode("utf-8", "replace"))
        except ValueError:
            result = None
        if not isinstance(result, dict) or not result.get("access_token"):
            errcode = result.get("errcode") if isinstance(result, dict) else -1
            errmsg = result.get("errmsg") if isinstance(result, dict) else "bad token response"
            raise WeChatClientException(errcode, errmsg, client=self, response=res)
        expires_in = int(result.get("expires_in", 7200))
        self.session.set(self.access_token_key, result["access_token"], expires_in)
        self.expires_at = int(time.time()) + expires_in
        return result

    def use_token(self, token: StoredToken) -> None:
        """Make wechatpy send ``token`` on the following calls."""
        remaining = max(1, int(token.remaining()))
        self.session.set(self.access_token_key, token.token, remaining)
        self.expires_at = int(token.expires_at.timestamp())

    def close(self) -> None:
        """Close the underlying HTTP session."""
        self._http.close()
