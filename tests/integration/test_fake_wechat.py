"""Tests of the loopback WeChat emulator itself, driven with plain httpx."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import xmltodict  # type: ignore[import-untyped]
from wechatpy import create_reply, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature

from tests.fakes.wechat import FakeWeChat

APPID = "wx1234567890abcdef"
SECRET = "s3cret"
CB_TOKEN = "cbtoken"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
JPEG = b"\xff\xd8\xff\xe0" + b"\0" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


class Api:
    """A tiny client: holds a stable token and posts UTF-8 JSON like our real client."""

    def __init__(self, wx: FakeWeChat) -> None:
        self.wx = wx
        self.http = httpx.Client(base_url=wx.api_base, timeout=5, verify=False)  # noqa: S501
        self.token = str(self.stable()["access_token"])

    def stable(self, *, force: bool = False) -> dict[str, Any]:
        body = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET}
        return dict(self.http.post("stable_token", json=body | {"force_refresh": force}).json())

    def post(
        self, name: str, body: Any, *, ensure_ascii: bool = False, token: str | None = None
    ) -> dict[str, Any]:
        raw = json.dumps(body, ensure_ascii=ensure_ascii).encode("utf-8")
        params = {"access_token": token or self.token}
        return dict(self.http.post(name, params=params, content=raw).json())

    def upload(self, name: str, data: bytes, filename: str, **params: str) -> dict[str, Any]:
        files = {"media": (filename, data, "application/octet-stream")}
        params["access_token"] = self.token
        return dict(self.http.post(name, params=params, files=files).json())

    def thumb(self) -> str:
        return str(self.upload("material/add_material", JPEG, "c.jpg", type="image")["media_id"])

    def draft(self, count: int = 1, **fields: Any) -> str:
        article = {
            "title": "政务公开通知",
            "content": "<p>正文</p>",
            "thumb_media_id": self.thumb(),
        }
        reply = self.post("draft/add", {"articles": [article | fields] * count})
        return str(reply["media_id"])

    def sendall(self, media_id: str, **extra: Any) -> dict[str, Any]:
        body = {
            "filter": {"is_to_all": True},
            "msgtype": "mpnews",
            "mpnews": {"media_id": media_id},
        }
        return self.post("message/mass/sendall", body | extra)


@pytest.fixture
def wx() -> Iterator[FakeWeChat]:
    """A subscription-account emulator without a callback URL."""
    with FakeWeChat.start(appid=APPID, secret=SECRET) as emu:
        yield emu


@pytest.fixture
def api(wx: FakeWeChat) -> Iterator[Api]:
    """A client holding a valid stable token."""
    client = Api(wx)
    yield client
    client.http.close()


class Receiver:
    """Our side of the callback protocol, minimal: verifies signatures, records, replies."""

    def __init__(self, *, aes_key: str | None = None) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.plaintexts: list[str] = []
        self.slow_attempts = 0
        self.slow_seconds = 0.0
        self.reply: bytes | None = b"success"
        self.crypto = WeChatCrypto(CB_TOKEN, aes_key, APPID) if aes_key else None
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/wechat/callback"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, format: str, *args: Any) -> None:
                """Keep test output clean."""

            def do_GET(self) -> None:
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                self._answer(200, query.get("echostr", "").encode())

            def do_POST(self) -> None:
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append((query, body))
                if len(receiver.requests) <= receiver.slow_attempts:
                    time.sleep(receiver.slow_seconds)
                try:
                    check_signature(
                        CB_TOKEN, query["signature"], query["timestamp"], query["nonce"]
                    )
                    xml = body.decode()
                    if receiver.crypto is not None:
                        xml = receiver.crypto.decrypt_message(
                            body, query["msg_signature"], query["timestamp"], query["nonce"]
                        )
                except (InvalidSignatureException, KeyError):
                    self._answer(403, b"bad signature")
                    return
                receiver.plaintexts.append(xml)
                reply = receiver.reply if receiver.reply is not None else self._text_reply(xml)
                self._answer(200, reply)

            def _text_reply(self, xml: str) -> bytes:
                rendered = create_reply("收到", parse_message(xml)).render()
                if receiver.crypto is None:
                    return str(rendered).encode()
                return str(receiver.crypto.encrypt_message(rendered, "nonce1")).encode()

            def _answer(self, status: int, data: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the emulator gave up waiting (timeout tests)

        return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A plain-mode callback receiver."""
    rec = Receiver()
    yield rec
    rec.close()


