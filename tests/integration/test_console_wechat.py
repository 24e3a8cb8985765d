"""Issue 9 in the console, on both databases: an item's 微信标题 on its page (editable,
with a counter against the account's limit) and on the review page (defect 4), and the
body images WeChat would drop, shown in the editor's preview before submission (defect 8).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from bot.settings import Settings
from storage.console_models import AuditEvent
from storage.models import Item
from storage.wechat_models import WechatTitle
from tests.integration.console_world import World, csrf_of, world
from tests.integration.test_wechat_trust import PNG, Server

__all__ = ["world"]  # the fixture

APPID = "wx" + "c3" * 8
LONG_TITLE = "关于开展" + "春季植树造林" * 5 + "的通知"  # 37 characters
# Without the leading 关于, cut to 31 characters and an ellipsis: 32, the default limit.
SHORTENED = "开展春季植树造林春季植树造林春季植树造林春季植树造林春季植树造…"
IMAGE_LIMIT = 1000


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Images may come from loopback (the test's image server), at most 1000 bytes."""
    return settings.model_copy(
        update={
            "outbound_allowed_networks": ["127.0.0.0/8"],
            "wechat_image_max_bytes": IMAGE_LIMIT,
        }
    )


@pytest.fixture
def wechat_api() -> Iterator[Server]:
    """Where the account's API calls would go: a preview must call nothing there."""
    with Server("127.0.0.1").running() as server:
        yield server


@pytest.fixture
def images() -> Iterator[Server]:
    routes = {
        "/ok.png": (200, {"Content-Type": "image/png"}, PNG),
        "/big.png": (200, {"Content-Type": "image/png"}, PNG + b"\x00" * IMAGE_LIMIT),
        "/anim.gif": (200, {"Content-Type": "image/gif"}, b"GIF89a" + b"\x00" * 64),
    }
    with Server("127.0.0.1", routes).running() as server:
        yield server


async def with_account(world: World, api: Server, **limits: object) -> None:
    await world.runtime.wechat.accounts.configure(
        world.orgs["tiande"], app_id=APPID, app_secret="s" * 32, api_base=api.base, **limits
    )


async def write(client: httpx.AsyncClient, channels: list[str], **fields: str) -> int:
    token = await csrf_of(client, "/console/items/new")
    data = {"csrf_token": token, "channels": channels, "title": LONG_TITLE, "body": "正文。"}
    response = await client.post("/console/items", data={**data, **fields})
    assert response.status_code == 303, response.text
    found = re.fullmatch(r"/console/items/(\d+)", response.headers["location"])
    assert found, response.headers["location"]
    return int(found.group(1))


async def set_title(client: httpx.AsyncClient, item_id: int, title: str) -> httpx.Response:
    token = await csrf_of(client, f"/console/items/{item_id}")
    return await client.post(
        f"/console/items/{item_id}/wechat-title",
        data={"csrf_token": token, "wechat_title": title},
    )


def title_input(page: str) -> str:
    found = re.search(r'<input id="f-wechat_title"[^>]*value="([^"]*)"', page)
    assert found, page
    return found.group(1)


