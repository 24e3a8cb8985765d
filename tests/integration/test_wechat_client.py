"""The WeChat client through its real stack (wechatpy + requests) against the loopback emulator."""

from __future__ import annotations

import asyncio
import json
import socket
import traceback
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from channels.base import ConfigurationError, PermanentError, TemporaryError
from channels.wechat.client import (
    MemoryMediaStore,
    MemoryTokenStore,
    NoQuotaError,
    PublishStatus,
    TokenStore,
    WeChatApi,
)
from channels.wechat.content import article
from tests.fakes.wechat import FakeWeChat

APPID = "wx00000000000000a1"
SECRET = "integration-test-secret-value"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x01" * 64

MakeApi = Callable[..., WeChatApi]


@pytest.fixture
def wx() -> Iterator[FakeWeChat]:
    """A running emulator for a verified subscription account."""
    with FakeWeChat.start(appid=APPID, secret=SECRET, kind="subscription") as fake:
        yield fake


@pytest.fixture
async def make_api(wx: FakeWeChat) -> AsyncIterator[MakeApi]:
    """A factory of WeChatApi instances on the emulator, closed after the test."""
    made: list[WeChatApi] = []

    def make(
        tokens: TokenStore | None = None, *, secret: str = SECRET, timeout: float = 5.0
    ) -> WeChatApi:
        api = WeChatApi(
            appid=APPID,
            secret=secret,
            api_base=wx.api_base,
            tokens=tokens if tokens is not None else MemoryTokenStore(),
            media=MemoryMediaStore(),
            timeout=timeout,
        )
        made.append(api)
        return api

    yield make
    for api in made:
        await api.aclose()


def _token_calls(wx: FakeWeChat) -> list[str]:
    """Return the names of the token APIs the emulator was asked, in order."""
    return [call.name for call in wx.token_calls]


async def _draft(api: WeChatApi, title: str = "关于开展政务公开工作的通知") -> str:
    """Upload a cover and create a one-article draft; return its media_id."""
    cover = await api.upload_cover(JPEG, "cover.jpg")
    item = article(title=title, content="<p>正文内容</p>", thumb_media_id=cover, author="办公室")
    return await api.draft_add([item])


async def _finished(api: WeChatApi, publish_id: str) -> PublishStatus:
    """Poll a publish job until it leaves status 1 (publishing) and return its state."""
    for _ in range(100):
        status = await api.freepublish_get(publish_id)
        if status.status != 1:
            return status
        await asyncio.sleep(0.05)
    raise AssertionError(f"publish job {publish_id} still publishing")


class TestAccessToken:
    async def test_stable_token_endpoint_is_used(self, wx: FakeWeChat, make_api: MakeApi) -> None:
        """The token comes from POST stable_token in normal mode, never from /token."""
        token = await make_api().access_token()
        assert _token_calls(wx) == ["stable_token"]
        call = wx.token_calls[0]
        assert call.method == "POST"
        assert call.json == {
            "grant_type": "client_credential",
            "appid": APPID,
            "secret": SECRET,
            "force_refresh": False,
        }
        assert "access_token" not in call.query
        assert len(token) >= 32

    async def test_memory_store_shares_one_token(self, wx: FakeWeChat, make_api: MakeApi) -> None:
        """Two instances on one MemoryTokenStore fetch the token once."""
        store = MemoryTokenStore()
        first, second = make_api(store), make_api(store)
        assert await first.access_token() == await second.access_token()
        await second.quota("/cgi-bin/draft/add")
        assert _token_calls(wx) == ["stable_token"]

    async def test_memory_store_lock_prevents_a_storm(
        self, wx: FakeWeChat, make_api: MakeApi
    ) -> None:
        """Ten concurrent requests for a token cause a single fetch."""
        store = MemoryTokenStore()
        apis = [make_api(store) for _ in range(5)]
        tokens = await asyncio.gather(*(apis[i % 5].access_token() for i in range(10)))
        assert len(set(tokens)) == 1
        assert _token_calls(wx) == ["stable_token"]

    async def test_secrets_stay_out_of_reprs(self, make_api: MakeApi) -> None:
        """Neither the AppSecret nor the token shows in the reprs of the API or the store."""
        store = MemoryTokenStore()
        api = make_api(store)
        token = await api.access_token()
        stored = await store.get(api.store_key)
        shown = repr(api) + repr(store) + repr(stored) + repr(api._client)
        assert SECRET not in shown
        assert token not in shown

    async def test_wrong_secret_is_a_configuration_error(
        self, wx: FakeWeChat, make_api: MakeApi
    ) -> None:
        """A rejected AppSecret pauses the channel with a message that omits the secret."""
        with pytest.raises(ConfigurationError) as caught:
            await make_api(secret="wrong-secret-value").access_token()
        assert caught.value.code == "40125"
        assert "wrong-secret-value" not in str(caught.value)

    async def test_40001_on_token_endpoint_is_a_configuration_error(
        self, wx: FakeWeChat, make_api: MakeApi
    ) -> None:
        """WeChat's other answer to a wrong AppSecret (40001) is a configuration error too."""
        wx.configure(secret_errcode=40001)
        with pytest.raises(ConfigurationError) as caught:
            await make_api(secret="wrong-secret-value").access_token()
        assert caught.value.code == "40001"
        assert _token_calls(wx) == ["stable_token"]

    async def test_ip_not_whitelisted(self, wx: FakeWeChat, make_api: MakeApi) -> None:
        """40164 names the server IP in Chinese for staff."""
        wx.configure(ip_whitelist=["10.0.0.1"])
        with pytest.raises(ConfigurationError) as caught:
            await make_api().access_token()
        assert caught.value.message == "微信：IP 127.0.0.1 不在公众号白名单中（40164）"