class TestTokens:
    """access_token semantics of /cgi-bin/token and /cgi-bin/stable_token."""

    def test_stable_token_is_the_same_while_valid(self, wx: FakeWeChat, api: Api) -> None:
        """Normal mode returns the current token with the remaining life."""
        first = api.stable()
        wx.advance(1000)
        second = api.stable()
        assert second["access_token"] == first["access_token"]
        assert 6190 <= second["expires_in"] <= 6200

    def test_stable_token_rotates_in_the_last_five_minutes(self, wx: FakeWeChat, api: Api) -> None:
        """Under 300 s left a new token is issued while the old one lives to its expiry."""
        old = api.token
        wx.advance(7000)
        fresh = api.stable()
        assert fresh["access_token"] != old
        assert fresh["expires_in"] == 7200
        assert api.post("draft/batchget", {"offset": 0, "count": 1}, token=old)["total_count"] == 0
        wx.advance(201)
        assert api.post("draft/batchget", {"count": 1}, token=old)["errcode"] == 42001

    def test_force_refresh_kills_the_old_token(self, wx: FakeWeChat, api: Api) -> None:
        """A force refresh issues a new token and the old one answers 40001."""
        new = api.stable(force=True)["access_token"]
        assert new != api.token
        assert api.post("draft/batchget", {"count": 1})["errcode"] == 40001
        assert "total_count" in api.post("draft/batchget", {"count": 1}, token=new)

    def test_force_refresh_within_30_seconds_returns_the_current_token(
        self, wx: FakeWeChat, api: Api
    ) -> None:
        """Consecutive force refreshes closer than 30 s do not refresh."""
        first = api.stable(force=True)["access_token"]
        wx.advance(10)
        assert api.stable(force=True)["access_token"] == first
        wx.advance(25)
        assert api.stable(force=True)["access_token"] != first

    def test_force_refresh_daily_cap(self, wx: FakeWeChat, api: Api) -> None:
        """The 21st force refresh of a Beijing day gets 45009."""
        for _ in range(20):
            assert "access_token" in api.stable(force=True)
            wx.advance(31)
        assert api.stable(force=True)["errcode"] == 45009

    def test_classic_token_keeps_the_previous_one_for_five_minutes(
        self, wx: FakeWeChat, api: Api
    ) -> None:
        """Each /token call mints a new token; the previous one dies 300 s later."""
        query = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET}
        t1 = api.http.get("token", params=query).json()["access_token"]
        t2 = api.http.get("token", params=query).json()["access_token"]
        assert t1 != t2
        assert api.post("draft/batchget", {"count": 1}, token=t1)["total_count"] == 0
        wx.advance(301)
        assert api.post("draft/batchget", {"count": 1}, token=t1)["errcode"] == 40001
        assert api.post("draft/batchget", {"count": 1}, token=t2)["total_count"] == 0
        assert api.post("draft/batchget", {"count": 1})["total_count"] == 0  # stable untouched
        assert len(wx.token_calls) == 3

    def test_token_endpoint_errors(self, api: Api) -> None:
        """Wrong appid, wrong secret and GET on stable_token are refused."""
        body = {"grant_type": "client_credential", "appid": "wxother", "secret": SECRET}
        assert api.http.post("stable_token", json=body).json()["errcode"] == 40013
        body |= {"appid": APPID, "secret": "nope"}
        assert api.http.post("stable_token", json=body).json()["errcode"] == 40125
        assert api.http.get("stable_token").json()["errcode"] == 43002

    def test_supersede_and_expire(self, wx: FakeWeChat, api: Api) -> None:
        """Another process's refresh gives 40001; forced expiry gives 42001."""
        wx.expire_token()
        assert api.post("draft/count", {})["errcode"] == 42001
        api.token = api.stable()["access_token"]
        wx.supersede_token()
        reply = api.post("draft/batchget", {"count": 1})
        assert reply["errcode"] == 40001
        assert " rid: " in reply["errmsg"]

    def test_missing_and_malformed_token(self, api: Api) -> None:
        """No token is 41001, a malformed one 40014."""
        assert api.http.post("draft/batchget", content=b"{}").json()["errcode"] == 41001
        assert api.post("draft/batchget", {"count": 1}, token="a b")["errcode"] == 40014


