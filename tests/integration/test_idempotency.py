"""Idempotency-Key on POST /api/v1/items and /imports: a client that retries after a lost
answer gets the first answer again and nothing is created twice. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx

from storage.idempotency import IdempotencyKey
from storage.models import Item
from tests.integration.conftest import Api

ITEM = {"org": "tiande", "title": "停电通知", "body": "明日停电。", "channels": ["website"]}
OLD = {
    "org": "tiande",
    "title": "2019年财政预算公开",
    "body": "正文",
    "published_at": "2019-03-01T09:00:00+08:00",
    "published_channels": ["website"],
}


def keyed(headers: dict[str, str], key: str) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key}


async def _post(api: Api, headers: dict[str, str], body: object) -> httpx.Response:
    return await api.client.post("/api/v1/items", json=body, headers=headers)


async def test_a_repeat_returns_the_first_answer_and_creates_nothing(api: Api) -> None:
    first = await _post(api, keyed(api.tiande, "order-1"), ITEM)
    assert first.status_code == 201, first.text
    assert "Idempotent-Replay" not in first.headers
    again = await _post(api, keyed(api.tiande, "order-1"), dict(reversed(ITEM.items())))
    assert again.status_code == 201
    assert again.headers["Idempotent-Replay"] == "true"
    assert again.json() == first.json()
    assert await Item.all().count() == 1


async def test_the_same_key_with_another_body_is_a_422_naming_the_header(api: Api) -> None:
    assert (await _post(api, keyed(api.tiande, "k"), ITEM)).status_code == 201
    other = await _post(api, keyed(api.tiande, "k"), {**ITEM, "title": "另一条通知"})
    assert other.status_code == 422
    assert other.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    assert "another request body" in other.text
    assert await Item.all().count() == 1


async def test_without_a_key_every_request_creates(api: Api) -> None:
    for _ in range(2):
        assert (await _post(api, api.tiande, ITEM)).status_code == 201
    assert await Item.all().count() == 2


async def test_keys_belong_to_one_token(api: Api) -> None:
    """Another token's identical key is another request."""
    assert (await _post(api, keyed(api.tiande, "same"), ITEM)).status_code == 201
    admin = await _post(api, keyed(api.admin, "same"), ITEM)
    assert admin.status_code == 201
    assert "Idempotent-Replay" not in admin.headers
    assert await Item.all().count() == 2


async def test_concurrent_repeats_create_one_item(api: Api) -> None:
    """Five copies sent at once: the first creates, the others wait for it and replay."""
    answers = await asyncio.gather(
        *(_post(api, keyed(api.tiande, "burst"), ITEM) for _ in range(5))
    )
    assert [a.status_code for a in answers] == [201] * 5
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum(a.headers.get("Idempotent-Replay") == "true" for a in answers) == 4
    assert await Item.all().count() == 1


async def test_a_failed_request_gives_its_key_back(api: Api) -> None:
    """A refused request stores no key: fixing the body and retrying with it works."""
    wrong = await _post(api, keyed(api.tiande, "retry-me"), {**ITEM, "org": "lianhe"})
    assert wrong.status_code in (403, 404, 422), wrong.text
    fixed = await _post(api, keyed(api.tiande, "retry-me"), ITEM)
    assert fixed.status_code == 201, fixed.text
    assert "Idempotent-Replay" not in fixed.headers
    assert await IdempotencyKey.all().count() == 1


async def test_keys_expire_after_a_day(api: Api) -> None:
    assert (await _post(api, keyed(api.tiande, "daily"), ITEM)).status_code == 201
    yesterday = dt.datetime.now(dt.UTC) - dt.timedelta(hours=25)
    await IdempotencyKey.all().update(created_at=yesterday)
    later = await _post(api, keyed(api.tiande, "daily"), {**ITEM, "title": "新的一天"})
    assert later.status_code == 201, later.text
    assert "Idempotent-Replay" not in later.headers
    assert await Item.all().count() == 2
    assert await IdempotencyKey.all().count() == 1  # the expired one is gone


async def test_a_bad_key_is_a_422(api: Api) -> None:
    for bad in (b"x" * 256, "含中文".encode()):
        answer = await api.client.post(
            "/api/v1/items",
            json=ITEM,
            headers={**api.tiande, "Idempotency-Key": bad},  # type: ignore[arg-type]  # raw bytes on purpose
        )
        assert answer.status_code == 422
        assert "Idempotency-Key" in answer.text
    assert await Item.all().count() == 0


async def test_imports_replay_too(api: Api) -> None:
    body = {"items": [OLD]}
    first = await api.client.post("/api/v1/imports", json=body, headers=keyed(api.admin, "bf"))
    assert first.status_code == 201, first.text
    again = await api.client.post("/api/v1/imports", json=body, headers=keyed(api.admin, "bf"))
    assert (again.status_code, again.json()) == (201, first.json())
    assert again.headers["Idempotent-Replay"] == "true"
    other = await api.client.post(
        "/api/v1/imports",
        json={"items": [{**OLD, "title": "别的"}]},
        headers=keyed(api.admin, "bf"),
    )
    assert other.status_code == 422
    assert await Item.all().count() == 1