class TestTokenRefresh:
    async def test_superseded_token_is_refreshed_once(
        self, wx: FakeWeChat, make_api: MakeApi
    ) -> None:
        """After another process replaced the token, one refresh and one retry succeed."""
        api = make_api()
        old = await api.access_token()
        wx.supersede_token()
        assert await api.quota("/cgi-bin/draft/add") == (10000, 0, 10000)
        assert _token_calls(wx) == ["stable_token", "stable_token"]
        quota_calls = wx.calls_to("openapi/quota/get")
        assert [c.errcode for c in quota_calls] == [40001, 0]
        assert await api.access_token() != old

    async def test_expired_token_is_refreshed_once(self, wx: FakeWeChat, make_api: MakeApi) -> None:
        """42001 also triggers exactly one refresh."""
        api = make_api()
        await api.access_token()
        wx.expire_token()
        await api.quota("/cgi-bin/draft/add")
        assert _token_calls(wx) == ["stable_token", "stable_token"]

    async def test_repeated_40001_raises_after_one_retry(
        self, wx: FakeWeChat, make_api: MakeApi
    ) -> None:
        """A token that keeps failing raises after one refresh and one forced refresh; a
        second call within the rate limit forces nothing: no storm, no quota eaten."""
        api = make_api()
        wx.fail("openapi/quota/get", errcode=40001, times=10)
        with pytest.raises(TemporaryError) as caught:
            await api.quota("/cgi-bin/draft/add")
        assert caught.value.code == "40001"
        assert len(wx.calls_to("openapi/quota/get")) == 3
        assert _forced(wx) == [False, False, True]
        with pytest.raises(TemporaryError):
            await api.quota("/cgi-bin/draft/add")
        assert _forced(wx) == [False, False, True, False], "rate limited: no second force"

    async def test_a_token_wechat_refuses_but_still_hands_out_is_forced_once(
        self, wx: FakeWeChat, make_api: MakeApi
    ) -> None:
        """Issue 9 defect 10: stable_token keeps returning a token that every API refuses
        with 40001 although it has not expired: one force_refresh, then the call succeeds."""
        api = make_api()
        poisoned = await api.access_token()
        assert wx.poison_token() == poisoned
        assert await api.quota("/cgi-bin/draft/add") == (10000, 0, 10000)
        assert _forced(wx) == [False, False, True]
        assert [c.errcode for c in wx.calls_to("openapi/quota/get")] == [40001, 40001, 0]
        assert await api.access_token() != poisoned


def _forced(wx: FakeWeChat) -> list[bool]:
    """The force_refresh flag of every stable_token call, in order."""
    return [bool(c.json.get("force_refresh")) for c in wx.calls_to("stable_token")]


