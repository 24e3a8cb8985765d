"""The 企业微信 group robot through the real stack: settings, queueing, the webhook (a
loopback fake of it), the ledger's per-robot choice of counting, and the console."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from bot.settings import Settings
from channels.base import Deferred, TemporaryError
from channels.wecom_robot.channel import WecomRobotChannel
from channels.wecom_robot.models import WecomRobotAccount
from channels.wecom_robot.store import MemoryRobots, Robot
from channels.wecom_robot.testing import FakeRobotServer
from storage.console_models import AuditEvent
from storage.ledger import channel_tally, items_counted, local_today
from storage.models import Delivery, DeliveryAttempt, Item, Publication
from tests.integration.conftest import Api
from tests.integration.console_world import World, post_form, world
from tests.unit.test_wecom_robot_message import robot_pub

__all__ = ["world"]  # the fixture

VILLAGERS_KEY = "9a1b2c3d-0000-4000-8000-0000000000a1"
CADRES_KEY = "9a1b2c3d-0000-4000-8000-0000000000b2"
ROBOT = "/api/v1/orgs/{org}/channels/wecom_robot"
PUB = robot_pub()


@pytest.fixture
def fake() -> Iterator[FakeRobotServer]:
    with FakeRobotServer.start(keys=[VILLAGERS_KEY, CADRES_KEY]) as server:
        yield server


@pytest.fixture
def settings(settings: Settings, fake: FakeRobotServer) -> Settings:
    """The test settings, with the robot's webhook on the loopback fake."""
    return settings.model_copy(
        update={"channel": {"wecom_robot": {"api_base": fake.api_base, "timeout_seconds": 5}}}
    )


def _item(org: str, *channels: str, title: str = "天德乡关于春耕生产的通知") -> dict[str, Any]:
    return {
        "org": org,
        "title": title,
        "body": "各村：\n\n请做好春耕准备。",
        "channels": list(channels),
    }


async def _robot(api: Api, org: str, key: str, *, counts: bool, name: str = "村民群") -> Any:
    headers = api.tiande if org == "tiande" else api.lianhe
    body = {"group_name": name, "key": key, "msg_type": "markdown", "counts_in_report": counts}
    return await api.client.put(ROBOT.format(org=org), json=body, headers=headers)


async def _publish(api: Api, body: dict[str, Any], headers: dict[str, str]) -> int:
    response = await api.client.post("/api/v1/items", json=body, headers=headers)
    assert response.status_code == 201, response.text
    await api.runtime.dispatcher.run_until_idle()
    return int(response.json()["id"])


class TestSettings:
    async def test_key_is_sealed_and_never_shown_back(self, api: Api) -> None:
        """The API stores the key sealed and answers only that it is set."""
        saved = await _robot(api, "tiande", VILLAGERS_KEY, counts=True)
        assert saved.status_code == 200, saved.text
        shown = await api.client.get(ROBOT.format(org="tiande"), headers=api.tiande)
        assert shown.json() == {
            "group_name": "村民群",
            "msg_type": "markdown",
            "counts_in_report": True,
            "key_set": True,
        }
        row = await WecomRobotAccount.get(organization__code="tiande")
        assert VILLAGERS_KEY not in row.key_sealed
        audit = await AuditEvent.filter(action="settings.wecom_robot").first()
        assert audit is not None
        assert VILLAGERS_KEY not in json.dumps(audit.detail)

    async def test_first_setting_without_a_key_is_refused_and_stores_nothing(
        self, api: Api
    ) -> None:
        """A robot is not created without its key; the error names the field."""
        body = {"group_name": "村民群", "msg_type": "markdown", "counts_in_report": True}
        response = await api.client.put(ROBOT.format(org="tiande"), json=body, headers=api.tiande)
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "key"]
        assert await WecomRobotAccount.all().count() == 0

    async def test_another_organization_cannot_read_or_set_it(self, api: Api) -> None:
        """A township's token sees no other township's robot."""
        await _robot(api, "tiande", VILLAGERS_KEY, counts=True)
        other = await api.client.get(ROBOT.format(org="tiande"), headers=api.lianhe)
        assert other.status_code == 404

    async def test_test_button_checks_the_key_without_posting(
        self, api: Api, fake: FakeRobotServer
    ) -> None:
        """The test says the key is valid (or not) and nothing reaches the group."""
        await _robot(api, "tiande", VILLAGERS_KEY, counts=True)
        ok = await api.client.post(ROBOT.format(org="tiande") + "/test", headers=api.tiande)
        assert ok.json()["status"] == "ok"
        assert "密钥有效" in ok.json()["message"]
        await _robot(api, "tiande", "ffffffff-dead-4000-8000-000000000000", counts=True)
        bad = await api.client.post(ROBOT.format(org="tiande") + "/test", headers=api.tiande)
        assert bad.json()["status"] == "error"
        assert "93000" in bad.json()["message"]
        assert fake.posted(VILLAGERS_KEY) == []


