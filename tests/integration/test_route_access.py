"""Every API route, for four callers, answers as an explicit table says (issue 8).

The callers: no token; an editor token of another organization (lianhe); an editor token
of the organization (tiande); a platform administrator's token. Each request names real
objects of tiande (made fresh for each call), so a 404 means "hidden", not "absent", and a
2xx means the action really ran. A route missing from the table, or a table row whose
route is gone, fails the test: adding a route means deciding who may use it.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts

from channels.registry import account_specs
from storage import wechat as wechat_store
from storage.models import Delivery, Organization
from storage.register_models import Application, Case, Complaint, NormativeDocument, Response
from storage.tokens import create_token
from tests.integration.conftest import Api
from tests.integration.test_registers import RECORDS

# Status classes. HIDDEN: answered as for an organization or object that does not exist
# (404; 422 where the organization is named in the body or, for the annual report, as
# org_for answers). PASS: the caller may act; the object's state may still refuse (409).
NOAUTH = frozenset({401})
DENIED = frozenset({403})
HIDDEN = frozenset({404, 422})
OK = frozenset(range(200, 300))
PASS = OK | {409}
PUBLIC = frozenset({-1})  # no token needed: every caller gets the same answer, never 5xx

PRINCIPALS = ("anonymous", "other_editor", "editor", "platform_admin")
CHECKS = {"保密": True, "个人信息": True, "敏感词与错别字": True, "导向": True}
ITEM: dict[str, Any] = {
    "org": "tiande",
    "title": "关于开展春季植树活动的通知",
    "body": "各村：\n\n请于3月12日前完成植树任务。",
    "channels": ["website", "noticeboard"],
}
IMPORTED = {
    **{k: v for k, v in ITEM.items() if k != "channels"},
    "published_at": "2016-05-04T10:00:00+08:00",
    "published_channels": ["website"],
}
WECHAT = {"appid": "wx" + "b2" * 8, "secret": "s" * 32, "api_base": "http://127.0.0.1:9/"}
REGISTERS = {
    "applications": Application,
    "responses": Response,
    "normative-documents": NormativeDocument,
    "cases": Case,
    "complaints": Complaint,
}
Row = tuple[frozenset[int], frozenset[int], frozenset[int], frozenset[int]]
RECIPIENTS = "/api/v1/orgs/{org}/wechat/preview-recipients"
RECIPIENTS_URL = "/api/v1/orgs/tiande/wechat/preview-recipients"


def row(
    anonymous: frozenset[int], other: frozenset[int], editor: frozenset[int], admin: frozenset[int]
) -> Row:
    return (anonymous, other, editor, admin)


# (method, path) -> expected status class for each caller, in PRINCIPALS order. The roles
# follow the console: reading any role; items, deliveries and registers editor (编辑) or
# admin; the 保密审查 reviewer (审核) or admin; 紧急发布, 补录, settings admin only;
# organizations and metrics a platform administrator only.
TABLE: dict[tuple[str, str], Row] = {
    ("GET", "/healthz"): row(PUBLIC, PUBLIC, PUBLIC, PUBLIC),
    ("GET", "/readyz"): row(PUBLIC, PUBLIC, PUBLIC, PUBLIC),
    ("GET", "/wechat/callback"): row(PUBLIC, PUBLIC, PUBLIC, PUBLIC),
    ("POST", "/wechat/callback"): row(PUBLIC, PUBLIC, PUBLIC, PUBLIC),
    ("GET", "/wechat/callback/{org_code}"): row(PUBLIC, PUBLIC, PUBLIC, PUBLIC),
    ("POST", "/wechat/callback/{org_code}"): row(PUBLIC, PUBLIC, PUBLIC, PUBLIC),
    ("GET", "/metrics"): row(NOAUTH, DENIED, DENIED, OK),
    ("GET", "/api/v1/orgs"): row(NOAUTH, OK, OK, OK),
    ("POST", "/api/v1/orgs"): row(NOAUTH, DENIED, DENIED, OK),
    ("GET", "/api/v1/items"): row(NOAUTH, OK, OK, OK),
    ("POST", "/api/v1/items"): row(NOAUTH, HIDDEN, OK, OK),
    ("GET", "/api/v1/items/{item_id}"): row(NOAUTH, HIDDEN, OK, OK),
    ("POST", "/api/v1/items/{item_id}/retry"): row(NOAUTH, HIDDEN, PASS, PASS),
    ("POST", "/api/v1/items/{item_id}/cancel"): row(NOAUTH, HIDDEN, OK, OK),
    ("POST", "/api/v1/items/{item_id}/withdraw"): row(NOAUTH, HIDDEN, OK, OK),
    ("POST", "/api/v1/items/{item_id}/wechat/preview"): row(NOAUTH, HIDDEN, PASS, PASS),
    ("GET", "/api/v1/items/{item_id}/wechat-title"): row(NOAUTH, HIDDEN, OK, OK),
    ("PUT", "/api/v1/items/{item_id}/wechat-title"): row(NOAUTH, HIDDEN, OK, OK),
    ("POST", "/api/v1/items/{item_id}/revisions"): row(NOAUTH, HIDDEN, OK, OK),
    ("POST", "/api/v1/imports"): row(NOAUTH, HIDDEN, DENIED, OK),
    ("GET", "/api/v1/reviews/pending"): row(NOAUTH, OK, OK, OK),
    ("GET", "/api/v1/items/{item_id}/scan"): row(NOAUTH, HIDDEN, OK, OK),
    ("GET", "/api/v1/items/{item_id}/reviews"): row(NOAUTH, HIDDEN, OK, OK),
    ("POST", "/api/v1/items/{item_id}/approve"): row(NOAUTH, HIDDEN, DENIED, OK),
    ("POST", "/api/v1/items/{item_id}/reject"): row(NOAUTH, HIDDEN, DENIED, OK),
    ("POST", "/api/v1/items/{item_id}/force-publish"): row(NOAUTH, HIDDEN, DENIED, OK),
    ("POST", "/api/v1/items/{item_id}/post-review"): row(NOAUTH, HIDDEN, DENIED, OK),
    ("GET", "/api/v1/reports/{org}/{year}/channels"): row(NOAUTH, HIDDEN, OK, OK),
    ("GET", "/api/v1/reports/{org}/{year}/annual"): row(NOAUTH, HIDDEN, OK, OK),
    ("POST", "/api/v1/deliveries/{delivery_id}/resolve"): row(NOAUTH, HIDDEN, PASS, PASS),
    ("POST", "/api/v1/deliveries/{delivery_id}/posted"): row(NOAUTH, HIDDEN, OK, OK),
    ("POST", "/api/v1/deliveries/{delivery_id}/removed"): row(NOAUTH, HIDDEN, PASS, PASS),
    ("GET", "/api/v1/deliveries/{delivery_id}/pdf"): row(NOAUTH, HIDDEN, OK, OK),
    ("GET", "/api/v1/reminders"): row(NOAUTH, OK, OK, OK),
    ("GET", "/api/v1/reminders/removals"): row(NOAUTH, OK, OK, OK),
    ("GET", "/api/v1/orgs/{org}/channels/wechat"): row(NOAUTH, HIDDEN, DENIED, OK),
    ("PUT", "/api/v1/orgs/{org}/channels/wechat"): row(NOAUTH, HIDDEN, DENIED, OK),
    ("POST", "/api/v1/orgs/{org}/channels/wechat/test"): row(NOAUTH, HIDDEN, DENIED, OK),
    ("GET", RECIPIENTS): row(NOAUTH, HIDDEN, DENIED, OK),
    ("POST", RECIPIENTS): row(NOAUTH, HIDDEN, DENIED, OK),
    ("DELETE", RECIPIENTS + "/{recipient_id}"): row(NOAUTH, HIDDEN, DENIED, OK),
    **{
        key: value
        for kind in REGISTERS
        for key, value in (
            (("GET", f"/api/v1/orgs/{{org}}/{kind}"), row(NOAUTH, HIDDEN, OK, OK)),
            (("POST", f"/api/v1/orgs/{{org}}/{kind}"), row(NOAUTH, HIDDEN, OK, OK)),
            (("PUT", f"/api/v1/orgs/{{org}}/{kind}/{{record_id}}"), row(NOAUTH, HIDDEN, OK, OK)),
            (("DELETE", f"/api/v1/orgs/{{org}}/{kind}/{{record_id}}"), row(NOAUTH, HIDDEN, OK, OK)),
        )
    },
    **{
        (method, f"/api/v1/orgs/{{org}}/{kind}/{{year}}"): row(NOAUTH, HIDDEN, OK, OK)
        for kind in ("decisions", "facts", "texts")
        for method in ("GET", "PUT")
    },
}


# Channels with per-organization accounts (the registry's account specs) get the same
# three routes each, with the same rules as WeChat's settings.
for _name in dict(account_specs()):
    _url = f"/api/v1/orgs/{{org}}/channels/{_name}"
    TABLE[("GET", _url)] = row(NOAUTH, HIDDEN, DENIED, OK)
    TABLE[("PUT", _url)] = row(NOAUTH, HIDDEN, DENIED, OK)
    TABLE[("POST", _url + "/test")] = row(NOAUTH, HIDDEN, DENIED, OK)


def app_routes(api: Api) -> set[tuple[str, str]]:
    """Every route of the OpenAPI schema, and every API route left out of it."""
    found = {
        (method.upper(), path)
        for path, operations in api.app.openapi()["paths"].items()
        for method in operations
    }
    for context in iter_route_contexts(api.app.routes):
        path = getattr(context, "path", "")
        if path.startswith(("/api/", "/wechat/")):
            found |= {(m, path) for m in (getattr(context, "methods", None) or ()) if m != "HEAD"}
    return found


Request = tuple[str, dict[str, Any] | None]


@dataclass
class World:
    """tiande's objects, made fresh for each request, and the tokens that make them."""

    api: Api
    author: dict[str, str]  # a tiande editor who writes the items the callers act on
    forcer: dict[str, str]  # a tiande admin who force-publishes (so post review is owed)
    tiande: Organization
    counter: itertools.count[int]

    async def queued(self) -> int:
        """An item waiting for review, written by ``author``."""
        response = await self.api.client.post("/api/v1/items", json=ITEM, headers=self.author)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    async def published(self) -> int:
        """An item out on the website, its notice waiting on the board (review-exempt)."""
        response = await self.api.client.post("/api/v1/items", json=ITEM, headers=self.api.tiande)
        assert response.status_code == 201, response.text
        await self.api.runtime.dispatcher.run_until_idle()
        return int(response.json()["id"])

    async def forced(self) -> int:
        item_id = await self.queued()
        forced = await self.api.client.post(
            f"/api/v1/items/{item_id}/force-publish",
            json={"reason": "暴雨红色预警，须立即通知各村转移群众"},
            headers=self.forcer,
        )
        assert forced.status_code == 200, forced.text
        return item_id

    async def notice(self) -> int:
        """A notice-board delivery in the print queue, waiting for its posting."""
        item_id = await self.published()
        delivery = await Delivery.get(item_id=item_id, channel="noticeboard")
        assert delivery.state == "accepted"
        return delivery.id

    async def record(self, kind: str) -> int:
        body = {k: v for k, v in RECORDS[kind].items()}
        created = await REGISTERS[kind].create(organization=self.tiande, **body)
        return int(created.pk)

    async def wechat(self) -> None:
        url = "/api/v1/orgs/tiande/channels/wechat"
        response = await self.api.client.put(url, json=WECHAT, headers=self.api.tiande)
        assert response.status_code == 200, response.text


