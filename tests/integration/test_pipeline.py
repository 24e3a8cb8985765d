"""Queue → claim → channel → outcome, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from bot import publishing
from bot.dispatcher import Dispatcher
from bot.publishing import Conflict
from channels.base import Committed, ConfigurationError, PermanentError, TemporaryError
from storage import outbox
from storage.db import is_postgres
from storage.delivery import State
from storage.ledger import channel_tally
from storage.models import Delivery, DeliveryAttempt, Item, Publication
from tests.fakes.channel import ScriptedChannel
from tests.integration.helpers import dispatcher, kill, make_org, queue, states

pytestmark = pytest.mark.usefixtures("database")


class TestQueueing:
    async def test_queue_creates_one_pending_delivery_per_channel(self) -> None:
        """An item queued for two channels has two pending deliveries with distinct keys."""
        org = await make_org()
        channel = ScriptedChannel()
        item = await queue(
            org, {"website": channel, "noticeboard": channel}, chosen=("website", "noticeboard")
        )
        deliveries = await Delivery.filter(item_id=item.id)
        assert {d.channel: d.state for d in deliveries} == {
            "website": "pending",
            "noticeboard": "pending",
        }
        assert len({d.idempotency_key for d in deliveries}) == 2
        assert all(len(d.idempotency_key) <= 32 for d in deliveries)

    async def test_index_numbers_count_per_organization_and_year(self) -> None:
        """索引号 run 00001, 00002 within an organization's year and restart for another."""
        org, other = await make_org(), await make_org("lianhe", "联合乡人民政府")
        ch = {"website": ScriptedChannel()}
        first = await queue(org, ch, publish_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC))
        second = await queue(org, ch, publish_at=dt.datetime(2026, 3, 2, tzinfo=dt.UTC))
        third = await queue(other, ch, publish_at=dt.datetime(2026, 3, 2, tzinfo=dt.UTC))
        fourth = await queue(org, ch, publish_at=dt.datetime(2027, 1, 2, tzinfo=dt.UTC))
        assert [first.index_no, second.index_no, third.index_no, fourth.index_no] == [
            "tiande/2026-00001",
            "tiande/2026-00002",
            "lianhe/2026-00001",
            "tiande/2027-00001",
        ]

    async def test_future_items_wait_for_their_time(self) -> None:
        """A delivery is not claimed before the item's publish_at."""
        org = await make_org()
        ch = ScriptedChannel()
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        await queue(org, {"website": ch}, publish_at=later)
        assert await dispatcher({"website": ch}).tick() == 0
        assert ch.calls == []