class TestCommonChecks:
    """Checks every business endpoint applies, and the wire format."""

    def test_wire_format(self, api: Api) -> None:
        """Responses are HTTP 200 JSON with the odd ``encoding=utf-8`` content type."""
        response = api.http.post("draft/add", params={"access_token": api.token}, content=b"")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json; encoding=utf-8"
        assert response.json()["errcode"] == 44002

    def test_method_and_body_errors(self, api: Api) -> None:
        """GET on a POST API is 43002 and broken JSON is 47001."""
        params = {"access_token": api.token}
        assert api.http.get("draft/add", params=params).json()["errcode"] == 43002
        assert api.http.post("draft/add", params=params, content=b"{").json()["errcode"] == 47001

    def test_permission_switch(self, wx: FakeWeChat, api: Api) -> None:
        """A denied API answers 48001 before any body checks."""
        wx.set_permission("freepublish")
        assert api.post("freepublish/submit", {"media_id": "x"})["errcode"] == 48001
        assert api.post("draft/batchget", {"count": 1})["total_count"] == 0

    def test_quotas_and_quota_get(self, wx: FakeWeChat, api: Api) -> None:
        """Exhausted daily/minute quotas give 45009/45011 and quota/get reports usage."""
        api.post("draft/batchget", {"count": 1})
        quota = api.post("openapi/quota/get", {"cgi_path": "/cgi-bin/draft/batchget"})["quota"]
        assert quota == {"daily_limit": 10000, "used": 1, "remain": 9999}
        wx.exhaust_quota("draft/batchget")
        assert api.post("draft/batchget", {"count": 1})["errcode"] == 45009
        wx.set_quota("draft/get", minute=1)
        api.post("draft/get", {"media_id": "x"})
        assert api.post("draft/get", {"media_id": "x"})["errcode"] == 45011
        wx.advance(86400)
        api.token = api.stable()["access_token"]
        assert api.post("draft/batchget", {"count": 1})["total_count"] == 0
        assert api.post("openapi/quota/get", {"cgi_path": "/cgi-bin/nope"})["errcode"] == 76021


class TestMaterials:
    """Image uploads and permanent materials."""

    def test_uploadimg(self, wx: FakeWeChat, api: Api) -> None:
        """JPEG/PNG up to 1 MB get an mmbiz URL; other files and big ones are refused."""
        reply = api.upload("media/uploadimg", PNG, "a.png")
        assert reply["url"].startswith("http://mmbiz.qpic.cn/")
        assert reply["errcode"] == 0
        assert api.upload("media/uploadimg", b"GIF89a....", "a.gif")["errcode"] == 40005
        big = JPEG + b"\0" * (1024 * 1024)
        assert api.upload("media/uploadimg", big, "a.jpg")["errcode"] == 40009
        assert len(wx.uploads) == 1

    def test_add_and_delete_material(self, wx: FakeWeChat, api: Api) -> None:
        """Image materials get media_id+url, thumbs must be small JPEGs, add_news is dead."""
        image = api.upload("material/add_material", PNG, "c.png", type="image")
        assert set(image) == {"media_id", "url"}
        big_thumb = JPEG + b"\0" * 65536
        assert (
            api.upload("material/add_material", big_thumb, "t.jpg", type="thumb")["errcode"]
            == 45001
        )
        assert api.upload("material/add_material", PNG, "t.png", type="nope")["errcode"] == 40004
        assert api.post("material/add_news", {"articles": []})["errcode"] == 45103
        assert api.post("material/del_material", {"media_id": image["media_id"]})["errcode"] == 0
        assert (
            api.post("material/del_material", {"media_id": image["media_id"]})["errcode"] == 40007
        )
        assert wx.materials == {}