Build = Callable[[World], Awaitable[Request]]


def _fixed(url: str, body: dict[str, Any] | None = None) -> Build:
    async def build(world: World) -> Request:
        return url, body

    return build


def _on(make: str, url: str, body: dict[str, Any] | None = None) -> Build:
    """A request on a fresh object: ``make`` names the World factory, ``url`` takes {id}."""

    async def build(world: World) -> Request:
        factory: Callable[[], Awaitable[int]] = getattr(world, make)
        return url.format(id=await factory()), body

    return build


def _titled(body: dict[str, Any] | None = None) -> Build:
    """A queued item of an organization with a WeChat account, for its 微信标题."""

    async def build(world: World) -> Request:
        await world.wechat()
        return (ITEMS + "/wechat-title").format(id=await world.queued()), body

    return build


def _register(kind: str, *, method: str) -> Build:
    async def build(world: World) -> Request:
        base = f"/api/v1/orgs/tiande/{kind}"
        if method in ("GET", "POST"):
            return base, RECORDS[kind] if method == "POST" else None
        return f"{base}/{await world.record(kind)}", RECORDS[kind] if method == "PUT" else None

    return build


def _new_org() -> Build:
    async def build(world: World) -> Request:
        return "/api/v1/orgs", {"code": f"new{next(world.counter)}", "name": "新庄镇人民政府"}

    return build


