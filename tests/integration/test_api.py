"""The HTTP API: validation, access control, the whole flow, and faults."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest

from channels.registry import CHANNEL_NAMES
from storage.models import Delivery, Item, Publication
from tests.integration.conftest import Api

# 17:00 UTC on 31 December is already 01:00 on 1 January in Beijing: business dates and the
# report's year must follow Beijing, not the UTC calendar (the clock keeps ticking from here).
NEW_YEAR_IN_BEIJING = pytest.mark.time_machine(dt.datetime(2026, 12, 31, 17, 0, tzinfo=dt.UTC))

ITEM: dict[str, Any] = {
    "org": "tiande",
    "title": "关于开展2026年春季植树活动的通知",
    "body": "各村：\n\n请于**3月12日**前完成植树任务。",
    "category": "工作动态",
    "doc_number": "天德发〔2026〕3号",
    "formed_on": "2026-03-01",
    "channels": ["website", "noticeboard"],
}


# How pydantic lists the registry's channel names: 'a', 'b' or 'c'.
ALL_CHANNELS = ", ".join(f"'{n}'" for n in CHANNEL_NAMES[:-1]) + f" or '{CHANNEL_NAMES[-1]}'"


def _error_fields(response: Any) -> list[str]:
    return [".".join(str(p) for p in e["loc"][1:]) for e in response.json()["detail"]]


async def _nothing_stored() -> bool:
    return await Item.all().count() == 0 and await Delivery.all().count() == 0


class TestValidation:
    @pytest.mark.parametrize(
        ("change", "field", "words"),
        [
            ({"title": ""}, "title", "at least 1 character"),
            ({"title": "长" * 201}, "title", "at most 200 characters"),
            ({"channels": ["fax"]}, "channels.0", ALL_CHANNELS),
            ({"channels": []}, "channels", "at least 1 item"),
            ({"publish_at": "2026-03-01T09:00:00"}, "publish_at", "timezone"),
            ({"org": "nowhere"}, "org", "unknown organization 'nowhere'"),
            ({"body": "<script>alert(1)</script>"}, "body", "no publishable content"),
            ({"summary": "x" * 501}, "summary", "at most 500 characters"),
            ({"colour": "red"}, "colour", "Extra inputs"),
        ],
    )
    async def test_bad_input_is_rejected_naming_the_field_and_stores_nothing(
        self, api: Api, change: dict[str, Any], field: str, words: str
    ) -> None:
        """Each broken rule gives 422 naming the field and the limit; no row is written."""
        response = await api.client.post(
            "/api/v1/items", json={**ITEM, **change}, headers=api.tiande
        )
        assert response.status_code == 422, response.text
        assert field in _error_fields(response)
        assert words in response.text
        assert await _nothing_stored()

    async def test_oversized_body_names_the_byte_limit(self, api: Api) -> None:
        """A body over max_body_bytes is refused with its size and the limit."""
        limit = api.runtime.settings.max_body_bytes
        response = await api.client.post(
            "/api/v1/items", json={**ITEM, "body": "字" * limit}, headers=api.tiande
        )
        assert response.status_code == 422
        assert _error_fields(response) == ["body"]
        assert f"the limit is {limit} bytes" in response.text
        assert await _nothing_stored()

    async def test_wechat_without_an_account_is_refused_at_queue_time(self, api: Api) -> None:
        """Choosing WeChat before an account is configured is a clear 422, not a later failure."""
        response = await api.client.post(
            "/api/v1/items", json={**ITEM, "channels": ["wechat"]}, headers=api.tiande
        )
        assert response.status_code == 422
        assert "尚未配置微信公众号" in response.text

    async def test_script_inside_a_body_is_removed_for_the_web(self, api: Api) -> None:
        """Script and handlers in an otherwise fine body are stripped, the text kept."""
        body = '通知正文<script>alert(1)</script><img src=x onerror="alert(2)">'
        response = await api.client.post(
            "/api/v1/items", json={**ITEM, "body": body}, headers=api.tiande
        )
        assert response.status_code == 201
        item = await Item.get(id=response.json()["id"])
        assert "通知正文" in item.body_html
        assert "script" not in item.body_html
        assert "onerror" not in item.body_html


def _sample_value(match: re.Match[str]) -> str:
    return {"org": "tiande", "code": "tiande", "year": "2026"}.get(match.group(1), "1")


class TestAccess:
    async def test_every_route_needs_a_token(self, api: Api) -> None:
        """Every route but health, docs and the public site answers 401 without a valid token."""
        open_paths = {
            "/",
            "/healthz",
            "/readyz",
            "/docs",
            "/docs/oauth2-redirect",
            "/redoc",
            "/openapi.json",
        }
        checked = 0
        for template, operations in api.app.openapi()["paths"].items():
            if template in open_paths:
                continue
            path = re.sub(r"\{(\w+)\}", _sample_value, template)
            for method in operations:
                assert (await api.client.request(method, path)).status_code == 401, path
                bad = {"Authorization": "Bearer gk_not-a-real-token"}
                response = await api.client.request(method, path, headers=bad)
                assert response.status_code == 401, path
                checked += 1
        assert checked >= 17

    async def test_an_organization_cannot_see_or_touch_anothers_items(self, api: Api) -> None:
        """Every id-bearing route answers 404 to another township's token."""
        created = await api.client.post("/api/v1/items", json=ITEM, headers=api.tiande)
        item = created.json()
        delivery = item["deliveries"][0]["id"]
        other = api.lianhe
        for method, path, body in [
            ("GET", f"/api/v1/items/{item['id']}", None),
            ("POST", f"/api/v1/items/{item['id']}/retry", None),
            ("POST", f"/api/v1/items/{item['id']}/cancel", None),
            ("POST", f"/api/v1/items/{item['id']}/withdraw", {"reason": "x"}),
            ("POST", f"/api/v1/deliveries/{delivery}/posted", {"location": "x", "posted_by": "y"}),
            ("GET", f"/api/v1/deliveries/{delivery}/pdf", None),
            ("GET", "/api/v1/reports/tiande/2026/channels", None),
        ]:
            response = await api.client.request(method, path, json=body, headers=other)
            assert response.status_code == 404, (path, response.text)
        listed = await api.client.get("/api/v1/items", headers=other)
        assert listed.json()["total"] == 0
        queued = await api.client.post("/api/v1/items", json=ITEM, headers=other)
        assert queued.status_code == 422
        assert "unknown organization" in queued.text
        assert (await Item.get(id=item["id"])).status == "active"

    async def test_a_county_token_sees_its_townships(self, api: Api) -> None:
        """An admin (or county) scope lists items of every township below it."""
        await api.client.post("/api/v1/items", json=ITEM, headers=api.tiande)
        await api.client.post("/api/v1/items", json={**ITEM, "org": "lianhe"}, headers=api.lianhe)
        listed = await api.client.get("/api/v1/items", headers=api.admin)
        assert listed.json()["total"] == 2
        orgs = await api.client.get("/api/v1/orgs", headers=api.tiande)
        assert [o["code"] for o in orgs.json()] == ["tiande"]

    async def test_only_an_admin_creates_organizations(self, api: Api) -> None:
        """A township token gets 403; the admin creates a child with its parent."""
        org = {"code": "pingan", "name": "平安镇人民政府", "parent": "shulan"}
        assert (
            await api.client.post("/api/v1/orgs", json=org, headers=api.tiande)
        ).status_code == 403
        created = await api.client.post("/api/v1/orgs", json=org, headers=api.admin)
        assert created.status_code == 201
        assert created.json() == {**org, "area_word": ""}
        again = await api.client.post("/api/v1/orgs", json=org, headers=api.admin)
        assert again.status_code == 422
        assert "already exists" in again.text


