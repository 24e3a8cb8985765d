"""Issue 8, WeChat: secrets bound to their host, previews of unreviewed items, body images
that must not reach the inside, and callbacks that cannot be replayed or forged.

Everything goes through the real app (HTTP API, console, callback URL) against the
loopback WeChat emulator and real HTTP servers on 127.0.0.x.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from bot.settings import Settings
from bot.web import create_app
from bot.wechat_events import process_pending
from storage import users
from storage.console_models import AuditEvent, User
from storage.ledger import BUSINESS_TZ, channel_tally, wechat_reach
from storage.models import Delivery, Item, Organization
from storage.tokens import create_token
from storage.wechat_models import (
    WechatAccount,
    WechatCallbackNonce,
    WechatEvent,
    WechatJob,
    WechatPreviewRecipient,
)
from tests.fakes.wechat import FakeWeChat
from tests.fakes.wechat_callbacks import signature
from tests.integration.test_console_auth import HTML, PASSWORD, csrf_of, post_form

APPID, SECRET = "wx7a1b2c3d4e5f6a7b", "trust-test-app-secret"
TOKEN, GH_ID = "trusttoken123", "gh_7a1b2c3d4e5f"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
SETTINGS_URL = "/api/v1/orgs/tiande/channels/wechat"
RECIPIENTS_URL = "/api/v1/orgs/tiande/wechat/preview-recipients"


# -- real HTTP servers on loopback ---------------------------------------------------


@dataclass
class Server:
    """A tiny HTTP server recording what it was asked; answers from ``routes``."""

    host: str
    routes: dict[str, tuple[int, dict[str, str], bytes]] = field(default_factory=dict)
    seen: list[tuple[str, str, bytes]] = field(default_factory=list)
    port: int = 0

    @property
    def base(self) -> str:
        return f"http://{self.host}:{self.port}"

    @contextlib.contextmanager
    def running(self) -> Iterator[Server]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                outer.seen.append((self.command, self.path, body))
                path = self.path.split("?", 1)[0]
                status, headers, content = outer.routes.get(path, (404, {}, b""))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        httpd = ThreadingHTTPServer((self.host, 0), Handler)
        self.port = httpd.server_address[1]
        thread = threading.Thread(target=httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            httpd.shutdown()
            httpd.server_close()


@pytest.fixture
def wx() -> Iterator[FakeWeChat]:
    with FakeWeChat.start(appid=APPID, secret=SECRET, mass_delay=30, publish_delay=30) as emu:
        yield emu


@pytest.fixture
def image_server() -> Iterator[Server]:
    with Server("127.0.0.1", {"/a.png": (200, {"Content-Type": "image/png"}, PNG)}).running() as s:
        yield s


@dataclass
class Env:
    client: httpx.AsyncClient
    app: Any
    org: Organization
    tokens: dict[str, dict[str, str]]

    @property
    def runtime(self) -> Any:
        return self.app.state.runtime


@contextlib.asynccontextmanager
async def _env(settings: Settings, wx: FakeWeChat, **changes: Any) -> AsyncIterator[Env]:
    settings = settings.model_copy(
        update={"wechat_api_base": wx.api_base, "wechat_poll_interval_seconds": 0.0, **changes}
    )
    app = create_app(settings, run_worker=False)
    async with app.router.lifespan_context(app):
        org = await Organization.create(code="tiande", name="天德乡人民政府")
        await app.state.runtime.wechat.accounts.configure(
            org,
            app_id=APPID,
            app_secret=SECRET,
            callback_token=TOKEN,
            original_id=GH_ID,
            slot_time=f"{dt.datetime.now(BUSINESS_TZ):%H:%M}",
        )
        raw = {
            "platform": await create_token("平台", None),
            "admin": await create_token("天德乡管理", org, role="admin"),
            "editor": await create_token("天德乡编辑", org, role="editor"),
            "exempt": await create_token("办公系统", org, role="editor", review_exempt=True),
            "reviewer": await create_token("天德乡审核", org, role="reviewer"),
        }
        tokens = {name: {"Authorization": f"Bearer {value}"} for name, value in raw.items()}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gongkai.test") as c:
            yield Env(c, app, org, tokens)


@pytest.fixture
async def env(settings: Settings, wx: FakeWeChat) -> AsyncIterator[Env]:
    async with _env(settings, wx) as made:
        yield made


async def _queue(env: Env, token: str, **changes: Any) -> int:
    body = {
        "org": "tiande",
        "title": "关于冬季防火的通知",
        "body": "各村：\n\n请做好冬季防火工作。",
        "channels": ["wechat"],
        "urgent": True,
        **changes,
    }
    response = await env.client.post("/api/v1/items", json=body, headers=env.tokens[token])
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


# -- finding 2: the secret is bound to its host ----------------------------------------


class TestSecretsBoundToTheirHost:
    BODY: dict[str, Any] = {"appid": APPID}  # noqa: RUF012

    async def test_changing_api_base_needs_the_secret_again(self, env: Env) -> None:
        """Moving the account to another address without the secret is a 422 naming it."""
        moved = {**self.BODY, "api_base": "http://collector.example/cgi-bin/"}
        refused = await env.client.put(SETTINGS_URL, json=moved, headers=env.tokens["admin"])
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"][0]["loc"] == ["body", "secret"]
        assert "api_base" in refused.json()["detail"][0]["msg"]
        row = await WechatAccount.get(organization_id=env.org.id)
        assert row.api_base == ""
        with_secret = {**moved, "secret": SECRET}
        ok = await env.client.put(SETTINGS_URL, json=with_secret, headers=env.tokens["admin"])
        assert ok.status_code == 200, ok.text
        assert ok.json()["api_base"] == "http://collector.example/cgi-bin/"

    async def test_changing_the_appid_needs_the_secret_again(self, env: Env) -> None:
        body = {"appid": "wx0000000000000000"}
        refused = await env.client.put(SETTINGS_URL, json=body, headers=env.tokens["admin"])
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["body", "secret"]
        assert (await WechatAccount.get(organization_id=env.org.id)).app_id == APPID

    async def test_the_test_button_never_follows_a_redirect(self, env: Env) -> None:
        """An API address answering 307 (which would re-post the secret) is refused; the
        target never hears from us, and the test is in the audit log."""
        with (
            Server("127.0.0.1").running() as collector,
            Server("127.0.0.1").running() as redirector,
        ):
            target = f"{collector.base}/cgi-bin/stable_token"
            redirector.routes["/cgi-bin/stable_token"] = (307, {"Location": target}, b"")
            body = {"appid": APPID, "secret": SECRET, "api_base": f"{redirector.base}/cgi-bin/"}
            put = await env.client.put(SETTINGS_URL, json=body, headers=env.tokens["admin"])
            assert put.status_code == 200, put.text
            test = await env.client.post(f"{SETTINGS_URL}/test", headers=env.tokens["admin"])
            assert test.json()["status"] == "error"
            assert "跳转" in test.json()["message"]
            assert [path for _m, path, _b in redirector.seen] == ["/cgi-bin/stable_token"]
            assert collector.seen == []
        tested = await AuditEvent.filter(action="settings.wechat_test").order_by("-id").first()
        assert tested is not None
        assert tested.outcome == "failed"
        assert SECRET not in str(tested.detail)

    async def test_a_token_is_never_sent_to_a_new_address(self, env: Env, wx: FakeWeChat) -> None:
        """After a move to another API address, the token the old one issued stays there."""
        item = await _queue(env, "exempt")
        preview = {"openid": "o_anyone"}
        url = f"/api/v1/items/{item}/wechat/preview"
        assert (await env.client.post(url, json=preview, headers=env.tokens["admin"])).is_success
        old_tokens = {c.query.get("access_token") for c in wx.calls_to("message/mass/preview")}
        assert old_tokens
        with FakeWeChat.start(appid=APPID, secret=SECRET) as second:
            body = {"appid": APPID, "secret": SECRET, "api_base": second.api_base}
            put = await env.client.put(SETTINGS_URL, json=body, headers=env.tokens["admin"])
            assert put.status_code == 200
            again = await env.client.post(url, json=preview, headers=env.tokens["admin"])
            assert again.is_success, again.text
            used = {c.query.get("access_token") for c in second.calls if c.query}
            assert second.calls_to("stable_token")
            assert not used & old_tokens


# -- finding 3: previews of unreviewed items --------------------------------------------


class TestPreviewRecipients:
    async def test_an_item_in_review_goes_only_to_registered_recipients(
        self, env: Env, wx: FakeWeChat
    ) -> None:
        """In review: a stranger's openid is refused (nothing sent); a registered one works."""
        item = await _queue(env, "editor")
        assert (await Item.get(id=item)).status == "in_review"
        url = f"/api/v1/items/{item}/wechat/preview"
        stranger = await env.client.post(
            url, json={"openid": "o_stranger"}, headers=env.tokens["editor"]
        )
        assert stranger.status_code == 403, stranger.text
        assert "preview recipient" in stranger.text
        assert wx.calls_to("message/mass/preview") == []
        added = await env.client.post(
            RECIPIENTS_URL,
            json={"openid": "o_reviewer_li", "name": "李审核"},
            headers=env.tokens["admin"],
        )
        assert added.status_code == 201, added.text
        ok = await env.client.post(
            url, json={"openid": "o_reviewer_li"}, headers=env.tokens["editor"]
        )
        assert ok.status_code == 200, ok.text
        assert [c.json["touser"] for c in wx.calls_to("message/mass/preview")] == ["o_reviewer_li"]
        by_reviewer = await env.client.post(
            url, json={"openid": "o_reviewer_li"}, headers=env.tokens["reviewer"]
        )
        assert by_reviewer.status_code == 200, "a reviewer previews on their own phone"
        assert len(wx.calls_to("message/mass/preview")) == 2

    async def test_a_released_item_goes_to_any_openid(self, env: Env, wx: FakeWeChat) -> None:
        item = await _queue(env, "exempt", urgent=False)
        url = f"/api/v1/items/{item}/wechat/preview"
        ok = await env.client.post(url, json={"openid": "o_anyone"}, headers=env.tokens["editor"])
        assert ok.status_code == 200, ok.text

    async def test_only_administrators_manage_recipients(self, env: Env) -> None:
        """Editors and reviewers get 403 and store nothing; the admin lists and removes."""
        body = {"openid": "o_someone"}
        for who in ("editor", "reviewer"):
            response = await env.client.post(RECIPIENTS_URL, json=body, headers=env.tokens[who])
            assert response.status_code == 403, (who, response.text)
            listed = await env.client.get(RECIPIENTS_URL, headers=env.tokens[who])
            assert listed.status_code == 403
        assert await WechatPreviewRecipient.all().count() == 0
        added = await env.client.post(RECIPIENTS_URL, json=body, headers=env.tokens["admin"])
        twice = await env.client.post(RECIPIENTS_URL, json=body, headers=env.tokens["admin"])
        assert twice.status_code == 422
        bad = await env.client.post(
            RECIPIENTS_URL, json={"openid": "o x<"}, headers=env.tokens["admin"]
        )
        assert bad.status_code == 422
        assert "openid" in bad.text
        listed = await env.client.get(RECIPIENTS_URL, headers=env.tokens["admin"])
        assert [r["openid"] for r in listed.json()] == ["o_someone"]
        gone = await env.client.delete(
            f"{RECIPIENTS_URL}/{added.json()['id']}", headers=env.tokens["admin"]
        )
        assert gone.status_code == 204
        assert await WechatPreviewRecipient.all().count() == 0
        actions = await AuditEvent.filter(action="settings.wechat_preview_recipient").count()
        assert actions >= 2