class TestErrors:
    @pytest.mark.parametrize(
        ("errcode", "error_type"),
        [
            (-1, TemporaryError),
            (45009, TemporaryError),
            (45011, TemporaryError),
            (48001, ConfigurationError),
            (45028, NoQuotaError),
            (40007, PermanentError),
        ],
    )
    async def test_errcodes_map_to_channel_errors(
        self, wx: FakeWeChat, make_api: MakeApi, errcode: int, error_type: type[Exception]
    ) -> None:
        """Each errcode becomes its channel error type and keeps the code."""
        wx.fail("message/mass/sendall", errcode=errcode, times=2)  # -1 is asked twice
        with pytest.raises(error_type) as caught:
            await make_api().sendall("M", tag_id=None, clientmsgid="c1")
        assert getattr(caught.value, "code", None) == str(errcode)

    async def test_retry_after_for_quotas(self, wx: FakeWeChat, make_api: MakeApi) -> None:
        """Minute quotas wait 60 s; the daily mass quota waits until Beijing midnight."""
        api = make_api()
        wx.fail("message/mass/sendall", errcode=45011)
        with pytest.raises(TemporaryError) as minute:
            await api.sendall("M", tag_id=None, clientmsgid="c1")
        assert minute.value.retry_after == 60
        wx.exhaust_quota("message/mass/sendall", "mass")
        with pytest.raises(NoQuotaError) as daily:
            await api.sendall(await _draft(api), tag_id=None, clientmsgid="c2")
        assert daily.value.retry_after is not None
        assert 0 < daily.value.retry_after <= 86400

    async def test_unverified_account_is_a_configuration_error(
        self, wx: FakeWeChat, make_api: MakeApi
    ) -> None:
        """A missing permission (48001) pauses the channel with a Chinese explanation."""
        wx.set_permission("freepublish/", allowed=False)
        with pytest.raises(ConfigurationError, match="权限") as caught:
            await make_api().freepublish_submit("M")
        assert caught.value.code == "48001"

    async def test_timeout_is_temporary(self, wx: FakeWeChat, make_api: MakeApi) -> None:
        """A response that arrives after the client timeout is a temporary error."""
        api = make_api(timeout=0.3)
        await api.access_token()
        wx.fail("openapi/quota/get", delay=1.0)
        with pytest.raises(TemporaryError) as caught:
            await api.quota("/cgi-bin/draft/add")
        assert caught.value.code == "timeout"

    async def test_transport_faults_are_temporary_and_hide_the_token(
        self, wx: FakeWeChat, make_api: MakeApi
    ) -> None:
        """HTTP 5xx and reset connections are temporary; no message in the chain has the token."""
        api = make_api()
        token = await api.access_token()
        wx.fail("openapi/quota/get", http_status=502)
        with pytest.raises(TemporaryError) as bad_gateway:
            await api.quota("/cgi-bin/draft/add")
        assert bad_gateway.value.code == "http_502"
        wx.fail("openapi/quota/get", drop=True)
        with pytest.raises(TemporaryError) as reset:
            await api.quota("/cgi-bin/draft/add")
        assert reset.value.code == "connection"
        assert reset.value.__cause__ is not None
        assert token not in str(reset.value) + str(reset.value.__cause__)

    async def test_refused_connection_hides_the_token(
        self, wx: FakeWeChat, make_api: MakeApi
    ) -> None:
        """requests puts the URL (with access_token) in its error text; the cause is redacted."""
        store = MemoryTokenStore()
        first = make_api(store)
        token = await first.access_token()
        with socket.socket() as unused:
            unused.bind(("127.0.0.1", 0))
            dead_base = f"http://127.0.0.1:{unused.getsockname()[1]}/cgi-bin/"
        api = WeChatApi(
            appid=APPID,
            secret=SECRET,
            api_base=dead_base,
            tokens=store,
            media=MemoryMediaStore(),
            timeout=2.0,
        )
        # Tokens are kept per API address; pretend this address had issued one.
        stored = await store.get(first.store_key)
        assert stored is not None
        await store.put(api.store_key, stored)
        try:
            with pytest.raises(TemporaryError) as caught:
                await api.quota("/cgi-bin/draft/add")
        finally:
            await api.aclose()
        assert caught.value.code == "connection"
        chain = "".join(traceback.format_exception(caught.value))
        assert "access_token=***" in chain
        assert token not in chain

    async def test_non_json_answer_is_temporary(self, wx: FakeWeChat, make_api: MakeApi) -> None:
        """An HTML error page instead of JSON is a temporary error."""
        wx.fail("openapi/quota/get", body=b"<html>busy</html>", content_type="text/html")
        with pytest.raises(TemporaryError) as caught:
            await make_api().quota("/cgi-bin/draft/add")
        assert caught.value.code == "bad_response"

    async def test_content_errors_are_permanent(self, wx: FakeWeChat, make_api: MakeApi) -> None:
        """A title WeChat rejects (45003) is a permanent error naming the problem."""
        with pytest.raises(PermanentError, match="标题") as caught:
            await _draft(make_api(), title="标" * 40)
        assert caught.value.code == "45003"


