"""Every console route, for each of four principals, answers as this table says (issue 8).

The principals: nobody signed in, an editor of another organization (联合乡), an editor
of the organization (天德乡) and its administrator. The routes come from the app itself
(``app.routes`` under /console): a route missing from ``TABLE`` fails the test, so a new
page cannot arrive without someone deciding who may open it.

Answers: LOGIN — a redirect to the sign-in page that returns to the route; DENIED — 403
or 404 (another organization's records are 404, a missing role 403); ALLOWED — the
request reached the page or action (2xx, a redirect that is not to sign-in, or a form
error 400/409/422); PUBLIC — 200 for everybody.
"""

from __future__ import annotations

import re

import httpx
from fastapi.routing import iter_route_contexts

from bot import submission
from bot.publishing import ItemInput
from bot.register_specs import REGISTERS
from channels.registry import account_specs
from storage.console_models import ConsoleSession
from storage.models import ApiToken, Delivery
from storage.tokens import create_token
from tests.integration.console_world import World, csrf_of, world

__all__ = ["world"]  # the fixture

LOGIN, DENIED, ALLOWED, PUBLIC = "login", "denied", "allowed", "public"
PRINCIPALS = ("anonymous", "lh_editor", "td_editor", "td_admin")


def row(other: str, own: str, admin: str, anonymous: str = LOGIN) -> tuple[str, ...]:
    return (anonymous, other, own, admin)


