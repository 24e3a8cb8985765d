"""The console's security promises, on both databases: sessions, organization scope, CSRF,
inert XSS payloads, the review gate's second person, and the sign-in rate limit."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from bot import submission
from bot.app import Runtime
from bot.console import ROUTERS
from bot.publishing import ItemInput
from bot.settings import Settings
from bot.web import create_app
from storage import users
from storage.console_models import LoginFailure, User
from storage.db import connection
from storage.models import Delivery, Item, Organization
from storage.review_models import Review
from tests.integration.helpers import dispatcher

PASSWORD = "correct-horse-1"
HTML = {"Accept": "text/html"}
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
CHECKS = ("保密", "个人信息", "敏感词与错别字", "导向")
XSS = {
    "title": "<script>alert('t')</script>标题",
    "summary": '"><img src=x onerror=alert("s")>概述',
    "category": "<svg onload=alert('c')>分类",
    "body": "正文 <script>alert('b')</script> <a href=\"javascript:alert('a')\">点</a>",
}
RAW_PAYLOADS = ("<script>alert(", "<img src=x", "<svg onload", 'href="javascript:')


@dataclass
class World:
    app: FastAPI
    transport: httpx.ASGITransport
    orgs: dict[str, Organization]
    users: dict[str, User]

    @property
    def runtime(self) -> Runtime:
        runtime: Runtime = self.app.state.runtime
        return runtime

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=self.transport, base_url="http://gongkai.test", headers=HTML
        )

    @contextlib.asynccontextmanager
    async def login(self, username: str) -> AsyncIterator[httpx.AsyncClient]:
        async with self.client() as client:
            response = await post(client, "/console/login", username=username, password=PASSWORD)
            assert response.status_code == 303, response.text
            yield client

    async def item(self, org: str, author: str, **fields: str) -> Item:
        user = self.users[author]
        data = ItemInput(
            org=self.orgs[org],
            title=fields.get("title", f"{org} 的通知"),
            body=fields.get("body", "正文。"),
            summary=fields.get("summary", ""),
            category=fields.get("category", ""),
            channels=["website", "noticeboard"],
            author=user.display_name,
            author_user_id=user.id,
        )
        return await submission.submit(data, channels=self.runtime.channels, max_body_bytes=100_000)


async def csrf_of(client: httpx.AsyncClient, path: str) -> str:
    page = await client.get(path)
    found = CSRF_RE.search(page.text)
    assert found, page.text
    return found.group(1)


async def post(
    client: httpx.AsyncClient, path: str, *, csrf_from: str = "/console/login", **data: str
) -> httpx.Response:
    return await client.post(path, data={"csrf_token": await csrf_of(client, csrf_from), **data})


def approval(**extra: str) -> dict[str, str | list[str]]:
    return {"check": list(CHECKS), **extra}


@pytest.fixture
async def world(settings: Settings) -> AsyncIterator[World]:
    """Two townships under a county; in each an editor, a reviewer and an administrator."""
    app = create_app(settings, run_worker=False)
    async with app.router.lifespan_context(app):
        # The shared PostgreSQL reset truncates only the older tables: start clean here.
        await connection().execute_query("DELETE FROM audit_event")
        await connection().execute_query("DELETE FROM review")
        await LoginFailure.all().delete()
        await User.all().delete()
        county = await Organization.create(code="shulan", name="舒兰市人民政府")
        tiande = await Organization.create(code="tiande", name="天德乡人民政府", parent=county)
        lianhe = await Organization.create(code="lianhe", name="联合乡人民政府", parent=county)
        orgs = {"tiande": tiande, "lianhe": lianhe}
        people: dict[str, User] = {}
        digest = await users.hash_password(PASSWORD)  # one hash for all: argon2 is slow
        for username, name, org, role in [
            ("td_editor", "王编辑", tiande, "editor"),
            ("td_reviewer", "李审核", tiande, "reviewer"),
            ("td_admin", "张管理", tiande, "admin"),
            ("lh_editor", "钱编辑", lianhe, "editor"),
            ("lh_reviewer", "孙审核", lianhe, "reviewer"),
        ]:
            people[username] = await User.create(
                username=username, display_name=name, password_hash=digest
            )
            await users.set_role(people[username], org, role)
        yield World(app, httpx.ASGITransport(app=app), orgs, people)


def console_routes() -> list[tuple[str, str]]:
    """Every console route as (method, path template), from bot.console.ROUTERS."""
    found = []
    for router in ROUTERS:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            found += [(method, "/console" + route.path) for method in sorted(route.methods or ())]
    return found


def fill(path: str, **ids: int) -> str:
    """A route's path with its parameters filled in (ids given, else 1)."""
    path = path.replace("{section}", "items").replace("{kind}", "docx")
    path = path.replace("{target}", "wechat").replace("{year}", "2024")
    return re.sub(r"\{(\w+)\}", lambda m: str(ids.get(m.group(1), 1)), path)


