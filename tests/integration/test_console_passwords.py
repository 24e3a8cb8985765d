"""Password policy and sign-in lockout (issue 8, findings 8 and 13), over HTTP.

等保 2.0 asks for complex passwords that are changed from an administrator's choice, not
reused, and a lockout that slows guessing without letting a stranger lock a named
account out.
"""

from __future__ import annotations

import itertools
import re

import pytest

from storage import users
from storage.console_models import AuditEvent, ConsoleSession, User
from tests.integration.console_world import (
    PASSWORD,
    World,
    age_failures,
    change_password,
    post_form,
    sign_in,
    world,
)

__all__ = ["world"]  # the fixture
SECRET_RE = re.compile(r'class="secret" type="text" readonly value="([^"]+)"')


class TestPolicy:
    @pytest.mark.parametrize(
        ("weak", "rule"),
        [
            ("12345678", "至少需要 10 个字符"),
            ("abcdefghijkl", "至少三类"),
            ("1234567890123", "至少三类"),
            ("Td_Editor-2025", "不能包含用户名"),
        ],
    )
    async def test_a_weak_password_is_refused_naming_the_rule(
        self, world: World, weak: str, rule: str
    ) -> None:
        before = (await User.get(username="td_editor")).password_hash
        async with world.login("td_editor") as client:
            response = await change_password(client, PASSWORD, weak)
            assert response.status_code == 400
            assert rule in response.text
            assert "大写字母、小写字母、数字、符号中的至少三类" in response.text  # the whole rule
        assert (await User.get(username="td_editor")).password_hash == before
        assert not await AuditEvent.exists(action="password.changed")

    async def test_the_last_five_passwords_cannot_come_back(self, world: World) -> None:
        chain = [PASSWORD, "Second-pass-22", "Third-pass-333", "Fourth-pass-44", "Fifth-pass-555"]
        async with world.login("td_editor") as client:
            for old, new in itertools.pairwise(chain):
                assert (await change_password(client, old, new)).status_code == 303
            for old_one in chain[:-1]:  # the four before the current one
                again = await change_password(client, chain[-1], old_one)
                assert again.status_code == 400
                assert "最近 5 次" in again.text
            # One more change: the first password is now six back, and allowed again.
            assert (await change_password(client, chain[-1], "Sixth-pass-666")).status_code == 303
            assert (await change_password(client, "Sixth-pass-666", PASSWORD)).status_code == 303
        assert await users.verify("td_editor", PASSWORD) is not None

    async def test_an_account_an_administrator_created_must_change_its_password_first(
        self, world: World
    ) -> None:
        tiande = str(world.orgs["tiande"].id)
        async with world.login("td_admin") as admin:
            created = await post_form(
                admin,
                "/console/users",
                username="liufang",
                display_name="刘芳",
                org_id=tiande,
                role="editor",
            )
            assert created.status_code == 200
            found = SECRET_RE.search(created.text)
            assert found is not None
            temporary = found.group(1)
            assert "首次登录时必须先改为自己的密码" in created.text
        async with world.client() as newcomer:
            signed = await sign_in(newcomer, "liufang", temporary)
            assert (signed.status_code, signed.headers["location"]) == (303, "/console/password")
            for path in ("/console/", "/console/items", "/console/sessions"):
                page = await newcomer.get(path)
                assert (page.status_code, page.headers["location"]) == (303, "/console/password")
            script = await newcomer.get("/console/items", headers={"HX-Request": "true"})
            assert script.status_code == 403
            page = await newcomer.get("/console/password")
            assert "临时密码" in page.text
            same = await change_password(newcomer, temporary, temporary)
            assert same.status_code == 400
            done = await change_password(newcomer, temporary, "Spring-own-2025!")
            assert done.status_code == 303
            assert (await newcomer.get("/console/items")).status_code == 200
        assert not (await User.get(username="liufang")).must_change_password

    async def test_a_reset_password_must_be_changed_and_ends_the_sessions(
        self, world: World
    ) -> None:
        clerk = world.users["td_clerk"]
        async with world.login("td_clerk") as victim, world.login("td_admin") as admin:
            reset = await post_form(admin, f"/console/users/{clerk.id}/password")
            assert reset.status_code == 200
            found = SECRET_RE.search(reset.text)
            assert found is not None
            assert (await victim.get("/console/")).status_code == 303
        assert (await ConsoleSession.get(user_id=clerk.id)).end_reason == "password_reset"
        async with world.client() as again:
            signed = await sign_in(again, "td_clerk", found.group(1))
            assert signed.headers["location"] == "/console/password"
            assert (await again.get("/console/")).headers["location"] == "/console/password"


class TestLockout:
    async def test_the_delay_grows_and_then_lets_the_owner_in(self, world: World) -> None:
        async with world.client("10.0.0.5") as client:
            for _ in range(5):
                assert (await sign_in(client, "td_editor", "Wrong-guess-1")).status_code == 400
            locked = await sign_in(client, "td_editor", PASSWORD)
            assert locked.status_code == 429
            assert "30 秒" in locked.text
            await age_failures(31)
            assert (await sign_in(client, "td_editor", "Wrong-guess-1")).status_code == 400
            locked = await sign_in(client, "td_editor", PASSWORD)
            assert locked.status_code == 429
            assert "1 分钟" in locked.text  # doubled: 60 seconds
            await age_failures(61)
            assert (await sign_in(client, "td_editor", PASSWORD)).status_code == 303
        event = await AuditEvent.filter(action="login.locked").order_by("id").first()
        assert event is not None
        assert event.detail["reason"] == "pair"

    async def test_a_stranger_cannot_lock_a_named_account_out(self, world: World) -> None:
        for number in range(30):  # from thirty addresses, a few guesses each
            async with world.client(f"10.66.0.{number}") as stranger:
                for _ in range(2):
                    await sign_in(stranger, "td_admin", "Wrong-guess-1")
        async with world.client("192.168.1.20") as owner:
            response = await sign_in(owner, "td_admin", PASSWORD)
            if response.status_code == 429:  # at most a short pause
                wait = re.search(r"请 (\d+) 秒后再试", response.text)
                assert wait is not None, response.text
                assert int(wait.group(1)) <= 5
                await age_failures(6)
                response = await sign_in(owner, "td_admin", PASSWORD)
            assert response.status_code == 303

    async def test_spraying_from_one_address_locks_that_address(self, world: World) -> None:
        async with world.client("10.7.7.7") as sprayer:
            for number in range(20):
                await sign_in(sprayer, f"user{number}", "Wrong-guess-1")
            locked = await sign_in(sprayer, "td_admin", PASSWORD)
            assert locked.status_code == 429
            async with world.client("10.8.8.8") as elsewhere:
                assert (await sign_in(elsewhere, "td_admin", PASSWORD)).status_code == 303
            await age_failures(31)  # a delay, not a permanent lock
            assert (await sign_in(sprayer, "td_admin", PASSWORD)).status_code == 303
        locks = await AuditEvent.filter(action="login.locked")
        assert [event.detail["reason"] for event in locks] == ["address"]