class TestPublishing:
    async def test_item_reaches_the_group_and_counts_under_other(
        self, api: Api, fake: FakeRobotServer
    ) -> None:
        """Queued via the API, posted once to the villagers' group, counted as 其他方式."""
        await _robot(api, "tiande", VILLAGERS_KEY, counts=True)
        item_id = await _publish(api, _item("tiande", "wecom_robot"), api.tiande)
        posted = fake.posted(VILLAGERS_KEY)
        assert len(posted) == 1
        assert posted[0]["msgtype"] == "markdown"
        assert "天德乡关于春耕生产的通知" in posted[0]["markdown"]["content"]
        delivery = await Delivery.get(item_id=item_id, channel="wecom_robot")
        assert delivery.state == "published"
        tally = await channel_tally(
            delivery.item_id and (await Item.get(id=item_id)).organization_id, local_today().year
        )
        assert (tally.total, tally.website, tally.wechat, tally.other) == (1, 0, 0, 1)

    async def test_cadres_group_is_proof_but_not_counted(
        self, api: Api, fake: FakeRobotServer
    ) -> None:
        """An internal group's post is in the ledger as proof and counts nowhere."""
        await _robot(api, "lianhe", CADRES_KEY, counts=False, name="乡机关干部群")
        item_id = await _publish(api, _item("lianhe", "wecom_robot"), api.lianhe)
        assert len(fake.posted(CADRES_KEY)) == 1
        org_id = (await Item.get(id=item_id)).organization_id
        row = await Publication.get(item_id=item_id)
        assert (row.channel, row.counted) == ("wecom_robot", False)
        tally = await channel_tally(org_id, local_today().year)
        assert (tally.total, tally.other) == (0, 0)
        assert await items_counted(org_id, local_today().year, channel_bucket="other") == []

    async def test_choice_is_per_robot(self, api: Api, fake: FakeRobotServer) -> None:
        """With the website too, the cadres' post adds nothing, the villagers' adds 其他方式."""
        await _robot(api, "tiande", VILLAGERS_KEY, counts=True)
        await _robot(api, "lianhe", CADRES_KEY, counts=False, name="乡机关干部群")
        for org, headers in (("tiande", api.tiande), ("lianhe", api.lianhe)):
            await _publish(api, _item(org, "website", "wecom_robot"), headers)
        year = local_today().year
        tallies = {}
        for org in ("tiande", "lianhe"):
            item = await Item.get(organization__code=org)
            tallies[org] = await channel_tally(item.organization_id, year)
        assert (tallies["tiande"].total, tallies["tiande"].website, tallies["tiande"].other) == (
            1,
            1,
            1,
        )
        assert (tallies["lianhe"].total, tallies["lianhe"].website, tallies["lianhe"].other) == (
            1,
            1,
            0,
        )

    async def test_organization_without_a_robot_is_refused_at_queue_time(self, api: Api) -> None:
        """Choosing the group without a robot is a 422 naming the channels; nothing stored."""
        response = await api.client.post(
            "/api/v1/items", json=_item("tiande", "wecom_robot"), headers=api.tiande
        )
        assert response.status_code == 422, response.text
        assert "企业微信群机器人" in response.text
        assert await Item.all().count() == 0
        assert await Delivery.all().count() == 0

    @pytest.mark.parametrize(("errcode", "state"), [(45009, "retry_wait"), (40058, "failed")])
    async def test_rate_limit_waits_and_a_refused_message_is_final(
        self, api: Api, fake: FakeRobotServer, errcode: int, state: str
    ) -> None:
        """45009 waits a minute for the next try; a refused message (40058) is final."""
        await _robot(api, "tiande", VILLAGERS_KEY, counts=True)
        fake.fail_next(errcode)
        item_id = await _publish(api, _item("tiande", "wecom_robot"), api.tiande)
        delivery = await Delivery.get(item_id=item_id, channel="wecom_robot")
        assert (delivery.state, delivery.last_error_code) == (state, str(errcode))
        assert fake.posted(VILLAGERS_KEY) == []
        assert await Publication.filter(item_id=item_id).count() == 0

    async def test_busy_platform_is_retried_and_posts_once(
        self, api: Api, fake: FakeRobotServer
    ) -> None:
        """errcode -1 (system busy) is tried again, and the group gets one message."""
        await _robot(api, "tiande", VILLAGERS_KEY, counts=True)
        fake.fail_next(-1)
        item_id = await _publish(api, _item("tiande", "wecom_robot"), api.tiande)
        delivery = await Delivery.get(item_id=item_id, channel="wecom_robot")
        attempts = await DeliveryAttempt.filter(delivery_id=delivery.id).order_by("number")
        codes = [attempt.error_code for attempt in attempts]
        assert delivery.state == "published"
        assert codes == ["-1", None]
        assert len(fake.posted(VILLAGERS_KEY)) == 1

    async def test_removed_robot_pauses_the_delivery_for_staff(
        self, api: Api, fake: FakeRobotServer
    ) -> None:
        """A key the platform no longer knows (93000) is a configuration error, not a retry."""
        await _robot(api, "tiande", "ffffffff-dead-4000-8000-000000000000", counts=True)
        item_id = await _publish(api, _item("tiande", "wecom_robot"), api.tiande)
        delivery = await Delivery.get(item_id=item_id, channel="wecom_robot")
        assert delivery.last_error_code == "93000"
        assert "群机器人密钥无效" in (delivery.last_error or "")
        assert delivery.state != "published"

    async def test_withdraw_leaves_staff_a_note(self, api: Api) -> None:
        """A group message cannot be recalled: withdrawing says so in words."""
        await _robot(api, "tiande", VILLAGERS_KEY, counts=True)
        item_id = await _publish(api, _item("tiande", "wecom_robot"), api.tiande)
        response = await api.client.post(
            f"/api/v1/items/{item_id}/withdraw", json={"reason": "内容有误"}, headers=api.tiande
        )
        assert response.status_code == 200, response.text
        assert "无法由系统撤回" in json.dumps(response.json(), ensure_ascii=False)


