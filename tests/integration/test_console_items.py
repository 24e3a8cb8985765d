"""The console's item pages and print queue, on both databases: writing and submitting an
item, the live detail JSON, organization scope, inert XSS, posting and the PDF download."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from fastapi.routing import APIRoute

from bot import review, submission
from bot.console import pages_item_detail, pages_items, pages_print
from bot.publishing import ItemInput
from storage.console_models import AuditEvent
from storage.items import ItemStatus
from storage.models import Delivery, Item
from tests.integration.console_world import World, csrf_of, world
from tests.integration.helpers import dispatcher

__all__ = ["world"]  # the fixture

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
ESCAPED = "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"
SHORT = "<script>alert(2)</script>"  # 主题分类 holds 50 characters
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


ITEM = {"title": "关于开展春季植树活动的通知", "body": "各村：\n\n请于3月12日前完成植树任务。"}


async def write_item(client: httpx.AsyncClient, **fields: str | list[str]) -> httpx.Response:
    token = await csrf_of(client, "/console/items/new")
    data = {"csrf_token": token, "channels": ["website", "noticeboard"], **ITEM, **fields}
    return await client.post("/console/items", data=data)


def item_id_of(response: httpx.Response) -> int:
    assert response.status_code == 303, response.text
    found = re.fullmatch(r"/console/items/(\d+)", response.headers["location"])
    assert found, response.headers["location"]
    return int(found.group(1))


class TestWriting:
    async def test_empty_title_is_shown_beside_the_field(self, world: World) -> None:
        async with world.login("td_editor") as client:
            page = await write_item(client, title="  ")
            assert page.status_code == 400
            assert re.search(r'id="f-title"[^>]*aria-invalid="true"', page.text)
            assert '<p class="error" id="e-title">请填写标题</p>' in page.text
            assert "各村" in page.text  # what was typed is kept
        assert await Item.all().count() == 0

    async def test_submitted_item_waits_for_review(self, world: World) -> None:
        async with world.login("td_editor") as client:
            item_id = item_id_of(await write_item(client))
            item = await Item.get(id=item_id)
            assert item.status == ItemStatus.IN_REVIEW
            assert (item.author, item.author_user_id) == ("王编辑", world.users["td_editor"].id)
            assert await dispatcher(world.runtime.channels).tick() == 0  # held: none claimed
            live = await client.get(
                f"/console/items/{item_id}/live", headers={"Accept": "application/json"}
            )
            assert live.status_code == 200
            data = live.json()
            assert {d["channel"]: d["state"] for d in data["item"]["deliveries"]} == {
                "website": "pending",
                "noticeboard": "pending",
            }
            assert "等待审核放行" in data["html"]
            page = await client.get(f"/console/items/{item_id}")
            assert "正在等待审核" in page.text
            listing = await client.get("/console/items")
            assert ITEM["title"] in listing.text
        assert await AuditEvent.filter(action="item.submitted").count() == 1

    async def test_a_draft_is_saved_and_then_submitted(self, world: World) -> None:
        async with world.login("td_editor") as client:
            item_id = item_id_of(await write_item(client, action="draft"))
            assert (await Item.get(id=item_id)).status == ItemStatus.DRAFT
            token = await csrf_of(client, f"/console/items/{item_id}/edit")
            data = {"csrf_token": token, "channels": ["website"], **ITEM, "title": "改过的标题"}
            assert item_id_of(await client.post(f"/console/items/{item_id}", data=data)) == item_id
            item = await Item.get(id=item_id)
            assert (item.status, item.title) == (ItemStatus.IN_REVIEW, "改过的标题")

    async def test_a_reviewer_cannot_write(self, world: World) -> None:
        async with world.login("td_reviewer") as client:
            assert (await client.get("/console/items/new")).status_code == 403
            assert (await client.get("/console/print")).status_code == 403
            assert (await client.get("/console/items")).status_code == 200
            token = await csrf_of(client, "/console/items")
            data = {"csrf_token": token, "channels": ["website"], **ITEM}
            assert (await client.post("/console/items", data=data)).status_code == 403
        assert await Item.all().count() == 0


def _routes() -> list[tuple[str, str]]:
    found = []
    for router in (pages_items.router, pages_item_detail.router, pages_print.router):
        for route in router.routes:
            assert isinstance(route, APIRoute)
            found += [(method, route.path) for method in route.methods or ()]
    return found


async def test_other_organizations_ids_are_not_found(world: World) -> None:
    theirs = await submission.submit(
        ItemInput(
            org=world.orgs["lianhe"], title="联合乡通知", body="正文", channels=["noticeboard"]
        ),
        channels=world.runtime.channels,
        max_body_bytes=100_000,
    )
    delivery = await Delivery.get(item_id=theirs.id)
    async with world.login("td_editor") as client:
        token = await csrf_of(client, "/console/items/new")
        checked = 0
        for method, path in _routes():
            if "{" not in path and not path.endswith(("/preview", "/preview.pdf")):
                continue
            url = "/console" + path.replace("{item_id}", str(theirs.id))
            url = url.replace("{delivery_id}", str(delivery.id))
            if "{" not in path:
                url += f"?item_id={theirs.id}"
            response = await client.request(
                method, url, headers={"X-CSRF-Token": token}, data={"outcome": "published"}
            )
            assert response.status_code == 404, (method, url, response.status_code)
            checked += 1
        assert checked >= 12
    assert (await Item.get(id=theirs.id)).status == ItemStatus.IN_REVIEW


async def test_xss_payloads_render_inert(world: World) -> None:
    async with world.login("td_editor") as client:
        fields = {"title": "通知" + XSS, "body": "正文" + XSS, "summary": XSS, "category": SHORT}
        item_id = item_id_of(await write_item(client, **fields))
        pages = [
            await client.get("/console/items"),
            await client.get(f"/console/items/{item_id}"),
            await client.get(f"/console/items/{item_id}/edit"),
        ]
        live = await client.get(
            f"/console/items/{item_id}/live", headers={"Accept": "application/json"}
        )
        token = await csrf_of(client, "/console/items/new")
        preview = await client.post(
            "/console/items/preview",
            data={**fields, "channels": ["website"]},
            headers={"X-CSRF-Token": token, "Accept": "application/json"},
        )
        assert preview.status_code == 200
        shown = preview.json()
        texts = [p.text for p in pages] + [live.json()["html"], shown["wechat"], shown["website"]]
        for text in texts:
            own = '<script src="/console/static/console.js" defer></script>'
            assert "<script" not in text.replace(own, "").lower()
            assert "<img src=x" not in text
        for page in pages[:2]:
            assert ESCAPED in page.text
        assert "&lt;script&gt;alert(2)&lt;/script&gt;" in pages[1].text  # 主题分类
        assert "通知&lt;script&gt;" in preview.json()["website"]


async def test_posting_from_the_print_queue(world: World, tmp_path: Path) -> None:
    async with world.login("td_editor") as client:
        item_id = item_id_of(await write_item(client, channels=["noticeboard"]))
        item = await Item.get(id=item_id)
        reviewer = review.Reviewer("李审核", world.users["td_reviewer"].id)
        await review.approve(item, reviewer, dict.fromkeys(review.CHECKS, True))
        await dispatcher(world.runtime.channels).run_until_idle()
        delivery = await Delivery.get(item_id=item_id)
        assert delivery.state == "accepted"
        queue = await client.get("/console/print")
        assert f"/console/print/{delivery.id}/pdf" in queue.text
        assert 'value="王编辑"' in queue.text  # who posts it defaults to the user
        pdf = await client.get(f"/console/print/{delivery.id}/pdf")
        assert pdf.status_code == 200
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF")

        token = await csrf_of(client, "/console/print")
        form = {"csrf_token": token, "location": "乡政府公开栏", "posted_by": "王编辑"}
        bad = await client.post(
            f"/console/print/{delivery.id}/posted",
            data={**form, "period_days": "30"},
            files={"photo": ("a.gif", b"GIF89a....", "image/gif")},
        )
        assert bad.status_code == 400
        assert "照片只能是 JPG 或 PNG 格式" in bad.text
        assert (await Delivery.get(id=delivery.id)).state == "accepted"
        done = await client.post(
            f"/console/print/{delivery.id}/posted",
            data={**form, "posted_on": "2026-03-02", "period_days": "10"},
            files={"photo": ("board.png", PNG, "image/png")},
        )
        assert done.status_code == 303, done.text
        assert (await Delivery.get(id=delivery.id)).state == "published"
        photo = await client.get(f"/console/print/{delivery.id}/photo")
        assert (photo.status_code, photo.content) == (200, PNG)
        assert f"/console/print/{delivery.id}/pdf" not in (await client.get("/console/print")).text
        detail = await client.get(f"/console/items/{item_id}")
        assert "乡政府公开栏" in detail.text
    assert await AuditEvent.filter(action="posting.confirmed").count() == 1


async def test_a_released_item_is_revised_then_cancelled(world: World) -> None:
    async with world.login("td_editor") as client:
        item_id = item_id_of(await write_item(client, channels=["website"]))
        item = await Item.get(id=item_id)
        reviewer = review.Reviewer("李审核", world.users["td_reviewer"].id)
        await review.approve(item, reviewer, dict.fromkeys(review.CHECKS, True))
        await dispatcher(world.runtime.channels).run_until_idle()
        edit = await client.get(f"/console/items/{item_id}/edit")
        assert "第 2 版修订" in edit.text
        token = await csrf_of(client, f"/console/items/{item_id}")
        data = {"csrf_token": token, "channels": ["website"], **ITEM, "title": "更正后的通知"}
        revised = item_id_of(await client.post(f"/console/items/{item_id}", data=data))
        assert revised != item_id
        new = await Item.get(id=revised)
        assert (new.revision, new.status) == (2, ItemStatus.IN_REVIEW)
        cancel = await client.post(f"/console/items/{revised}/cancel", data={"csrf_token": token})
        assert cancel.status_code == 303
        assert (await Item.get(id=revised)).status == ItemStatus.CANCELLED
    assert await AuditEvent.filter(action="item.revised").count() == 1
    assert await AuditEvent.filter(action="item.cancelled").count() == 1


async def test_withdraw_asks_for_a_reason(world: World) -> None:
    async with world.login("td_editor") as client:
        item_id = item_id_of(await write_item(client, channels=["website"]))
        item = await Item.get(id=item_id)
        reviewer = review.Reviewer("李审核", world.users["td_reviewer"].id)
        await review.approve(item, reviewer, dict.fromkeys(review.CHECKS, True))
        await dispatcher(world.runtime.channels).run_until_idle()
        token = await csrf_of(client, f"/console/items/{item_id}")
        path = f"/console/items/{item_id}/withdraw"
        empty = await client.post(path, data={"csrf_token": token, "reason": " "})
        assert empty.status_code == 400
        assert '<p class="error" id="e-reason">请写明撤回原因</p>' in empty.text
        done = await client.post(path, data={"csrf_token": token, "reason": "内容有误"})
        assert done.status_code == 303
        assert (await Delivery.get(item_id=item_id)).state == "withdrawn"
    assert await AuditEvent.filter(action="item.withdrawn").count() == 1
