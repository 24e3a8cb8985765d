"""The staff console's foundation: sign-in, sessions, CSRF, rate limit, roles and org scope."""

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

from bot.console import ROUTERS
from bot.console import session as console_session
from bot.settings import Settings
from bot.web import create_app
from storage import users
from storage.console_models import AuditEvent, LoginFailure, Membership, User
from storage.db import connection
from storage.models import ApiToken, Organization
from storage.tokens import create_token

PASSWORD = "correct-horse-1"
HTML = {"Accept": "text/html"}
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Console:
    app: FastAPI
    transport: httpx.ASGITransport
    orgs: dict[str, Organization]
    users: dict[str, User]

    def client(self, base_url: str = "http://gongkai.test") -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self.transport, base_url=base_url, headers=HTML)

    @contextlib.asynccontextmanager
    async def login(
        self, username: str, password: str = PASSWORD
    ) -> AsyncIterator[httpx.AsyncClient]:
        async with self.client() as client:
            response = await post_form(
                client, "/console/login", username=username, password=password
            )
            assert response.status_code == 303, response.text
            yield client


async def csrf_of(client: httpx.AsyncClient, path: str = "/console/login") -> str:
    page = await client.get(path)
    found = CSRF_RE.search(page.text)
    assert found, page.text
    return found.group(1)


async def post_form(
    client: httpx.AsyncClient, path: str, *, csrf_from: str = "/console/login", **data: str
) -> httpx.Response:
    token = await csrf_of(client, csrf_from)
    return await client.post(path, data={"csrf_token": token, **data})


@pytest.fixture
async def console(settings: Settings) -> AsyncIterator[Console]:
    """Two townships under a county, each with an admin and an editor, and a county admin."""
    settings = settings.model_copy(update={"session_idle_minutes": 1.0})
    app = create_app(settings, run_worker=False)
    async with app.router.lifespan_context(app):
        # The shared PostgreSQL reset truncates only the older tables: start clean here.
        await connection().execute_query("DELETE FROM audit_event")
        await LoginFailure.all().delete()
        await User.all().delete()
        county = await Organization.create(code="shulan", name="舒兰市人民政府")
        tiande = await Organization.create(code="tiande", name="天德乡人民政府", parent=county)
        lianhe = await Organization.create(code="lianhe", name="联合乡人民政府", parent=county)
        people: dict[str, User] = {}
        digest = await users.hash_password(PASSWORD)  # one hash for all: argon2 is slow
        for username, name, org, role in [
            ("td_admin", "张管理", tiande, "admin"),
            ("td_editor", "王编辑", tiande, "editor"),
            ("lh_admin", "赵管理", lianhe, "admin"),
            ("lh_editor", "钱编辑", lianhe, "editor"),
            ("sl_admin", "孙管理", county, "admin"),
        ]:
            people[username] = await User.create(
                username=username, display_name=name, password_hash=digest
            )
            await users.set_role(people[username], org, role)
        transport = httpx.ASGITransport(app=app)
        yield Console(app, transport, {"tiande": tiande, "lianhe": lianhe}, people)


def _console_routes() -> list[tuple[str, str]]:
    found = []
    for router in ROUTERS:
        for route in router.routes:
            assert isinstance(route, APIRoute)
            path = "/console" + route.path.replace("{section}", "items")
            found += [(method, re.sub(r"\{\w+\}", "1", path)) for method in route.methods or ()]
    return found


class TestWithoutSession:
    async def test_every_route_redirects_pages_and_refuses_scripts(self, console: Console) -> None:
        routes = [r for r in _console_routes() if r[1] != "/console/login"]
        assert len(routes) >= 14
        async with console.client() as client:
            for method, path in routes:
                page = await client.request(method, path)
                assert page.status_code == 303, (method, path)
                assert page.headers["location"].startswith("/console/login?next=/console")
                script = await client.request(method, path, headers={"HX-Request": "true"})
                assert script.status_code == 401, (method, path)
            home = await client.get("/")
            assert (home.status_code, home.headers["location"]) == (303, "/console/")

    async def test_a_forged_cookie_is_no_session(self, console: Console) -> None:
        async with console.client() as client:
            client.cookies.set("gk_session", "eyJ1aWQiOjF9.forged.sig", path="/console")
            assert (await client.get("/console/users")).status_code == 303


