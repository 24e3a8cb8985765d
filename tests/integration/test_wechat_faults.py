"""WeChat faults through the real stack: API/storage → dispatcher → channel → client → emulator.

Every test runs on SQLite and PostgreSQL. The emulator is scripted through its public knobs
(``fail``, ``expire_token``, ``supersede_token``, ``exhaust_quota``, ``configure``,
``set_permission``, ``advance``), plus one subclass hook that changes the token right after
``draft/add`` so the change lands exactly between the draft and the send.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, ClassVar

import httpx
import pytest
from cryptography.fernet import Fernet

from bot.dispatcher import Dispatcher
from bot.settings import Settings
from bot.web import create_app
from channels.base import Channel, Committed, Deferred, Publishable
from channels.registry import build_channels
from channels.wechat import WeChatChannel
from channels.wechat.state import JobRecord
from storage import users
from storage.console_models import User
from storage.crypto import SecretBox
from storage.models import Delivery, DeliveryAttempt, Organization, Publication
from storage.tokens import create_token
from storage.wechat import (
    DatabaseAccounts,
    DatabaseJobStore,
    DatabaseMediaStore,
    DatabaseTokenStore,
)
from storage.wechat_models import WechatAccount, WechatJob, WechatToken
from tests.fakes.wechat import FakeWeChat
from tests.fakes.wechat_api import Request
from tests.integration.conftest import Api
from tests.integration.console_world import HTML, PASSWORD, sign_in
from tests.integration.helpers import dispatcher

APPID, SECRET = "wx5e1f0a2b3c4d5e6f", "wechat-app-secret"
BEIJING = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")
UTC = dt.UTC
SENDALL = "message/mass/sendall"
ITEM: dict[str, Any] = {
    "org": "tiande",
    "title": "关于冬季防火的通知",
    "body": "各村：\n\n请做好**冬季防火**工作。",
    "channels": ["wechat"],
    "urgent": True,
}


class ScriptedWeChat(FakeWeChat):
    """The emulator, plus a one-shot action run right after the next successful draft/add."""

    after_draft: Callable[[], object] | None = None

    def _draft_add(self, request: Request) -> dict[str, Any]:
        result = super()._draft_add(request)
        action, self.after_draft = self.after_draft, None
        if action is not None:
            action()
        return result


# --------------------------------------------------------------------------- fixtures
#
# A test class tunes the set-up with class attributes: EMULATOR (FakeWeChat.start keyword
# arguments), SETTINGS (Settings overrides) and ACCOUNT (DatabaseAccounts.configure values).


@pytest.fixture
def wx(request: pytest.FixtureRequest) -> Iterator[ScriptedWeChat]:
    options = {"mass_delay": 0.05, "publish_delay": 0.05, **_tuning(request, "EMULATOR")}
    emu = ScriptedWeChat.start(appid=APPID, secret=SECRET, **options)
    assert isinstance(emu, ScriptedWeChat)
    with emu:
        yield emu


@pytest.fixture
async def api(
    request: pytest.FixtureRequest, settings: Settings, wx: ScriptedWeChat
) -> AsyncIterator[Api]:
    """The app pointed at the emulator, with 天德乡's account configured."""
    settings = settings.model_copy(
        update={
            "wechat_api_base": wx.api_base,
            "wechat_poll_interval_seconds": 0.0,
            "max_attempts": 3,
            **_tuning(request, "SETTINGS"),
        }
    )
    app = create_app(settings, run_worker=False)
    async with app.router.lifespan_context(app):
        tiande = await Organization.create(code="tiande", name="天德乡人民政府")
        lianhe = await Organization.create(code="lianhe", name="联合乡人民政府")
        account = {"slot_time": "09:30", **_tuning(request, "ACCOUNT")}
        await app.state.runtime.wechat.accounts.configure(
            tiande, app_id=APPID, app_secret=SECRET, **account
        )
        tokens = [
            await create_token("admin", None, review_exempt=True),
            await create_token("t", tiande, review_exempt=True),
            await create_token("l", lianhe, review_exempt=True),
        ]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gongkai.test") as c:
            yield Api(c, app, *[{"Authorization": f"Bearer {t}"} for t in tokens])