class TestWithoutSession:
    async def test_every_console_route_redirects_or_answers_401(self, world: World) -> None:
        routes = [(m, fill(p)) for m, p in console_routes() if p != "/console/login"]
        assert any(p.startswith("/console/review/") for _, p in routes)
        assert any(p.startswith("/console/report/") for _, p in routes)
        async with world.client() as client:
            for method, path in routes:
                page = await client.request(method, path)
                assert page.status_code == 303, (method, path, page.status_code)
                assert page.headers["location"].startswith("/console/login?next=/console")
                script = await client.request(method, path, headers={"HX-Request": "true"})
                assert script.status_code == 401, (method, path)


class TestOrganizationScope:
    async def test_tiande_staff_get_404_for_every_lianhe_id(self, world: World) -> None:
        theirs = await world.item("lianhe", "lh_editor", title="联合乡内部事项")
        delivery = await Delivery.filter(item_id=theirs.id).first()
        assert delivery is not None
        routes = [(m, p) for m, p in console_routes() if re.search(r"\{(item|delivery)_id\}", p)]
        assert len(routes) >= 8
        form = {"reason": "紧急情况，必须立即发布！！", "comment": "x", "check": "保密"}
        for username in ("td_editor", "td_reviewer", "td_admin"):
            async with world.login(username) as client:
                data = {"csrf_token": await csrf_of(client, "/console/"), **form}
                for method, template in routes:
                    answers = []
                    for item_id, delivery_id in ((theirs.id, delivery.id), (99999, 99999)):
                        path = fill(template, item_id=item_id, delivery_id=delivery_id)
                        sent = data if method == "POST" else None
                        response = await client.request(method, path, data=sent)
                        assert "联合乡内部事项" not in response.text
                        answers.append(response.status_code)
                    # Another township's id answers exactly as an id that does not exist
                    # (a role a section needs is refused with 403 before any lookup).
                    assert answers[0] == answers[1], (username, method, template, answers)
                    assert answers[0] in (403, 404), (username, method, template, answers)
                    if username == "td_admin":  # holds every role: only scope can refuse
                        assert answers[0] == 404, (username, method, template, answers)
                org_id = str(world.orgs["lianhe"].id)
                switch = await post(client, "/console/org", csrf_from="/console/", org_id=org_id)
                assert switch.status_code == 404
        assert (await Item.get(id=theirs.id)).status == "in_review"
        assert not await Review.filter(item_id=theirs.id).exists()

    async def test_review_lists_and_reports_show_only_ones_own_organization(
        self, world: World
    ) -> None:
        await world.item("lianhe", "lh_editor", title="联合乡内部事项")
        await world.item("tiande", "td_editor", title="天德乡春耕通知")
        async with world.login("td_reviewer") as client:
            client.cookies.set("gk_org", str(world.orgs["lianhe"].id), path="/console")
            for path in ("/console/review", "/console/", "/console/report/2024/items"):
                page = await client.get(path)
                assert page.status_code == 200, path
                assert "联合乡内部事项" not in page.text
                assert "联合乡人民政府" not in page.text
            assert "天德乡春耕通知" in (await client.get("/console/review")).text

    async def test_a_form_cannot_write_into_another_organization(self, world: World) -> None:
        async with world.login("td_editor") as client:
            response = await post(
                client,
                "/console/items",
                csrf_from="/console/items/new",
                org=str(world.orgs["lianhe"].id),
                org_id=str(world.orgs["lianhe"].id),
                organization="lianhe",
                title="伪造的联合乡信息",
                body="正文",
                channels="website",
            )
            assert response.status_code in (303, 400)
        assert not await Item.filter(organization_id=world.orgs["lianhe"].id).exists()