class TestConsole:
    async def test_admin_sets_the_robot_and_the_key_is_never_shown(
        self, world: World, fake: FakeRobotServer
    ) -> None:
        """The 渠道设置 form saves the robot (audited) and the page shows only 已设置."""
        async with world.login("td_admin") as client:
            saved = await post_form(
                client,
                "/console/channels/wecom_robot/account",
                csrf_from="/console/channels",
                group_name="天德村村民群",
                key=VILLAGERS_KEY,
                msg_type="news",
                counts_in_report="1",
            )
            assert saved.status_code == 303, saved.text
            page = await client.get("/console/channels")
            item_form = await client.get("/console/items/new")
        assert VILLAGERS_KEY not in page.text
        assert "已设置" in page.text
        assert "天德村村民群" in page.text
        assert 'value="wecom_robot"' in item_form.text
        row = await WecomRobotAccount.get(organization_id=world.orgs["tiande"].id)
        assert (row.group_name, row.msg_type, row.counts_in_report) == (
            "天德村村民群",
            "news",
            True,
        )
        audit = await AuditEvent.get(action="settings.wecom_robot")
        assert audit.username == "td_admin"
        assert VILLAGERS_KEY not in json.dumps(audit.detail)

    async def test_checkbox_appears_only_with_a_robot(self, world: World) -> None:
        """Without a robot the item form offers no 企业微信群 checkbox."""
        async with world.login("td_admin") as client:
            item_form = await client.get("/console/items/new")
        assert 'value="wecom_robot"' not in item_form.text

    async def test_editor_cannot_set_it_and_a_bad_form_stores_nothing(self, world: World) -> None:
        """Only an administrator saves; a missing key or long name is refused beside the field."""
        async with world.login("td_editor") as client:
            denied = await post_form(
                client,
                "/console/channels/wecom_robot/account",
                csrf_from="/console/items",
                group_name="群",
                key=VILLAGERS_KEY,
            )
        assert denied.status_code == 403
        async with world.login("td_admin") as client:
            bad = await post_form(
                client,
                "/console/channels/wecom_robot/account",
                csrf_from="/console/channels",
                group_name="长" * 51,
                key="",
            )
        assert bad.status_code == 400
        assert "群名称最多 50 个字" in bad.text
        assert await WecomRobotAccount.all().count() == 0

    async def test_form_without_csrf_token_is_refused(self, world: World) -> None:
        """The settings form is CSRF-checked like every console form."""
        async with world.login("td_admin") as client:
            response = await client.post(
                "/console/channels/wecom_robot/account",
                data={"group_name": "村民群", "key": VILLAGERS_KEY},
            )
        assert response.status_code == 403
        assert await WecomRobotAccount.all().count() == 0


