"""kill -9 and SIGTERM in the middle of publishing: nothing lost, nothing published twice."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.service import FakeCmsProcess, Process, Service, gongkai, wait_for

pytestmark = pytest.mark.slow
SECRET = "cms-shared-secret"
ITEMS = 8


def _env(db_url: str, data_dir: Path, cms: FakeCmsProcess, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "GONGKAI_DATA_DIR": str(data_dir),
        "GONGKAI_DATABASE_URL": db_url if db_url.startswith("postgres") else "",
        "GONGKAI_CMS_URL": cms.url,
        "GONGKAI_CMS_SECRET": SECRET,
        "GONGKAI_LEASE_SECONDS": "3",
        "GONGKAI_REAP_INTERVAL_SECONDS": "0.5",
        "GONGKAI_DISPATCH_INTERVAL_SECONDS": "0.2",
        "GONGKAI_SWEEP_INTERVAL_SECONDS": "1",
        "GONGKAI_SHUTDOWN_GRACE_SECONDS": "10",
        "GONGKAI_DISPATCH_CONCURRENCY": "4",
        **extra,
    }
    return env


def _setup(env: dict[str, str]) -> str:
    gongkai(["init"], env)
    gongkai(["org", "create", "--code", "tiande", "--name", "天德乡人民政府"], env)
    return gongkai(["token", "create", "--name", "e2e", "--org", "tiande", "--review-exempt"], env)


def _queue(service: Service, token: str) -> list[int]:
    ids = []
    for n in range(ITEMS):
        item = service.call(
            "POST",
            "/api/v1/items",
            token,
            {
                "org": "tiande",
                "title": f"第{n}号通知",
                "body": f"通知正文 {n}",
                "channels": ["website", "noticeboard"],
            },
        )
        ids.append(item["id"])
    return ids


def _deliveries(service: Service, token: str, ids: list[int]) -> list[dict[str, Any]]:
    return [d for i in ids for d in service.call("GET", f"/api/v1/items/{i}", token)["deliveries"]]


def _settled(service: Service, token: str, ids: list[int]) -> bool:
    states = {(d["channel"], d["state"]) for d in _deliveries(service, token, ids)}
    return states <= {
        ("website", "published"),
        ("noticeboard", "accepted"),
        ("website", "uncertain"),
    }


@pytest.fixture
def cms(tmp_path: Path, processes: list[Process]) -> FakeCmsProcess:
    process = FakeCmsProcess(secret=SECRET, delay=1.5, log=tmp_path / "cms.log")
    processes.append(process)
    return process


Starter = Callable[[dict[str, str], Path], Service]


@pytest.fixture
def start(processes: list[Process]) -> Starter:
    """Start ``gongkai serve``; the ``processes`` fixture stops it even if the test fails."""

    def started(env: dict[str, str], log: Path) -> Service:
        service = Service(env, log)
        processes.append(service)
        return service

    return started


class TestKill9:
    def test_kill9_mid_publish_then_restart_publishes_each_exactly_once(
        self, db_url: str, tmp_path: Path, cms: FakeCmsProcess, start: Starter
    ) -> None:
        """Deliveries in flight at kill -9 are re-run after restart; the CMS and the ledger
        each hold exactly one publication per delivery."""
        env = _env(db_url, tmp_path / "data", cms)
        token = _setup(env)
        log = tmp_path / "service.log"
        first = start(env, log)
        ids = _queue(first, token)
        wait_for(lambda: cms.stats()["calls"] >= 2, what="commits in flight")
        first.kill9()
        second = start(env, log)
        wait_for(lambda: _settled(second, token, ids), what="all settled", log=log, limit=120)
        deliveries = _deliveries(second, token, ids)
        website = [d for d in deliveries if d["channel"] == "website"]
        assert {d["state"] for d in website} == {"published"}
        stats = cms.stats()
        assert stats["created"] == ITEMS
        assert set(stats["per_key"].values()) == {1}
        assert stats["calls"] > ITEMS, "the kill should have interrupted at least one commit"
        for delivery in deliveries:
            if delivery["channel"] == "noticeboard":
                assert delivery["state"] == "accepted"
        year = website[0]["published_at"][:4]
        report = second.call("GET", f"/api/v1/reports/tiande/{year}/channels", token)
        assert report["website"] == ITEMS

    def test_kill9_with_a_non_idempotent_cms_leaves_uncertain_not_duplicates(
        self, db_url: str, tmp_path: Path, cms: FakeCmsProcess, start: Starter
    ) -> None:
        """When the CMS cannot dedupe, an interrupted commit becomes uncertain, never resent."""
        env = _env(db_url, tmp_path / "data", cms, GONGKAI_CMS_IDEMPOTENT="false")
        token = _setup(env)
        log = tmp_path / "service.log"
        first = start(env, log)
        ids = _queue(first, token)
        wait_for(lambda: cms.stats()["calls"] >= 2, what="commits in flight")
        first.kill9()
        second = start(env, log)
        wait_for(lambda: _settled(second, token, ids), what="all settled", log=log, limit=120)
        website = [d for d in _deliveries(second, token, ids) if d["channel"] == "website"]
        uncertain = [d for d in website if d["state"] == "uncertain"]
        assert uncertain, "an interrupted, unrepeatable commit must be left to a person"
        assert all("not repeatable" in d["last_error"] for d in uncertain)
        assert set(cms.stats()["per_key"].values()) == {1}


class TestSigterm:
    def test_sigterm_finishes_or_releases_in_flight_deliveries(
        self, db_url: str, tmp_path: Path, cms: FakeCmsProcess, start: Starter
    ) -> None:
        """SIGTERM lets in-flight commits finish; nothing is left 'sending' after exit."""
        env = _env(db_url, tmp_path / "data", cms)
        token = _setup(env)
        log = tmp_path / "service.log"
        service = start(env, log)
        ids = _queue(service, token)
        wait_for(lambda: cms.stats()["calls"] >= 2, what="commits in flight")
        # uvicorn re-raises the signal after a graceful shutdown, hence -SIGTERM.
        assert service.terminate() in (0, -15)
        assert "Application shutdown complete" in log.read_text()
        states = gongkai(["status", str(ids[0])], env)
        assert '"sending"' not in states
        restarted = start(env, log)
        wait_for(lambda: _settled(restarted, token, ids), what="all settled", log=log, limit=120)
        assert all(d["state"] != "sending" for d in _deliveries(restarted, token, ids))
        assert cms.stats()["created"] == ITEMS
