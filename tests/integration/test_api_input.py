"""Input hygiene over HTTP, on both databases: control and bidi characters, ids outside the
int4 range, unknown filters and oversized bodies are refused (422/413), never a 5xx, and a
refused request stores nothing."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from storage.models import Item
from storage.register_models import Complaint
from tests.integration.conftest import Api

BAD_TEXTS = {
    "NUL": "关于\x00春耕的通知",
    "ESC": "通知\x1b[31m",
    "RLO": "通知\u202efdp.exe",
    "LRI": "通知\u2066隔离\u2069",
}
HUGE_IDS = ["2147483648", "9223372036854775808", "99999999999999999999999", "0", "-1"]


def _loc(response: Any) -> list[Any]:
    detail = response.json()["detail"]
    assert isinstance(detail, list), detail
    return list(detail[0]["loc"])


@pytest.mark.parametrize("kind", sorted(BAD_TEXTS))
async def test_a_control_or_bidi_character_in_a_title_is_422_and_nothing_is_stored(
    api: Api, kind: str
) -> None:
    item = {"org": "tiande", "title": BAD_TEXTS[kind], "body": "正文。"}
    response = await api.client.post("/api/v1/items", json=item, headers=api.tiande)
    assert response.status_code == 422, response.text
    assert _loc(response) == ["body", "title"]
    assert "control characters" in response.json()["detail"][0]["msg"]
    assert await Item.all().count() == 0


async def test_tab_and_newlines_stay_allowed(api: Api) -> None:
    item = {"org": "tiande", "title": "春耕\t通知", "body": "第一段。\r\n\n第二段。"}
    response = await api.client.post("/api/v1/items", json=item, headers=api.tiande)
    assert response.status_code == 201, response.text


async def test_nested_fields_are_named(api: Api) -> None:
    entry = {
        "org": "tiande",
        "title": "旧文件",
        "body": "正文\x00。",
        "published_at": "2024-03-01T09:00:00+08:00",
        "published_channels": ["website"],
    }
    response = await api.client.post("/api/v1/imports", json={"items": [entry]}, headers=api.admin)
    assert response.status_code == 422, response.text
    assert _loc(response) == ["body", "items", 0, "body"]
    assert await Item.all().count() == 0


async def test_a_register_text_with_nul_is_422_and_nothing_is_stored(api: Api) -> None:
    complaint = {"received_on": "2024-06-07", "summary": "公开栏\x00信息更新不及时。"}
    response = await api.client.post(
        "/api/v1/orgs/tiande/complaints", json=complaint, headers=api.tiande
    )
    assert response.status_code == 422, response.text
    assert _loc(response) == ["body", "summary"]
    assert await Complaint.all().count() == 0


async def test_control_characters_in_the_query_or_path_are_422(api: Api) -> None:
    response = await api.client.get("/api/v1/items?org=tian%00de", headers=api.admin)
    assert response.status_code == 422, response.text
    assert _loc(response) == ["query", "org"]
    response = await api.client.get("/api/v1/orgs/tian%00de/complaints", headers=api.admin)
    assert response.status_code == 422, response.text
    assert _loc(response) == ["path"]


@pytest.mark.parametrize("item_id", HUGE_IDS)
async def test_an_item_id_outside_int4_is_422(api: Api, item_id: str) -> None:
    response = await api.client.get(f"/api/v1/items/{item_id}", headers=api.admin)
    assert response.status_code == 422, response.text
    assert _loc(response) == ["path", "item_id"]


@pytest.mark.parametrize(
    "query",
    [
        "status=" + "x" * 40,
        "status=published",
        "channel=fax",
        "offset=9223372036854775808",
        "until=9999-12-31",
        "since=0001-01-01",
        "org=" + "a" * 100,
    ],
)
async def test_unknown_or_overlong_filters_are_422(api: Api, query: str) -> None:
    response = await api.client.get(f"/api/v1/items?{query}", headers=api.admin)
    assert response.status_code == 422, response.text
    assert _loc(response)[:2] == ["query", query.split("=")[0]]


async def test_every_id_in_every_route_is_bounded(api: Api) -> None:
    """Each route of the OpenAPI schema with an id in its path: a too-large id is 422."""
    schema = api.app.openapi()
    checked = 0
    for path, methods in schema["paths"].items():
        names = re.findall(r"\{(\w+)\}", path)
        if not any(n == "id" or n.endswith("_id") for n in names):
            continue
        url = path
        for name in names:
            value = "9223372036854775808" if name.endswith("id") else "tiande"
            url = url.replace("{" + name + "}", value)
        for method in methods:
            response = await api.client.request(
                method.upper(), url, json={} if method in ("post", "put") else None,
                headers=api.admin,
            )  # fmt: skip
            assert response.status_code == 422, (method, path, response.text)
            checked += 1
    assert checked >= 15


async def test_a_body_over_the_limit_is_refused_while_it_arrives(api: Api) -> None:
    """60 MB sent in 1 MiB chunks without a length: the app stops reading past the limit."""
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(60):
            sent += 1
            yield b" " * (1024 * 1024)

    headers = {**api.admin, "Content-Type": "application/json"}
    response = await api.client.post("/api/v1/items", content=chunks(), headers=headers)
    assert response.status_code == 413, response.text
    assert sent <= 18  # 16 MiB limit: the rest was never read
    assert await Item.all().count() == 0


async def test_a_declared_length_over_the_limit_is_refused_before_reading(api: Api) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(60):
            sent += 1
            yield b" " * (1024 * 1024)

    headers = {
        **api.admin,
        "Content-Type": "application/json",
        "Content-Length": str(60 * 1024 * 1024),
    }
    response = await api.client.post("/api/v1/items", content=chunks(), headers=headers)
    assert response.status_code == 413, response.text
    assert sent <= 1