class TestFlow:
    @NEW_YEAR_IN_BEIJING
    async def test_queue_publish_post_and_count(self, api: Api) -> None:
        """An item goes to the site and the print queue, is posted, and the report counts it."""
        created = await api.client.post("/api/v1/items", json=ITEM, headers=api.tiande)
        assert created.status_code == 201
        item = created.json()
        assert item["index_no"].startswith("tiande/2027-")  # the Beijing year
        assert {d["channel"]: d["state"] for d in item["deliveries"]} == {
            "website": "pending",
            "noticeboard": "pending",
        }
        await api.runtime.dispatcher.run_until_idle()
        detail = (await api.client.get(f"/api/v1/items/{item['id']}", headers=api.tiande)).json()
        by_channel = {d["channel"]: d for d in detail["deliveries"]}
        assert by_channel["website"]["state"] == "published"
        assert by_channel["noticeboard"]["state"] == "accepted"
        assert detail["progress"] == "awaiting_confirmation"
        page = await api.client.get(
            by_channel["website"]["url"].replace("http://127.0.0.1:8000", "")
        )
        assert page.status_code == 200
        assert ITEM["title"] in page.text
        pdf = await api.client.get(
            f"/api/v1/deliveries/{by_channel['noticeboard']['id']}/pdf", headers=api.tiande
        )
        assert pdf.status_code == 200
        assert pdf.content.startswith(b"%PDF")

        posted = await api.client.post(
            f"/api/v1/deliveries/{by_channel['noticeboard']['id']}/posted",
            json={
                "location": "乡政府公开栏",
                "posted_by": "李明",
                "posted_on": "2027-01-01",
                "period_days": 7,
            },
            headers=api.tiande,
        )
        assert posted.status_code == 200, posted.text
        board = next(d for d in posted.json()["deliveries"] if d["channel"] == "noticeboard")
        assert board["state"] == "published"
        assert board["posting"]["take_down_on"] == "2027-01-08"
        report = (
            await api.client.get("/api/v1/reports/tiande/2027/channels", headers=api.tiande)
        ).json()
        assert (report["total"], report["website"], report["other"]) == (1, 1, 1)
        before = (
            await api.client.get("/api/v1/reports/tiande/2026/channels", headers=api.tiande)
        ).json()
        assert before["total"] == 0  # still 2026 by UTC, already 2027 in Beijing
        assert "通过其他方式公开政府信息数1条" in report["paragraphs"][1]

    async def test_posting_twice_is_refused(self, api: Api) -> None:
        """A second 'posted' for the same notice is a 409 and adds no ledger row."""
        item = (
            await api.client.post(
                "/api/v1/items", json={**ITEM, "channels": ["noticeboard"]}, headers=api.tiande
            )
        ).json()
        await api.runtime.dispatcher.run_until_idle()
        url = f"/api/v1/deliveries/{item['deliveries'][0]['id']}/posted"
        body = {"location": "公开栏", "posted_by": "李明"}
        assert (await api.client.post(url, json=body, headers=api.tiande)).status_code == 200
        assert (await api.client.post(url, json=body, headers=api.tiande)).status_code == 409
        assert await Publication.all().count() == 1

    async def test_withdraw_takes_the_page_down(self, api: Api) -> None:
        """Withdrawing removes the site page and records the reason on each delivery."""
        item = (
            await api.client.post(
                "/api/v1/items", json={**ITEM, "channels": ["website"]}, headers=api.tiande
            )
        ).json()
        await api.runtime.dispatcher.run_until_idle()
        url = (await Delivery.get(item_id=item["id"])).url or ""
        withdrawn = await api.client.post(
            f"/api/v1/items/{item['id']}/withdraw", json={"reason": "内容有误"}, headers=api.tiande
        )
        assert withdrawn.status_code == 200
        delivery = withdrawn.json()["deliveries"][0]
        assert delivery["state"] == "withdrawn"
        assert "撤回原因：内容有误" in delivery["withdraw_note"]
        page = await api.client.get(url.replace("http://127.0.0.1:8000", ""))
        assert page.status_code == 404

    async def test_import_history_then_report(self, api: Api) -> None:
        """补录 records count in their year; a bad record rejects the whole import."""
        fields = {k: v for k, v in ITEM.items() if k != "channels"}
        good = {
            **fields,
            "published_at": "2016-05-04T10:00:00+08:00",
            "published_channels": ["wechat"],
        }
        bad = {**good, "published_at": "2016-05-04T10:00:00"}
        rejected = await api.client.post(
            "/api/v1/imports", json={"items": [good, bad]}, headers=api.tiande
        )
        assert rejected.status_code == 422
        assert "items.1.published_at" in _error_fields(rejected)
        assert await _nothing_stored()
        accepted = await api.client.post(
            "/api/v1/imports", json={"items": [good, good]}, headers=api.tiande
        )
        assert accepted.status_code == 201
        report = (
            await api.client.get("/api/v1/reports/tiande/2016/channels", headers=api.tiande)
        ).json()
        assert (report["total"], report["wechat"]) == (2, 2)

    async def test_retry_and_cancel_answer_conflict_when_nothing_to_do(self, api: Api) -> None:
        """Retry with nothing failed is 409; cancel works once, then 409."""
        item = (await api.client.post("/api/v1/items", json=ITEM, headers=api.tiande)).json()
        base = f"/api/v1/items/{item['id']}"
        assert (await api.client.post(f"{base}/retry", headers=api.tiande)).status_code == 409
        cancelled = await api.client.post(f"{base}/cancel", headers=api.tiande)
        assert cancelled.json()["progress"] == "cancelled"
        assert (await api.client.post(f"{base}/cancel", headers=api.tiande)).status_code == 409