class TestRateLimitOnTheWire:
    async def test_twenty_first_message_is_deferred_not_sent(self, fake: FakeRobotServer) -> None:
        """Past 20 a minute the channel defers (no attempt spent) and the platform sees 20."""
        now = [dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)]
        robots = MemoryRobots(tiande=Robot(group_name="村民群", key=VILLAGERS_KEY))
        channel = WecomRobotChannel(
            robots=robots, api_base=fake.api_base, timeout=5, clock=lambda: now[0]
        )
        try:
            for number in range(21):
                pub = replace(PUB, delivery_id=number + 1, index_no=f"tiande/2026-{number:05d}")
                prepared = await channel.prepare(pub)
                if number < 20:
                    await channel.commit(pub, prepared)
                    continue
                with pytest.raises(Deferred) as deferred:
                    await channel.commit(pub, prepared)
                assert deferred.value.until == now[0] + dt.timedelta(minutes=1)
        finally:
            await channel.aclose()
        assert len(fake.posted(VILLAGERS_KEY)) == 20

    async def test_platform_rate_limit_is_a_retry_after_a_minute(
        self, fake: FakeRobotServer
    ) -> None:
        """When the platform says 45009 (another worker sent too), the retry waits 60 s."""
        robots = MemoryRobots(tiande=Robot(group_name="村民群", key=VILLAGERS_KEY))
        channel = WecomRobotChannel(robots=robots, api_base=fake.api_base, timeout=5)
        fake.fail_next(45009)
        try:
            with pytest.raises(TemporaryError) as caught:
                await channel.commit(PUB, await channel.prepare(PUB))
        finally:
            await channel.aclose()
        assert (caught.value.code, caught.value.retry_after) == ("45009", 60)


class TestConsoleTestButton:
    async def test_button_reports_a_valid_key_and_posts_nothing(
        self, world: World, fake: FakeRobotServer
    ) -> None:
        """渠道设置's 测试连接 for the robot answers in words, audited; the group stays quiet."""
        async with world.login("td_admin") as client:
            await post_form(
                client,
                "/console/channels/wecom_robot/account",
                csrf_from="/console/channels",
                group_name="天德村村民群",
                key=VILLAGERS_KEY,
                msg_type="markdown",
            )
            tested = await post_form(
                client, "/console/channels/wecom_robot/test", csrf_from="/console/channels"
            )
        assert tested.status_code == 200
        assert "密钥有效" in tested.text
        assert fake.posted(VILLAGERS_KEY) == []
        audit = await AuditEvent.get(action="channel.tested")
        assert audit.detail["渠道"] == "企业微信群"
        row = await WecomRobotAccount.get(organization_id=world.orgs["tiande"].id)
        assert row.counts_in_report is False  # the box was left unticked