def _wechat(url: str, body: dict[str, Any] | None = None) -> Build:
    async def build(world: World) -> Request:
        await world.wechat()
        return url, body

    return build


def _new_recipient() -> Build:
    async def build(world: World) -> Request:
        return RECIPIENTS_URL, {"openid": f"o_reviewer_{next(world.counter)}", "name": "李审核"}

    return build


def _registered_recipient() -> Build:
    async def build(world: World) -> Request:
        openid = f"o_reviewer_{next(world.counter)}"
        row = await wechat_store.add_preview_recipient(
            world.tiande.id, openid, name="李审核", added_by="test"
        )
        assert row is not None
        return f"{RECIPIENTS_URL}/{row.id}", None

    return build


def _resolve() -> Build:
    async def build(world: World) -> Request:
        return f"/api/v1/deliveries/{await world.notice()}/resolve", {"outcome": "retry"}

    return build


def _account(name: str, suffix: str = "", *, body: bool = False, made: bool = True) -> Build:
    """A request on the channel account's route, after tiande's account was set (``made``;
    the test button goes without one, so it answers without reaching the platform)."""
    spec = dict(account_specs())[name]
    url = f"/api/v1/orgs/tiande/channels/{name}"

    async def build(world: World) -> Request:
        if made:
            put = await world.api.client.put(url, json=dict(spec.example), headers=world.api.tiande)
            assert put.status_code == 200, put.text
        return url + suffix, dict(spec.example) if body else None

    return build


