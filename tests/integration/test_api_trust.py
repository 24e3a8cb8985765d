"""Issue 8 through the API, on both databases: token roles (findings 1 and 10), the audit
log of API actions (finding 4) and 补录 imports (finding 5)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pytest

from storage.console_models import AuditEvent
from storage.models import ApiToken, Delivery, Item, Organization, Publication
from storage.register_models import Application
from storage.tokens import create_token
from tests.integration.conftest import Api

ITEM: dict[str, Any] = {
    "org": "tiande",
    "title": "关于开展春季植树活动的通知",
    "body": "各村：\n\n请于3月12日前完成植树任务。",
    "channels": ["website"],
}
CHECKS = {"保密": True, "个人信息": True, "敏感词与错别字": True, "导向": True}
REASON = "暴雨红色预警，须立即通知各村转移群众"
IMPORTED = {
    "org": "tiande",
    "title": "关于2016年春耕生产的通知",
    "body": "各村：\n\n做好春耕准备。",
    "published_at": "2016-05-04T10:00:00+08:00",
    "published_channels": ["website"],
}
APPLICATION = {
    "received_on": "2024-03-04",
    "channel": "网络",
    "applicant_type": "自然人",
    "request": "申请公开2023年度农田水利工程建设资金使用情况。",
}
WECHAT = {"appid": "wx" + "a1" * 8, "secret": "s" * 32}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _fields(response: Any) -> list[str]:
    return [".".join(str(p) for p in e["loc"][1:]) for e in response.json()["detail"]]


@dataclass
class Staff:
    """Ordinary (not review-exempt) tiande tokens, one per role, plus a second admin."""

    api: Api
    editor: dict[str, str]
    reviewer: dict[str, str]
    admin: dict[str, str]
    admin2: dict[str, str]
    ids: dict[str, int]  # token name -> id

    async def queue(self, headers: dict[str, str], **changes: Any) -> dict[str, Any]:
        response = await self.api.client.post(
            "/api/v1/items", json={**ITEM, **changes}, headers=headers
        )
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()
        return data

    async def act(
        self, item_id: int, action: str, body: dict[str, Any], headers: dict[str, str]
    ) -> Any:
        return await self.api.client.post(
            f"/api/v1/items/{item_id}/{action}", json=body, headers=headers
        )


@pytest.fixture
async def staff(api: Api) -> Staff:
    tiande = await Organization.get(code="tiande")
    made = {
        name: await create_token(name, tiande, role=role)
        for name, role in (
            ("编辑甲", "editor"),
            ("审核乙", "reviewer"),
            ("管理员丙", "admin"),
            ("管理员丁", "admin"),
        )
    }
    ids = {t.name: t.id for t in await ApiToken.filter(name__in=list(made))}
    editor, reviewer, admin, admin2 = [_bearer(token) for token in made.values()]
    return Staff(api, editor, reviewer, admin, admin2, ids=ids)


async def _status(item_id: int) -> str:
    return (await Item.get(id=item_id)).status


async def _events(action: str) -> list[AuditEvent]:
    return list(await AuditEvent.filter(action=action).order_by("id"))


class TestForcePublish:
    """Finding 1: force-publish skips the review, so only another person's admin token may."""

    async def test_an_editor_cannot_force_publish_its_own_item(self, staff: Staff) -> None:
        item = await staff.queue(staff.editor)
        forced = await staff.act(item["id"], "force-publish", {"reason": REASON}, staff.editor)
        assert forced.status_code == 403, forced.text
        assert "admin" in forced.json()["detail"]
        assert await _status(item["id"]) == "in_review"
        assert await Publication.all().count() == 0
        await staff.api.runtime.dispatcher.run_until_idle()
        assert {d.state for d in await Delivery.filter(item_id=item["id"])} == {"pending"}

    async def test_a_reviewer_cannot_force_publish(self, staff: Staff) -> None:
        item = await staff.queue(staff.editor)
        forced = await staff.act(item["id"], "force-publish", {"reason": REASON}, staff.reviewer)
        assert forced.status_code == 403
        assert await _status(item["id"]) == "in_review"

    async def test_an_admin_cannot_force_publish_its_own_item(self, staff: Staff) -> None:
        item = await staff.queue(staff.admin)
        forced = await staff.act(item["id"], "force-publish", {"reason": REASON}, staff.admin)
        assert forced.status_code == 403
        assert "作者不能紧急发布" in forced.json()["detail"]
        assert await _status(item["id"]) == "in_review"

    async def test_another_admin_forces_with_a_reason_and_owes_a_post_review(
        self, staff: Staff
    ) -> None:
        item = await staff.queue(staff.editor)
        bare = await staff.act(item["id"], "force-publish", {"reason": "急"}, staff.admin)
        assert bare.status_code == 422
        assert _fields(bare) == ["reason"]
        forced = await staff.act(item["id"], "force-publish", {"reason": REASON}, staff.admin)
        assert forced.status_code == 200, forced.text
        assert forced.json()["review"]["decision"] == "forced"
        pending = await staff.api.client.get("/api/v1/reviews/pending", headers=staff.reviewer)
        assert [i["id"] for i in pending.json()["post_review"]] == [item["id"]]
        by_forcer = await staff.act(item["id"], "post-review", {"checks": CHECKS}, staff.admin)
        assert by_forcer.status_code == 403
        done = await staff.act(item["id"], "post-review", {"checks": CHECKS}, staff.reviewer)
        assert done.status_code == 200, done.text

    async def test_an_admin_cannot_approve_its_own_item(self, staff: Staff) -> None:
        item = await staff.queue(staff.admin)
        own = await staff.act(item["id"], "approve", {"checks": CHECKS}, staff.admin)
        assert own.status_code == 403
        assert "作者不能审核" in own.json()["detail"]
        other = await staff.act(item["id"], "approve", {"checks": CHECKS}, staff.admin2)
        assert other.status_code == 200, other.text

    async def test_two_tokens_with_one_name_are_still_two_people(self, staff: Staff) -> None:
        """The review gate compares tokens by id: a second token named like the author's
        is another token, and the author's own token is refused whatever its name."""
        tiande = await Organization.get(code="tiande")
        same_name = _bearer(await create_token("编辑甲", tiande, role="reviewer"))
        item = await staff.queue(staff.editor)
        approved = await staff.act(item["id"], "approve", {"checks": CHECKS}, same_name)
        assert approved.status_code == 200, approved.text
        assert (await Item.get(id=item["id"])).author_token_id == staff.ids["编辑甲"]