class TestOperations:
    async def test_health_and_metrics(self, api: Api) -> None:
        """healthz answers without a token; metrics need an admin and show the gauges."""
        health = await api.client.get("/healthz")
        assert health.json()["database"] == "ok"
        assert (await api.client.get("/metrics", headers=api.tiande)).status_code == 403
        metrics = await api.client.get("/metrics", headers=api.admin)
        assert "gongkai_due_unclaimed 0.0" in metrics.text


class TestRevisionsAndRemovals:
    @NEW_YEAR_IN_BEIJING
    async def test_an_edit_after_publication_is_a_new_revision(self, api: Api) -> None:
        """Revision 2 keeps the 索引号, publishes again, and the year still counts one item."""
        first = (
            await api.client.post(
                "/api/v1/items", json={**ITEM, "channels": ["website"]}, headers=api.tiande
            )
        ).json()
        await api.runtime.dispatcher.run_until_idle()
        edited = {**ITEM, "channels": ["website"], "title": "关于开展春季植树活动的通知（更正）"}
        response = await api.client.post(
            f"/api/v1/items/{first['id']}/revisions", json=edited, headers=api.tiande
        )
        assert response.status_code == 201, response.text
        second = response.json()
        assert (second["revision"], second["index_no"]) == (2, first["index_no"])
        await api.runtime.dispatcher.run_until_idle()
        old = (await api.client.get(f"/api/v1/items/{first['id']}", headers=api.tiande)).json()
        new = (await api.client.get(f"/api/v1/items/{second['id']}", headers=api.tiande)).json()
        assert old["status"] == "superseded"
        assert old["deliveries"][0]["state"] == "published"  # what the public saw stays on record
        assert new["deliveries"][0]["state"] == "published"
        page = await api.client.get(
            new["deliveries"][0]["url"].replace("http://127.0.0.1:8000", "")
        )
        assert "（更正）" in page.text
        report = (
            await api.client.get("/api/v1/reports/tiande/2027/channels", headers=api.tiande)
        ).json()
        assert (report["total"], report["website"]) == (1, 1)
        again = await api.client.post(
            f"/api/v1/items/{first['id']}/revisions", json=edited, headers=api.tiande
        )
        assert again.status_code == 409

    @NEW_YEAR_IN_BEIJING
    async def test_posting_period_end_raises_a_removal_reminder(self, api: Api) -> None:
        """A notice whose 公示期 has ended is listed until staff mark it removed."""
        item = (
            await api.client.post(
                "/api/v1/items", json={**ITEM, "channels": ["noticeboard"]}, headers=api.tiande
            )
        ).json()
        await api.runtime.dispatcher.run_until_idle()
        delivery = item["deliveries"][0]["id"]
        ended = "2026-12-22"  # 10 days before the frozen Beijing date, 2027-01-01
        await api.client.post(
            f"/api/v1/deliveries/{delivery}/posted",
            headers=api.tiande,
            json={
                "location": "村务公开栏",
                "posted_by": "王芳",
                "posted_on": ended,
                "period_days": 7,
            },
        )
        due = (await api.client.get("/api/v1/reminders/removals", headers=api.tiande)).json()
        assert [(r["delivery_id"], r["reason"]) for r in due] == [(delivery, "period_ended")]
        other = (await api.client.get("/api/v1/reminders/removals", headers=api.lianhe)).json()
        assert other == []
        removed = await api.client.post(
            f"/api/v1/deliveries/{delivery}/removed", headers=api.tiande
        )
        assert removed.status_code == 200
        assert removed.json()["deliveries"][0]["posting"]["removed_at"] is not None
        assert (await api.client.get("/api/v1/reminders/removals", headers=api.tiande)).json() == []

    async def test_withdrawing_a_posted_notice_asks_for_its_removal(self, api: Api) -> None:
        """A withdrawn notice still on the board appears as a 'withdrawn' removal reminder."""
        item = (
            await api.client.post(
                "/api/v1/items", json={**ITEM, "channels": ["noticeboard"]}, headers=api.tiande
            )
        ).json()
        await api.runtime.dispatcher.run_until_idle()
        delivery = item["deliveries"][0]["id"]
        await api.client.post(
            f"/api/v1/deliveries/{delivery}/posted",
            headers=api.tiande,
            json={"location": "公开栏", "posted_by": "王芳"},
        )
        await api.client.post(
            f"/api/v1/items/{item['id']}/withdraw", headers=api.tiande, json={"reason": "政策调整"}
        )
        due = (await api.client.get("/api/v1/reminders/removals", headers=api.tiande)).json()
        assert [(r["delivery_id"], r["reason"]) for r in due] == [(delivery, "withdrawn")]