class TestDispatch:
    async def test_success_publishes_and_writes_one_ledger_row(self) -> None:
        """A committed delivery is published with its URL, logged, and counted once."""
        org = await make_org()
        ch = ScriptedChannel()
        item = await queue(org, {"website": ch})
        await dispatcher({"website": ch}).run_until_idle()
        delivery = await Delivery.get(item_id=item.id)
        assert delivery.state == State.PUBLISHED
        assert delivery.url == f"http://example.test/{delivery.id}"
        assert await Publication.filter(delivery_id=delivery.id).count() == 1
        steps = await DeliveryAttempt.filter(delivery_id=delivery.id).order_by("id")
        # One row per try: the step it reached and how it ended.
        assert [(a.step, a.outcome) for a in steps] == [("commit", "committed")]

    async def test_temporary_errors_back_off_then_succeed(self) -> None:
        """Two 503s are retried with backoff and the third attempt publishes."""
        org = await make_org()
        ch = ScriptedChannel()
        ch.failures = [TemporaryError("CMS 503", code="http_503")] * 2
        item = await queue(org, {"website": ch})
        await dispatcher({"website": ch}).run_until_idle(limit_seconds=10)
        delivery = await Delivery.get(item_id=item.id)
        assert delivery.state == State.PUBLISHED
        assert delivery.attempts == 3
        outcomes = (
            await DeliveryAttempt.filter(delivery_id=delivery.id, step="commit")
            .order_by("id")
            .values_list("outcome", "error_code")
        )
        assert outcomes == [
            ("temporary", "http_503"),
            ("temporary", "http_503"),
            ("committed", None),
        ]

    async def test_temporary_errors_give_up_after_the_limit(self) -> None:
        """With max_attempts=3, three temporary errors leave the delivery failed with reason."""
        org = await make_org()
        ch = ScriptedChannel()
        ch.failures = [TemporaryError("timeout")] * 3
        item = await queue(org, {"website": ch})
        await dispatcher({"website": ch}).run_until_idle(limit_seconds=10)
        delivery = await Delivery.get(item_id=item.id)
        assert delivery.state == State.FAILED
        assert delivery.last_error == "timeout (gave up after 3 attempts)"
        assert await Publication.all().count() == 0

    async def test_permanent_error_stops_at_once_and_shows_why(self) -> None:
        """A 4xx-style error fails the delivery on the first attempt with the platform's words."""
        org = await make_org()
        ch = ScriptedChannel()
        ch.failures = [PermanentError("标题含有非法字符", code="http_400")]
        item = await queue(org, {"website": ch})
        await dispatcher({"website": ch}).run_until_idle()
        delivery = await Delivery.get(item_id=item.id)
        assert (delivery.state, delivery.attempts) == (State.FAILED, 1)
        assert delivery.last_error == "标题含有非法字符 (permanent)"
        assert delivery.last_error_code == "http_400"

    async def test_configuration_error_pauses_the_delivery(self) -> None:
        """A wrong secret parks the delivery in retry_wait for the configuration pause."""
        org = await make_org()
        ch = ScriptedChannel()
        ch.failures = [ConfigurationError("签名错误", code="http_401")]
        item = await queue(org, {"website": ch})
        now = dt.datetime.now(dt.UTC)
        d = dispatcher({"website": ch})
        d.policy = type(d.policy)(configuration_pause_seconds=900)
        await d.tick()
        await asyncio.gather(*list(d._in_flight.values()))
        delivery = await Delivery.get(item_id=item.id)
        assert delivery.state == State.RETRY_WAIT
        assert delivery.next_attempt_at is not None
        assert delivery.next_attempt_at - now > dt.timedelta(seconds=850)

    async def test_one_channel_failing_does_not_hold_back_another(self) -> None:
        """Website fails permanently while the notice board still publishes."""
        org = await make_org()
        web, board = ScriptedChannel(), ScriptedChannel()
        web.failures = [PermanentError("rejected")]
        item = await queue(
            org, {"website": web, "noticeboard": board}, chosen=("website", "noticeboard")
        )
        await dispatcher({"website": web, "noticeboard": board}).run_until_idle()
        assert await states(item) == {"website": "failed", "noticeboard": "published"}

    async def test_retry_one_channel_alone(self) -> None:
        """Retrying the failed website leaves the published notice board untouched."""
        org = await make_org()
        web, board = ScriptedChannel(), ScriptedChannel()
        web.failures = [PermanentError("rejected")]
        channels = {"website": web, "noticeboard": board}
        item = await queue(org, channels, chosen=("website", "noticeboard"))
        await dispatcher(channels).run_until_idle()
        await publishing.retry(item, channel="website")
        await dispatcher(channels).run_until_idle()
        assert await states(item) == {"website": "published", "noticeboard": "published"}
        assert sum(board.published.values()) == 1
        assert await Publication.all().count() == 2

    async def test_accepted_waits_for_confirmation_by_poll(self) -> None:
        """A channel that needs confirmation stays accepted until its poll confirms it."""
        org = await make_org()
        ch = ScriptedChannel(needs_confirmation=True, polls_confirmation=True)
        ch.poll_results = [None, Committed(external_id="msg-1", url="http://mp.test/1")]
        item = await queue(org, {"website": ch})
        d = dispatcher({"website": ch})
        await d.run_until_idle()
        assert await states(item) == {"website": "accepted"}
        assert await d.poll_confirmations() == 0
        assert await d.poll_confirmations() == 1
        delivery = await Delivery.get(item_id=item.id)
        assert (delivery.state, delivery.external_id) == (State.PUBLISHED, "msg-1")
        assert await Publication.all().count() == 1

    async def test_rejection_after_acceptance_fails_with_reason(self) -> None:
        """A platform that rejects an accepted job turns the delivery failed, not published."""
        org = await make_org()
        ch = ScriptedChannel(needs_confirmation=True, polls_confirmation=True)
        ch.poll_results = [PermanentError("审核未通过", code="publish_status_2")]
        item = await queue(org, {"website": ch})
        d = dispatcher({"website": ch})
        await d.run_until_idle()
        await d.poll_confirmations()
        delivery = await Delivery.get(item_id=item.id)
        assert (delivery.state, delivery.last_error) == (State.FAILED, "审核未通过")