class TestCsrf:
    async def test_a_decision_without_the_token_is_refused(self, world: World) -> None:
        item = await world.item("tiande", "td_editor")
        async with world.login("td_reviewer") as client:
            for data in (approval(), approval(csrf_token="forged")):
                response = await client.post(f"/console/review/{item.id}/approve", data=data)
                assert response.status_code == 403
                assert "安全校验未通过" in response.text
            async with world.login("td_admin") as admin:
                response = await admin.post(
                    "/console/channels/wechat", data={"appid": "wx0123456789abcdef"}
                )
                assert response.status_code == 403
        assert (await Item.get(id=item.id)).status == "in_review"


class TestXss:
    async def test_payloads_are_inert_on_review_dashboard_and_report(self, world: World) -> None:
        item = await world.item("tiande", "td_editor", **XSS)
        async with world.login("td_reviewer") as client:
            pages = ["/console/review", f"/console/review/{item.id}", "/console/"]
            for path in pages:
                assert_inert(await client.get(path), path)
            token = await csrf_of(client, f"/console/review/{item.id}")
            approved = await client.post(
                f"/console/review/{item.id}/approve",
                data=approval(csrf_token=token, comment="<script>alert('c')</script>"),
            )
            assert approved.status_code == 303, approved.text
            await dispatcher(world.runtime.channels).run_until_idle(limit_seconds=20)
            year = dt.datetime.now(dt.UTC).year
            report = await client.get(f"/console/report/{year}/items?bucket=website")
            assert "&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt;标题" in report.text
            for path in (f"/console/report?year={year}", f"/console/review/{item.id}", "/console/"):
                assert_inert(await client.get(path), path)
            assert_inert(report, "report items")


def assert_inert(page: httpx.Response, where: str) -> None:
    assert page.status_code == 200, (where, page.status_code)
    for payload in RAW_PAYLOADS:
        assert payload not in page.text, (where, payload)


class TestReviewGate:
    async def test_an_author_cannot_approve_their_own_item(self, world: World) -> None:
        item = await world.item("tiande", "td_admin", title="管理员自己写的通知")
        async with world.login("td_admin") as client:
            page = await client.get(f"/console/review/{item.id}")
            assert "作者不能审核自己的信息" in page.text
            assert f"/console/review/{item.id}/approve" not in page.text
            assert f"/console/review/{item.id}/reject" not in page.text
            listing = await client.get("/console/review")
            assert "管理员自己写的通知" not in listing.text
            assert "1 条您撰写的信息" in listing.text
            token = await csrf_of(client, f"/console/review/{item.id}")
            for action in ("approve", "reject"):
                response = await client.post(
                    f"/console/review/{item.id}/{action}",
                    data=approval(csrf_token=token, comment="自己通过"),
                )
                assert response.status_code == 403, action
        assert (await Item.get(id=item.id)).status == "in_review"
        assert not await Review.filter(item_id=item.id).exists()

    async def test_a_flagged_item_needs_a_reason_and_each_check_is_recorded(
        self, world: World
    ) -> None:
        item = await world.item("tiande", "td_editor", body="联系人手机 13812345678。")
        async with world.login("td_reviewer") as client:
            page = await client.get(f"/console/review/{item.id}")
            assert "13812345678</mark>" in page.text
            token = await csrf_of(client, f"/console/review/{item.id}")
            missing = await client.post(
                f"/console/review/{item.id}/approve", data=approval(csrf_token=token)
            )
            assert missing.status_code == 400
            assert 'id="e-override_reason"' in missing.text
            rejected = await client.post(
                f"/console/review/{item.id}/reject", data={"csrf_token": token}
            )
            assert rejected.status_code == 400
            assert 'id="e-comment"' in rejected.text
            done = await client.post(
                f"/console/review/{item.id}/approve",
                data=approval(csrf_token=token, override_reason="村委会公开的办公电话"),
            )
            assert done.status_code == 303
        review = await Review.get(item_id=item.id)
        assert (review.decision, review.reviewer_name) == ("approved", "李审核")
        assert review.reviewer_id == world.users["td_reviewer"].id
        assert set(review.checked_at) == set(CHECKS)
        assert all(review.checks.values())
        assert (await Item.get(id=item.id)).status == "active"

    async def test_an_editor_cannot_review_and_only_admins_force(self, world: World) -> None:
        item = await world.item("tiande", "td_editor")
        async with world.login("td_editor") as client:
            assert (await client.get(f"/console/review/{item.id}")).status_code == 403
        async with world.login("td_reviewer") as client:
            forced = await post(
                client,
                f"/console/review/{item.id}/force",
                csrf_from=f"/console/review/{item.id}",
                reason="防汛紧急通知，必须立即发布",
            )
            assert forced.status_code == 403
        assert (await Item.get(id=item.id)).status == "in_review"

    async def test_an_administrator_cannot_force_publish_their_own_item(self, world: World) -> None:
        """紧急发布 skips the review: never by the item's author, whatever their role."""
        item = await world.item("tiande", "td_admin", title="防汛紧急通知")
        page = f"/console/review/{item.id}"
        async with world.login("td_admin") as admin:
            assert f"{page}/force" not in (await admin.get(page)).text
            forced = await post(
                admin, f"{page}/force", csrf_from=page, reason="今晚暴雨，须立即通知群众转移"
            )
            assert forced.status_code == 403
            assert "作者不能紧急发布" in forced.text
        assert (await Item.get(id=item.id)).status == "in_review"

    async def test_force_publish_needs_a_reason_and_leaves_a_post_review(
        self, world: World
    ) -> None:
        item = await world.item("tiande", "td_editor", title="防汛紧急通知")
        page = f"/console/review/{item.id}"
        async with world.login("td_admin") as admin:
            assert "紧急发布" in (await admin.get(page)).text
            short = await post(admin, f"{page}/force", csrf_from=page, reason="紧急")
            assert short.status_code == 400
            assert 'id="e-reason"' in short.text
            done = await post(
                admin, f"{page}/force", csrf_from=page, reason="今晚暴雨，须立即通知群众转移"
            )
            assert done.status_code == 303
            assert (await Item.get(id=item.id)).status == "active"
            mine = await admin.get(page)
            assert f"{page}/post-review" not in mine.text  # the forcer cannot close it
        async with world.login("td_reviewer") as client:
            assert "防汛紧急通知" in (await client.get("/console/review")).text
            closed = await client.post(
                f"{page}/post-review", data=approval(csrf_token=await csrf_of(client, page))
            )
            assert closed.status_code == 303
            assert f'href="{page}"' not in (await client.get("/console/review")).text
        decisions = (
            await Review.filter(item_id=item.id).order_by("id").values_list("decision", flat=True)
        )
        assert list(decisions) == ["forced", "post_review"]  # type: ignore[comparison-overlap]  # tortoise types flat values_list rows as tuples


