"""The 保密审查 gate over the real app, on both databases: nothing goes out unreviewed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from bot import review, submission
from bot.publishing import InputError, ItemInput
from bot.review import Reviewer, SelfReview
from storage.models import Delivery, Organization, Publication
from storage.tokens import create_token
from tests.integration.conftest import Api

ITEM: dict[str, Any] = {
    "org": "tiande",
    "title": "关于开展春季植树活动的通知",
    "body": "各村：\n\n请于3月12日前完成植树任务。",
    "channels": ["website"],
}
CHECKS = {"保密": True, "个人信息": True, "敏感词与错别字": True, "导向": True}


@dataclass
class Gate:
    api: Api
    author: dict[str, str]  # a tiande editor's ordinary (not exempt) token
    reviewer: dict[str, str]  # a tiande reviewer's token
    other_org: dict[str, str]  # lianhe's reviewer token
    admin: dict[str, str]  # a tiande administrator's token (紧急发布)
    commits: list[int]

    async def queue(self, **changes: Any) -> dict[str, Any]:
        response = await self.api.client.post(
            "/api/v1/items", json={**ITEM, **changes}, headers=self.author
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

    async def item(self, item_id: int) -> dict[str, Any]:
        response = await self.api.client.get(f"/api/v1/items/{item_id}", headers=self.reviewer)
        data: dict[str, Any] = response.json()
        return data


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def gate(api: Api, monkeypatch: pytest.MonkeyPatch) -> Gate:
    """Ordinary tokens for an author, a reviewer and another township; website commits spied."""
    tiande = await Organization.get(code="tiande")
    lianhe = await Organization.get(code="lianhe")
    website = api.runtime.channels["website"]
    commits: list[int] = []
    original = website.commit

    async def spy(pub: Any, prepared: Any) -> Any:
        commits.append(pub.item_id)
        return await original(pub, prepared)

    monkeypatch.setattr(website, "commit", spy)
    return Gate(
        api,
        author=_bearer(await create_token("天德乡编辑甲", tiande, role="editor")),
        reviewer=_bearer(await create_token("天德乡审核乙", tiande, role="reviewer")),
        other_org=_bearer(await create_token("联合乡审核", lianhe, role="reviewer")),
        admin=_bearer(await create_token("天德乡管理员丙", tiande, role="admin")),
        commits=commits,
    )


def _fields(response: Any) -> list[str]:
    return [".".join(str(p) for p in e["loc"][1:]) for e in response.json()["detail"]]


async def _held(item_id: int) -> bool:
    deliveries = await Delivery.filter(item_id=item_id)
    return all(
        d.state == "pending" and d.next_attempt_at is None and d.attempts == 0 for d in deliveries
    )


class TestHeldUntilApproved:
    async def test_nothing_goes_out_until_a_second_token_approves(self, gate: Gate) -> None:
        """Queued by an ordinary token the item waits; its author cannot approve it."""
        item = await gate.queue()
        assert item["status"] == "in_review"
        assert item["deliveries"][0]["next_attempt_at"] is None
        await gate.api.runtime.dispatcher.run_until_idle()
        assert gate.commits == []
        assert await _held(item["id"])
        assert await Publication.all().count() == 0
        pending = await gate.api.client.get("/api/v1/reviews/pending", headers=gate.reviewer)
        assert [i["id"] for i in pending.json()["in_review"]] == [item["id"]]

        own = await gate.act(item["id"], "approve", {"checks": CHECKS}, gate.author)
        assert own.status_code == 403  # an editor's token does not review (审核 or 管理员 does)
        assert "reviewer" in own.text
        assert (await gate.item(item["id"]))["status"] == "in_review"

        approved = await gate.act(item["id"], "approve", {"checks": CHECKS}, gate.reviewer)
        assert approved.status_code == 200, approved.text
        body = approved.json()
        assert body["item"]["status"] == "active"
        assert body["review"]["decision"] == "approved"
        assert body["review"]["reviewer_name"] == "天德乡审核乙"
        assert body["review"]["checks"] == CHECKS
        assert set(body["review"]["checked_at"]) == set(CHECKS)
        await gate.api.runtime.dispatcher.run_until_idle()
        assert gate.commits == [item["id"]]
        assert (await gate.item(item["id"]))["deliveries"][0]["state"] == "published"
        again = await gate.act(item["id"], "approve", {"checks": CHECKS}, gate.reviewer)
        assert again.status_code == 409

    async def test_every_check_is_required_and_named(self, gate: Gate) -> None:
        item = await gate.queue()
        missing = {k: v for k, v in CHECKS.items() if k != "导向"}
        response = await gate.act(item["id"], "approve", {"checks": missing}, gate.reviewer)
        assert response.status_code == 422
        assert _fields(response) == ["checks.导向"]
        unticked = {**CHECKS, "个人信息": False}
        response = await gate.act(item["id"], "approve", {"checks": unticked}, gate.reviewer)
        assert _fields(response) == ["checks.个人信息"]
        unknown = {**CHECKS, "其他": True}
        response = await gate.act(item["id"], "approve", {"checks": unknown}, gate.reviewer)
        assert _fields(response) == ["checks.其他"]
        assert await _held(item["id"])

    async def test_flagged_content_needs_an_override_reason(self, gate: Gate) -> None:
        body = "联系人：张三，电话13812345678，身份证11010519491231002X。"
        item = await gate.queue(body=body)
        scan = await gate.api.client.get(f"/api/v1/items/{item['id']}/scan", headers=gate.reviewer)
        assert [f["kind"] for f in scan.json()["findings"]] == ["mobile", "id_number"]
        assert "<mark" in scan.json()["html"]["body"]
        refused = await gate.act(item["id"], "approve", {"checks": CHECKS}, gate.reviewer)
        assert refused.status_code == 422
        assert _fields(refused) == ["override_reason"]
        assert await _held(item["id"])
        reason = "联系电话为乡政府公开的值班电话，身份证号为示例号码"
        body_in = {"checks": CHECKS, "override_reason": reason}
        approved = await gate.act(item["id"], "approve", body_in, gate.reviewer)
        assert approved.status_code == 200, approved.text
        recorded = approved.json()["review"]
        assert recorded["override_reason"] == reason
        assert [f["text"] for f in recorded["findings"]] == ["13812345678", "11010519491231002X"]


class TestRejectAndForce:
    async def test_a_rejection_goes_back_with_its_comment(self, gate: Gate) -> None:
        """Rejected: nothing publishes; the author edits in place and it is reviewed again."""
        item = await gate.queue()
        no_comment = await gate.act(item["id"], "reject", {"comment": " "}, gate.reviewer)
        assert _fields(no_comment) == ["comment"]
        rejected = await gate.act(item["id"], "reject", {"comment": "日期有误"}, gate.reviewer)
        assert rejected.status_code == 200
        assert rejected.json()["item"]["status"] == "rejected"
        assert rejected.json()["review"]["comment"] == "日期有误"
        await gate.api.runtime.dispatcher.run_until_idle()
        assert gate.commits == []
        assert await _held(item["id"])
        trail = await gate.api.client.get(
            f"/api/v1/items/{item['id']}/reviews", headers=gate.author
        )
        assert [(r["decision"], r["comment"]) for r in trail.json()] == [("rejected", "日期有误")]

        fixed = {**ITEM, "body": "各村：\n\n请于3月15日前完成植树任务。"}
        edited = await gate.api.client.post(
            f"/api/v1/items/{item['id']}/revisions", json=fixed, headers=gate.author
        )
        assert edited.status_code == 201, edited.text
        assert (edited.json()["id"], edited.json()["revision"]) == (item["id"], 1)
        assert edited.json()["status"] == "in_review"
        assert await Delivery.filter(item_id=item["id"]).count() == 1
        approved = await gate.act(item["id"], "approve", {"checks": CHECKS}, gate.reviewer)
        assert approved.status_code == 200
        await gate.api.runtime.dispatcher.run_until_idle()
        assert gate.commits == [item["id"]]

    async def test_force_publish_then_post_review(self, gate: Gate) -> None:
        """An administrator (not the author) force-publishes; a reviewer closes the post review."""
        item = await gate.queue()
        short = await gate.act(item["id"], "force-publish", {"reason": "急"}, gate.admin)
        assert _fields(short) == ["reason"]
        reason = "暴雨红色预警，须立即通知各村转移群众"
        forced = await gate.act(item["id"], "force-publish", {"reason": reason}, gate.admin)
        assert forced.status_code == 200, forced.text
        assert forced.json()["item"]["status"] == "active"
        assert forced.json()["review"]["decision"] == "forced"
        await gate.api.runtime.dispatcher.run_until_idle()
        assert gate.commits == [item["id"]]

        pending = await gate.api.client.get("/api/v1/reviews/pending", headers=gate.reviewer)
        assert [i["id"] for i in pending.json()["post_review"]] == [item["id"]]
        own = await gate.act(item["id"], "post-review", {"checks": CHECKS}, gate.author)
        assert own.status_code == 403
        forcer = await gate.act(item["id"], "post-review", {"checks": CHECKS}, gate.admin)
        assert forcer.status_code == 403
        done = await gate.act(item["id"], "post-review", {"checks": CHECKS}, gate.reviewer)
        assert done.status_code == 200, done.text
        assert done.json()["review"]["decision"] == "post_review"
        pending = await gate.api.client.get("/api/v1/reviews/pending", headers=gate.reviewer)
        assert pending.json() == {"in_review": [], "post_review": []}
        twice = await gate.act(item["id"], "post-review", {"checks": CHECKS}, gate.reviewer)
        assert twice.status_code == 409


class TestPolicy:
    async def test_an_exempt_token_publishes_at_once_with_its_upstream_review(
        self, gate: Gate
    ) -> None:
        response = await gate.api.client.post("/api/v1/items", json=ITEM, headers=gate.api.tiande)
        item = response.json()
        assert item["status"] == "active"
        await gate.api.runtime.dispatcher.run_until_idle()
        assert gate.commits == [item["id"]]
        trail = await gate.api.client.get(
            f"/api/v1/items/{item['id']}/reviews", headers=gate.author
        )
        assert [(r["decision"], r["reviewer_name"]) for r in trail.json()] == [
            ("approved", "天德乡编辑 (上游审查)")
        ]

    async def test_another_organization_cannot_review(self, gate: Gate) -> None:
        item = await gate.queue()
        for action, body in (
            ("approve", {"checks": CHECKS}),
            ("reject", {"comment": "不行"}),
            ("force-publish", {"reason": "联合乡试图紧急发布天德乡的信息"}),
        ):
            response = await gate.act(item["id"], action, body, gate.other_org)
            assert response.status_code == 404, action
        scan = await gate.api.client.get(f"/api/v1/items/{item['id']}/scan", headers=gate.other_org)
        assert scan.status_code == 404
        pending = await gate.api.client.get("/api/v1/reviews/pending", headers=gate.other_org)
        assert pending.json()["in_review"] == []
        assert await _held(item["id"])

    async def test_a_revision_of_a_published_item_waits_for_review(self, gate: Gate) -> None:
        first = await gate.queue()
        await gate.act(first["id"], "approve", {"checks": CHECKS}, gate.reviewer)
        await gate.api.runtime.dispatcher.run_until_idle()
        revised = await gate.api.client.post(
            f"/api/v1/items/{first['id']}/revisions",
            json={**ITEM, "title": "关于开展春季植树活动的通知（更正）"},
            headers=gate.author,
        )
        assert revised.status_code == 201, revised.text
        assert (revised.json()["revision"], revised.json()["status"]) == (2, "in_review")
        await gate.api.runtime.dispatcher.run_until_idle()
        assert gate.commits == [first["id"]]
        assert await _held(revised.json()["id"])

    async def test_console_users_are_compared_by_id(self, gate: Gate) -> None:
        """A console user (by id, whatever the display name) cannot approve their own item."""
        tiande = await Organization.get(code="tiande")
        data = ItemInput(
            org=tiande,
            title="通知",
            body="正文",
            channels=["website"],
            author="李明",
            author_user_id=7,
        )
        item = await submission.submit(
            data,
            channels=gate.api.runtime.channels,
            max_body_bytes=10_000,
        )
        with pytest.raises(SelfReview):
            await review.approve(item, Reviewer("另一个名字", user_id=7), CHECKS)
        with pytest.raises(InputError, match="reason"):
            await review.force_publish(item, Reviewer("李明", user_id=7), "太短")
        row = await review.approve(item, Reviewer("李明", user_id=8), CHECKS)
        assert (row.reviewer_id, row.decision) == (8, "approved")