class TestDrafts:
    """draft/* validation and bookkeeping."""

    @pytest.mark.parametrize(
        ("field", "value", "errcode"),
        [
            ("title", "题" * 33, 45003),
            ("author", "作" * 17, 45110),
            ("digest", "摘" * 129, 45004),
            ("content", "x" * 20000, 45002),
            ("content_source_url", "https://example.org/" + "a" * 1010, 41039),
            ("thumb_media_id", "unknown", 40007),
        ],
    )
    def test_field_limits(self, api: Api, field: str, value: str, errcode: int) -> None:
        """Each field over its documented limit gets its own errcode."""
        article = {"title": "标题", "content": "<p>正文</p>", "thumb_media_id": api.thumb()}
        article[field] = value
        assert api.post("draft/add", {"articles": [article]})["errcode"] == errcode

    def test_limits_at_the_boundary_pass(self, api: Api) -> None:
        """Exactly 32/16/128 characters are accepted."""
        media_id = api.draft(title="题" * 32, author="作" * 16, digest="摘" * 128)
        assert api.post("draft/get", {"media_id": media_id})["news_item"][0]["title"] == "题" * 32

    def test_unicode_escapes_count_as_six_characters(self, wx: FakeWeChat, api: Api) -> None:
        """A 20-character Chinese title sent with ensure_ascii=True is 45003; raw UTF-8 passes."""
        article = {"title": "政" * 20, "content": "<p>正文</p>", "thumb_media_id": api.thumb()}
        body = {"articles": [article]}
        assert api.post("draft/add", body, ensure_ascii=True)["errcode"] == 45003
        assert "media_id" in api.post("draft/add", body)

    def test_byte_mode_title(self, wx: FakeWeChat, api: Api) -> None:
        """In byte mode 11 CJK characters (33 bytes) exceed a 32 limit."""
        wx.configure(title_mode="bytes")
        article = {"title": "政" * 11, "content": "<p>x</p>", "thumb_media_id": api.thumb()}
        assert api.post("draft/add", {"articles": [article]})["errcode"] == 45003

    def test_article_count(self, api: Api) -> None:
        """Zero or more than eight articles are refused."""
        assert api.post("draft/add", {"articles": []})["errcode"] == 44003
        thumb = api.thumb()
        article = {"title": "t", "content": "<p>x</p>", "thumb_media_id": thumb}
        assert api.post("draft/add", {"articles": [article] * 9})["errcode"] == 45008

    def test_scripts_and_foreign_images_are_stripped(self, wx: FakeWeChat, api: Api) -> None:
        """<script> and non-mmbiz <img> are removed and recorded; mmbiz images stay."""
        ok = '<img src="http://mmbiz.qpic.cn/mmbiz_png/x/0?wx_fmt=png">'
        content = f'<p>a</p><script>alert(1)</script><img src="https://evil.example/x.png">{ok}'
        media_id = api.draft(content=content)
        stored = api.post("draft/get", {"media_id": media_id})["news_item"][0]["content"]
        assert stored == f"<p>a</p>{ok}"
        assert wx.drafts[media_id].stripped == [
            "<script>alert(1)</script>",
            '<img src="https://evil.example/x.png">',
        ]

    def test_get_update_delete_count_batchget(self, api: Api) -> None:
        """The draft box CRUD endpoints work together."""
        media_id = api.draft(count=2)
        assert api.http.get("draft/count", params={"access_token": api.token}).json() == {
            "total_count": 1
        }
        article = {"title": "新标题", "content": "<p>新</p>", "thumb_media_id": api.thumb()}
        update = {"media_id": media_id, "index": 1, "articles": article}
        assert api.post("draft/update", update)["errcode"] == 0
        assert api.post("draft/update", update | {"index": 2})["errcode"] == 40114
        page = api.post("draft/batchget", {"offset": 0, "count": 20, "no_content": 1})
        assert page["total_count"] == 1
        assert page["item"][0]["content"]["news_item"][1]["title"] == "新标题"
        assert "content" not in page["item"][0]["content"]["news_item"][0]
        assert api.post("draft/batchget", {"count": 21})["errcode"] == 47001
        assert api.post("draft/delete", {"media_id": media_id})["errcode"] == 0
        assert api.post("draft/get", {"media_id": media_id})["errcode"] == 40007