def _tuning(request: pytest.FixtureRequest, name: str) -> dict[str, Any]:
    return dict(getattr(request.cls, name, {}))


# ---------------------------------------------------------------------------- helpers


async def _queue(api: Api, **changes: Any) -> dict[str, Any]:
    response = await api.client.post("/api/v1/items", json={**ITEM, **changes}, headers=api.tiande)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _delivery() -> Delivery:
    return await Delivery.get(channel="wechat")


async def _until(check: Callable[[], Awaitable[bool]], *, what: str, limit: float = 10.0) -> None:
    """Poll an async check until it is true, failing after ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def _published(api: Api, worker: Dispatcher | None = None) -> Delivery:
    """Poll confirmations as the scheduler would until the delivery is published."""
    poller = worker or api.runtime.dispatcher

    async def done() -> bool:
        await poller.poll_confirmations()
        return (await _delivery()).state == "published"

    await _until(done, what="the broadcast to be confirmed")
    return await _delivery()


def _second_worker(api: Api) -> dict[str, Channel]:
    """Channels of another worker process: its own WeChat clients, the same database."""
    return build_channels(api.runtime.settings, wechat=api.runtime.wechat)


async def _close(channels: dict[str, Channel]) -> None:
    for channel in channels.values():
        await channel.aclose()


def _beijing_midnight_after(moment: dt.datetime) -> dt.datetime:
    local = moment.astimezone(BEIJING)
    return dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), BEIJING)


# ------------------------------------------------------------------------------ tests


class TestTokenMidBatch:
    @pytest.mark.parametrize(
        ("change", "errcode"),
        [("expire_token", 42001), ("supersede_token", 40001)],
    )
    async def test_a_token_lost_between_draft_and_send_is_refreshed_once(
        self, api: Api, wx: ScriptedWeChat, change: str, errcode: int
    ) -> None:
        """The token dies right after draft/add: one refresh, one draft, one accepted send."""
        wx.after_draft = getattr(wx, change)
        await _queue(api)
        await api.runtime.dispatcher.run_until_idle()
        sends = wx.calls_to(SENDALL)
        assert [c.errcode for c in sends] == [errcode, 0]
        assert sends[0].query["access_token"] != sends[1].query["access_token"]
        assert len(wx.calls_to("draft/add")) == 1
        assert len(wx.sent_mass()) == 1
        assert len(wx.token_calls) == 2, "the first fetch, then exactly one refresh"
        delivery = await _delivery()
        assert delivery.state == "accepted"
        assert delivery.external_id == str(wx.sent_mass()[0].msg_id)


class TestTransientErrors:
    # 17:00 UTC on 31 December: the UTC date is still the old year's, Beijing's the new one's.
    @pytest.mark.time_machine(dt.datetime(2026, 12, 31, 17, 0, tzinfo=UTC))
    async def test_daily_api_quota_waits_until_beijing_midnight_and_loses_nothing(
        self, api: Api, wx: ScriptedWeChat
    ) -> None:
        """45009 on sendall parks the delivery until 00:00 Beijing; then the same draft goes."""
        wx.exhaust_quota(SENDALL, which="daily")
        await _queue(api)
        await api.runtime.dispatcher.run_until_idle(limit_seconds=2)
        waiting = await _delivery()
        assert waiting.state == "retry_wait"
        assert waiting.last_error_code == "45009"
        assert "接口今日调用次数已用完" in (waiting.last_error or "")
        midnight = _beijing_midnight_after(dt.datetime.now(UTC))
        assert waiting.next_attempt_at is not None
        assert abs((waiting.next_attempt_at - midnight).total_seconds()) < 5
        job = await WechatJob.get()
        assert job.draft_media_id
        assert job.msg_id is None
        assert wx.sent_mass() == []

        wx.advance((midnight - dt.datetime.now(UTC)).total_seconds() + 60)  # WeChat's new day
        after = dispatcher(api.runtime.channels, now=midnight + dt.timedelta(minutes=1))
        await after.run_until_idle()
        sent = await _delivery()
        assert sent.state == "accepted"
        assert sent.external_id == str(wx.sent_mass()[0].msg_id)
        assert len(wx.sent_mass()) == 1
        assert len(wx.calls_to("draft/add")) == 1, "the parked draft is reused"
        assert (await WechatJob.get()).batch_key == job.batch_key

    async def test_system_error_is_retried_with_backoff_then_sent_once(
        self, api: Api, wx: ScriptedWeChat
    ) -> None:
        """-1 four times on sendall: each attempt asks twice (one quick retry), so two
        temporary failures, then exactly one broadcast."""
        wx.fail(SENDALL, errcode=-1, times=4)
        await _queue(api)
        await api.runtime.dispatcher.run_until_idle()
        assert [c.errcode for c in wx.calls_to(SENDALL)] == [-1, -1, -1, -1, 0]
        assert len(wx.sent_mass()) == 1
        assert len(wx.calls_to("draft/add")) == 1
        delivery = await _delivery()
        assert (delivery.state, delivery.attempts) == ("accepted", 3)
        commits = await DeliveryAttempt.filter(delivery_id=delivery.id, step="commit").order_by(
            "id"
        )
        assert [a.outcome for a in commits] == ["temporary", "temporary", "accepted"]
        assert all("微信系统繁忙" in (a.error_message or "") for a in commits[:2])
        published = await _published(api)
        assert published.external_id == str(wx.sent_mass()[0].msg_id)

    async def test_one_busy_answer_costs_no_attempt(self, api: Api, wx: ScriptedWeChat) -> None:
        """Issue 9 defect 10: a single -1 is asked again at once: accepted on attempt 1."""
        wx.fail(SENDALL, errcode=-1)
        await _queue(api)
        await api.runtime.dispatcher.run_until_idle()
        assert [c.errcode for c in wx.calls_to(SENDALL)] == [-1, 0]
        delivery = await _delivery()
        assert (delivery.state, delivery.attempts) == ("accepted", 1)

    async def test_a_refused_token_is_forced_once_through_the_shared_store(
        self, api: Api, wx: ScriptedWeChat
    ) -> None:
        """Issue 9 defect 10: the stored token is refused (40001) though stable_token still
        hands it out: one forced refresh, recorded in the database for every worker."""
        wx.after_draft = wx.poison_token
        await _queue(api)
        await api.runtime.dispatcher.run_until_idle()
        forced = [bool(c.json.get("force_refresh")) for c in wx.calls_to("stable_token")]
        assert forced.count(True) == 1
        assert (await _delivery()).state == "accepted"
        assert (await WechatToken.get()).forced_at is not None


class TestAdministratorConfirmation:
    async def test_a_broadcast_waits_for_the_administrator_then_goes_once(
        self, api: Api, wx: ScriptedWeChat
    ) -> None:
        """Issue 9 defect 10: 89505/89504 (群发安全保护) are a clear waiting state, not a
        failure; once the administrator confirms, the send is adopted, never repeated."""
        wx.configure(mass_admin_confirmation=True)
        await _queue(api)
        start = dt.datetime.now(UTC)
        await api.runtime.dispatcher.run_until_idle(limit_seconds=2)
        waiting = await _delivery()
        assert (waiting.state, waiting.last_error_code) == ("retry_wait", "89505")
        assert "管理员在微信上确认" in (waiting.last_error or "")
        later = dispatcher(api.runtime.channels, now=start + dt.timedelta(minutes=6))
        await later.run_until_idle(limit_seconds=2)
        still = await _delivery()
        assert (still.state, still.last_error_code) == ("retry_wait", "89504")
        assert wx.sent_mass() == []
        [msg_id] = wx.confirm_mass()
        after = dispatcher(api.runtime.channels, now=start + dt.timedelta(minutes=12))
        await after.run_until_idle(limit_seconds=2)
        accepted = await _delivery()
        assert (accepted.state, accepted.external_id) == ("accepted", str(msg_id))
        assert [c.errcode for c in wx.calls_to(SENDALL)] == [89505, 89504, 45065]
        assert len(wx.sent_mass()) == 1


class TestUrgentAfterTheBroadcast:
    async def test_an_urgent_item_after_the_days_broadcast_goes_at_beijing_midnight(
        self, api: Api, wx: ScriptedWeChat
    ) -> None:
        """Issue 9 defect 7: the day's one broadcast is used; a second urgent item waits
        for the quota reset at 00:00 Beijing, not for tomorrow's 09:30 slot."""
        await _queue(api)
        await api.runtime.dispatcher.run_until_idle()
        await _queue(api, title="关于紧急停水的通知")
        await api.runtime.dispatcher.run_until_idle(limit_seconds=2)
        waiting = await Delivery.filter(channel="wechat").order_by("-id").first()
        assert waiting is not None
        assert waiting.state == "retry_wait"
        assert "0 点额度恢复后立即群发" in (waiting.last_error or "")
        midnight = _beijing_midnight_after(dt.datetime.now(UTC))
        assert waiting.next_attempt_at is not None
        assert abs((waiting.next_attempt_at - midnight).total_seconds()) < 5
        assert len(wx.sent_mass()) == 1