# (method, path) → expected answer for (anonymous, lh_editor, td_editor, td_admin).
# Ids in paths are 天德乡's records; {session_id} is another user's session.
TABLE: dict[tuple[str, str], tuple[str, ...]] = {
    ("GET", "/console/static"): (PUBLIC, PUBLIC, PUBLIC, PUBLIC),
    ("GET", "/console/login"): (PUBLIC, ALLOWED, ALLOWED, ALLOWED),
    ("POST", "/console/login"): (ALLOWED, ALLOWED, ALLOWED, ALLOWED),
    ("POST", "/console/logout"): row(ALLOWED, ALLOWED, ALLOWED),  # to /console/login
    ("GET", "/console/password"): row(ALLOWED, ALLOWED, ALLOWED),
    ("POST", "/console/password"): row(ALLOWED, ALLOWED, ALLOWED),
    ("GET", "/console/sessions"): row(ALLOWED, ALLOWED, ALLOWED),
    ("POST", "/console/sessions/{session_id}/end"): row(DENIED, DENIED, DENIED),
    ("POST", "/console/sessions/end-others"): row(ALLOWED, ALLOWED, ALLOWED),
    ("POST", "/console/org"): row(DENIED, ALLOWED, ALLOWED),
    ("GET", "/console/users"): row(DENIED, DENIED, ALLOWED),
    ("GET", "/console/users/new"): row(DENIED, DENIED, ALLOWED),
    ("POST", "/console/users"): row(DENIED, DENIED, ALLOWED),
    ("GET", "/console/users/{user_id}"): row(DENIED, DENIED, ALLOWED),
    ("POST", "/console/users/{user_id}/role"): row(DENIED, DENIED, ALLOWED),
    ("POST", "/console/users/{user_id}/active"): row(DENIED, DENIED, ALLOWED),
    ("POST", "/console/users/{user_id}/password"): row(DENIED, DENIED, ALLOWED),
    ("POST", "/console/users/{user_id}/sessions/end"): row(DENIED, DENIED, ALLOWED),
    # Only a platform administrator makes platform administrators.
    ("POST", "/console/users/{user_id}/platform"): row(DENIED, DENIED, DENIED),
    ("GET", "/console/tokens"): row(DENIED, DENIED, ALLOWED),
    ("POST", "/console/tokens"): row(DENIED, DENIED, ALLOWED),
    ("POST", "/console/tokens/{token_id}/revoke"): row(DENIED, DENIED, ALLOWED),
    ("GET", "/console/audit"): row(DENIED, DENIED, ALLOWED),
    ("GET", "/console/"): row(ALLOWED, ALLOWED, ALLOWED),
    ("GET", "/console/review"): row(DENIED, DENIED, ALLOWED),
    ("GET", "/console/review/{item_id}"): row(DENIED, DENIED, ALLOWED),
    ("POST", "/console/review/{item_id}/approve"): row(DENIED, DENIED, ALLOWED),
    ("POST", "/console/review/{item_id}/reject"): row(DENIED, DENIED, ALLOWED),
    ("POST", "/console/review/{item_id}/force"): row(DENIED, DENIED, ALLOWED),
    ("POST", "/console/review/{item_id}/post-review"): row(DENIED, DENIED, ALLOWED),
    ("GET", "/console/channels"): row(DENIED, DENIED, ALLOWED),
    ("POST", "/console/channels/wechat"): row(DENIED, DENIED, ALLOWED),
    ("POST", "/console/channels/{target}/test"): row(DENIED, DENIED, ALLOWED),
    # A channel's per-organization account (the registry's account specs); {name} is one.
    ("POST", "/console/channels/{name}/account"): row(DENIED, DENIED, ALLOWED),
    ("GET", "/console/report"): row(ALLOWED, ALLOWED, ALLOWED),
    ("GET", "/console/report/{year}/items"): row(ALLOWED, ALLOWED, ALLOWED),
    ("GET", "/console/report/{year}/annual.{kind}"): row(ALLOWED, ALLOWED, ALLOWED),
    ("GET", "/console/items"): row(ALLOWED, ALLOWED, ALLOWED),
    ("GET", "/console/items/new"): row(ALLOWED, ALLOWED, ALLOWED),
    ("POST", "/console/items"): row(ALLOWED, ALLOWED, ALLOWED),
    ("POST", "/console/items/preview"): row(ALLOWED, ALLOWED, ALLOWED),
    ("POST", "/console/items/preview.pdf"): row(ALLOWED, ALLOWED, ALLOWED),
    ("GET", "/console/items/{item_id}/edit"): row(DENIED, ALLOWED, ALLOWED),
    ("POST", "/console/items/{item_id}"): row(DENIED, ALLOWED, ALLOWED),
    ("GET", "/console/items/{item_id}"): row(DENIED, ALLOWED, ALLOWED),
    ("GET", "/console/items/{item_id}/live"): row(DENIED, ALLOWED, ALLOWED),
    ("POST", "/console/items/{item_id}/retry"): row(DENIED, ALLOWED, ALLOWED),
    ("POST", "/console/items/{item_id}/cancel"): row(DENIED, ALLOWED, ALLOWED),
    ("POST", "/console/items/{item_id}/withdraw"): row(DENIED, ALLOWED, ALLOWED),
    ("POST", "/console/items/{item_id}/wechat-preview"): row(DENIED, ALLOWED, ALLOWED),
    ("POST", "/console/items/{item_id}/wechat-title"): row(DENIED, ALLOWED, ALLOWED),
    ("POST", "/console/items/{item_id}/deliveries/{delivery_id}/resolve"): row(
        DENIED, ALLOWED, ALLOWED
    ),
    ("GET", "/console/print"): row(ALLOWED, ALLOWED, ALLOWED),
    # The notice is still in review: nothing to print or photograph yet (404 for all).
    ("GET", "/console/print/{delivery_id}/pdf"): row(DENIED, DENIED, DENIED),
    ("POST", "/console/print/{delivery_id}/posted"): row(DENIED, ALLOWED, ALLOWED),
    ("POST", "/console/print/{delivery_id}/removed"): row(DENIED, ALLOWED, ALLOWED),
    ("GET", "/console/print/{delivery_id}/photo"): row(DENIED, DENIED, DENIED),
    ("POST", "/console/channels/wechat/preview-recipients"): row(DENIED, DENIED, ALLOWED),
    # {recipient_id}: none registered (404).
    ("POST", "/console/channels/wechat/preview-recipients/{recipient_id}/delete"): row(
        DENIED, DENIED, DENIED
    ),
    # 依申请公开 and the registers work in the organization chosen in the top bar; their
    # record ids here ({app_id}, {record_id}) do not exist, so every principal gets 404.
    ("GET", "/console/applications"): row(ALLOWED, ALLOWED, ALLOWED),
    ("POST", "/console/applications"): row(ALLOWED, ALLOWED, ALLOWED),
    ("GET", "/console/applications/{app_id}"): row(DENIED, DENIED, DENIED),
    ("POST", "/console/applications/{app_id}/extend"): row(DENIED, DENIED, DENIED),
    ("POST", "/console/applications/{app_id}/pause"): row(DENIED, DENIED, DENIED),
    ("POST", "/console/applications/{app_id}/correct"): row(DENIED, DENIED, DENIED),
    ("POST", "/console/applications/{app_id}/reply"): row(DENIED, DENIED, DENIED),
    ("POST", "/console/applications/{app_id}/cases"): row(DENIED, DENIED, DENIED),
    ("POST", "/console/applications/{app_id}/delete"): row(DENIED, DENIED, DENIED),
    ("GET", "/console/applications/{app_id}/letter.docx"): row(DENIED, DENIED, DENIED),
    ("GET", "/console/registers"): row(ALLOWED, ALLOWED, ALLOWED),
    ("GET", "/console/registers/table3"): row(ALLOWED, ALLOWED, ALLOWED),
    ("POST", "/console/registers/table3/{year}"): row(ALLOWED, ALLOWED, ALLOWED),
    ("GET", "/console/registers/texts"): row(ALLOWED, ALLOWED, ALLOWED),
    ("POST", "/console/registers/texts/{year}"): row(ALLOWED, ALLOWED, ALLOWED),
    # The item is not published yet: there is no document to link (404 for all).
    ("POST", "/console/registers/documents/link/{item_id}"): row(DENIED, DENIED, DENIED),
    ("GET", "/console/registers/{key}/template.xlsx"): row(ALLOWED, ALLOWED, ALLOWED),
    ("GET", "/console/registers/{key}/export.xlsx"): row(ALLOWED, ALLOWED, ALLOWED),
    ("GET", "/console/registers/{key}/import"): row(ALLOWED, ALLOWED, ALLOWED),
    ("POST", "/console/registers/{key}/import"): row(ALLOWED, ALLOWED, ALLOWED),
    ("GET", "/console/registers/{key}"): row(ALLOWED, ALLOWED, ALLOWED),
    # The form names no record: 404 for all.
    ("POST", "/console/registers/{key}"): row(DENIED, DENIED, DENIED),
    ("POST", "/console/registers/{key}/year/{year}"): row(DENIED, DENIED, DENIED),
    ("GET", "/console/registers/{key}/{record_id}/edit"): row(DENIED, DENIED, DENIED),
    ("POST", "/console/registers/{key}/{record_id}"): row(DENIED, DENIED, DENIED),
    ("POST", "/console/registers/{key}/{record_id}/delete"): row(DENIED, DENIED, DENIED),
    # No section is a placeholder any more: an unknown section is "页面不存在".
    ("GET", "/console/{section}"): row(DENIED, DENIED, DENIED),
}