class TestFreePublish:
    """freepublish/* jobs."""

    def test_status_progression(self, wx: FakeWeChat, api: Api) -> None:
        """A job is publishing (1) until its delay passes, then 0 with article URLs."""
        wx.configure(publish_delay=60)
        media_id = api.draft(count=2)
        submitted = api.post("freepublish/submit", {"media_id": media_id})
        assert submitted["errcode"] == 0
        assert submitted["publish_id"].isdigit()
        publish_id = submitted["publish_id"]
        assert api.post("freepublish/get", {"publish_id": publish_id})["publish_status"] == 1
        assert media_id not in wx.drafts
        wx.advance(61)
        done = api.post("freepublish/get", {"publish_id": publish_id})
        assert done["publish_status"] == 0
        assert done["article_detail"]["count"] == 2
        assert [i["idx"] for i in done["article_detail"]["item"]] == [1, 2]
        article = api.post("freepublish/getarticle", {"article_id": done["article_id"]})
        assert article["news_item"][0]["url"] == done["article_detail"]["item"][0]["article_url"]
        assert api.post("freepublish/submit", {"media_id": media_id})["errcode"] == 40007

    def test_injected_failure_and_delete(self, wx: FakeWeChat, api: Api) -> None:
        """An injected status 3 reports fail_idx; deleting all articles gives status 5."""
        wx.configure(publish_delay=0)
        wx.set_publish_outcome(3, fail_idx=[1])
        failed = api.post("freepublish/submit", {"media_id": api.draft()})["publish_id"]
        assert api.post("freepublish/get", {"publish_id": failed}) == {
            "publish_id": failed,
            "publish_status": 3,
            "fail_idx": [1],
        }
        ok = api.post("freepublish/submit", {"media_id": api.draft()})["publish_id"]
        article_id = api.post("freepublish/get", {"publish_id": ok})["article_id"]
        assert (
            api.post("freepublish/delete", {"article_id": article_id, "index": 0})["errcode"] == 0
        )
        assert api.post("freepublish/get", {"publish_id": ok})["publish_status"] == 5
        assert api.post("freepublish/getarticle", {"article_id": "x"})["errcode"] == 53600

    def test_daily_cap_and_injected_53501(self, wx: FakeWeChat, api: Api) -> None:
        """The submit quota gives 45009 and 53501 can be injected."""
        wx.fail("freepublish/submit", errcode=53501)
        assert api.post("freepublish/submit", {"media_id": api.draft()})["errcode"] == 53501
        wx.set_quota("freepublish/submit", daily=1)
        assert api.post("freepublish/submit", {"media_id": api.draft()})["errcode"] == 0
        assert api.post("freepublish/submit", {"media_id": api.draft()})["errcode"] == 45009

    def test_batchget_lists_published(self, wx: FakeWeChat, api: Api) -> None:
        """batchget lists successful free-publish jobs."""
        wx.configure(publish_delay=0)
        api.post("freepublish/submit", {"media_id": api.draft()})
        page = api.post("freepublish/batchget", {"offset": 0, "count": 10})
        assert page["total_count"] == 1
        assert page["item"][0]["content"]["news_item"][0]["url"]