# -- finding 6: body images ---------------------------------------------------------------


async def _prepared_notes(env: Env, item_id: int) -> list[str]:
    await env.runtime.dispatcher.run_until_idle(limit_seconds=5)
    delivery = await Delivery.get(item_id=item_id, channel="wechat")
    assert delivery.state == "accepted", delivery.last_error
    notes = (delivery.prepared or {}).get("notes") or []
    assert isinstance(notes, list)
    return [str(note) for note in notes]


class TestBodyImages:
    async def test_a_loopback_image_is_refused_and_the_note_says_nothing_more(
        self, env: Env, image_server: Server, wx: FakeWeChat
    ) -> None:
        """By default 127.0.0.1 is not fetched; staff read 图片无法获取, without the port."""
        src = f"{image_server.base}/a.png"
        item = await _queue(env, "exempt", body=f"正文\n\n![示意图]({src})")
        notes = await _prepared_notes(env, item)
        assert image_server.seen == []
        assert notes == ["正文图片 http://127.0.0.1/a.png 已删除：图片无法获取"]
        assert str(image_server.port) not in " ".join(notes)
        assert wx.calls_to("media/uploadimg") == []
        # Issue 9 defect 8: the item's page shows the clerk what was left out.
        shown = await env.client.get(f"/api/v1/items/{item}", headers=env.tokens["exempt"])
        [wechat] = [d for d in shown.json()["deliveries"] if d["channel"] == "wechat"]
        assert wechat["dropped_images"] == notes

    async def test_the_setting_allows_a_named_network(
        self, settings: Settings, wx: FakeWeChat, image_server: Server
    ) -> None:
        """With outbound_allowed_networks = 127.0.0.0/8 the same image is fetched and
        re-hosted on WeChat."""
        async with _env(settings, wx, outbound_allowed_networks=["127.0.0.0/8"]) as env:
            src = f"{image_server.base}/a.png"
            item = await _queue(env, "exempt", body=f"正文\n\n![示意图]({src})")
            assert await _prepared_notes(env, item) == []
            assert [path for _m, path, _b in image_server.seen] == ["/a.png"]
            assert len(wx.calls_to("media/uploadimg")) == 1

    async def test_a_redirect_to_a_refused_address_is_refused(
        self, settings: Settings, wx: FakeWeChat, image_server: Server
    ) -> None:
        """An allowed host redirecting to one outside the allow-list: not followed."""
        with Server("127.0.0.2").running() as inside:
            inside.routes["/secret.png"] = (200, {}, PNG)
            image_server.routes["/jump.png"] = (302, {"Location": f"{inside.base}/secret.png"}, b"")
            allowed = ["127.0.0.1/32"]
            async with _env(settings, wx, outbound_allowed_networks=allowed) as env:
                src = f"{image_server.base}/jump.png"
                item = await _queue(env, "exempt", body=f"正文\n\n![图]({src})")
                notes = await _prepared_notes(env, item)
            assert [path for _m, path, _b in image_server.seen] == ["/jump.png"]
            assert inside.seen == []
            assert notes == ["正文图片 http://127.0.0.1/jump.png 已删除：图片无法获取"]

    def test_a_bad_network_in_the_setting_is_refused(self, settings: Settings) -> None:
        with pytest.raises(ValueError, match="outbound_allowed_networks"):
            settings.model_validate({**settings.model_dump(), "outbound_allowed_networks": ["x"]})