class TestSignIn:
    async def test_sign_in_and_out(self, console: Console) -> None:
        client = console.client()
        async with client:
            token = await csrf_of(client)
            response = await client.post(
                "/console/login",
                data={"csrf_token": token, "username": "TD_Editor ", "password": PASSWORD},
            )
            assert (response.status_code, response.headers["location"]) == (303, "/console/")
            cookie = response.headers["set-cookie"].lower()
            assert "httponly" in cookie
            assert "samesite=lax" in cookie
            assert "path=/console" in cookie
            assert "secure" not in cookie  # plain http here
            home = await client.get("/console/")
            assert "王编辑，您好" in home.text
            assert "天德乡人民政府" in home.text
            assert "用户与角色" not in home.text  # an editor's nav has no admin links
            out = await post_form(client, "/console/logout", csrf_from="/console/")
            assert out.status_code == 303
            assert (await client.get("/console/")).status_code == 303
        assert await AuditEvent.filter(action="login.succeeded", username="td_editor").count() == 1
        assert await AuditEvent.filter(action="logout", username="td_editor").count() == 1

    async def test_the_cookie_is_secure_over_https(self, console: Console) -> None:
        async with console.client("https://gongkai.test") as client:
            response = await post_form(
                client, "/console/login", username="td_editor", password=PASSWORD
            )
            assert response.status_code == 303
            assert "secure" in response.headers["set-cookie"].lower()

    async def test_a_wrong_password_or_user_gets_the_same_generic_message(
        self, console: Console
    ) -> None:
        async with console.client() as client:
            for username in ("td_editor", "nobody"):
                response = await post_form(
                    client, "/console/login", username=username, password="wrong-password"
                )
                assert response.status_code == 400
                assert "用户名或密码错误" in response.text
            assert (await client.get("/console/")).status_code == 303
        failed = await AuditEvent.filter(action="login.failed").values_list("username", flat=True)
        assert sorted(failed) == ["nobody", "td_editor"]  # type: ignore[comparison-overlap]  # tortoise types flat values_list rows as tuples

    async def test_the_sixth_attempt_is_locked_even_with_the_right_password(
        self, console: Console
    ) -> None:
        async with console.client() as client:
            for _ in range(5):
                response = await post_form(
                    client, "/console/login", username="td_editor", password="guess"
                )
                assert response.status_code == 400
            response = await post_form(
                client, "/console/login", username="td_editor", password=PASSWORD
            )
            assert response.status_code == 429
            assert "锁定" in response.text
            assert "30 秒" in response.text  # a growing delay, not a 15-minute lock
            assert (await client.get("/console/")).status_code == 303
        assert await AuditEvent.filter(action="login.failed", username="td_editor").count() == 5
        assert await AuditEvent.filter(action="login.locked", username="td_editor").count() == 1
        assert await AuditEvent.filter(action="login.succeeded").count() == 0
        # Another user from the same address still signs in (the address limit is 20).
        async with console.login("td_admin"):
            pass

    async def test_an_address_is_locked_after_twenty_failures(self, console: Console) -> None:
        async with console.client() as client:
            for number in range(20):
                await post_form(client, "/console/login", username=f"u{number}", password="x")
            response = await post_form(
                client, "/console/login", username="td_admin", password=PASSWORD
            )
            assert response.status_code == 429

    async def test_only_argon2_hashes_are_stored(self, console: Console) -> None:
        stored = await User.get(username="td_admin")
        assert stored.password_hash.startswith("$argon2id$")
        assert PASSWORD not in stored.password_hash
        assert await users.verify("td_admin", PASSWORD) is not None
        assert await users.verify("td_admin", PASSWORD + "x") is None