class TestConcurrency:
    async def test_two_workers_never_claim_the_same_delivery(self) -> None:
        """Rounds of simultaneous claims by three workers hand out each delivery once."""
        org = await make_org()
        ch = ScriptedChannel()
        for n in range(30):
            await queue(org, {"website": ch}, title=f"通知{n}")
        now = dt.datetime.now(dt.UTC)
        claimed: list[int] = []
        rounds: list[int] = []
        for _round in range(10):
            claims = await asyncio.gather(
                *[
                    outbox.claim(worker=f"w{n}", now=now, lease_seconds=60, limit=20)
                    for n in range(3)
                ]
            )
            rounds.append(sum(len(c.delivery_ids) for c in claims))
            claimed += [i for c in claims for i in c.delivery_ids]
            if len(claimed) >= 30:
                break
        assert len(claimed) == len(set(claimed)) == 30
        if is_postgres():  # SKIP LOCKED: concurrent pickers skip each other's rows at once
            assert rounds[0] == 30

    async def test_stale_worker_cannot_record_after_losing_its_lease(self) -> None:
        """A worker whose lease was reaped and re-claimed cannot overwrite the new holder."""
        org = await make_org()
        await queue(org, {"website": ScriptedChannel()})
        now = dt.datetime.now(dt.UTC)
        first = await outbox.claim(worker="old", now=now, lease_seconds=1, limit=1)
        later = now + dt.timedelta(seconds=5)
        for delivery in await outbox.expired_leases(later):
            await outbox.release(delivery, State.PENDING, now=later, reason="expired")
        second = await outbox.claim(worker="new", now=later, lease_seconds=60, limit=1)
        assert second.delivery_ids == first.delivery_ids
        with pytest.raises(outbox.TransitionRefused):
            await outbox.save_prepared(first.delivery_ids[0], lease_token=first.token, prepared={})


LEASE_SECONDS = 60