class TestMassSend:
    """message/mass/* behaviour."""

    def test_success_consumes_the_draft(self, wx: FakeWeChat, api: Api) -> None:
        """A send-to-all answers the documented success body and removes the draft."""
        media_id = api.draft()
        reply = api.sendall(media_id, clientmsgid="a" * 32)
        assert reply["errmsg"] == "send job submission success"
        assert reply["msg_id"] > 0
        assert media_id not in wx.drafts
        assert len(wx.sent_mass(to_all=True)) == 1

    def test_clientmsgid_dedupe_returns_the_original_msg_id(self, wx: FakeWeChat, api: Api) -> None:
        """A repeated clientmsgid within 24 h is 45065 carrying the first msg_id."""
        first = api.sendall(api.draft(), clientmsgid="notice-42")
        again = api.sendall(api.draft(), clientmsgid="notice-42")
        assert again["errcode"] == 45065
        assert again["msg_id"] == first["msg_id"]
        assert again["errmsg"].startswith("clientmsgid exist")

    def test_implicit_digest_dedupe(self, wx: FakeWeChat, api: Api) -> None:
        """Without clientmsgid, identical content to the same audience is deduped."""
        body = {"filter": {"is_to_all": False, "tag_id": 2}, "msgtype": "text"}
        body["text"] = {"content": "停水通知"}
        first = api.post("message/mass/sendall", body)
        again = api.post("message/mass/sendall", body)
        assert again["errcode"] == 45065
        assert again["msg_id"] == first["msg_id"]

    def test_subscription_quota_is_one_success_per_beijing_day(
        self, wx: FakeWeChat, api: Api
    ) -> None:
        """The second send of the day is 45028; the next Beijing day has quota again."""
        assert api.sendall(api.draft(), clientmsgid="a")["errcode"] == 0
        assert api.sendall(api.draft(), clientmsgid="b")["errcode"] == 45028
        wx.advance(86400)
        api.token = api.stable()["access_token"]
        assert api.sendall(api.draft(), clientmsgid="c")["errcode"] == 0

    def test_filter_and_clientmsgid_rules(self, api: Api) -> None:
        """Legacy group_id, unknown tags and long clientmsgids are refused."""
        media_id = api.draft()
        legacy = {"filter": {"group_id": 2, "is_to_all": True}}
        assert api.sendall(media_id, **legacy)["errcode"] == 40152
        assert api.sendall(media_id, filter={"is_to_all": False, "tag_id": 999})["errcode"] == 40152
        assert api.sendall(media_id, clientmsgid="x" * 33)["errcode"] == 45067
        assert api.sendall("no-such-draft")["errcode"] == 40007

    def test_service_account_monthly_filter(self) -> None:
        """On a service account each follower gets at most 4 messages a month."""
        with FakeWeChat.start(appid=APPID, secret=SECRET, kind="service", follower_count=10) as wx:
            api = Api(wx)
            counts = []
            for i in range(5):
                reply = api.sendall(api.draft(), clientmsgid=f"m{i}")
                counts.append(wx.mass_jobs[reply["msg_id"]].filter_count)
            api.http.close()
        assert counts == [10, 10, 10, 10, 0]

    def test_get_delete_and_preview(self, wx: FakeWeChat, api: Api) -> None:
        """mass/get moves SENDING → SEND_SUCCESS; delete → DELETE; preview keeps the draft."""
        wx.configure(mass_delay=30)
        media_id = api.draft()
        assert (
            api.post(
                "message/mass/preview",
                {"touser": "o1", "msgtype": "mpnews", "mpnews": {"media_id": media_id}},
            )["errcode"]
            == 0
        )
        msg_id = api.sendall(media_id)["msg_id"]
        assert api.post("message/mass/get", {"msg_id": msg_id})["msg_status"] == "SENDING"
        wx.advance(31)
        assert api.post("message/mass/get", {"msg_id": msg_id})["msg_status"] == "SEND_SUCCESS"
        assert wx.mass_jobs[msg_id].article_urls
        assert api.post("message/mass/delete", {"msg_id": msg_id, "article_idx": 0})["errcode"] == 0
        assert api.post("message/mass/get", {"msg_id": msg_id})["msg_status"] == "DELETE"
        assert api.post("message/mass/get", {"msg_id": 1})["errcode"] == 40059


class TestFaults:
    """Injected faults."""

    def test_errcode_fault_fires_once(self, wx: FakeWeChat, api: Api) -> None:
        """``fail(errcode=-1, times=1)`` breaks exactly one call."""
        wx.fail("draft/batchget", errcode=-1)
        assert api.post("draft/batchget", {"count": 1})["errcode"] == -1
        assert api.post("draft/batchget", {"count": 1})["total_count"] == 0
        assert wx.calls_to("draft/batchget")[0].fault == "errcode=-1"

    def test_http_status_and_drop(self, wx: FakeWeChat, api: Api) -> None:
        """HTTP 502 and a reset connection reach the client as transport errors."""
        wx.fail("draft/count", http_status=502)
        params = {"access_token": api.token}
        assert api.http.get("draft/count", params=params).status_code == 502
        wx.fail("draft/count", drop=True)
        with pytest.raises(httpx.TransportError):
            api.http.get("draft/count", params=params)

    def test_response_lost_after_the_send_was_accepted(self, wx: FakeWeChat, api: Api) -> None:
        """A send whose answer times out was performed; its retry gets 45065 + msg_id."""
        wx.fail("message/mass/sendall", delay=1.0)
        media_id = api.draft()
        body = {
            "filter": {"is_to_all": True},
            "msgtype": "mpnews",
            "mpnews": {"media_id": media_id},
        }
        raw = json.dumps(body | {"clientmsgid": "ann-7"}, ensure_ascii=False).encode()
        with pytest.raises(httpx.ReadTimeout):
            api.http.post(
                "message/mass/sendall", params={"access_token": api.token}, content=raw, timeout=0.2
            )
        (job,) = wx.sent_mass()
        retry = api.sendall(media_id, clientmsgid="ann-7")
        assert retry["errcode"] == 45065
        assert retry["msg_id"] == job.msg_id