class TestChannelSecrets:
    async def test_secrets_are_never_echoed(self, world: World) -> None:
        secret = "S3cretValue0123456789abcdef"
        async with world.login("td_admin") as client:
            saved = await post(
                client,
                "/console/channels/wechat",
                csrf_from="/console/channels",
                appid="wx0123456789abcdef",
                secret=secret,
                mode="broadcast",
                account_kind="subscription",
                broadcast_time="18:00",
            )
            assert saved.status_code == 303, saved.text
            page = await client.get("/console/channels")
            assert "wx0123456789abcdef" in page.text
            assert secret not in page.text
            assert "当前：已设置" in page.text
            bad = await post(
                client,
                "/console/channels/wechat",
                csrf_from="/console/channels",
                appid="not-an-appid",
                secret=secret + "x",
                mode="broadcast",
                account_kind="subscription",
                broadcast_time="18:00",
            )
            assert bad.status_code == 400
            assert secret not in bad.text
            assert 'id="e-appid"' in bad.text
            audit = await client.get("/console/audit")
            assert "修改微信公众号设置" in audit.text
            assert secret not in audit.text
        async with world.login("td_reviewer") as client:
            assert (await client.get("/console/channels")).status_code == 403


class TestReportDownloads:
    async def test_the_report_downloads_are_the_current_organizations(self, world: World) -> None:
        async with world.login("td_editor") as client:
            client.cookies.set("gk_org", str(world.orgs["lianhe"].id), path="/console")
            docx = await client.get("/console/report/2024/annual.docx?format=2021")
            assert docx.status_code == 200
            assert docx.content[:2] == b"PK"
            assert 'filename="tiande-2024-annual-2021.docx"' in docx.headers["content-disposition"]
            data = await client.get("/console/report/2024/annual.json")
            assert data.status_code == 200
            assert "attachment" in data.headers["content-disposition"]
            assert (await client.get("/console/report/2024/annual.exe")).status_code == 404
            assert (await client.get("/console/report/1999/annual.md")).status_code == 404


class TestLoginRateLimit:
    async def test_the_sixth_attempt_is_locked(self, world: World) -> None:
        async with world.client() as client:
            for _ in range(5):
                await post(client, "/console/login", username="td_editor", password="guess")
            locked = await post(client, "/console/login", username="td_editor", password=PASSWORD)
            assert locked.status_code == 429