# -- finding 9: callbacks ----------------------------------------------------------------


def _text_xml(ts: str) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{GH_ID}]]></ToUserName>"
        f"<FromUserName><![CDATA[o_follower]]></FromUserName><CreateTime>{ts}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[你好]]></Content>"
        "<MsgId>1234567890123456</MsgId></xml>"
    )


def _mass_xml(ts: str, msg_id: str, *, total: int, sent: int) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{GH_ID}]]></ToUserName>"
        f"<FromUserName><![CDATA[o_admin]]></FromUserName><CreateTime>{ts}</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[MASSSENDJOBFINISH]]></Event>"
        f"<MsgID>{msg_id}</MsgID><Status><![CDATA[send success]]></Status>"
        f"<TotalCount>{total}</TotalCount><FilterCount>{min(total, sent)}</FilterCount>"
        f"<SentCount>{sent}</SentCount><ErrorCount>0</ErrorCount></xml>"
    )


def _signed(nonce: str, ts: str | None = None) -> dict[str, str]:
    ts = ts or str(int(time.time()))
    return {"signature": signature(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce}


async def _broadcast(env: Env) -> tuple[int, WechatJob]:
    item = await _queue(env, "exempt")
    await env.runtime.dispatcher.run_until_idle(limit_seconds=5)
    job = await WechatJob.get()
    assert job.status == "sent"
    assert job.msg_id
    return item, job


async def _settled(env: Env) -> None:
    deadline = time.monotonic() + 10
    while await WechatEvent.filter(processed_at=None).exists():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    await process_pending(env.runtime)
    # The callback's own task may have applied the event just before confirming it.
    await env.runtime.dispatcher.poll_confirmations()


class TestCallbackReplay:
    async def test_a_captured_signature_cannot_carry_a_second_body(self, env: Env) -> None:
        """Plain mode: the signature of a follower's message, replayed with a forged
        MASSSENDJOBFINISH for a real broadcast, is answered "success" and changes nothing."""
        item, job = await _broadcast(env)
        query = _signed("8861234567")
        url = "/wechat/callback/tiande"
        first = await env.client.post(url, params=query, content=_text_xml(query["timestamp"]))
        assert first.status_code == 200
        forged = _mass_xml(query["timestamp"], str(job.msg_id), total=9_999_999, sent=9_999_999)
        replay = await env.client.post(url, params=query, content=forged)
        assert replay.status_code == 200
        assert replay.text == "success"
        await _settled(env)
        assert await WechatEvent.filter(kind="masssendjobfinish").count() == 0
        assert (await WechatJob.get(id=job.id)).status == "sent"
        assert (await Delivery.get(item_id=item, channel="wechat")).state == "accepted"
        year = dt.datetime.now(BUSINESS_TZ).year
        assert (await channel_tally(env.org.id, year)).wechat == 0
        assert await wechat_reach(env.org.id, year) == (0, 0)

    async def test_implausible_counts_are_refused(self, env: Env) -> None:
        """A correctly signed event whose SentCount exceeds TotalCount publishes nothing."""
        item, job = await _broadcast(env)
        ts = str(int(time.time()))
        forged = _mass_xml(ts, str(job.msg_id), total=1000, sent=9_999_999)
        answer = await env.client.post(
            "/wechat/callback/tiande", params=_signed("5550001", ts), content=forged
        )
        assert answer.text == "success"
        await _settled(env)
        assert (await WechatJob.get(id=job.id)).status == "sent"
        assert (await Delivery.get(item_id=item, channel="wechat")).state == "accepted"
        year = dt.datetime.now(BUSINESS_TZ).year
        assert await wechat_reach(env.org.id, year) == (0, 0)

    async def test_a_plausible_event_still_publishes(self, env: Env) -> None:
        item, job = await _broadcast(env)
        ts = str(int(time.time()))
        real = _mass_xml(ts, str(job.msg_id), total=1000, sent=990)
        await env.client.post(
            "/wechat/callback/tiande", params=_signed("5550002", ts), content=real
        )
        await _settled(env)
        assert (await WechatJob.get(id=job.id)).status == "finished"
        assert (await Delivery.get(item_id=item, channel="wechat")).state == "published"

    async def test_old_nonces_are_pruned(self, env: Env) -> None:
        """Pairs older than the signature window are deleted when the next callback comes."""
        old = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        await WechatCallbackNonce.create(app_id=APPID, timestamp="1", nonce="n", received_at=old)
        query = _signed("7770001")
        await env.client.post(
            "/wechat/callback/tiande", params=query, content=_text_xml(query["timestamp"])
        )
        assert [row.nonce for row in await WechatCallbackNonce.all()] == ["7770001"]


# -- the console --------------------------------------------------------------------------


@dataclass
class Desk:
    transport: httpx.ASGITransport
    env: Env

    @contextlib.asynccontextmanager
    async def login(self, username: str) -> AsyncIterator[httpx.AsyncClient]:
        base = "http://gongkai.test"
        async with httpx.AsyncClient(transport=self.transport, base_url=base, headers=HTML) as c:
            response = await post_form(c, "/console/login", username=username, password=PASSWORD)
            assert response.status_code == 303, response.text
            yield c


@pytest.fixture
async def desk(env: Env) -> Desk:
    await User.all().delete()
    digest = await users.hash_password(PASSWORD)
    for username, name, role in [
        ("td_admin", "赵管理", "admin"),
        ("td_editor", "王编辑", "editor"),
        ("td_reviewer", "李审核", "reviewer"),
    ]:
        user = await User.create(username=username, display_name=name, password_hash=digest)
        await users.set_role(user, env.org, role)
    return Desk(httpx.ASGITransport(app=env.app), env)


class TestConsole:
    async def test_a_new_appid_needs_the_secret_again(self, desk: Desk) -> None:
        async with desk.login("td_admin") as client:
            token = await csrf_of(client, "/console/channels")
            form = {
                "csrf_token": token,
                "appid": "wx0000000000000000",
                "mode": "broadcast",
                "account_kind": "subscription",
                "broadcast_time": "18:00",
            }
            page = await client.post("/console/channels/wechat", data=form)
        assert page.status_code == 400
        assert '<p class="error" id="e-secret">更换 AppID 时须重新填写 AppSecret</p>' in page.text
        assert (await WechatAccount.get(organization_id=desk.env.org.id)).app_id == APPID

    async def test_the_settings_page_sets_everything_and_shows_the_callback(
        self, desk: Desk
    ) -> None:
        """Issue 9: tag, original ID, author and the title limit are set on the page; it
        shows the callback URL to paste and the outgoing-IP advice."""
        async with desk.login("td_admin") as client:
            page = await client.get("/console/channels")
            assert f"/wechat/callback/{desk.env.org.code}</code>" in page.text
            assert "出口 IP" in page.text
            assert "尚未收到微信的验证请求" in page.text
            assert "上次测试" not in page.text
            token = await csrf_of(client, "/console/channels")
            form = {
                "csrf_token": token,
                "appid": APPID,
                "mode": "broadcast",
                "account_kind": "subscription",
                "broadcast_time": "18:00",
                "tag_id": "100",
                "original_id": "gh_0123456789ab",
                "author": "天德乡办公室",
                "title_limit": "60",
                "limit_unit": "bytes",
            }
            saved = await client.post("/console/channels/wechat", data=form)
            assert saved.status_code == 303, saved.text
            wrong = await client.post("/console/channels/wechat", data={**form, "title_limit": "3"})
            assert wrong.status_code == 400
            assert "标题长度上限应在 8 到 128 之间" in wrong.text
        row = await WechatAccount.get(organization_id=desk.env.org.id)
        assert (row.tag_id, row.original_id, row.author) == (100, "gh_0123456789ab", "天德乡办公室")
        assert (row.title_limit, row.limit_unit) == (60, "bytes")

    async def test_the_item_page_previews_only_to_registered_recipients(
        self, desk: Desk, wx: FakeWeChat
    ) -> None:
        """An admin registers 李审核's openid; for an item in review the reviewer's page
        offers exactly that recipient, and a typed-in stranger is refused."""
        item = await _queue(desk.env, "editor")
        async with desk.login("td_admin") as client:
            token = await csrf_of(client, "/console/channels")
            added = await client.post(
                "/console/channels/wechat/preview-recipients",
                data={"csrf_token": token, "openid": "o_reviewer_li", "name": "李审核"},
            )
            assert added.status_code == 303, added.text
            page = await client.get("/console/channels")
            assert "o_reviewer_li" in page.text
        async with desk.login("td_reviewer") as client:
            page = await client.get(f"/console/items/{item}")
            assert page.status_code == 200
            assert '<select id="f-openid" name="openid"' in page.text
            assert '<option value="o_reviewer_li"' in page.text
            token = await csrf_of(client, f"/console/items/{item}")
            url = f"/console/items/{item}/wechat-preview"
            refused = await client.post(url, data={"csrf_token": token, "openid": "o_stranger"})
            assert refused.status_code == 403
            assert "只能发送预览到管理员登记的预览接收人" in refused.text
            assert wx.calls_to("message/mass/preview") == []
            sent = await client.post(url, data={"csrf_token": token, "openid": "o_reviewer_li"})
            assert sent.status_code == 303, sent.text
        assert [c.json["touser"] for c in wx.calls_to("message/mass/preview")] == ["o_reviewer_li"]
