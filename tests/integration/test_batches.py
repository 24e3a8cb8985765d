"""Batch channels (WeChat's multi-article broadcast): grouping, deferral, crash safety."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from bot import publishing
from bot.publishing import ItemInput
from channels.base import OutcomeUnknown, PermanentError
from storage.models import Delivery, Organization
from tests.fakes.channel import ScriptedBatchChannel
from tests.integration.helpers import dispatcher, kill, make_org

pytestmark = pytest.mark.usefixtures("database")


async def _queue(
    org: Organization,
    channels: dict[str, ScriptedBatchChannel],
    n: int,
    *,
    priority: int = 0,
    title: str = "通知",
) -> list[int]:
    ids = []
    for i in range(n):
        data = ItemInput(
            org=org,
            title=f"{title}{i}",
            body="正文",
            channels=["wechat"],
            author="t",
            priority=priority,
        )
        item = await publishing.queue(data, channels=channels, max_body_bytes=10_000)
        ids.append(item.id)
    return ids


async def _states() -> dict[str, int]:
    counts: dict[str, int] = {}
    for delivery in await Delivery.all():
        counts[delivery.state] = counts.get(delivery.state, 0) + 1
    return counts


class TestGrouping:
    async def test_due_deliveries_of_one_org_form_batches_of_the_limit(self) -> None:
        """Ten due items make one batch of eight and one of two, highest priority first."""
        org = await make_org()
        ch = ScriptedBatchChannel(batch_limit=8)
        channels = {"wechat": ch}
        low = await _queue(org, channels, 7, title="普通")
        high = await _queue(org, channels, 3, priority=5, title="重要")
        await dispatcher(channels).run_until_idle()
        sizes = sorted(len(ids) for ids in ch.batches.values())
        assert sizes == [2, 8]
        first = max(ch.batches.values(), key=len)
        items = {d.id: d.item_id for d in await Delivery.all()}
        assert {items[d] for d in first[:3]} == set(high)
        assert len({items[d] for d in first} & set(low)) == 5
        assert await _states() == {"accepted": 10}

    async def test_organizations_never_share_a_batch(self) -> None:
        """Each organization's items go out on its own account, in its own batch."""
        ch = ScriptedBatchChannel()
        a, b = await make_org(), await make_org("lianhe", "联合乡人民政府")
        await _queue(a, {"wechat": ch}, 2)
        await _queue(b, {"wechat": ch}, 2)
        await dispatcher({"wechat": ch}).run_until_idle()
        orgs = {d.id: d.item_id for d in await Delivery.all()}
        assert sorted(len(v) for v in ch.batches.values()) == [2, 2]
        assert len(orgs) == 4


class TestClaimLimits:
    async def test_a_small_claim_still_sends_the_whole_day_in_one_batch(self) -> None:
        """A worker with two free slots tops the batch up to all five due items."""
        org = await make_org()
        ch = ScriptedBatchChannel(batch_limit=8)
        await _queue(org, {"wechat": ch}, 5)
        d = dispatcher({"wechat": ch})
        d.concurrency = 2
        await d.run_until_idle()
        assert [len(ids) for ids in ch.batches.values()] == [5]


class TestDeferral:
    async def test_deferred_batch_waits_without_using_attempts(self) -> None:
        """A batch told to wait for the slot goes to retry_wait until then, ungrouped."""
        org = await make_org()
        ch = ScriptedBatchChannel()
        slot = dt.datetime.now(dt.UTC) + dt.timedelta(hours=3)
        ch.defer_until = slot
        await _queue(org, {"wechat": ch}, 3)
        d = dispatcher({"wechat": ch})
        await d.tick()
        await asyncio.gather(*set(d._in_flight.values()))
        for delivery in await Delivery.all():
            assert delivery.state == "retry_wait"
            assert delivery.batch_key is None
            assert delivery.attempts == 0
            assert delivery.next_attempt_at is not None
            assert abs((delivery.next_attempt_at - slot).total_seconds()) < 5
        assert ch.batches == {}


class TestCrashSafety:
    async def test_a_batch_repeated_after_a_crash_keeps_its_key_and_members(self) -> None:
        """After a worker dies mid-commit, the same deliveries are retried under the same key."""
        org = await make_org()
        ch = ScriptedBatchChannel()
        await _queue(org, {"wechat": ch}, 3)
        ch.hold.clear()
        crashed = dispatcher({"wechat": ch}, worker="crashed", lease_seconds=60)
        await crashed.tick()
        async with asyncio.timeout(10):  # the worker dies only once its commit has begun
            while not ch.commits:  # noqa: ASYNC110 (the fake records; nothing to await)
                await asyncio.sleep(0.01)
        await kill(crashed)
        await _queue(org, {"wechat": ch}, 2, title="新")  # due now, must not join the old batch
        ch.hold.set()
        after_lease = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=120)
        reaper = dispatcher({"wechat": ch}, worker="reaper", now=after_lease)
        assert await reaper.reap() == 3
        await reaper.run_until_idle()
        first_key, first_ids = ch.commits[0]
        repeats = [ids for key, ids in ch.commits if key == first_key]
        assert len(repeats) == 2  # the crashed worker's commit, then the reaper's repeat
        assert all(sorted(ids) == sorted(first_ids) for ids in repeats)
        assert sorted(len(v) for v in ch.batches.values()) == [2, 3]
        assert await _states() == {"accepted": 5}

    async def test_a_member_that_fails_to_prepare_leaves_the_batch(self) -> None:
        """One bad image fails its own delivery; the others still go out together."""
        org = await make_org()
        ch = ScriptedBatchChannel()
        ch.prepare_failures = [PermanentError("图片格式不支持")]
        await _queue(org, {"wechat": ch}, 3)
        await dispatcher({"wechat": ch}).run_until_idle()
        assert await _states() == {"failed": 1, "accepted": 2}
        assert [len(v) for v in ch.batches.values()] == [2]
        failed = await Delivery.get(state="failed")
        assert failed.batch_key is None

    async def test_an_unknown_outcome_is_left_to_a_person(self) -> None:
        """A batch whose answer was lost beyond the safe window becomes uncertain."""
        org = await make_org()
        ch = ScriptedBatchChannel()
        ch.failures = [OutcomeUnknown("群发结果未知，且已超过24小时去重期")]
        await _queue(org, {"wechat": ch}, 2)
        await dispatcher({"wechat": ch}).run_until_idle()
        assert await _states() == {"uncertain": 2}
