"""What the county's IT person watches: /metrics, /readyz, and log lines with ids."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import random
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tortoise.migrations.recorder import MigrationRecorder

from bot.dispatcher import Dispatcher
from bot.logs import IdsFilter, JsonFormatter
from bot.settings import Settings
from bot.web import create_app
from channels.base import TemporaryError
from storage.db import connection
from storage.delivery import RetryPolicy
from storage.models import Delivery, Organization
from storage.wechat_models import WechatAccount, WechatJob
from tests.conftest import PG_URL, _prepare_postgres
from tests.fakes.channel import ScriptedChannel
from tests.fakes.tcp_proxy import TcpProxy
from tests.integration.conftest import Api

ITEM = {"org": "tiande", "title": "关于春耕生产的通知", "body": "正文。", "channels": ["website"]}


def patient_dispatcher(channel: ScriptedChannel) -> Dispatcher:
    """A dispatcher whose retries wait an hour, so a run ends after the first failure."""
    return Dispatcher(
        {"website": channel},
        worker="w1",
        lease_seconds=60,
        batch=10,
        concurrency=2,
        clock=lambda: dt.datetime.now(dt.UTC),
        rng=random.Random(0),
        policy=RetryPolicy(max_attempts=3, base_seconds=3600, cap_seconds=3600),
    )


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text page, by name and sorted labels."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def scrape(api: Api) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await api.client.get("/metrics", headers=api.admin)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return samples(response.text)


class TestMetrics:
    async def test_only_a_platform_administrator_reads_them(self, api: Api) -> None:
        """No token: 401; an organization's token: 403."""
        assert (await api.client.get("/metrics")).status_code == 401
        assert (await api.client.get("/metrics", headers=api.tiande)).status_code == 403

    async def test_deliveries_by_state_and_request_latency(self, api: Api) -> None:
        """A published item shows under its channel and state; the POST is in the latency
        histogram under its route template and in the responses by status."""
        created = await api.client.post("/api/v1/items", json=ITEM, headers=api.tiande)
        assert created.status_code == 201
        await api.runtime.dispatcher.run_until_idle()
        item_id = created.json()["id"]
        assert (await api.client.get(f"/api/v1/items/{item_id}", headers=api.tiande)).is_success
        got = await scrape(api)
        assert got["gongkai_deliveries", (("channel", "website"), ("state", "published"))] == 1
        assert got["gongkai_due_unclaimed", ()] == 0
        assert got["gongkai_oldest_due_seconds", ()] == 0
        assert got["gongkai_accepted_unconfirmed", ()] == 0
        post = (("method", "POST"), ("route", "/api/v1/items"))
        assert got["gongkai_http_request_duration_seconds_count", post] == 1
        assert got["gongkai_http_responses_total", (*post, ("status", "201"))] == 1
        one = (("method", "GET"), ("route", "/api/v1/items/{item_id}"))
        assert got["gongkai_http_request_duration_seconds_count", one] == 1

    async def test_due_work_nobody_claims_shows_its_age(self, api: Api) -> None:
        """A delivery due an hour ago and unclaimed: due_unclaimed 1, oldest due ≥ 3600 s."""
        created = await api.client.post("/api/v1/items", json=ITEM, headers=api.tiande)
        an_hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
        await Delivery.filter(item_id=created.json()["id"]).update(next_attempt_at=an_hour_ago)
        got = await scrape(api)
        assert got["gongkai_due_unclaimed", ()] == 1
        assert 3600 <= got["gongkai_oldest_due_seconds", ()] < 3700

    async def test_errors_by_code(self, api: Api) -> None:
        """A delivery waiting to retry after WeChat's 45009 is counted under that code."""
        await api.client.post("/api/v1/items", json=ITEM, headers=api.tiande)
        channel = ScriptedChannel()
        channel.failures.append(TemporaryError("接口调用超过限制", code="45009"))
        await patient_dispatcher(channel).run_until_idle()
        got = await scrape(api)
        assert got["gongkai_delivery_errors", (("channel", "website"), ("code", "45009"))] == 1

    async def test_wechat_broadcasts_left(self, api: Api) -> None:
        """A subscription account that broadcast today has 0 left; a service account that
        broadcast once this month has 3."""
        orgs = {o.code: o for o in await Organization.all()}
        today = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8))).date()
        for code, kind in (("tiande", "subscription"), ("lianhe", "service")):
            await WechatAccount.create(
                organization=orgs[code], app_id=f"wx{code}", app_secret_sealed="x", kind=kind
            )
            await WechatJob.create(
                batch_key=f"b{code}", app_id=f"wx{code}", mode="broadcast", local_date=today,
                msg_id="1000",
            )  # fmt: skip
        got = await scrape(api)
        assert got["gongkai_wechat_broadcasts_left", (("organization", "tiande"),)] == 0
        assert got["gongkai_wechat_broadcasts_left", (("organization", "lianhe"),)] == 3


