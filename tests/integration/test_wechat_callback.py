"""The WeChat callback URL over real HTTP, driven by the loopback emulator's pusher."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from wechatpy import parse_message

from bot import wechat_events
from bot.app import Runtime
from bot.settings import Settings
from bot.web import create_app, wechat_callback
from bot.wechat_events import apply_job_event, job_event, process_pending, record
from channels.wechat.state import JobRecord
from storage.models import Delivery, Item, Organization
from storage.wechat_models import WechatAccount, WechatEvent, WechatJob
from tests.fakes.wechat import CallbackPush, FakeWeChat, MassJob
from tests.fakes.wechat_callbacks import mass_event_xml, publish_event_xml, signature
from tests.fakes.wechat_state import CallbackMode, PublishJob
from tests.integration.helpers import queue

CODE, ORG_NAME = "tiande", "天德乡人民政府"
APPID, SECRET = "wx00000000000000cb", "callback-test-secret"
TOKEN, GH_ID = "callbacktoken123", "gh_0123456789ab"
AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")
WELCOME = "欢迎关注天德乡政务公开！"
DEFAULT_REPLY = "您好，留言已收到。"
KEYWORDS = ["公开信息", "最新"]


@dataclass
class Harness:
    """The app serving on a loopback port, its runtime, the organization and the emulator."""

    base: str
    app: FastAPI
    wx: FakeWeChat
    org: Organization

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime


async def _serve(app: FastAPI, sock: socket.socket) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    server = uvicorn.Server(
        uvicorn.Config(app, lifespan="on", log_config=None, log_level="warning")
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    deadline = time.monotonic() + 20
    while not server.started:
        if task.done():
            task.result()
        assert time.monotonic() < deadline, "the app did not start"
        await asyncio.sleep(0.01)
    return server, task


@pytest.fixture
async def harness(settings: Settings, request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    """The real app on a free port; the emulator pushes to it in the mode given (plain)."""
    mode = cast(CallbackMode, getattr(request, "param", "plain"))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    wx = FakeWeChat.start(
        appid=APPID,
        secret=SECRET,
        callback_url=f"{base}/wechat/callback/{CODE}",
        callback_token=TOKEN,
        aes_key=None if mode == "plain" else AES_KEY,
        callback_mode=mode,
        gh_id=GH_ID,
        publish_delay=0.3,
    )
    app = create_app(settings.model_copy(update={"wechat_api_base": wx.api_base}), run_worker=False)
    server, task = await _serve(app, sock)
    try:
        org = await Organization.create(code=CODE, name=ORG_NAME)
        await app.state.runtime.wechat.accounts.configure(
            org,
            app_id=APPID,
            app_secret=SECRET,
            callback_token=TOKEN,
            aes_key=AES_KEY,
            original_id=GH_ID,
            welcome_text=WELCOME,
            keywords=KEYWORDS,
            default_reply=DEFAULT_REPLY,
        )
        yield Harness(base, app, wx, org)
    finally:
        await asyncio.to_thread(wx.stop)  # its push threads may be talking to our loop
        server.should_exit = True
        await task


async def delivered(push: CallbackPush) -> CallbackPush:
    assert await asyncio.to_thread(push.wait, 30), "the push never finished"
    return push


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.05)


async def published_item(h: Harness, title: str) -> None:
    await queue(h.org, h.runtime.channels, title=title, chosen=("website",))
    await h.runtime.dispatcher.run_until_idle()


async def sent_job(
    h: Harness, *, msg_id: str | None = None, publish_id: str | None = None
) -> JobRecord:
    job = JobRecord(
        batch_key=f"job-{msg_id or publish_id}",
        app_id=APPID,
        mode="broadcast" if msg_id else "publish",
        local_date=dt.date.today(),
        status="sent",
        msg_id=msg_id,
        publish_id=publish_id,
    )
    await h.runtime.wechat.jobs.save(job)
    return job


def mass_xml(msg_id: str, status: str = "send success", urls: tuple[str, ...] = ()) -> str:
    job = MassJob(
        msg_id=int(msg_id),
        msg_data_id=1,
        msgtype="mpnews",
        scope="all",
        payload={},
        articles=[],
        clientmsgid=None,
        dedupe_key="",
        submitted_at=0,
        due_at=0,
        total_count=1000,
        filter_count=990,
        final_status=status,
        error_count=4,
        article_urls=list(urls),
    )
    return mass_event_xml(GH_ID, "o_admin", int(time.time()), job)


def publish_xml(publish_id: str, status: int, urls: list[str], fail_idx: list[int]) -> str:
    job = PublishJob(publish_id, "7", "draft", [], 0, 0, status=status)
    job.article_id = "ART-1" if urls else None
    job.article_urls, job.final_fail_idx = urls, fail_idx
    return publish_event_xml(GH_ID, "o_admin", int(time.time()), job)


def push_event(h: Harness, kind: str, xml: str) -> CallbackPush:
    return h.wx.push_xml(kind, xml, "o_admin", wait=False)


async def job_status(h: Harness, **ids: str) -> JobRecord:
    job = await h.runtime.wechat.jobs.find(**ids)
    assert job is not None
    return job


def job_reaches(h: Harness, status: str, **ids: str) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return (await job_status(h, **ids)).status == status

    return check


class TestVerification:
    async def test_url_verification_echoes_echostr(self, harness: Harness) -> None:
        """The emulator's GET verification gets its echostr back, and the account
        remembers that WeChat reached it (shown by the test button, issue 9 defect 5)."""
        assert (await WechatAccount.get()).callback_verified_at is None
        assert await asyncio.to_thread(harness.wx.verify_callback, "echo-123456")
        assert (await WechatAccount.get()).callback_verified_at is not None

    async def test_wrong_signature_is_refused(self, harness: Harness) -> None:
        """A GET with a wrong signature gets 403 and no echo."""
        query = {"signature": "0" * 40, "timestamp": "1", "nonce": "2", "echostr": "x"}
        async with httpx.AsyncClient(base_url=harness.base) as client:
            answer = await client.get(f"/wechat/callback/{CODE}", params=query)
        assert answer.status_code == 403
        assert "x" not in answer.text

    async def test_unknown_organization_is_404(self, harness: Harness) -> None:
        """An org without an account has no callback URL."""
        query = {"signature": signature(TOKEN, "1", "2"), "timestamp": "1", "nonce": "2"}
        async with httpx.AsyncClient(base_url=harness.base) as client:
            answer = await client.get("/wechat/callback/nowhere", params=query)
        assert answer.status_code == 404

    async def test_url_without_code_serves_the_only_account(self, harness: Harness) -> None:
        """With one account configured the short URL works; with two it is 404."""
        short = FakeWeChat.start(
            appid=APPID, callback_url=f"{harness.base}/wechat/callback", callback_token=TOKEN
        )
        try:
            assert await asyncio.to_thread(short.verify_callback, "only-one")
            other = await Organization.create(code="lianhe", name="联合乡人民政府")
            await harness.runtime.wechat.accounts.configure(
                other, app_id="wx00000000000000c2", app_secret="s", callback_token=TOKEN
            )
            assert not await asyncio.to_thread(short.verify_callback, "two-now")
        finally:
            await asyncio.to_thread(short.stop)


class TestFollowerMessages:
    @pytest.mark.parametrize("harness", ["plain", "compat", "safe"], indirect=True)
    async def test_keyword_gets_latest_items(self, harness: Harness) -> None:
        """A keyword is answered with the newest published items, a reply WeChat accepts."""
        await published_item(harness, "关于春耕生产的通知")
        await published_item(harness, "关于防汛工作的通告")
        push = await delivered(harness.wx.push_text("o_user_1", "请发最新的公开信息", wait=False))
        assert push.ok, push.verdict
        assert push.verdict == "reply"
        assert len(push.attempts) == 1
        content = str(parse_message(push.reply_xml).content)
        lines = content.splitlines()
        assert lines[0] == "最新公开信息："
        assert lines[1].startswith("1. 关于防汛工作的通告 http://127.0.0.1:8000/site/")
        assert lines[2].startswith("2. 关于春耕生产的通知 http")

    async def test_keyword_without_items_says_so(self, harness: Harness) -> None:
        """With nothing published the reply says so."""
        push = await delivered(harness.wx.push_text("o_user_2", "最新", wait=False))
        assert push.ok
        assert push.reply_xml is not None
        assert "暂无已公开的信息" in push.reply_xml

    async def test_other_text_gets_default_reply(self, harness: Harness) -> None:
        """Text without a keyword gets the account's default reply."""
        push = await delivered(harness.wx.push_text("o_user_3", "你好", wait=False))
        assert push.ok
        assert DEFAULT_REPLY in (push.reply_xml or "")

    @pytest.mark.parametrize("harness", ["plain", "safe"], indirect=True)
    async def test_subscribe_gets_welcome(self, harness: Harness) -> None:
        """A new follower gets the welcome text."""
        push = await delivered(harness.wx.push_subscribe("o_user_4", wait=False))
        assert push.ok
        assert push.verdict == "reply"
        assert WELCOME in (push.reply_xml or "")

    async def test_unsubscribe_gets_no_reply(self, harness: Harness) -> None:
        """Nobody is left to answer after an unsubscribe."""
        push = await delivered(harness.wx.push_unsubscribe("o_user_5", wait=False))
        assert push.ok
        assert push.verdict == "success"

    @pytest.mark.parametrize("harness", ["plain", "safe"], indirect=True)
    async def test_bad_signature_is_refused_and_not_stored(self, harness: Harness) -> None:
        """A forged push gets 403 and leaves no trace."""
        push = await delivered(harness.wx.push_bad_signature("o_forger", "最新", wait=False))
        assert [a.status for a in push.attempts] == [403]
        assert not push.ok
        assert await WechatEvent.all().count() == 0

    async def test_retry_of_a_message_is_not_answered_twice(self, harness: Harness) -> None:
        """The same MsgId delivered again answers "success" and stores one row."""
        first = await delivered(harness.wx.push_text("o_user_6", "你好", wait=False))
        again = harness.wx.push_xml("text", first.xml, "o_user_6", wait=False)
        assert (await delivered(again)).verdict == "success"
        assert await WechatEvent.all().count() == 1
        row = await WechatEvent.get()
        assert row.processed_at is not None
        assert "Content" not in row.payload