class TestServiceMonthlyQuota:
    EMULATOR: ClassVar[dict[str, Any]] = {"kind": "service"}
    ACCOUNT: ClassVar[dict[str, Any]] = {"kind": "service", "slot_time": "09:30"}

    async def _broadcasts(self, *, this_month: int, last_month: int) -> None:
        today = dt.datetime.now(BEIJING).date()
        earlier = today.replace(day=1) - dt.timedelta(days=1)
        jobs = DatabaseJobStore()
        for n, day in enumerate([today] * this_month + [earlier] * last_month):
            await jobs.save(
                JobRecord(
                    batch_key=uuid.uuid4().hex,
                    app_id=APPID,
                    mode="broadcast",
                    local_date=day,
                    msg_id=str(900000 + n),
                    status="finished",
                )
            )

    @pytest.mark.time_machine(dt.datetime(2026, 12, 15, 2, 0, tzinfo=UTC))  # 10:00 in Beijing
    async def test_a_fifth_broadcast_in_a_month_waits_for_next_months_first_slot(
        self, api: Api, wx: ScriptedWeChat
    ) -> None:
        """A service account with 4 broadcasts this month defers to the 1st of next month:
        an ordinary item to its slot, an urgent one to 00:00 (issue 9 defect 7)."""
        await self._broadcasts(this_month=4, last_month=0)
        await _queue(api, urgent=False)
        await api.runtime.dispatcher.run_until_idle(limit_seconds=2)
        delivery = await _delivery()
        assert delivery.state == "retry_wait"
        assert "顺延" in (delivery.last_error or "")
        first = (dt.datetime.now(BEIJING).date().replace(day=1) + dt.timedelta(days=32)).replace(
            day=1
        )
        slot = dt.datetime.combine(first, dt.time(9, 30), BEIJING)
        assert delivery.next_attempt_at is not None
        assert abs((delivery.next_attempt_at - slot).total_seconds()) < 5
        assert delivery.attempts == 0, "waiting for quota is not a failed try"
        assert wx.calls_to(SENDALL) == []
        assert wx.calls_to("draft/add") == []
        await _queue(api, title="关于紧急停电的通知")
        await api.runtime.dispatcher.run_until_idle(limit_seconds=2)
        urgent = await Delivery.filter(channel="wechat").order_by("-id").first()
        assert urgent is not None
        assert urgent.next_attempt_at is not None
        midnight = dt.datetime.combine(first, dt.time(), BEIJING)
        assert abs((urgent.next_attempt_at - midnight).total_seconds()) < 5

    async def test_last_months_broadcasts_do_not_count(self, api: Api, wx: ScriptedWeChat) -> None:
        """Three this month (and more last month) leave one: it goes out today, at once."""
        await self._broadcasts(this_month=3, last_month=3)
        await _queue(api)
        await api.runtime.dispatcher.run_until_idle()
        assert (await _delivery()).state == "accepted"
        assert len(wx.sent_mass()) == 1