class TestReadiness:
    async def test_ready_when_every_migration_is_applied(self, api: Api) -> None:
        """readyz is 200 with no pending migration, healthz 200 beside it."""
        ready = await api.client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready", "database": "ok", "pending_migrations": []}
        assert (await api.client.get("/healthz")).status_code == 200

    async def test_not_ready_while_a_migration_is_pending(self, api: Api) -> None:
        """With the newest migration not recorded as applied, readyz is 503 and names it."""
        recorder = MigrationRecorder(connection())
        key = max(await recorder.applied_migrations(), key=lambda key: key.name)
        app, newest = key.app_label, key.name
        await recorder.record_unapplied(app, newest)
        try:
            pending = await api.client.get("/readyz")
            alive = await api.client.get("/healthz")
        finally:
            await recorder.record_applied(app, newest)
        assert pending.status_code == 503
        assert pending.json()["pending_migrations"] == [f"{app}.{newest}"]
        assert alive.status_code == 200  # alive, not ready
        assert (await api.client.get("/readyz")).status_code == 200


@pytest.mark.skipif(os.environ.get("GONGKAI_SKIP_PG") == "1", reason="PostgreSQL disabled")
async def test_not_ready_when_the_database_is_unreachable(tmp_path: Path) -> None:
    """With PostgreSQL cut off, readyz answers 503 'unreachable'."""
    await _prepare_postgres()
    target = urlsplit(PG_URL)
    proxy = await TcpProxy(target.hostname or "127.0.0.1", target.port or 5432).start()
    url = PG_URL.replace(f"{target.hostname}:{target.port}", f"127.0.0.1:{proxy.port}")
    app = create_app(Settings(data_dir=tmp_path / "data", database_url=url), run_worker=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            assert (await client.get("/readyz")).status_code == 200
            await proxy.cut()
            down = await client.get("/readyz")
    assert down.status_code == 503
    assert down.json()["database"] == "unreachable"


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(IdsFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield out
    root.removeHandler(handler)


async def test_a_delivery_logs_with_its_item_and_delivery_ids(
    api: Api, json_lines: io.StringIO
) -> None:
    """The dispatcher's lines about a failing delivery carry that delivery's and item's ids."""
    created = await api.client.post("/api/v1/items", json=ITEM, headers=api.tiande)
    item_id = created.json()["id"]
    delivery = await Delivery.get(item_id=item_id)
    channel = ScriptedChannel()
    channel.failures.append(RuntimeError("boom"))  # type: ignore[arg-type]
    await patient_dispatcher(channel).run_until_idle()
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    about = [ln for ln in lines if ln["logger"] == "gongkai.dispatcher"]
    assert about, lines
    assert all((ln["item"], ln["delivery"]) == (item_id, delivery.id) for ln in about)
    assert "RuntimeError: boom" in about[0]["exception"]
    assert "token" not in json_lines.getvalue().lower()