ITEMS = "/api/v1/items/{id}"
DELIVERIES = "/api/v1/deliveries/{id}"
WECHAT_URL = "/api/v1/orgs/tiande/channels/wechat"
REQUESTS: dict[tuple[str, str], Build] = {
    ("GET", "/healthz"): _fixed("/healthz"),
    ("GET", "/readyz"): _fixed("/readyz"),
    ("GET", "/wechat/callback"): _fixed("/wechat/callback"),
    ("POST", "/wechat/callback"): _fixed("/wechat/callback"),
    ("GET", "/wechat/callback/{org_code}"): _fixed("/wechat/callback/tiande"),
    ("POST", "/wechat/callback/{org_code}"): _fixed("/wechat/callback/tiande"),
    ("GET", "/metrics"): _fixed("/metrics"),
    ("GET", "/api/v1/orgs"): _fixed("/api/v1/orgs"),
    ("POST", "/api/v1/orgs"): _new_org(),
    ("GET", "/api/v1/items"): _fixed("/api/v1/items"),
    ("POST", "/api/v1/items"): _fixed("/api/v1/items", ITEM),
    ("GET", "/api/v1/items/{item_id}"): _on("queued", ITEMS),
    ("POST", "/api/v1/items/{item_id}/retry"): _on("published", ITEMS + "/retry", {}),
    ("POST", "/api/v1/items/{item_id}/cancel"): _on("queued", ITEMS + "/cancel"),
    ("POST", "/api/v1/items/{item_id}/withdraw"): _on(
        "published", ITEMS + "/withdraw", {"reason": "内容有误"}
    ),
    ("POST", "/api/v1/items/{item_id}/wechat/preview"): _on(
        "published", ITEMS + "/wechat/preview", {"openid": "o" * 28}
    ),
    ("POST", "/api/v1/items/{item_id}/revisions"): _on("queued", ITEMS + "/revisions", ITEM),
    ("GET", "/api/v1/items/{item_id}/wechat-title"): _titled(),
    ("PUT", "/api/v1/items/{item_id}/wechat-title"): _titled({"title": "春季植树活动通知"}),
    ("POST", "/api/v1/imports"): _fixed("/api/v1/imports", {"items": [IMPORTED]}),
    ("GET", "/api/v1/reviews/pending"): _fixed("/api/v1/reviews/pending"),
    ("GET", "/api/v1/items/{item_id}/scan"): _on("queued", ITEMS + "/scan"),
    ("GET", "/api/v1/items/{item_id}/reviews"): _on("queued", ITEMS + "/reviews"),
    ("POST", "/api/v1/items/{item_id}/approve"): _on(
        "queued", ITEMS + "/approve", {"checks": CHECKS}
    ),
    ("POST", "/api/v1/items/{item_id}/reject"): _on(
        "queued", ITEMS + "/reject", {"comment": "请补充时间"}
    ),
    ("POST", "/api/v1/items/{item_id}/force-publish"): _on(
        "queued", ITEMS + "/force-publish", {"reason": "暴雨红色预警，须立即通知各村转移群众"}
    ),
    ("POST", "/api/v1/items/{item_id}/post-review"): _on(
        "forced", ITEMS + "/post-review", {"checks": CHECKS}
    ),
    ("GET", "/api/v1/reports/{org}/{year}/channels"): _fixed(
        "/api/v1/reports/tiande/2024/channels"
    ),
    ("GET", "/api/v1/reports/{org}/{year}/annual"): _fixed(
        "/api/v1/reports/tiande/2024/annual?as=json"
    ),
    ("POST", "/api/v1/deliveries/{delivery_id}/resolve"): _resolve(),
    ("POST", "/api/v1/deliveries/{delivery_id}/posted"): _on(
        "notice", DELIVERIES + "/posted", {"location": "乡政府公开栏", "posted_by": "李明"}
    ),
    ("POST", "/api/v1/deliveries/{delivery_id}/removed"): _on("notice", DELIVERIES + "/removed"),
    ("GET", "/api/v1/deliveries/{delivery_id}/pdf"): _on("notice", DELIVERIES + "/pdf"),
    ("GET", "/api/v1/reminders"): _fixed("/api/v1/reminders"),
    ("GET", "/api/v1/reminders/removals"): _fixed("/api/v1/reminders/removals"),
    ("GET", "/api/v1/orgs/{org}/channels/wechat"): _wechat(WECHAT_URL),
    ("PUT", "/api/v1/orgs/{org}/channels/wechat"): _wechat(WECHAT_URL, WECHAT),
    ("POST", "/api/v1/orgs/{org}/channels/wechat/test"): _wechat(WECHAT_URL + "/test"),
    ("GET", RECIPIENTS): _fixed(RECIPIENTS_URL),
    ("POST", RECIPIENTS): _new_recipient(),
    ("DELETE", RECIPIENTS + "/{recipient_id}"): _registered_recipient(),
    **{
        (
            method,
            f"/api/v1/orgs/{{org}}/{kind}" + ("" if method in ("GET", "POST") else "/{record_id}"),
        ): _register(kind, method=method)
        for kind in REGISTERS
        for method in ("GET", "POST", "PUT", "DELETE")
    },
    **{
        (method, f"/api/v1/orgs/{{org}}/{kind}/{{year}}"): _fixed(
            f"/api/v1/orgs/tiande/{kind}/2024", {} if method == "PUT" else None
        )
        for kind in ("decisions", "facts", "texts")
        for method in ("GET", "PUT")
    },
}