class TestQuotaAtBeijingMidnight:
    async def test_the_beijing_date_not_the_utc_date_decides_the_daily_quota(
        self, database: str, settings: Settings, wx: ScriptedWeChat
    ) -> None:
        """23:50 sends; 23:55 waits for the next day's slot; 00:05 (16:05 UTC) sends again;
        08:30 (a new UTC day, same Beijing day) waits again."""
        day = dt.datetime.now(BEIJING).date() + dt.timedelta(days=2)
        clock = {"now": dt.datetime.combine(day, dt.time(23, 50), BEIJING).astimezone(UTC)}
        wx.advance(clock["now"].timestamp() - time.time())  # WeChat's clock agrees with ours
        org = await Organization.create(code="tiande", name="天德乡人民政府")
        accounts = DatabaseAccounts(SecretBox(Fernet.generate_key()))
        await accounts.configure(org, app_id=APPID, app_secret=SECRET, slot_time="08:00")
        channel = WeChatChannel(
            accounts=accounts,
            jobs=DatabaseJobStore(),
            tokens=DatabaseTokenStore(owner="midnight"),
            media=DatabaseMediaStore(),
            api_base=wx.api_base,
            timeout=5.0,
            font_path=settings.pdf_font_path,
            slot_window=dt.timedelta(minutes=30),
            poll_interval=dt.timedelta(seconds=0),
            clock=lambda: clock["now"],
        )

        async def commit(n: int, key: str) -> str | None:
            pub = _publishable(n, key, day)
            committed = await channel.commit_batch([pub], [await channel.prepare(pub)])
            assert isinstance(committed[0], Committed), committed[0]
            return committed[0].external_id

        def move(minutes: int) -> None:
            clock["now"] += dt.timedelta(minutes=minutes)
            wx.advance(minutes * 60)

        try:
            first = await commit(1, "a" * 32)
            move(5)  # 23:55 Beijing, day D
            with pytest.raises(Deferred) as waited:
                await commit(2, "b" * 32)
            # urgent: the quota comes back at 00:00 Beijing (issue 9 defect 7)
            quota_back = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), BEIJING)
            assert waited.value.until == quota_back
            move(10)  # 00:05 Beijing on D+1 = 16:05 UTC, still day D in UTC
            assert clock["now"].date() == day
            second = await commit(2, "b" * 32)
            move(8 * 60 + 25)  # 08:30 Beijing on D+1 = 00:30 UTC on D+1
            assert clock["now"].date() == day + dt.timedelta(days=1)
            with pytest.raises(Deferred) as again:
                await commit(3, "c" * 32)
            assert again.value.until == quota_back + dt.timedelta(days=1)
        finally:
            await channel.aclose()
        sent = wx.sent_mass()
        assert [str(job.msg_id) for job in sent] == [first, second]
        dates = {j.batch_key: j.local_date for j in await WechatJob.all()}
        assert dates == {"a" * 32: day, "b" * 32: day + dt.timedelta(days=1)}


