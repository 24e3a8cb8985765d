"""A bug inside a channel (an exception that is not a ChannelError) and a delivery that
kills its worker every time: both are counted as tries and stop at ``max_attempts``
instead of going back to pending forever on lease expiry. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from typing import Any

import pytest

from channels.base import Committed, Publishable
from storage import outbox
from storage.delivery import State
from storage.models import Delivery, DeliveryAttempt, Publication
from tests.fakes.channel import ScriptedBatchChannel, ScriptedChannel
from tests.integration.helpers import dispatcher, make_org, queue

pytestmark = pytest.mark.usefixtures("database")


class BuggyPrepare(ScriptedChannel):
    """A channel whose prepare has a real bug: it reads a key nothing ever stored."""

    async def prepare(self, pub: Publishable) -> dict[str, Any]:
        self.calls.append(("prepare", pub.delivery_id))
        return {"cover": pub.prepared["cover_media_id"]}


class BuggyCommit(ScriptedChannel):
    """A channel whose commit fails with a bug after it may have sent something."""

    async def commit(self, pub: Publishable, prepared: Mapping[str, Any]) -> Committed:
        self.calls.append(("commit", pub.delivery_id))
        url = f"https://api.example.test/send?access_token=SECRET123&id={pub.delivery_id}"
        raise RuntimeError(f"unexpected answer from {url}")


class BuggyBatch(ScriptedBatchChannel):
    async def commit_batch(self, pubs: Any, prepared: Any) -> list[Committed]:
        self.commits.append(("", [p.delivery_id for p in pubs]))
        return [Committed(external_id=str(1 / 0))]


async def _attempt_log(delivery: Delivery) -> list[tuple[int, str, str | None, str | None]]:
    rows = await DeliveryAttempt.filter(delivery_id=delivery.id).order_by("id")
    return [(a.number, a.outcome, a.error_code, a.error_message) for a in rows]


async def test_a_bug_in_prepare_counts_as_tries_and_fails_with_a_readable_reason() -> None:
    """KeyError in prepare: three recorded tries (type and message), then failed."""
    org = await make_org()
    ch = BuggyPrepare()
    item = await queue(org, {"website": ch})
    await dispatcher({"website": ch}, max_attempts=3).run_until_idle(limit_seconds=10)
    delivery = await Delivery.get(item_id=item.id)
    assert (delivery.state, delivery.attempts) == (State.FAILED, 3)
    assert delivery.last_error_code == "unexpected_error"
    assert "KeyError: 'cover_media_id'" in (delivery.last_error or "")
    assert "gave up after 3 attempts" in (delivery.last_error or "")
    assert delivery.lease_owner is None
    log = await _attempt_log(delivery)
    assert [(n, outcome, code) for n, outcome, code, _ in log] == [
        (1, "temporary", "unexpected_error"),
        (2, "temporary", "unexpected_error"),
        (3, "temporary", "unexpected_error"),
    ]
    assert all("KeyError: 'cover_media_id'" in (message or "") for *_, message in log)
    assert ch.calls == [("prepare", delivery.id)] * 3


async def test_a_bug_in_an_unrepeatable_commit_goes_to_a_person_once() -> None:
    """A commit that cannot be repeated may have published: uncertain, no retry, no secret."""
    org = await make_org()
    ch = BuggyCommit(commit_repeatable=False)
    item = await queue(org, {"website": ch})
    await dispatcher({"website": ch}, max_attempts=3).run_until_idle(limit_seconds=10)
    delivery = await Delivery.get(item_id=item.id)
    assert (delivery.state, delivery.attempts) == (State.UNCERTAIN, 1)
    assert "RuntimeError: unexpected answer" in (delivery.last_error or "")
    assert "SECRET123" not in (delivery.last_error or "")
    assert "access_token=***" in (delivery.last_error or "")
    assert [c for c in ch.calls if c[0] == "commit"] == [("commit", delivery.id)]
    assert await Publication.all().count() == 0


async def test_a_bug_in_a_batch_commit_fails_every_member_after_the_limit() -> None:
    """ZeroDivisionError in commit_batch: each member of the batch stops after its tries."""
    org = await make_org()
    ch = BuggyBatch(batch_limit=8)
    items = [await queue(org, {"wechat": ch}, chosen=("wechat",), title=f"通知{n}") for n in (1, 2)]
    await dispatcher({"wechat": ch}, max_attempts=2).run_until_idle(limit_seconds=10)
    for item in items:
        delivery = await Delivery.get(item_id=item.id)
        assert (delivery.state, delivery.attempts) == (State.FAILED, 2)
        assert "ZeroDivisionError: division by zero" in (delivery.last_error or "")
    assert len(ch.commits) == 2


async def test_a_delivery_that_kills_its_worker_stops_after_the_limit() -> None:
    """Each try the worker dies (kill -9: the lease stays held) and its lease expires; the
    reaper puts it back twice, and the third expiry fails it instead of looping forever."""
    org = await make_org()
    ch = ScriptedChannel()
    item = await queue(org, {"website": ch})
    reaper = dispatcher({"website": ch}, worker="reaper", max_attempts=3)
    for attempt in (1, 2, 3):
        now = dt.datetime.now(dt.UTC)
        claim = await outbox.claim(worker=f"w{attempt}", now=now, lease_seconds=0.1, limit=1)
        assert len(claim.delivery_ids) == 1  # then the worker is gone
        await asyncio.sleep(0.2)
        assert await reaper.reap() == 1
    delivery = await Delivery.get(item_id=item.id)
    assert (delivery.state, delivery.attempts) == (State.FAILED, 3)
    assert delivery.last_error == "worker lease expired (gave up after 3 attempts)"
    assert await reaper.tick() == 0
    assert ch.calls == []
    log = await _attempt_log(delivery)
    assert [(n, outcome) for n, outcome, *_ in log] == [
        (1, "lease_expired"),
        (2, "lease_expired"),
        (3, "lease_expired"),
    ]