class TestCallbacks:
    """Pushes to our callback URL."""

    def test_publish_event_is_signed_and_nested(self, receiver: Receiver) -> None:
        """PUBLISHJOBFINISH carries a valid signature and the nested lower-case info."""
        with FakeWeChat.start(
            APPID, SECRET, callback_url=receiver.url, callback_token=CB_TOKEN
        ) as wx:
            api = Api(wx)
            publish_id = api.post("freepublish/submit", {"media_id": api.draft(count=2)})[
                "publish_id"
            ]
            (push,) = wx.wait_callbacks(1, kind="PUBLISHJOBFINISH")
            api.http.close()
        assert push.ok
        assert push.verdict == "success"
        assert len(push.attempts) == 1
        data = xmltodict.parse(receiver.plaintexts[0])["xml"]
        assert data["Event"] == "PUBLISHJOBFINISH"
        assert data["ToUserName"] == wx.gh_id
        info = data["PublishEventInfo"]
        assert info["publish_id"] == publish_id
        assert info["publish_status"] == "0"
        assert info["article_detail"]["count"] == "2"
        assert [i["idx"] for i in info["article_detail"]["item"]] == ["1", "2"]
        query = receiver.requests[0][0]
        assert query["openid"] == data["FromUserName"]

    def test_failed_publish_event_lists_fail_idx(self, receiver: Receiver) -> None:
        """A failed job's event has <fail_idx> and no article_detail."""
        with FakeWeChat.start(
            APPID, SECRET, callback_url=receiver.url, callback_token=CB_TOKEN
        ) as wx:
            wx.set_publish_outcome(2, fail_idx=[1, 2])
            api = Api(wx)
            api.post("freepublish/submit", {"media_id": api.draft(count=2)})
            wx.wait_callbacks(1)
            api.http.close()
        info = xmltodict.parse(receiver.plaintexts[0])["xml"]["PublishEventInfo"]
        assert info["publish_status"] == "2"
        assert info["fail_idx"] == ["1", "2"]
        assert "article_detail" not in info

    def test_mass_event_parses_with_wechatpy(self, receiver: Receiver) -> None:
        """MASSSENDJOBFINISH has §5.4's fields and wechatpy parses it."""
        with FakeWeChat.start(
            APPID,
            SECRET,
            callback_url=receiver.url,
            callback_token=CB_TOKEN,
            follower_count=50,
            mass_error_count=2,
        ) as wx:
            api = Api(wx)
            msg_id = api.sendall(api.draft())["msg_id"]
            wx.wait_callbacks(1, kind="MASSSENDJOBFINISH")
            api.http.close()
        event = parse_message(receiver.plaintexts[0])
        assert type(event).__name__ == "MassSendJobFinishEvent"
        assert (event.id, event.status, event.total_count) == (msg_id, "send success", 50)
        assert (event.filter_count, event.sent_count, event.error_count) == (50, 48, 2)
        urls = xmltodict.parse(receiver.plaintexts[0])["xml"]["ArticleUrlResult"]
        assert urls["Count"] == "1"
        assert urls["ResultList"]["item"]["ArticleUrl"].startswith("https://")

    def test_slow_answer_is_retried_identically(self, receiver: Receiver) -> None:
        """No answer within the timeout → the identical request again, 3 attempts at most."""
        receiver.slow_attempts, receiver.slow_seconds = 5, 0.5
        with FakeWeChat.start(
            APPID, SECRET, callback_url=receiver.url, callback_token=CB_TOKEN, callback_timeout=0.2
        ) as wx:
            push = wx.push_text("o_user", "你好")
        assert [a.error for a in push.attempts] == ["timeout"] * 3
        assert push.ok is False
        assert len({(json.dumps(q), b) for q, b in receiver.requests}) == 1

    def test_second_attempt_succeeds(self, receiver: Receiver) -> None:
        """One slow answer then a fast one gives two attempts and success."""
        receiver.slow_attempts, receiver.slow_seconds = 1, 0.5
        with FakeWeChat.start(
            APPID, SECRET, callback_url=receiver.url, callback_token=CB_TOKEN, callback_timeout=0.2
        ) as wx:
            push = wx.push_subscribe("o_user")
        assert len(push.attempts) == 2
        assert push.ok

    def test_reply_validation(self, receiver: Receiver) -> None:
        """A text reply XML is accepted; an arbitrary string is a failure."""
        with FakeWeChat.start(
            APPID, SECRET, callback_url=receiver.url, callback_token=CB_TOKEN
        ) as wx:
            receiver.reply = None
            good = wx.push_text("o_user", "hi")
            receiver.reply = b"ok thanks"
            bad = wx.push_text("o_user", "hi")
        assert good.ok
        assert good.verdict == "reply"
        assert good.reply_xml
        assert bad.ok is False
        assert "暂时无法提供服务" in bad.verdict

    def test_bad_signature_is_rejected_by_the_receiver(self, receiver: Receiver) -> None:
        """A forged push is sent once and our receiver refuses it."""
        with FakeWeChat.start(
            APPID, SECRET, callback_url=receiver.url, callback_token=CB_TOKEN
        ) as wx:
            push = wx.push_bad_signature("o_user")
            assert wx.verify_callback()
        assert push.attempts[0].status == 403
        assert push.ok is False
        assert receiver.plaintexts == []

    def test_safe_mode_push_decrypts_with_wechatpy(self) -> None:
        """Safe-mode pushes decrypt with WeChatCrypto and encrypted replies are accepted."""
        rec = Receiver(aes_key=AES_KEY)
        try:
            with FakeWeChat.start(
                APPID, SECRET, callback_url=rec.url, callback_token=CB_TOKEN, aes_key=AES_KEY
            ) as wx:
                rec.reply = None
                push = wx.push_text("o_user", "加密消息")
            query, body = rec.requests[0]
        finally:
            rec.close()
        assert query["encrypt_type"] == "aes"
        assert "msg_signature" in query
        root = ET.fromstring(body)  # noqa: S314
        assert root.find("Content") is None
        assert root.findtext("Encrypt")
        assert parse_message(rec.plaintexts[0]).content == "加密消息"
        assert push.ok
        assert push.verdict == "reply"


class TestSubprocess:
    """The ``python -m tests.fakes.wechat`` mode."""

    @pytest.mark.slow
    def test_ready_line_and_admin_endpoints(self) -> None:
        """The subprocess prints READY and serves the API and /__emu/ admin endpoints."""
        argv = ["--port", "0", "--appid", APPID, "--secret", SECRET, "--kind", "service"]
        command = [sys.executable, "-m", "tests.fakes.wechat", *argv]
        with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as proc:
            try:
                assert proc.stdout is not None
                line = proc.stdout.readline().split()
                assert line[0] == "READY"
                base = line[1]
                body = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET}
                token = httpx.post(f"{base}/cgi-bin/stable_token", json=body).json()
                assert "access_token" in token
                httpx.post(f"{base}/__emu/advance", json={"seconds": 7200})
                params = {"access_token": token["access_token"]}
                expired = httpx.get(f"{base}/cgi-bin/draft/count", params=params).json()
                assert expired["errcode"] == 42001
                assert httpx.get(f"{base}/__emu/stats").json()["token_calls"] == 1
                assert httpx.post(f"{base}/__emu/reset").json()["calls"] == 0
            finally:
                proc.terminate()
                proc.wait(timeout=5)