def _publishable(n: int, key: str, day: dt.date) -> Publishable:
    return Publishable(
        delivery_id=n,
        idempotency_key=f"delivery-{n}",
        org_code="tiande",
        org_name="天德乡人民政府",
        item_id=n,
        lineage_id=n,
        revision=1,
        index_no=f"000-2025-{n:04d}",
        title=f"第{n}号紧急通知",
        body_md="请各村立即转告。",
        body_html="<p>请各村立即转告。</p>",
        summary="",
        category="",
        doc_number="",
        normative=False,
        formed_on=None,
        publish_date=day,
        batch_key=key,
        urgent=True,
    )


def _whitelist(wx: FakeWeChat) -> None:
    wx.configure(ip_whitelist=["10.20.30.40"])


class TestConfigurationErrors:
    @pytest.mark.parametrize(
        ("breakage", "code", "cause", "endpoint"),
        [(_whitelist, "40164", "IP 127.0.0.1 不在公众号白名单中", "stable_token")],
        ids=["ip-whitelist"],
    )
    async def test_a_configuration_error_pauses_then_fails_after_max_attempts(
        self,
        api: Api,
        wx: ScriptedWeChat,
        breakage: Callable[[FakeWeChat], None],
        code: str,
        cause: str,
        endpoint: str,
    ) -> None:
        """The delivery pauses with the cause in Chinese, and is failed at max_attempts."""
        breakage(wx)
        await _queue(api)
        start = dt.datetime.now(UTC)
        await api.runtime.dispatcher.run_until_idle(limit_seconds=2)
        paused = await _delivery()
        assert (paused.state, paused.attempts, paused.last_error_code) == ("retry_wait", 1, code)
        assert cause in (paused.last_error or "")
        assert paused.next_attempt_at is not None
        pause = api.runtime.settings.configuration_pause_seconds
        assert paused.next_attempt_at - start >= dt.timedelta(seconds=pause - 5)

        seen = [paused.state]
        for hours in (1, 2, 3):  # each pause over: try again, as a later tick would
            later = dispatcher(
                api.runtime.channels, max_attempts=3, now=start + dt.timedelta(hours=hours)
            )
            await later.run_until_idle(limit_seconds=5)
            seen.append((await _delivery()).state)
        assert seen == ["retry_wait", "retry_wait", "failed", "failed"]
        failed = await _delivery()
        assert failed.attempts == 3
        assert cause in (failed.last_error or "")
        assert "configuration still wrong after 3 tries" in (failed.last_error or "")
        assert len(wx.calls_to(endpoint)) == 3, "asked WeChat once per pause, then stopped"
        assert wx.sent_mass() == []