class TestJobEvents:
    async def test_mass_success_updates_the_job(self, harness: Harness) -> None:
        """MASSSENDJOBFINISH records counts, the article URLs in order, and finishes the job."""
        await sent_job(harness, msg_id="3147494276")
        urls = ("http://mp.weixin.qq.com/s/a1", "http://mp.weixin.qq.com/s/a2")
        push = await delivered(push_event(harness, "mass", mass_xml("3147494276", urls=urls)))
        assert push.ok
        assert push.verdict == "success"
        await eventually(job_reaches(harness, "finished", msg_id="3147494276"))
        job = await job_status(harness, msg_id="3147494276")
        assert (job.total_count, job.filter_count, job.sent_count, job.error_count) == (
            1000,
            990,
            986,
            4,
        )
        assert job.article_urls == list(urls)
        assert job.finished_at is not None

    async def test_mass_audit_failure_gives_the_reason(self, harness: Harness) -> None:
        """err(20001) fails the job with the Chinese reason."""
        await sent_job(harness, msg_id="3147494277")
        await delivered(push_event(harness, "mass", mass_xml("3147494277", "err(20001)")))
        await eventually(job_reaches(harness, "failed", msg_id="3147494277"))
        job = await job_status(harness, msg_id="3147494277")
        assert "政治" in job.platform_status
        assert "err(20001)" in job.platform_status

    async def test_publish_with_several_articles(self, harness: Harness) -> None:
        """PUBLISHJOBFINISH with several <item>s keeps the URLs in idx order."""
        await sent_job(harness, publish_id="2247503051")
        urls = ["https://mp.weixin.qq.com/s/p1", "https://mp.weixin.qq.com/s/p2"]
        await delivered(push_event(harness, "publish", publish_xml("2247503051", 0, urls, [])))
        await eventually(job_reaches(harness, "finished", publish_id="2247503051"))
        job = await job_status(harness, publish_id="2247503051")
        assert job.article_urls == urls
        assert job.article_id == "ART-1"

    async def test_publish_with_one_article(self, harness: Harness) -> None:
        """A single <item> (parsed as a dict, not a list) is read too."""
        await sent_job(harness, publish_id="2247503052")
        urls = ["https://mp.weixin.qq.com/s/only"]
        await delivered(push_event(harness, "publish", publish_xml("2247503052", 0, urls, [])))
        await eventually(job_reaches(harness, "finished", publish_id="2247503052"))
        assert (await job_status(harness, publish_id="2247503052")).article_urls == urls

    async def test_publish_rejected_keeps_fail_idx(self, harness: Harness) -> None:
        """publish_status 4 fails the job with the reason and the failing articles."""
        await sent_job(harness, publish_id="2247503053")
        await delivered(push_event(harness, "publish", publish_xml("2247503053", 4, [], [2])))
        await eventually(job_reaches(harness, "failed", publish_id="2247503053"))
        job = await job_status(harness, publish_id="2247503053")
        assert "平台审核不通过" in job.platform_status
        assert job.fail_idx == [2]

    async def test_duplicate_delivery_is_processed_once(
        self, harness: Harness, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The same event pushed twice at once is stored and applied once."""
        applied: list[object] = []
        real = wechat_events.apply_job_event

        async def counting(event: Any, jobs: Any, **kwargs: Any) -> Any:
            applied.append(event)
            return await real(event, jobs, **kwargs)

        monkeypatch.setattr(wechat_events, "apply_job_event", counting)
        await sent_job(harness, msg_id="3147494278")
        xml = mass_xml("3147494278", urls=("http://mp.weixin.qq.com/s/d",))
        pushes = [push_event(harness, "mass", xml), push_event(harness, "mass", xml)]
        for push in pushes:
            assert (await delivered(push)).verdict == "success"
        await eventually(job_reaches(harness, "finished", msg_id="3147494278"))
        await eventually(lambda: _no_pending())
        assert await WechatEvent.all().count() == 1
        assert len(applied) == 1

    async def test_unknown_job_is_left_alone(self, harness: Harness) -> None:
        """An event for a job we do not know is acknowledged, changes nothing, is kept to
        be matched for EARLY_EVENT_KEEP, then (a manual send) expires."""
        push = await delivered(push_event(harness, "mass", mass_xml("999")))
        assert push.ok
        await eventually(lambda: WechatEvent.exists(kind="masssendjobfinish"))
        assert await process_pending(harness.runtime) == 0
        assert not await _no_pending(), "kept: the answer naming msg_id 999 may come later"
        assert await harness.runtime.wechat.jobs.find(msg_id="999") is None
        old = dt.datetime.now(dt.UTC) - wechat_events.EARLY_EVENT_KEEP - dt.timedelta(minutes=1)
        await WechatEvent.all().update(received_at=old)
        assert await process_pending(harness.runtime) == 1
        assert await _no_pending()

    @pytest.mark.parametrize("order", ["event-matched-first", "poll-first"])
    async def test_an_event_before_a_lost_answer_is_kept_and_matched(
        self, harness: Harness, order: str
    ) -> None:
        """Issue 9 defect 2: WeChat accepts the send, pushes MASSSENDJOBFINISH before its
        answer, and the answer is lost. The repeat learns the msg_id (45065); the kept
        event then gives the job its follower counts and the article URL, whichever of
        the event and the status poll comes first."""
        wx = harness.wx
        wx.configure(mass_delay=0.0, events_before_answer=True)
        wx.fail("message/mass/sendall", drop=True, after=True)
        item = await queue(harness.org, harness.runtime.channels, chosen=("wechat",))
        await Item.filter(id=item.id).update(urgent=True)  # goes now, not at the slot
        await harness.runtime.dispatcher.run_until_idle(limit_seconds=10)
        sends = wx.calls_to("message/mass/sendall")
        assert [c.errcode for c in sends] == [None, 45065]
        [sent] = wx.sent_mass()
        assert await WechatEvent.filter(kind="masssendjobfinish").count() == 1
        if order == "poll-first":
            long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
            await WechatJob.all().update(commit_started_at=long_ago)  # a poll is due
            await harness.runtime.dispatcher.poll_confirmations()
            assert wx.calls_to("message/mass/get"), "confirmed by the status poll first"
            assert (await Delivery.get(item_id=item.id)).state == "published"
        await process_pending(harness.runtime)
        await harness.runtime.dispatcher.poll_confirmations()
        job = await job_status(harness, msg_id=str(sent.msg_id))
        assert job.status == "finished"
        reached = sent.filter_count - sent.error_count
        assert (job.total_count, job.sent_count) == (sent.total_count, reached)
        delivery = await Delivery.get(item_id=item.id, channel="wechat")
        assert delivery.state == "published"
        assert delivery.url == sent.article_urls[0]
        assert await _no_pending()

    async def test_stored_event_is_applied_later(self, harness: Harness) -> None:
        """An event stored before a crash is applied by the next process_pending."""
        await sent_job(harness, publish_id="2247503054")
        xml = publish_xml("2247503054", 0, ["https://mp.weixin.qq.com/s/late"], [])
        raw = parse_message(xml)._data
        assert await record(APPID, "crashed-before-apply", "publishjobfinish", raw)
        assert not await record(APPID, "crashed-before-apply", "publishjobfinish", raw)
        assert await process_pending(harness.runtime) == 1
        assert (await job_status(harness, publish_id="2247503054")).status == "finished"
        assert await _no_pending()
        assert await process_pending(harness.runtime) == 0

    async def test_applying_twice_changes_nothing(self, harness: Harness) -> None:
        """A second application of the same event leaves the job as the first left it."""
        await sent_job(harness, msg_id="3147494279")
        event = job_event("masssendjobfinish", parse_message(mass_xml("3147494279"))._data)
        first = await apply_job_event(event, harness.runtime.wechat.jobs)
        second = await apply_job_event(event, harness.runtime.wechat.jobs)
        assert first is not None
        assert first.status == "finished"
        assert second == first

    async def test_finished_publish_confirms_the_delivery(self, harness: Harness) -> None:
        """Free publish through the channel: the emulator's event publishes the delivery."""
        await harness.runtime.wechat.accounts.configure(harness.org, mode="publish")
        item = await queue(harness.org, harness.runtime.channels, chosen=("wechat",))
        await harness.runtime.dispatcher.run_until_idle()
        delivery = await Delivery.get(item_id=item.id, channel="wechat")
        assert delivery.state == "accepted"

        async def published() -> bool:
            await delivery.refresh_from_db()
            return delivery.state == "published"

        await eventually(published)
        assert delivery.url
        assert delivery.url.startswith("http")
        assert not harness.wx.calls_to("freepublish/get")  # the event made polling needless


class TestBudget:
    async def test_slow_reply_still_answers_in_time(
        self, harness: Harness, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A reply that takes too long is dropped; WeChat gets "success" on the first attempt."""

        async def slow(account: Any, msg: Any) -> str:
            await asyncio.sleep(10)
            return "too late"

        monkeypatch.setattr(wechat_callback, "reply_for", slow)
        monkeypatch.setattr(wechat_callback, "REPLY_BUDGET_SECONDS", 0.3)
        harness.wx.configure(callback_timeout=2.0)
        push = await delivered(harness.wx.push_text("o_user_7", "最新", wait=False))
        assert push.verdict == "success"
        assert len(push.attempts) == 1
        # The emulator gives up after callback_timeout as WeChat does, so a "success" answer
        # on the one attempt is the proof it came in time (no stopwatch needed).
        assert push.attempts[0].reply == b"success"

    async def test_slow_processing_does_not_delay_the_answer(
        self, harness: Harness, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Job events are answered at once and applied afterwards, so WeChat never retries."""

        async def slow(runtime: Runtime) -> int:
            await asyncio.sleep(1.5)
            return await process_pending(runtime)

        monkeypatch.setattr(wechat_callback, "process_pending", slow)
        harness.wx.configure(callback_timeout=1.0)
        await sent_job(harness, msg_id="3147494280")
        push = await delivered(push_event(harness, "mass", mass_xml("3147494280")))
        assert push.verdict == "success"
        assert len(push.attempts) == 1
        assert (await job_status(harness, msg_id="3147494280")).status == "sent"
        await eventually(job_reaches(harness, "finished", msg_id="3147494280"))


async def _no_pending() -> bool:
    return not await WechatEvent.filter(processed_at=None).exists()