class TestUploads:
    async def test_body_image_is_uploaded_once(self, wx: FakeWeChat, make_api: MakeApi) -> None:
        """The same bytes go to media/uploadimg once; the second call makes no request."""
        api = make_api()
        first = await api.upload_body_image(PNG, "chart.png")
        second = await api.upload_body_image(PNG, "again.png")
        assert first == second
        assert first.startswith("http://mmbiz.qpic.cn/")
        assert len(wx.calls_to("media/uploadimg")) == 1
        assert wx.uploads[0].filename == "chart.png"

    async def test_cover_is_uploaded_once(self, wx: FakeWeChat, make_api: MakeApi) -> None:
        """A cover becomes one permanent image material, reused by media_id."""
        api = make_api()
        first = await api.upload_cover(JPEG, "cover.jpg")
        assert await api.upload_cover(JPEG, "cover.jpg") == first
        calls = wx.calls_to("material/add_material")
        assert len(calls) == 1
        assert calls[0].query["type"] == "image"

    @pytest.mark.parametrize("path", ["media/uploadimg", "material/add_material"])
    async def test_a_token_invalidated_mid_upload_resends_the_same_bytes(
        self, wx: FakeWeChat, make_api: MakeApi, path: str
    ) -> None:
        """Issue 9 defect 1: another process refreshes the token while an upload is on the
        wire; the retry after 40001 sends the very same bytes, not an emptied stream."""
        api = make_api()
        await api.access_token()
        wx.fail(path, invalidate_token=True)
        if path == "media/uploadimg":
            assert (await api.upload_body_image(PNG, "chart.png")).startswith("http://mmbiz")
            assert [u.size for u in wx.uploads] == [len(PNG)]
        else:
            assert await api.upload_cover(JPEG, "cover.jpg")
        calls = wx.calls_to(path)
        assert [c.errcode or 0 for c in calls] == [40001, 0]
        image = PNG if path == "media/uploadimg" else JPEG
        assert [c.body.count(image) for c in calls] == [1, 1], "both tries carry the image"

    async def test_rejected_image_is_permanent(self, wx: FakeWeChat, make_api: MakeApi) -> None:
        """A GIF for the article body is refused by WeChat with 40005."""
        with pytest.raises(PermanentError) as caught:
            await make_api().upload_body_image(b"GIF89a" + b"\x00" * 16, "a.gif")
        assert caught.value.code == "40005"