@pytest.fixture
async def callers(api: Api) -> dict[str, dict[str, str]]:
    """The four callers; none of them wrote the items they act on."""
    lianhe = await Organization.get(code="lianhe")
    tiande = await Organization.get(code="tiande")
    return {
        "anonymous": {},
        "other_editor": _bearer(await create_token("联合乡编辑", lianhe, role="editor")),
        "editor": _bearer(await create_token("天德乡编辑乙", tiande, role="editor")),
        "platform_admin": _bearer(await create_token("平台管理员", None)),
    }


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


for _name in dict(account_specs()):
    _url = f"/api/v1/orgs/{{org}}/channels/{_name}"
    REQUESTS[("GET", _url)] = _account(_name)
    REQUESTS[("PUT", _url)] = _account(_name, body=True)
    REQUESTS[("POST", _url + "/test")] = _account(_name, "/test", made=False)


async def test_every_route_is_in_the_table(api: Api) -> None:
    routes = app_routes(api)
    assert sorted(routes - set(TABLE)) == [], "routes without an access rule"
    assert sorted(set(TABLE) - routes) == [], "access rules for routes that are gone"
    assert set(REQUESTS) == set(TABLE)


@pytest.mark.parametrize("principal", PRINCIPALS)
async def test_each_caller_gets_the_answer_the_table_says(
    api: Api, callers: dict[str, dict[str, str]], principal: str
) -> None:
    tiande = await Organization.get(code="tiande")
    world = World(
        api,
        author=_bearer(await create_token("天德乡编辑甲", tiande, role="editor")),
        forcer=_bearer(await create_token("天德乡管理员", tiande, role="admin")),
        tiande=tiande,
        counter=itertools.count(1),
    )
    column = PRINCIPALS.index(principal)
    wrong = []
    for key in sorted(TABLE):
        expected = TABLE[key][column]
        url, body = await REQUESTS[key](world)
        method = key[0]
        kwargs: dict[str, Any] = {"headers": callers[principal]}
        if body is not None:
            kwargs["json"] = body
        response = await api.client.request(method, url, **kwargs)
        if expected is PUBLIC:
            # No token needed: a token neither helps nor hurts, and nothing fails.
            bare = await api.client.request(method, url, **{**kwargs, "headers": {}})
            if response.status_code >= 500 or response.status_code != bare.status_code:
                wrong.append(f"{method} {url}: {response.status_code}, without token {bare}")
        elif response.status_code not in expected:
            wrong.append(
                f"{method} {url}: {response.status_code}, expected {sorted(expected)[:3]}…"
                f" {response.text[:160]}"
            )
    assert wrong == [], "\n".join(wrong)