def console_routes(world: World) -> list[tuple[str, str]]:
    """Every route of the app under /console, as (method, path template)."""
    found: list[tuple[str, str]] = []
    for route in iter_route_contexts(world.app.routes):
        path = route.path or ""
        if not path.startswith("/console"):
            continue
        methods = sorted(route.methods or {"GET"})  # a mount (static files) answers GET
        found += [(method, path) for method in methods if method != "HEAD"]
    return found


def verdict(response: httpx.Response) -> str:
    status, location = response.status_code, response.headers.get("location", "")
    if status in (301, 302, 303, 307) and location.startswith("/console/login?next="):
        return LOGIN
    if status in (403, 404):
        return DENIED
    if status < 400 or status in (400, 409, 422):
        return ALLOWED
    return f"HTTP {status}"


async def test_every_console_route_is_in_the_table(world: World) -> None:
    routes = console_routes(world)
    missing = [route for route in routes if route not in TABLE]
    assert not missing, f"console routes without an access rule in TABLE: {missing}"
    stale = [route for route in TABLE if route not in routes]
    assert not stale, f"TABLE lists routes the app no longer has: {stale}"


async def test_every_console_route_answers_each_principal_as_the_table_says(
    world: World,
) -> None:
    tiande = world.orgs["tiande"]
    editor = world.users["td_editor"]
    ours = await submission.submit(
        ItemInput(
            org=tiande,
            title="天德乡关于春耕的通知",
            body="正文。",
            channels=["website", "noticeboard"],
            author=editor.display_name,
            author_user_id=editor.id,
        ),
        channels=world.app.state.runtime.channels,
        max_body_bytes=100_000,
    )
    delivery = await Delivery.get(item_id=ours.id, channel="noticeboard")
    await create_token("天德乡网站", tiande)
    token = await ApiToken.get(organization_id=tiande.id)
    async with world.login("td_clerk"):
        pass
    clerk_session = await ConsoleSession.get(user_id=world.users["td_clerk"].id)
    ids = {
        "item_id": ours.id,
        "delivery_id": delivery.id,
        "user_id": world.users["td_clerk"].id,
        "token_id": token.id,
        "session_id": clerk_session.id,
        "year": 2024,
        "kind": "docx",
        "target": "wechat",
        "name": next(name for name, _ in account_specs()),
        "section": "no-such-section",
        "recipient_id": 99999,
        "app_id": 99999,
        "record_id": 99999,
        "key": next(iter(REGISTERS)),
    }
    routes = console_routes(world)
    # Signing out last, so the rest runs in one session per principal.
    routes.sort(key=lambda route: (route[1] == "/console/logout", route[0] != "GET"))
    mismatches: list[str] = []
    for index, principal in enumerate(PRINCIPALS):
        client = world.client()
        async with client:
            if principal != "anonymous":
                signed = await client.post(
                    "/console/login",
                    data={
                        "csrf_token": await csrf_of(client),
                        "username": principal,
                        "password": "Correct-horse-1",
                    },
                )
                assert signed.status_code == 303, signed.text
            token_value = await csrf_of(client, "/console/login") if index == 0 else ""
            if principal != "anonymous":
                token_value = await csrf_of(client, "/console/sessions")
            for method, template in routes:
                path = re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), template)
                if template == "/console/static":
                    path = "/console/static/console.css"
                data = {"csrf_token": token_value, "org_id": str(tiande.id), "role": "editor"}
                response = await client.request(
                    method, path, data=data if method == "POST" else None
                )
                got, expected = verdict(response), TABLE[(method, template)][index]
                ok = response.status_code == 200 if expected == PUBLIC else got == expected
                if not ok:
                    mismatches.append(
                        f"{principal} {method} {template}: expected {expected}, got {got}"
                        f" ({response.status_code})"
                    )
    assert not mismatches, "\n".join(mismatches)