class TestLeases:
    async def _crash_during_commit(self, ch: ScriptedChannel) -> tuple[Item, Delivery]:
        org = await make_org()
        item = await queue(org, {"website": ch})
        ch.hold.clear()
        crashed = dispatcher({"website": ch}, worker="crashed", lease_seconds=LEASE_SECONDS)
        await crashed.tick()
        await ch.committing.wait()
        await kill(crashed)  # the lease stays held, the commit open
        return item, await Delivery.get(item_id=item.id)

    def _reaper(self, ch: ScriptedChannel, worker: str = "reaper") -> Dispatcher:
        """A worker whose clock reads after the crashed worker's lease ran out."""
        after_lease = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2 * LEASE_SECONDS)
        return dispatcher({"website": ch}, worker=worker, now=after_lease)

    async def test_a_live_lease_is_not_reaped(self) -> None:
        """Before the lease runs out, the reaper leaves the crashed worker's delivery alone."""
        ch = ScriptedChannel(commit_repeatable=True)
        _, delivery = await self._crash_during_commit(ch)
        assert await dispatcher({"website": ch}, worker="reaper").reap() == 0
        assert (await Delivery.get(id=delivery.id)).state == State.SENDING

    async def test_expired_lease_in_repeatable_commit_is_retried(self) -> None:
        """A vanished worker's repeatable commit goes back to pending and publishes once."""
        ch = ScriptedChannel(commit_repeatable=True)
        item, _ = await self._crash_during_commit(ch)
        ch.hold.set()
        reaper = self._reaper(ch)
        assert await reaper.reap() == 1
        await reaper.run_until_idle()
        assert await states(item) == {"website": "published"}
        assert await Publication.all().count() == 1

    async def test_expired_lease_in_unrepeatable_commit_becomes_uncertain(self) -> None:
        """A vanished worker's unrepeatable commit is never retried blindly."""
        ch = ScriptedChannel(commit_repeatable=False)
        item, _ = await self._crash_during_commit(ch)
        reaper = self._reaper(ch)
        assert await reaper.reap() == 1
        assert await reaper.tick() == 0
        delivery = await Delivery.get(item_id=item.id)
        assert delivery.state == State.UNCERTAIN
        assert "not repeatable" in (delivery.last_error or "")

    async def test_uncertain_can_be_resolved_as_published_by_a_person(self) -> None:
        """Staff who find the item public mark the uncertain delivery published, counted once."""
        ch = ScriptedChannel(commit_repeatable=False)
        item, delivery = await self._crash_during_commit(ch)
        assert await self._reaper(ch, worker="w1").reap() == 1
        await outbox.resolve_uncertain_as_published(delivery.id, now=dt.datetime.now(dt.UTC))
        assert await states(item) == {"website": "published"}
        assert await Publication.all().count() == 1

    async def test_drain_releases_deliveries_still_in_flight(self) -> None:
        """Shutting down while a repeatable commit hangs puts the delivery back to pending."""
        org = await make_org()
        ch = ScriptedChannel()
        item = await queue(org, {"website": ch})
        ch.hold.clear()
        d = dispatcher({"website": ch})
        await d.tick()
        await ch.committing.wait()
        await d.drain(grace_seconds=0.1)
        assert await states(item) == {"website": "pending"}


class TestStaffActions:
    async def test_cancel_stops_pending_deliveries(self) -> None:
        """A cancelled item's deliveries are cancelled and never reach the channel."""
        org = await make_org()
        ch = ScriptedChannel()
        item = await queue(
            org, {"website": ch, "noticeboard": ch}, chosen=("website", "noticeboard")
        )
        await publishing.cancel(item)
        await dispatcher({"website": ch, "noticeboard": ch}).run_until_idle()
        assert await states(item) == {"website": "cancelled", "noticeboard": "cancelled"}
        assert ch.calls == []
        with pytest.raises(Conflict):
            await publishing.cancel(item)

    async def test_withdraw_records_what_could_not_be_undone(self) -> None:
        """Withdrawing a published item calls the channel and keeps both lists in the note."""
        org = await make_org()
        ch = ScriptedChannel()
        item = await queue(org, {"website": ch})
        await dispatcher({"website": ch}).run_until_idle()
        notes = await publishing.withdraw(item, reason="信息有误", channels={"website": ch})
        delivery = await Delivery.get(item_id=item.id)
        assert delivery.state == State.WITHDRAWN
        assert notes["website"] == delivery.withdraw_note
        assert delivery.withdraw_note == (
            "撤回原因：信息有误\n已撤下：页面已删除\n未能撤下：转载无法撤回"
        )
        # Withdrawn items were still published that year: the ledger keeps them.
        tally = await channel_tally(org.id, dt.datetime.now(dt.UTC).year)
        assert tally.website in (0, 1)
        assert await Publication.all().count() == 1