class TestNoPermissionPauses:
    """Issue 9 defect 6: 48001 is a configuration error that retrying cannot cure."""

    async def test_48001_pauses_the_account_until_the_test_button_then_sends_once(
        self, api: Api, wx: ScriptedWeChat
    ) -> None:
        wx.set_permission(SENDALL, allowed=False)
        await _queue(api)
        start = dt.datetime.now(UTC)
        await api.runtime.dispatcher.run_until_idle(limit_seconds=2)
        paused = await _delivery()
        assert (paused.state, paused.last_error_code) == ("retry_wait", "48001")
        assert "已暂停" in (paused.last_error or "")
        account = await WechatAccount.get()
        assert "公众号没有该接口权限" in account.paused_reason
        assert "微信发布已暂停" in await _dashboard(api)

        for hours in (1, 5, 30):  # the pause holds, asks WeChat nothing, fails nothing
            later = dispatcher(api.runtime.channels, now=start + dt.timedelta(hours=hours))
            assert await later.tick()
            await _until(_not_sending, what="the paused try to end")
            assert (await _delivery()).state == "retry_wait"
        assert len(wx.calls_to(SENDALL)) == 1

        wx.set_permission(SENDALL, allowed=True)  # the account was verified meanwhile
        answer = await api.client.post(
            "/api/v1/orgs/tiande/channels/wechat/test", headers=api.admin
        )
        assert answer.json()["status"] == "ok", answer.text
        assert (await WechatAccount.get()).paused_reason == ""
        resumed = await _delivery()
        assert resumed.state == "pending"
        await api.runtime.dispatcher.run_until_idle(limit_seconds=2)
        sent = await _delivery()
        assert sent.state == "accepted"
        assert len(wx.sent_mass()) == 1
        assert "微信发布已暂停" not in await _dashboard(api)

    async def test_changed_settings_lift_the_pause(self, api: Api, wx: ScriptedWeChat) -> None:
        wx.set_permission("", allowed=False)  # an unverified account: no business API at all
        await _queue(api)
        await api.runtime.dispatcher.run_until_idle(limit_seconds=2)
        assert (await WechatAccount.get()).paused_reason
        wx.set_permission("", allowed=True)
        tiande = await Organization.get(code="tiande")
        await api.runtime.wechat.accounts.configure(tiande, mode="publish")
        assert (await WechatAccount.get()).paused_reason == ""
        await api.runtime.dispatcher.run_until_idle(limit_seconds=2)
        assert (await _delivery()).state == "accepted"


async def _dashboard(api: Api) -> str:
    """The dashboard as 天德乡's administrator sees it."""
    tiande = await Organization.get(code="tiande")
    user = await User.create(
        username=f"adm{uuid.uuid4().hex[:8]}",
        display_name="张管理",
        password_hash=await users.hash_password(PASSWORD),
        must_change_password=False,
    )
    await users.set_role(user, tiande, "admin")
    transport = httpx.ASGITransport(app=api.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://gongkai.test", headers=HTML
    ) as client:
        assert (await sign_in(client, user.username, PASSWORD)).status_code == 303
        page = await client.get("/console/")
        assert page.status_code == 200
        return page.text