class TestRoles:
    """Finding 10: a token does only what a console user of its role may do."""

    async def test_an_editor_cannot_approve_reject_or_post_review(self, staff: Staff) -> None:
        item = await staff.queue(staff.admin)
        for action, body in (("approve", {"checks": CHECKS}), ("reject", {"comment": "改"})):
            response = await staff.act(item["id"], action, body, staff.editor)
            assert response.status_code == 403, action
        assert await _status(item["id"]) == "in_review"
        approved = await staff.act(item["id"], "approve", {"checks": CHECKS}, staff.reviewer)
        assert approved.status_code == 200

    async def test_a_reviewer_cannot_queue_cancel_or_withdraw(self, staff: Staff) -> None:
        queued = await staff.api.client.post("/api/v1/items", json=ITEM, headers=staff.reviewer)
        assert queued.status_code == 403
        assert await Item.all().count() == 0
        item = await staff.queue(staff.editor)
        cancel = await staff.act(item["id"], "cancel", {}, staff.reviewer)
        withdraw = await staff.act(item["id"], "withdraw", {"reason": "错了"}, staff.reviewer)
        assert (cancel.status_code, withdraw.status_code) == (403, 403)
        assert await _status(item["id"]) == "in_review"

    async def test_only_an_admin_changes_the_wechat_account(self, staff: Staff) -> None:
        url = "/api/v1/orgs/tiande/channels/wechat"
        for headers in (staff.editor, staff.reviewer):
            put = await staff.api.client.put(url, json=WECHAT, headers=headers)
            assert put.status_code == 403
            assert (await staff.api.client.get(url, headers=headers)).status_code == 403
            test = await staff.api.client.post(f"{url}/test", headers=headers)
            assert test.status_code == 403
        saved = await staff.api.client.put(url, json=WECHAT, headers=staff.admin)
        assert saved.status_code == 200, saved.text

    async def test_registers_are_editor_work(self, staff: Staff) -> None:
        url = "/api/v1/orgs/tiande/applications"
        refused = await staff.api.client.post(url, json=APPLICATION, headers=staff.reviewer)
        assert refused.status_code == 403
        assert await Application.all().count() == 0
        created = await staff.api.client.post(url, json=APPLICATION, headers=staff.editor)
        assert created.status_code == 201, created.text
        record = f"{url}/{created.json()['id']}"
        assert (await staff.api.client.delete(record, headers=staff.reviewer)).status_code == 403
        listed = await staff.api.client.get(url, headers=staff.reviewer)
        assert [r["id"] for r in listed.json()] == [created.json()["id"]]
        texts = "/api/v1/orgs/tiande/texts/2024"
        put = await staff.api.client.put(texts, json={}, headers=staff.reviewer)
        assert put.status_code == 403

    async def test_any_role_reads(self, staff: Staff) -> None:
        item = await staff.queue(staff.editor)
        for headers in (staff.editor, staff.reviewer, staff.admin):
            got = await staff.api.client.get(f"/api/v1/items/{item['id']}", headers=headers)
            assert got.status_code == 200
            report = await staff.api.client.get(
                "/api/v1/reports/tiande/2026/channels", headers=headers
            )
            assert report.status_code == 200

    async def test_tokens_carry_a_role(self, api: Api) -> None:
        """A platform token is admin; an unknown role is refused; 免审 stays a flag."""
        rows = {t.name: t for t in await ApiToken.all()}
        assert (rows["admin"].role, rows["admin"].organization_id) == ("admin", None)
        assert rows["天德乡编辑"].review_exempt
        with pytest.raises(ValueError, match="role must be one of"):
            await create_token("x", None, role="owner")


