"""Server-side console sessions (issue 8, finding 7): a copied cookie dies with its session.

Signing out, changing the password (the other sessions), an administrator and a
deactivation end sessions for good; the user sees and ends their own sessions; a dead
database while looking a session up is a Chinese 503 page.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from bot.console import session as console_session
from bot.settings import Settings
from bot.web import create_app
from storage import users
from storage.console_models import AuditEvent, ConsoleSession, User
from storage.models import Organization
from tests.conftest import PG_URL, _prepare_postgres
from tests.fakes.tcp_proxy import TcpProxy
from tests.integration.console_world import (
    HTML,
    PASSWORD,
    PHONE,
    World,
    change_password,
    post_form,
    sign_in,
    world,
)

__all__ = ["world"]  # the fixture


def copy_of(client: httpx.AsyncClient, world: World, ip: str = "10.9.9.9") -> httpx.AsyncClient:
    """Another browser holding the same session cookie (a stolen or copied cookie)."""
    thief = world.client(ip)
    thief.cookies.set("gk_session", client.cookies["gk_session"], path="/console")
    return thief


class TestSignOut:
    async def test_a_copied_cookie_stops_working_after_sign_out(self, world: World) -> None:
        async with world.client() as client:
            await client.get("/console/login")
            anonymous = client.cookies["gk_session"]
            assert (await sign_in(client, "td_editor", PASSWORD)).status_code == 303
            cookie = client.cookies["gk_session"]
            assert cookie != anonymous  # a new id at sign-in: no session fixation
            async with copy_of(client, world) as thief:
                assert (await thief.get("/console/")).status_code == 200  # a live copy works
                out = await post_form(client, "/console/logout")
                assert out.status_code == 303
                page = await thief.get("/console/")
                assert page.status_code == 303
                assert page.headers["location"].startswith("/console/login")
                assert (await thief.get("/console/items")).status_code == 303
        row = await ConsoleSession.get(user_id=world.users["td_editor"].id)
        assert row.ended_at is not None
        assert row.end_reason == "logout"
        # Only a hash of the id is stored, and the cookie holds nothing but the id.
        assert row.key_hash == hashlib.sha256(cookie.encode()).hexdigest()
        assert "." not in cookie
        assert len(cookie) < 64
        event = await AuditEvent.get(action="logout")
        assert event.target == f"session:{row.id}"

    async def test_the_session_records_address_and_browser(self, world: World) -> None:
        async with world.login("td_editor", ip="192.168.3.7", agent=PHONE):
            pass
        row = await ConsoleSession.get(user_id=world.users["td_editor"].id)
        assert (row.ip, row.last_ip) == ("192.168.3.7", "192.168.3.7")
        assert "Android" in row.user_agent
        assert row.created_at is not None
        assert row.last_seen_at is not None


class TestPasswordChange:
    async def test_a_password_change_ends_every_other_session(self, world: World) -> None:
        new = "Spring-planting-42"
        async with (
            world.login("td_editor", ip="10.0.0.1") as office,
            world.login("td_editor", ip="10.0.0.2", agent=PHONE) as phone,
            world.login("td_admin") as admin,
            copy_of(office, world) as thief,
        ):
            response = await change_password(office, PASSWORD, new)
            assert response.status_code == 303, response.text
            home = await office.get("/console/")  # this one stays
            assert home.status_code == 200
            assert "其他设备上的 1 个登录已全部退出" in home.text
            assert (await thief.get("/console/")).status_code == 200  # same session
            assert (await phone.get("/console/")).status_code == 303
            assert (await admin.get("/console/")).status_code == 200  # another user's
        event = await AuditEvent.get(action="password.changed")
        assert event.detail["other_sessions_ended"] == 1
        ended = await ConsoleSession.filter(end_reason="password_changed").values_list(
            "ip", flat=True
        )
        assert ended == ["10.0.0.2"]  # type: ignore[comparison-overlap]  # tortoise types flat values_list rows as tuples


class TestAdministrators:
    async def test_an_administrator_ends_a_users_sessions(self, world: World) -> None:
        clerk = world.users["td_clerk"]
        async with world.login("td_clerk") as one, world.login("td_clerk", agent=PHONE) as two:
            async with world.login("td_admin") as admin:
                detail = await admin.get(f"/console/users/{clerk.id}")
                assert "结束全部 2 个登录会话" in detail.text
                response = await post_form(admin, f"/console/users/{clerk.id}/sessions/end")
                assert response.status_code == 303
                assert (await admin.get("/console/")).status_code == 200
            for client in (one, two):
                assert (await client.get("/console/")).status_code == 303
        event = await AuditEvent.get(action="user.sessions_ended")
        assert (event.username, event.detail["count"]) == ("td_admin", 2)
        assert event.target.startswith(f"user:{clerk.id}")

    async def test_another_townships_administrator_cannot_end_them(self, world: World) -> None:
        clerk = world.users["td_clerk"]
        async with world.login("td_clerk") as victim, world.login("lh_admin") as other:
            response = await post_form(other, f"/console/users/{clerk.id}/sessions/end")
            assert response.status_code == 404
            assert (await victim.get("/console/")).status_code == 200
        assert not await AuditEvent.exists(action="user.sessions_ended")

    async def test_deactivating_a_user_ends_all_their_sessions(self, world: World) -> None:
        clerk = world.users["td_clerk"]
        async with world.login("td_clerk") as victim, world.login("td_admin") as admin:
            response = await post_form(admin, f"/console/users/{clerk.id}/active", active="0")
            assert response.status_code == 303
            assert (await victim.get("/console/")).status_code == 303
        row = await ConsoleSession.get(user_id=clerk.id)
        assert row.end_reason == "deactivated"
        event = await AuditEvent.get(action="user.deactivated")
        assert event.detail["sessions_ended"] == 1
        # Enabled again, the old cookie still does not come back.
        async with world.login("td_admin") as admin:
            await post_form(admin, f"/console/users/{clerk.id}/active", active="1")
        assert (await User.get(id=clerk.id)).is_active
        assert await ConsoleSession.filter(user_id=clerk.id, ended_at__isnull=True).count() == 0


class TestMySessions:
    async def test_the_user_sees_and_ends_their_own_sessions(self, world: World) -> None:
        async with (
            world.login("td_editor", ip="10.1.1.1") as office,
            world.login("td_editor", ip="10.2.2.2", agent=PHONE) as phone,
            world.login("td_admin", ip="10.3.3.3"),
        ):
            page = await office.get("/console/sessions")
            assert page.status_code == 200
            assert "我的登录会话" in page.text
            assert "10.1.1.1" in page.text
            assert "10.2.2.2" in page.text
            assert "10.3.3.3" not in page.text  # someone else's
            assert "当前设备" in page.text
            assert "安卓手机 · 微信" in page.text
            phone_row = await ConsoleSession.get(ip="10.2.2.2")
            admin_row = await ConsoleSession.get(ip="10.3.3.3")
            # Not someone else's session.
            refused = await post_form(office, f"/console/sessions/{admin_row.id}/end")
            assert refused.status_code == 404
            ended = await post_form(office, f"/console/sessions/{phone_row.id}/end")
            assert ended.status_code == 303
            assert (await phone.get("/console/")).status_code == 303
            assert (await office.get("/console/")).status_code == 200
            assert "10.2.2.2" not in (await office.get("/console/sessions")).text
        assert (await ConsoleSession.get(id=admin_row.id)).ended_at is None
        assert (await AuditEvent.get(action="session.ended")).detail["session"] == phone_row.id

    async def test_ending_the_current_session_signs_out(self, world: World) -> None:
        async with world.login("td_editor") as client:
            row = await ConsoleSession.get(user_id=world.users["td_editor"].id)
            response = await post_form(client, f"/console/sessions/{row.id}/end")
            assert response.headers["location"] == "/console/login"
            assert (await client.get("/console/")).status_code == 303


class TestLifetimes:
    async def test_an_idle_session_ends_for_good(
        self, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        now = [console_session.clock()]
        monkeypatch.setattr(console_session, "clock", lambda: now[0])
        async with world.login("td_editor") as client, copy_of(client, world) as thief:
            now[0] += 31 * 60  # the default idle limit is 30 minutes
            assert (await client.get("/console/")).status_code == 303
            now[0] -= 30 * 60  # even if the clock went back, the session stays ended
            assert (await thief.get("/console/")).status_code == 303
        row = await ConsoleSession.get(user_id=world.users["td_editor"].id)
        assert row.end_reason == "idle"
        assert await AuditEvent.filter(action="session.expired").count() == 1


async def test_a_dead_database_gives_a_chinese_503_page(tmp_path: Path) -> None:
    """PostgreSQL cut off: the session cannot be looked up, and the page says so in Chinese."""
    if os.environ.get("GONGKAI_SKIP_PG") == "1":
        pytest.skip("PostgreSQL disabled for this run")
    await _prepare_postgres()
    target = urlsplit(PG_URL)
    proxy = await TcpProxy(target.hostname or "127.0.0.1", target.port or 5432).start()
    url = PG_URL.replace(f"{target.hostname}:{target.port}", f"127.0.0.1:{proxy.port}")
    app = create_app(Settings(data_dir=tmp_path / "data", database_url=url), run_worker=False)
    async with app.router.lifespan_context(app):
        org = await Organization.create(code="tiande", name="天德乡人民政府")
        user = await User.create(
            username="td_editor",
            display_name="王编辑",
            password_hash=await users.hash_password(PASSWORD),
        )
        await users.set_role(user, org, "editor")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t", headers=HTML
        ) as client:
            assert (await sign_in(client, "td_editor", PASSWORD)).status_code == 303
            await proxy.cut()
            page = await client.get("/console/items")
            assert page.status_code == 503
            assert page.headers["content-type"].startswith("text/html")
            assert "无法连接数据库" in page.text
            assert "请稍后刷新重试" in page.text
            script = await client.get("/console/items", headers={"HX-Request": "true"})
            assert script.status_code == 503
            assert "无法连接数据库" in script.json()["detail"]