class TestCommitTimeout:
    SETTINGS: ClassVar[dict[str, Any]] = {"wechat_timeout_seconds": 1.0}
    LATE = 3.0  # the answer to sendall comes after the client gave up

    async def test_a_timed_out_send_retried_by_another_worker_is_adopted(
        self, api: Api, wx: ScriptedWeChat
    ) -> None:
        """Worker 1 times out on a send WeChat performed; worker 2 gets 45065 and adopts it."""
        wx.fail(SENDALL, delay=self.LATE)
        await _queue(api)
        first = _second_worker(api)
        try:
            crashed = dispatcher(first, worker="first")
            await crashed.tick()
            await _until(_not_sending, what="the timeout to be recorded")
        finally:
            await _close(first)  # the first worker is gone
        timed_out = await _delivery()
        assert timed_out.state == "retry_wait"
        assert timed_out.last_error_code == "timeout"
        assert "超时" in (timed_out.last_error or "")
        await self._second_worker_adopts(api, wx)

    async def test_a_worker_that_dies_mid_send_does_not_cause_a_second_broadcast(
        self, api: Api, wx: ScriptedWeChat
    ) -> None:
        """Worker 1 dies while sendall is in flight; worker 2 retries the batch: one broadcast."""
        wx.fail(SENDALL, delay=self.LATE)
        await _queue(api)
        first = _second_worker(api)
        try:
            crashed = dispatcher(first, worker="crashed", lease_seconds=1)
            await crashed.tick()

            async def sending() -> bool:
                return bool(wx.calls_to(SENDALL))

            await _until(sending, what="sendall to reach WeChat")
            tasks = list(crashed._in_flight.values())
            for task in tasks:  # the worker "dies" with the send in flight
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            await _close(first)
        await _until(_not_sending, what="the lease to be given back", limit=5)
        assert wx.sent_mass(), "WeChat performed the first send"
        await self._second_worker_adopts(api, wx)

    async def _second_worker_adopts(self, api: Api, wx: ScriptedWeChat) -> None:
        original = wx.sent_mass()[0].msg_id
        channels = _second_worker(api)
        try:
            second = dispatcher(channels, worker="second")
            await second.reap()
            await second.run_until_idle(limit_seconds=20)
            accepted = await _delivery()
            assert accepted.state == "accepted"
            assert accepted.external_id == str(original)
            published = await _published(api, second)
        finally:
            await _close(channels)
        assert [c.errcode for c in wx.calls_to(SENDALL)] == [0, 45065]
        assert len({c.json["clientmsgid"] for c in wx.calls_to(SENDALL)}) == 1
        assert [job.msg_id for job in wx.sent_mass()] == [original]
        assert len(wx.calls_to("draft/add")) == 1
        assert published.external_id == str(original)
        assert (await WechatJob.get()).msg_id == str(original)
        assert await Publication.filter(channel="wechat").count() == 1


async def _not_sending() -> bool:
    return (await _delivery()).state != "sending"


class TestRepeatAfterALostAnswer:
    """Issue 9 defect 3: WeChat accepted the send, the answer was lost, and the repeat is
    refused in a way that does not name the original broadcast."""

    @pytest.mark.parametrize(
        ("emulator", "code"),
        [({"media_check_first": True}, "40007"), ({"dedupe_without_msg_id": True}, "45065")],
        ids=["consumed-draft-40007", "45065-without-msg_id"],
    )
    async def test_the_delivery_ends_uncertain_with_the_evidence_never_failed(
        self, api: Api, wx: ScriptedWeChat, emulator: dict[str, Any], code: str
    ) -> None:
        wx.configure(**emulator)
        wx.fail(SENDALL, drop=True, after=True)  # performed, then the connection is reset
        await _queue(api)
        await api.runtime.dispatcher.run_until_idle(limit_seconds=10)
        assert [c.errcode for c in wx.calls_to(SENDALL)] == [None, int(code)]
        delivery = await _delivery()
        assert delivery.state == "uncertain"
        assert delivery.last_error_code == code
        job = await WechatJob.get()
        evidence = delivery.last_error or ""
        assert "很可能已经发出" in evidence
        assert str(job.draft_media_id) in evidence
        assert job.batch_key in evidence
        assert len(wx.sent_mass()) == 1, "never a second broadcast"
        await api.runtime.dispatcher.run_until_idle(limit_seconds=2)
        assert len(wx.calls_to(SENDALL)) == 2, "an uncertain delivery is not retried"