class TestAudit:
    """Finding 4: every API change leaves one audit row, in the change's transaction;
    refused attempts are recorded too."""

    async def test_force_publish_approve_reject_and_refusals_are_recorded(
        self, staff: Staff
    ) -> None:
        first = await staff.queue(staff.editor)
        second = await staff.queue(staff.editor)
        third = await staff.queue(staff.editor)
        await staff.act(first["id"], "approve", {"checks": CHECKS}, staff.reviewer)
        await staff.act(second["id"], "reject", {"comment": "请补充时间"}, staff.reviewer)
        await staff.act(third["id"], "force-publish", {"reason": REASON}, staff.editor)  # 403
        await staff.act(third["id"], "force-publish", {"reason": REASON}, staff.admin)
        await staff.act(first["id"], "approve", {"checks": CHECKS}, staff.reviewer)  # 409

        approved = await _events("review.approved")
        assert [(e.target.split()[0], e.outcome) for e in approved] == [
            (f"item:{first['id']}", "ok"),
            (f"item:{first['id']}", "conflict"),
        ]
        ok = approved[0]
        tiande = await Organization.get(code="tiande")
        assert (ok.token_id, ok.username, ok.organization_id) == (
            staff.ids["审核乙"],
            "审核乙",
            tiande.id,
        )
        assert ok.ip == "127.0.0.1"
        assert ok.user_id is None
        assert ok.at > dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        assert ok.detail["checks"] == CHECKS
        [rejected] = await _events("review.rejected")
        assert rejected.detail["comment"] == "请补充时间"
        forced = await _events("review.forced")
        assert [(e.token_id, e.outcome) for e in forced] == [
            (staff.ids["编辑甲"], "denied"),
            (staff.ids["管理员丙"], "ok"),
        ]
        assert forced[1].detail["reason"] == REASON
        assert "admin" in forced[0].detail["refused"]

    async def test_queue_withdraw_settings_registers_and_orgs_are_recorded(
        self, api: Api, staff: Staff
    ) -> None:
        item = await staff.queue(staff.editor)
        await staff.act(item["id"], "cancel", {}, staff.editor)
        await api.client.put(
            "/api/v1/orgs/tiande/channels/wechat", json=WECHAT, headers=staff.admin
        )
        await api.client.post(
            "/api/v1/orgs/tiande/applications", json=APPLICATION, headers=staff.editor
        )
        await api.client.post(
            "/api/v1/orgs", json={"code": "xinzhuang", "name": "新庄镇人民政府"}, headers=api.admin
        )
        exempt = await api.client.post("/api/v1/items", json=ITEM, headers=api.tiande)
        await api.client.post(
            f"/api/v1/items/{exempt.json()['id']}/withdraw",
            json={"reason": "内容有误"},
            headers=staff.editor,
        )
        actions = [
            (e.action, e.outcome) for e in await AuditEvent.all().order_by("id") if e.token_id
        ]
        assert actions == [
            ("item.queued", "ok"),
            ("item.cancelled", "ok"),
            ("settings.wechat", "ok"),
            ("register.created", "ok"),
            ("org.created", "ok"),
            ("item.queued", "ok"),
            ("item.withdrawn", "ok"),
        ]
        settings = (await _events("settings.wechat"))[0]
        assert settings.detail["secrets_changed"] == ["secret"]
        assert "s" * 32 not in str(settings.detail)  # the secret itself is never logged

    async def test_a_change_and_its_audit_row_commit_together(
        self, staff: Staff, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """If the audit row cannot be written, the change is rolled back with it."""
        item = await staff.queue(staff.editor)

        async def broken(*args: Any, **kwargs: Any) -> AuditEvent:
            raise RuntimeError("audit table unavailable")

        monkeypatch.setattr("storage.audit.record", broken)
        with pytest.raises(RuntimeError):
            await staff.act(item["id"], "approve", {"checks": CHECKS}, staff.reviewer)
        assert await _status(item["id"]) == "in_review"
        assert {d.next_attempt_at for d in await Delivery.filter(item_id=item["id"])} == {None}


class TestImports:
    """Finding 5: 补录 writes published ledger rows, so only an admin may, within the
    organization's reporting years, and the rows stay marked."""

    async def test_an_editor_cannot_import(self, staff: Staff) -> None:
        response = await staff.api.client.post(
            "/api/v1/imports", json={"items": [IMPORTED]}, headers=staff.editor
        )
        assert response.status_code == 403
        assert await Item.all().count() == 0
        assert await Publication.all().count() == 0
        [denied] = await _events("item.imported")
        assert (denied.outcome, denied.token_id) == ("denied", staff.ids["编辑甲"])

    @pytest.mark.parametrize(
        ("published_at", "words"),
        [
            ("2099-01-01T10:00:00+08:00", "future"),
            ("2007-12-31T10:00:00+08:00", "before 2008"),
        ],
    )
    async def test_dates_outside_the_reporting_years_are_refused(
        self, staff: Staff, published_at: str, words: str
    ) -> None:
        good = {**IMPORTED}
        bad = {**IMPORTED, "published_at": published_at}
        response = await staff.api.client.post(
            "/api/v1/imports", json={"items": [good, bad]}, headers=staff.admin
        )
        assert response.status_code == 422, response.text
        assert _fields(response) == ["items.1.published_at"]
        assert words in response.json()["detail"][0]["msg"]
        assert await Item.all().count() == 0
        assert await Publication.all().count() == 0

    async def test_the_organizations_first_reporting_year_bounds_imports(
        self, staff: Staff
    ) -> None:
        await Organization.filter(code="tiande").update(first_report_year=2017)
        response = await staff.api.client.post(
            "/api/v1/imports", json={"items": [IMPORTED]}, headers=staff.admin
        )
        assert response.status_code == 422
        assert "before 2017" in response.json()["detail"][0]["msg"]

    async def test_imported_rows_are_marked_and_counted_apart(self, staff: Staff) -> None:
        accepted = await staff.api.client.post(
            "/api/v1/imports", json={"items": [IMPORTED, IMPORTED]}, headers=staff.admin
        )
        assert accepted.status_code == 201, accepted.text
        assert {p.imported for p in await Publication.all()} == {True}
        item = await staff.queue(staff.api.tiande)  # review-exempt: published here, today
        await staff.api.runtime.dispatcher.run_until_idle()
        assert not (await Publication.get(item_id=item["id"])).imported
        reports = "/api/v1/reports/tiande/{}/channels"
        back = await staff.api.client.get(reports.format(2016), headers=staff.reviewer)
        assert (back.json()["total"], back.json()["backfilled_items"]) == (2, 2)
        year = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8))).year
        now = await staff.api.client.get(reports.format(year), headers=staff.reviewer)
        assert (now.json()["total"], now.json()["backfilled_items"]) == (1, 0)
        imported = await _events("item.imported")
        assert [(e.outcome, e.detail["补录"]) for e in imported] == [("ok", True), ("ok", True)]
        assert {e.target.split()[0] for e in imported} == {
            f"item:{i['id']}" for i in accepted.json()
        }