class TestWechatTitle:
    async def test_the_page_prefills_the_shortened_title_with_its_count(
        self, world: World, wechat_api: Server
    ) -> None:
        await with_account(world, wechat_api)
        async with world.login("td_editor") as client:
            item_id = await write(client, ["website", "wechat"])
            page = await client.get(f"/console/items/{item_id}")
            editor = await client.get(f"/console/items/{item_id}/edit")
        assert page.status_code == 200
        assert title_input(page.text) == SHORTENED
        assert f"微信标题：<strong>{SHORTENED}</strong>（已用 32 / 32 个字符" in editor.text
        assert 'data-count-limit="32" data-count-unit="chars"' in page.text
        assert "已用 32 / 32 个字符" in page.text
        assert "微信公众号的标题最多 32 个字符" in page.text

    async def test_a_title_over_the_limit_is_refused_naming_it_and_stores_nothing(
        self, world: World, wechat_api: Server
    ) -> None:
        await with_account(world, wechat_api)
        async with world.login("td_editor") as client:
            item_id = await write(client, ["wechat"])
            refused = await set_title(client, item_id, "一" * 33)
        assert refused.status_code == 400
        assert '<p class="error" id="e-wechat_title">微信标题最多 32 个字符（当前 33）</p>' in (
            refused.text
        )
        assert title_input(refused.text) == "一" * 33  # what was typed is kept
        assert await WechatTitle.filter(item_id=item_id).count() == 0
        assert await AuditEvent.filter(action="item.wechat_title").count() == 0

    async def test_the_clerks_title_is_stored_audited_and_shown_to_the_reviewer(
        self, world: World, wechat_api: Server
    ) -> None:
        await with_account(world, wechat_api)
        chosen = "全乡春季植树造林工作通知"
        async with world.login("td_editor") as client:
            item_id = await write(client, ["website", "wechat"])
            saved = await set_title(client, item_id, f"  {chosen}\n")
            assert saved.status_code == 303, saved.text
            page = await client.get(f"/console/items/{item_id}")
        assert title_input(page.text) == chosen
        assert f"已用 {len(chosen)} / 32 个字符" in page.text
        stored = await WechatTitle.get(item_id=item_id)
        assert (stored.title, stored.set_by) == (chosen, "td_editor")
        event = await AuditEvent.get(action="item.wechat_title")
        assert (event.username, event.detail["title"]) == ("td_editor", chosen)
        assert event.organization_id == world.orgs["tiande"].id
        async with world.login("td_reviewer") as reviewer:
            review = await reviewer.get(f"/console/review/{item_id}")
        assert review.status_code == 200
        assert f'<strong id="wechat-title-text">{chosen}</strong>' in review.text
        assert 'id="f-wechat_title"' not in review.text  # shown, not edited, there
        async with world.login("td_editor") as client:
            cleared = await set_title(client, item_id, " ")
            assert cleared.status_code == 303
            page = await client.get(f"/console/items/{item_id}")
        assert await WechatTitle.filter(item_id=item_id).count() == 0
        assert title_input(page.text) == SHORTENED

    async def test_a_byte_limit_is_counted_in_bytes(self, world: World, wechat_api: Server) -> None:
        await with_account(world, wechat_api, title_limit=64, limit_unit="bytes")
        async with world.login("td_editor") as client:
            item_id = await write(client, ["wechat"])
            page = await client.get(f"/console/items/{item_id}")
            refused = await set_title(client, item_id, "二" * 22)
        assert len(title_input(page.text).encode()) <= 64
        assert "微信公众号的标题最多 64 字节" in page.text
        assert "微信标题最多 64 字节（当前 66）" in refused.text
        assert await WechatTitle.filter(item_id=item_id).count() == 0

    async def test_only_items_going_to_wechat_have_one(
        self, world: World, wechat_api: Server
    ) -> None:
        await with_account(world, wechat_api)
        async with world.login("td_editor") as client:
            item_id = await write(client, ["website"])
            page = await client.get(f"/console/items/{item_id}")
            refused = await set_title(client, item_id, "短标题")
        assert "微信标题" not in page.text
        assert refused.status_code == 409
        assert await WechatTitle.all().count() == 0

    async def test_reviewers_and_other_organizations_may_not_set_it(
        self, world: World, wechat_api: Server
    ) -> None:
        await with_account(world, wechat_api)
        async with world.login("td_editor") as client:
            item_id = await write(client, ["wechat"])
        for who, status in (("td_reviewer", 403), ("lh_editor", 404)):
            async with world.login(who) as client:
                token = await csrf_of(client, "/console/")
                response = await client.post(
                    f"/console/items/{item_id}/wechat-title",
                    data={"csrf_token": token, "wechat_title": "短标题"},
                )
            assert response.status_code == status, (who, response.text)
        assert await WechatTitle.all().count() == 0


class TestDroppedImagesInThePreview:
    def body(self, images: Server) -> str:
        return "\n\n".join(
            f"![图{n}]({images.base}/{name})"
            for n, name in enumerate(["ok.png", "big.png", "anim.gif", "gone.png"])
        )

    async def test_the_preview_lists_each_image_wechat_would_drop_and_why(
        self, world: World, wechat_api: Server, images: Server
    ) -> None:
        await with_account(world, wechat_api)
        async with world.login("td_editor") as client:
            token = await csrf_of(client, "/console/items/new")
            data = {"csrf_token": token, "title": "通知", "body": self.body(images)}
            shown = await client.post(
                "/console/items/preview", data={**data, "channels": ["website", "wechat"]}
            )
            without = await client.post(
                "/console/items/preview", data={**data, "channels": ["website"]}
            )
        assert shown.status_code == 200, shown.text
        assert shown.json()["dropped_images"] == [
            f"正文图片 http://127.0.0.1/big.png 已删除：图片超过 {IMAGE_LIMIT} 字节",
            "正文图片 http://127.0.0.1/anim.gif 已删除：图片格式不支持（只能是 jpg 或 png）",
            "正文图片 http://127.0.0.1/gone.png 已删除：图片无法获取",
        ]
        assert without.json()["dropped_images"] == []
        assert wechat_api.seen == []  # nothing uploaded, no token asked for
        assert await Item.all().count() == 0

    async def test_the_editor_shows_them_when_it_opens(
        self, world: World, wechat_api: Server, images: Server
    ) -> None:
        await with_account(world, wechat_api)
        async with world.login("td_editor") as client:
            item_id = await write(client, ["wechat"], body=self.body(images))
            page = await client.get(f"/console/items/{item_id}/edit")
        assert page.status_code == 200
        listed = re.search(r'<ul class="preview-problems" id="preview-dropped-list">(.*?)</ul>',
                           page.text, re.S)  # fmt: skip
        assert listed, page.text
        assert re.findall(r"<li>正文图片 http://127\.0\.0\.1/(\S+) 已删除", listed.group(1)) == [
            "big.png",
            "anim.gif",
            "gone.png",
        ]
        assert '<div id="preview-dropped" aria-live="polite" hidden>' not in page.text