class TestCsrfAndSessions:
    async def test_a_post_without_or_with_a_wrong_token_is_refused(self, console: Console) -> None:
        async with console.login("td_admin") as client:
            data = {"name": "网站对接", "org_id": str(console.orgs["tiande"].id)}
            for extra in ({}, {"csrf_token": "not-the-token"}):
                response = await client.post("/console/tokens", data={**data, **extra})
                assert response.status_code == 403
                assert "安全校验未通过" in response.text
            header = {"X-CSRF-Token": "wrong"}
            assert (
                await client.post("/console/tokens", data=data, headers=header)
            ).status_code == 403
            assert await ApiToken.all().count() == 0
            good = {"X-CSRF-Token": await csrf_of(client, "/console/tokens")}
            assert (
                await client.post("/console/tokens", data=data, headers=good)
            ).status_code == 200
            assert await ApiToken.all().count() == 1

    async def test_the_sign_in_form_needs_its_token(self, console: Console) -> None:
        async with console.client() as client:
            data = {"username": "td_admin", "password": PASSWORD}
            assert (await client.post("/console/login", data=data)).status_code == 403

    async def test_an_idle_session_ends(
        self, console: Console, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        now = [console_session.clock()]
        monkeypatch.setattr(console_session, "clock", lambda: now[0])
        async with console.login("td_editor") as client:
            for _ in range(3):  # activity keeps the session alive past the idle limit
                now[0] += 50
                assert (await client.get("/console/")).status_code == 200
            now[0] += 61
            response = await client.get("/console/")
            assert response.status_code == 303
            assert "expired=1" in response.headers["location"]
            login = await client.get(response.headers["location"])
            assert "已自动退出" in login.text
            assert (await client.get("/console/")).status_code == 303

    async def test_a_disabled_user_is_signed_out_at_the_next_click(self, console: Console) -> None:
        async with console.login("td_admin") as admin, console.login("td_editor") as editor:
            target = console.users["td_editor"].id
            response = await post_form(
                admin, f"/console/users/{target}/active", csrf_from="/console/", active="0"
            )
            assert response.status_code == 303
            assert (await editor.get("/console/")).status_code == 303
        assert await AuditEvent.filter(action="user.deactivated").count() == 1


class TestRolesAndScope:
    async def test_an_editor_cannot_open_admin_pages(self, console: Console) -> None:
        async with console.login("td_editor") as client:
            for path in (
                "/console/users",
                "/console/users/new",
                "/console/tokens",
                "/console/audit",
            ):
                response = await client.get(path)
                assert response.status_code == 403, path
                assert "您的角色不能打开这个页面" in response.text
            created = await post_form(
                client,
                "/console/users",
                csrf_from="/console/",
                username="sneaky",
                display_name="x",
                org_id=str(console.orgs["tiande"].id),
                role="admin",
            )
            assert created.status_code == 403
        assert not await User.exists(username="sneaky")

    async def test_a_township_admin_cannot_see_or_touch_another_township(
        self, console: Console
    ) -> None:
        tiande, lianhe = console.orgs["tiande"], console.orgs["lianhe"]
        other_user = console.users["lh_editor"]
        own_user = console.users["td_editor"]
        lianhe_token = await create_token("联合乡网站", lianhe)
        other_token = await ApiToken.get(organization_id=lianhe.id)
        async with console.login("lh_admin"):  # an audit event of lianhe
            pass
        async with console.login("td_admin") as client:
            listing = await client.get("/console/users")
            assert "王编辑" in listing.text
            assert "钱编辑" not in listing.text
            assert "赵管理" not in listing.text
            assert "孙管理" not in listing.text
            assert (await client.get(f"/console/users/{other_user.id}")).status_code == 404
            home = "/console/"
            for path, data in [
                (
                    f"/console/users/{other_user.id}/role",
                    {"org_id": str(tiande.id), "role": "admin"},
                ),
                (f"/console/users/{other_user.id}/active", {"active": "0"}),
                (f"/console/users/{other_user.id}/password", {}),
                (f"/console/users/{own_user.id}/role", {"org_id": str(lianhe.id), "role": "admin"}),
                (f"/console/tokens/{other_token.id}/revoke", {}),
            ]:
                response = await post_form(client, path, csrf_from=home, **data)
                assert response.status_code == 404, path
            # The county admin also works in tiande, but a township admin cannot disable them.
            county_admin = console.users["sl_admin"]
            assert (await client.get(f"/console/users/{county_admin.id}")).status_code == 404
            created = await post_form(
                client,
                "/console/users",
                csrf_from=home,
                username="lh_new",
                display_name="新人",
                org_id=str(lianhe.id),
                role="editor",
            )
            assert created.status_code == 400
            assert "请选择您管理的机构" in created.text
            token = await post_form(
                client, "/console/tokens", csrf_from=home, name="x", org_id=str(lianhe.id)
            )
            assert token.status_code == 400
            tokens = await client.get("/console/tokens")
            assert "联合乡网站" not in tokens.text
            assert lianhe_token not in tokens.text
            log = await client.get("/console/audit")
            assert "td_admin" in log.text
            assert "lh_admin" not in log.text
            filtered = await client.get("/console/audit", params={"username": "lh_admin"})
            assert "没有符合条件的记录" in filtered.text
        assert not await User.exists(username="lh_new")
        assert not await Membership.exists(user_id=own_user.id, organization_id=lianhe.id)
        assert (await Membership.get(user_id=other_user.id)).role == "editor"
        assert (await User.get(id=other_user.id)).is_active
        assert (await ApiToken.get(id=other_token.id)).revoked_at is None
        assert await ApiToken.filter(organization_id=lianhe.id).count() == 1

    async def test_a_county_admin_manages_the_townships_under_it(self, console: Console) -> None:
        async with console.login("sl_admin") as client:
            listing = await client.get("/console/users")
            assert "王编辑" in listing.text
            assert "钱编辑" in listing.text
            target = console.users["lh_editor"]
            response = await post_form(
                client,
                f"/console/users/{target.id}/role",
                csrf_from="/console/",
                org_id=str(console.orgs["lianhe"].id),
                role="reviewer",
            )
            assert response.status_code == 303
        assert (await Membership.get(user_id=target.id)).role == "reviewer"
        event = await AuditEvent.get(action="user.role_changed")
        assert (event.username, event.organization_id) == ("sl_admin", console.orgs["lianhe"].id)

    async def test_only_platform_admins_make_platform_admins(self, console: Console) -> None:
        async with console.login("td_admin") as client:
            target = console.users["td_editor"]
            response = await post_form(
                client, f"/console/users/{target.id}/platform", csrf_from="/console/", value="1"
            )
            assert response.status_code == 403
            created = await post_form(
                client,
                "/console/users",
                csrf_from="/console/",
                username="boss",
                display_name="老板",
                org_id=str(console.orgs["tiande"].id),
                role="editor",
                platform_admin="1",
            )
            assert created.status_code == 403
        assert not (await User.get(id=target.id)).is_platform_admin
        assert not await User.exists(username="boss")


class TestSecretsShownOnce:
    async def test_a_new_token_and_a_temporary_password_appear_only_once(
        self, console: Console
    ) -> None:
        tiande = str(console.orgs["tiande"].id)
        async with console.login("td_admin") as client:
            made = await post_form(
                client, "/console/tokens", csrf_from="/console/", name="网站对接", org_id=tiande
            )
            token = re.search(r"gk_[A-Za-z0-9_-]{20,}", made.text)
            assert token is not None
            created = await post_form(
                client,
                "/console/users",
                csrf_from="/console/",
                username="liufang",
                display_name="刘芳",
                org_id=tiande,
                role="reviewer",
            )
            assert created.status_code == 200
            temporary = re.search(
                r'class="secret" type="text" readonly value="([^"]+)"', created.text
            )
            assert temporary is not None
            newcomer = await User.get(username="liufang")
            pages = [
                await client.get(path)
                for path in ("/console/tokens", "/console/users", f"/console/users/{newcomer.id}")
            ]
            pages.append(await client.get("/console/audit"))
            for page in pages:
                assert page.status_code == 200
                assert token.group(0) not in page.text
                assert temporary.group(1) not in page.text
            assert "网站对接" in pages[0].text
            assert "td_admin" in pages[0].text
        assert temporary.group(1) not in newcomer.password_hash
        assert await users.verify("liufang", temporary.group(1)) is not None
        for event in await AuditEvent.all():
            assert token.group(0) not in str(event.detail)
            assert temporary.group(1) not in str(event.detail)
        created_event = await AuditEvent.get(action="token.created")
        assert created_event.detail["created_by"] == "td_admin"
        assert created_event.ip

    async def test_audit_events_cannot_be_changed(self, console: Console) -> None:
        event = await AuditEvent.create(at=dt.datetime.now(dt.UTC), action="x")
        event.action = "y"
        with pytest.raises(PermissionError):
            await event.save()
        with pytest.raises(PermissionError):
            await event.delete()