class TestUncertain:
    async def test_a_person_resolves_an_uncertain_delivery(self, api: Api) -> None:
        """An uncertain delivery marked published enters the ledger once; a second answer is 409."""
        from storage import outbox
        from storage.delivery import State

        item = (
            await api.client.post(
                "/api/v1/items", json={**ITEM, "channels": ["website"]}, headers=api.tiande
            )
        ).json()
        now = dt.datetime.now(dt.UTC)
        claim = await outbox.claim(worker="gone", now=now, lease_seconds=1, limit=1)
        for delivery in await outbox.expired_leases(now + dt.timedelta(seconds=5)):
            await outbox.release(delivery, State.UNCERTAIN, now=now, reason="lease expired")
        url = f"/api/v1/deliveries/{claim.delivery_ids[0]}/resolve"
        done = await api.client.post(url, json={"outcome": "published"}, headers=api.tiande)
        assert done.status_code == 200
        assert done.json()["deliveries"][0]["state"] == "published"
        assert await Publication.all().count() == 1
        again = await api.client.post(url, json={"outcome": "retry"}, headers=api.tiande)
        assert again.status_code == 409
        other = await api.client.post(url, json={"outcome": "retry"}, headers=api.lianhe)
        assert other.status_code == 404
        assert item["id"] == done.json()["id"]