class TestDraftsAndMassSend:
    async def test_draft_add_sends_chinese_unescaped(
        self, wx: FakeWeChat, make_api: MakeApi
    ) -> None:
        """The draft body is UTF-8 JSON with Chinese as is, never \\u escapes."""
        media_id = await _draft(make_api())
        body = wx.calls_to("draft/add")[0].body
        assert "关于开展政务公开工作的通知".encode() in body
        assert b"\\u" not in body
        assert media_id in wx.drafts

    async def test_draft_delete(self, wx: FakeWeChat, make_api: MakeApi) -> None:
        """A deleted draft is gone from the draft box."""
        api = make_api()
        media_id = await _draft(api)
        await api.draft_delete(media_id)
        assert media_id not in wx.drafts

    async def test_sendall_to_all_uses_the_new_filter(
        self, wx: FakeWeChat, make_api: MakeApi
    ) -> None:
        """A send to everyone has is_to_all and no legacy group_id."""
        api = make_api()
        sent = await api.sendall(await _draft(api), tag_id=None, clientmsgid="item-1")
        body = json.loads(wx.calls_to("message/mass/sendall")[0].body)
        assert body["filter"] == {"is_to_all": True}
        assert body["msgtype"] == "mpnews"
        assert body["clientmsgid"] == "item-1"
        assert body["send_ignore_reprint"] == 0
        assert not sent.adopted
        assert await api.mass_get(sent.msg_id) in ("SENDING", "SEND_SUCCESS")

    async def test_sendall_to_a_tag(self, wx: FakeWeChat, make_api: MakeApi) -> None:
        """A send to a tag carries tag_id with is_to_all false."""
        wx.add_tag(101, "政务公开订阅", 10)
        api = make_api()
        await api.sendall(await _draft(api), tag_id=101, clientmsgid="item-2")
        body = json.loads(wx.calls_to("message/mass/sendall")[0].body)
        assert body["filter"] == {"is_to_all": False, "tag_id": 101}
        assert "group_id" not in json.dumps(body)
        assert len(wx.sent_mass(tag_id=101)) == 1

    async def test_lost_answer_then_45065_is_adopted(
        self, wx: FakeWeChat, make_api: MakeApi
    ) -> None:
        """If the answer to a send was lost, the retry's 45065 returns the original msg_id."""
        api = make_api(timeout=0.3)
        media_id = await _draft(api)
        wx.fail("message/mass/sendall", delay=1.0)
        with pytest.raises(TemporaryError):
            await api.sendall(media_id, tag_id=None, clientmsgid="item-3")
        [job] = wx.sent_mass()
        retried = await api.sendall(media_id, tag_id=None, clientmsgid="item-3")
        assert retried.adopted
        assert retried.msg_id == str(job.msg_id)
        assert len(wx.sent_mass()) == 1

    async def test_no_quota_after_the_daily_send(self, wx: FakeWeChat, make_api: MakeApi) -> None:
        """A subscription account's second send of the day raises NoQuotaError."""
        api = make_api()
        await api.sendall(await _draft(api), tag_id=None, clientmsgid="item-4")
        with pytest.raises(NoQuotaError):
            await api.sendall(await _draft(api), tag_id=None, clientmsgid="item-5")

    async def test_preview_and_delete(self, wx: FakeWeChat, make_api: MakeApi) -> None:
        """Preview goes to one openid; a sent message can be deleted."""
        api = make_api()
        await api.preview(await _draft(api), "o_staff_openid")
        assert json.loads(wx.calls_to("message/mass/preview")[0].body)["touser"] == "o_staff_openid"
        sent = await api.sendall(await _draft(api), tag_id=None, clientmsgid="item-6")
        await api.mass_delete(sent.msg_id)
        assert await api.mass_get(sent.msg_id) == "DELETE"

    async def test_a_busy_answer_is_asked_once_more_at_once(
        self, wx: FakeWeChat, make_api: MakeApi
    ) -> None:
        """Issue 9 defect 10: one -1 ("system busy") is retried at once, not after a back-off."""
        api = make_api()
        draft = await _draft(api)
        wx.fail("message/mass/sendall", errcode=-1)
        sent = await api.sendall(draft, tag_id=None, clientmsgid="busy-once")
        assert [c.errcode for c in wx.calls_to("message/mass/sendall")] == [-1, 0]
        assert sent.msg_id == str(wx.sent_mass()[0].msg_id)

    async def test_msg_id_goes_as_a_number(self, wx: FakeWeChat, make_api: MakeApi) -> None:
        """Issue 9 defect 10: mass/get and mass/delete carry msg_id as a JSON number."""
        wx.configure(strict_msg_id=True)
        api = make_api()
        sent = await api.sendall(await _draft(api), tag_id=None, clientmsgid="numeric-id")
        assert await api.mass_get(sent.msg_id) in ("SENDING", "SEND_SUCCESS")
        await api.mass_delete(sent.msg_id, article_idx=1)
        assert await api.mass_get(sent.msg_id) == "DELETE"
        for path in ("message/mass/get", "message/mass/delete"):
            assert all(type(c.json["msg_id"]) is int for c in wx.calls_to(path))


class TestFreePublish:
    async def test_submit_and_poll_until_published(self, wx: FakeWeChat, make_api: MakeApi) -> None:
        """A submitted draft reports publishing, then success with the article URL."""
        api = make_api()
        publish_id = await api.freepublish_submit(await _draft(api))
        status = await _finished(api, publish_id)
        assert status.status == 0
        assert status.article_id
        assert status.article_urls[0].startswith("https://mp.weixin.qq.com/s?")
        assert status.fail_idx == []
        [listed] = await api.freepublish_batchget(0, 20)
        assert listed.article_id == status.article_id
        assert listed.titles == ["关于开展政务公开工作的通知"]

    async def test_failed_publish_reports_fail_idx(self, wx: FakeWeChat, make_api: MakeApi) -> None:
        """A job the platform rejects ends in its status with the failing article numbers."""
        wx.set_publish_outcome(3)
        api = make_api()
        status = await _finished(api, await api.freepublish_submit(await _draft(api)))
        assert (status.status, status.fail_idx, status.article_urls) == (3, [1], [])

    async def test_delete_published_article(self, wx: FakeWeChat, make_api: MakeApi) -> None:
        """Deleting a published article turns its job status into 5."""
        api = make_api()
        publish_id = await api.freepublish_submit(await _draft(api))
        article_id = (await _finished(api, publish_id)).article_id
        assert article_id is not None
        await api.freepublish_delete(article_id)
        assert (await api.freepublish_get(publish_id)).status == 5
