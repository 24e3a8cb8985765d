"""The dispatcher: claims due deliveries, runs their channel steps, records each outcome.

It holds no state that matters: the database says what is due, what is held and by whom.
A worker that dies leaves leases that ``reap`` takes back later.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import random
import re
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.logs import bind_ids
from channels.base import (
    Batchable,
    Channel,
    ChannelError,
    Committed,
    ConfigurationError,
    Confirmable,
    Deferred,
    OutcomeUnknown,
    PermanentError,
    Publishable,
    TemporaryError,
)
from storage import outbox
from storage.delivery import Decision, Outcome, RetryPolicy, State, Step, decide
from storage.items import ItemStatus
from storage.ledger import local_date
from storage.models import Delivery

log = logging.getLogger("gongkai.dispatcher")
Clock = Callable[[], dt.datetime]
T = TypeVar("T")
UNEXPECTED_ERROR = "unexpected_error"
_SECRET_PARAM = re.compile(
    r"((?:access_token|secret|appsecret|password|token|key)=)[^&\s'\"]+", re.IGNORECASE
)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def publishable(delivery: Delivery, *, source_url: str | None = None) -> Publishable:
    """The channel's view of a delivery (its item and organization must be fetched)."""
    item = delivery.item
    org = item.organization
    return Publishable(
        delivery_id=delivery.id,
        idempotency_key=delivery.idempotency_key,
        org_code=org.code,
        org_name=org.name,
        item_id=item.id,
        lineage_id=item.lineage_id or item.id,
        revision=item.revision,
        index_no=item.index_no,
        title=item.title,
        body_md=item.body_md,
        body_html=item.body_html,
        summary=item.summary,
        category=item.category,
        doc_number=item.doc_number,
        normative=item.normative,
        formed_on=item.formed_on,
        publish_date=local_date(item.publish_at),
        prepared=dict(delivery.prepared or {}),
        external_id=delivery.external_id,
        url=delivery.url,
        batch_key=delivery.batch_key,
        source_url=source_url,
        priority=item.priority,
        urgent=item.urgent,
        author=item.author,
    )


def _batch_order(delivery: Delivery) -> tuple[int, dt.datetime, int]:
    """Higher priority first, then the order items were meant to go out."""
    return (-delivery.item.priority, delivery.item.publish_at, delivery.id)


def _outcome_of(error: ChannelError) -> Outcome:
    if isinstance(error, Deferred):
        return Outcome.DEFERRED
    if isinstance(error, OutcomeUnknown):
        return Outcome.UNKNOWN
    if isinstance(error, PermanentError):
        return Outcome.PERMANENT
    if isinstance(error, ConfigurationError):
        return Outcome.CONFIGURATION
    return Outcome.TEMPORARY


def unexpected_error(exc: Exception, *, channel: str, repeatable: bool) -> ChannelError:
    """A bug inside a channel (any exception that is not a ``ChannelError``), as a failed
    try: its type and message are recorded and it counts toward ``max_attempts``. A step
    that is not safe to repeat may have published, so it goes to a person instead."""
    text = _SECRET_PARAM.sub(r"\1***", f"{type(exc).__name__}: {exc}")[:400]
    message = f"渠道 {channel} 程序出错（{text}），请联系技术人员"
    if repeatable:
        return TemporaryError(message, code=UNEXPECTED_ERROR)
    return OutcomeUnknown(message + "；可能已经发出，请先核实", code=UNEXPECTED_ERROR)


async def _channel_step(
    work: Awaitable[T], *, delivery_ids: list[int], channel: str, repeatable: bool
) -> T:
    """Await one channel call, turning a bug in it into a ``ChannelError`` to record."""
    try:
        return await work
    except ChannelError:
        raise
    except Exception as exc:
        log.exception("deliveries %s: unexpected error in the %s channel", delivery_ids, channel)
        raise unexpected_error(exc, channel=channel, repeatable=repeatable) from exc


def _retry_after(error: ChannelError, now: dt.datetime) -> float | None:
    if isinstance(error, Deferred):
        return max((error.until - now).total_seconds(), 0.0)
    if isinstance(error, TemporaryError):
        return error.retry_after
    return None


@dataclass(frozen=True, slots=True)
class _Started:
    """When a step began: wall clock for the log, monotonic clock for its duration."""

    at: dt.datetime
    monotonic: float


class Dispatcher:
    """Runs deliveries through their channels, at most ``concurrency`` at a time."""

    def __init__(
        self,
        channels: Mapping[str, Channel],
        *,
        worker: str,
        policy: RetryPolicy,
        lease_seconds: float,
        batch: int,
        concurrency: int,
        clock: Clock = utcnow,
        rng: random.Random | None = None,
    ) -> None:
        self.channels = channels
        self.worker = worker
        self.policy = policy
        self.lease_seconds = lease_seconds
        self.batch = batch
        self.concurrency = concurrency
        self.clock = clock
        self.rng = rng or random.Random()  # noqa: S311 (jitter, not security)
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._stopping = False
        # One claim at a time, whichever job asks (dispatch tick, sweep, the refill loop),
        # so free slots are counted after the previous claim has started its work.
        self._claiming = asyncio.Lock()
        self._wakeup = asyncio.Event()
        self._backlog = False  # more may be due than the last claim could take
        self._signals = 0  # wake() calls so far, to tell a signal that raced a claim

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    async def tick(self) -> int:
        """Claim what is due (up to the free slots) and start it; returns how many started.

        Claims are serialised, so two jobs ticking at once never hold more than
        ``concurrency`` deliveries between them.
        """
        async with self._claiming:
            if self._stopping:
                return 0
            free = min(self.batch, self.concurrency - len(self._in_flight))
            if free <= 0:
                self._backlog = True  # unknown: look again when a slot frees
                return 0
            signals = self._signals
            claim = await outbox.claim(
                worker=self.worker, now=self.clock(), lease_seconds=self.lease_seconds, limit=free
            )
            singles, batches = await self._group(claim) if claim.delivery_ids else ([], [])
            for delivery in singles:
                self._start([delivery.id], self._guarded_run(delivery, claim.token))
            for ids in batches:
                self._start(ids, self._guarded_batch(ids, claim.token))
            if len(claim.delivery_ids) >= free:
                self._backlog = True  # took all it could: more may be waiting
            elif self._signals == signals:
                self._backlog = False  # took everything due, and nothing new was signalled
            return len(singles) + sum(len(ids) for ids in batches)

    def wake(self) -> None:
        """Something became due (a notification): claim now if a slot is free, else as soon
        as one frees."""
        self._signals += 1
        self._backlog = True
        self._wakeup.set()

    def _free(self) -> int:
        return self.concurrency - len(self._in_flight)

    async def run(self, *, error_pause: float = 1.0) -> None:
        """The refill loop of a worker: claim whenever a slot frees while work is due, or
        when woken; sleeps otherwise (the scheduler's tick is the safety net for work that
        falls due by the clock: scheduled items, retries after a backoff)."""
        while not self._stopping:
            await self._wakeup.wait()
            self._wakeup.clear()
            if self._stopping or self._free() <= 0:
                continue  # a finishing delivery wakes us again
            try:
                await self.tick()
            except Exception:
                log.exception("claiming due deliveries failed; trying again shortly")
                await asyncio.sleep(error_pause)
                self._wakeup.set()
                continue
            if self._backlog and self._free() > 0:
                self._wakeup.set()  # the batch size, not the slots, cut the claim short

    def _start(self, delivery_ids: list[int], work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        for delivery_id in delivery_ids:
            self._in_flight[delivery_id] = task
        task.add_done_callback(self._forget)

    async def _group(self, claim: outbox.Claim) -> tuple[list[Delivery], list[list[int]]]:
        """Split a claim into single deliveries (loaded once, for all of them) and whole
        batches for batch channels."""
        rows = await Delivery.filter(id__in=claim.delivery_ids).prefetch_related(
            "item__organization"
        )
        singles: list[Delivery] = []
        fresh: dict[tuple[str, int], list[Delivery]] = defaultdict(list)
        batches: dict[str, None] = {}
        for delivery in rows:
            channel = self.channels.get(delivery.channel)
            if not isinstance(channel, Batchable):
                singles.append(delivery)
            elif delivery.batch_key:
                batches.setdefault(delivery.batch_key)
            else:
                fresh[(delivery.channel, delivery.item.organization_id)].append(delivery)
        grouped = [
            await outbox.claim_batch_siblings(
                key, lease_token=claim.token, expires_at=claim.expires_at
            )
            for key in batches
        ]
        for (name, org_id), members in fresh.items():
            limit = self._batch_limit(name)
            members += await self._top_up(name, org_id, claim, limit - len(members) % limit)
            ordered = sorted(members, key=_batch_order)
            grouped += [
                [d.id for d in ordered[i : i + limit]] for i in range(0, len(ordered), limit)
            ]
        return sorted(singles, key=lambda d: d.id), grouped

    async def _top_up(
        self, channel: str, org_id: int, claim: outbox.Claim, room: int
    ) -> list[Delivery]:
        if room <= 0 or room >= self._batch_limit(channel):
            return []
        ids = await outbox.claim_more_for_batch(
            channel=channel,
            organization_id=org_id,
            lease_token=claim.token,
            now=self.clock(),
            expires_at=claim.expires_at,
            limit=room,
        )
        return list(await Delivery.filter(id__in=ids).prefetch_related("item__organization"))

    def _batch_limit(self, channel: str) -> int:
        found = self.channels[channel]
        return max(1, found.batch_limit) if isinstance(found, Batchable) else 1

    def _forget(self, task: asyncio.Task[None]) -> None:  # one task may hold a whole batch
        for delivery_id, running in list(self._in_flight.items()):
            if running is task:
                del self._in_flight[delivery_id]
        if self._backlog and not self._stopping:
            self._wakeup.set()  # a slot is free and work may be due: refill at once

    async def run_until_idle(self, *, limit_seconds: float = 60.0) -> None:
        """Tick until nothing is in flight or due before the limit (for tests and benchmarks)."""
        deadline = time.monotonic() + limit_seconds
        while time.monotonic() < deadline:
            started = await self.tick()
            if self._in_flight:
                await asyncio.wait(
                    list(self._in_flight.values()), return_when=asyncio.FIRST_COMPLETED
                )
            elif not started:
                horizon = self.clock() + dt.timedelta(seconds=deadline - time.monotonic())
                if not await outbox.count_due(horizon):
                    return
                await asyncio.sleep(0.01)
        raise TimeoutError("deliveries still due after the timeout")

    async def _guarded_batch(self, delivery_ids: list[int], token: str) -> None:
        bind_ids(delivery=",".join(map(str, delivery_ids)))  # this task's log lines
        try:
            await self.run_batch(delivery_ids, token)
        except outbox.TransitionRefused as exc:
            log.warning("lease lost, batch outcome not recorded by this worker: %s", exc)
        except asyncio.CancelledError:
            for delivery_id in delivery_ids:
                await self._release_on_shutdown(delivery_id, token)
            raise
        except Exception:
            log.exception("batch %s: unexpected error in the dispatcher", delivery_ids)

    async def run_batch(self, delivery_ids: list[int], token: str) -> None:
        """Prepare each delivery alone, then commit those that are ready as one batch.

        Only prepared deliveries get the batch key, so a batch that must be repeated after
        a crash is always exactly the deliveries the first commit carried.
        """
        rows = await Delivery.filter(id__in=delivery_ids).prefetch_related("item__organization")
        members = sorted(rows, key=_batch_order)
        channel = self.channels[members[0].channel]
        if not isinstance(channel, Batchable):  # _group batches only Batchable channels
            raise TypeError(f"channel {channel.name} cannot commit a batch")
        pages = await outbox.website_pages([d.item_id for d in members])
        ready = [d for d in members if await self._ready_for_batch(d, channel, token, pages)]
        if not ready:
            return
        if ready[0].batch_key is None:
            key = uuid.uuid4().hex
            await outbox.assign_batch([d.id for d in ready], batch_key=key, lease_token=token)
            for delivery in ready:
                delivery.batch_key = key
        started = self._started()
        try:
            results = await _channel_step(
                channel.commit_batch(
                    [publishable(d, source_url=pages.get(d.item_id)) for d in ready],
                    [d.prepared for d in ready],
                ),
                delivery_ids=[d.id for d in ready],
                channel=channel.name,
                repeatable=channel.commit_repeatable,
            )
        except ChannelError as error:
            for delivery in ready:
                await self._record_failure(delivery, token, Step.COMMIT, error, started)
            return
        for delivery, result in zip(ready, results, strict=True):
            if isinstance(result, ChannelError):  # held alone; the others went out
                await self._record_failure(delivery, token, Step.COMMIT, result, started)
            else:
                await self._record_commit(delivery, token, result, started)

    async def _ready_for_batch(
        self, delivery: Delivery, channel: Channel, token: str, pages: Mapping[int, str]
    ) -> bool:
        """Prepare a batch member if needed; False if it dropped out (cancelled or failed)."""
        if delivery.item.status != ItemStatus.ACTIVE:
            await outbox.cancel_held(delivery, lease_token=token, reason="item was cancelled")
            return False
        if delivery.step != Step.PREPARE:
            return True
        started = self._started()
        try:
            pub = publishable(delivery, source_url=pages.get(delivery.item_id))
            prepared = await _channel_step(
                channel.prepare(pub),
                delivery_ids=[delivery.id],
                channel=channel.name,
                repeatable=True,
            )
        except ChannelError as error:
            await self._record_failure(delivery, token, Step.PREPARE, error, started)
            return False
        await outbox.save_prepared(delivery.id, lease_token=token, prepared=prepared)
        delivery.prepared, delivery.step = prepared, Step.COMMIT
        return True

    async def _guarded_run(self, delivery: Delivery, token: str) -> None:
        bind_ids(item=delivery.item_id, delivery=delivery.id)  # this task's log lines
        try:
            await self.run_one(delivery, token)
        except outbox.TransitionRefused as exc:
            log.warning("lease lost, outcome not recorded by this worker: %s", exc)
        except asyncio.CancelledError:
            await self._release_on_shutdown(delivery.id, token)
            raise
        except Exception:
            log.exception("delivery %s: unexpected error in the dispatcher", delivery.id)

    async def run_one(self, delivery: Delivery, token: str) -> None:
        """Prepare (if not yet done) and commit one claimed delivery (loaded with its item
        and organization), then record it."""
        channel = self.channels.get(delivery.channel)
        if channel is None:
            error = ConfigurationError(f"channel {delivery.channel} is not configured")
            await self._record_failure(delivery, token, Step(delivery.step), error, self._started())
            return
        if delivery.item.status != ItemStatus.ACTIVE:
            await outbox.cancel_held(delivery, lease_token=token, reason="item was cancelled")
            return
        step = Step(delivery.step)
        started = self._started()
        try:
            if step is Step.PREPARE:
                prepared = await _channel_step(
                    channel.prepare(publishable(delivery)),
                    delivery_ids=[delivery.id],
                    channel=delivery.channel,
                    repeatable=True,
                )
                await outbox.save_prepared(delivery.id, lease_token=token, prepared=prepared)
                delivery.prepared, step = prepared, Step.COMMIT
            result = await _channel_step(
                channel.commit(publishable(delivery), delivery.prepared),
                delivery_ids=[delivery.id],
                channel=delivery.channel,
                repeatable=channel.commit_repeatable,
            )
        except ChannelError as error:
            await self._record_failure(delivery, token, step, error, started)
            return
        await self._record_commit(delivery, token, result, started)

    async def _record_commit(
        self, delivery: Delivery, token: str, result: Committed, started: _Started
    ) -> None:
        outcome = Outcome.ACCEPTED if result.needs_confirmation else Outcome.COMMITTED
        await self._log(delivery, Step.COMMIT, outcome, started)
        decision = self._decide(outcome, delivery)
        await outbox.apply_decision(
            delivery,
            decision,
            lease_token=token,
            now=self.clock(),
            external_id=result.external_id,
            url=result.url,
            counted=result.counted,
        )

    async def _record_failure(
        self, delivery: Delivery, token: str, step: Step, error: ChannelError, started: _Started
    ) -> None:
        outcome = _outcome_of(error)
        retry_after = _retry_after(error, self.clock())
        decision = self._decide(outcome, delivery, retry_after=retry_after)
        await self._log(delivery, step, outcome, started, error=error)
        level = logging.INFO if outcome is Outcome.TEMPORARY else logging.WARNING
        log.log(
            level,
            "delivery %s (%s) %s: %s -> %s",
            delivery.id,
            delivery.channel,
            outcome,
            error.message,
            decision.state,
        )
        reason = error.message
        if decision.reason:
            reason += f" ({decision.reason})"
        await outbox.apply_decision(
            delivery,
            decision,
            lease_token=token,
            now=self.clock(),
            error=reason,
            error_code=error.code,
        )

    def _decide(
        self,
        outcome: Outcome,
        delivery: Delivery,
        *,
        retry_after: float | None = None,
        step_repeatable: bool = True,
    ) -> Decision:
        return decide(
            outcome,
            attempts=delivery.attempts,
            policy=self.policy,
            rng=self.rng,
            retry_after=retry_after,
            step_repeatable=step_repeatable,
        )

    def _started(self) -> _Started:
        return _Started(self.clock(), time.monotonic())

    async def _log(
        self,
        delivery: Delivery,
        step: Step,
        outcome: str,
        started: _Started,
        *,
        error: ChannelError | None = None,
    ) -> None:
        await outbox.log_attempt(
            delivery,
            step=step,
            outcome=outcome,
            worker=self.worker,
            started_at=started.at,
            duration_ms=int((time.monotonic() - started.monotonic) * 1000),
            error_code=error.code if error else None,
            error_message=error.message if error else None,
        )

    def _repeatable(self, delivery: Delivery) -> bool:
        if delivery.step == Step.PREPARE:
            return True
        channel = self.channels.get(delivery.channel)
        return bool(channel and channel.commit_repeatable)

    async def reap(self) -> int:
        """Take back expired leases: repeatable steps go back to pending, others to uncertain."""
        now = self.clock()
        count = 0
        for delivery in await outbox.expired_leases(now):
            if delivery.id in self._in_flight:
                continue  # still ours and still running; it will record its own outcome
            decision = self._decide(
                Outcome.LEASE_EXPIRED, delivery, step_repeatable=self._repeatable(delivery)
            )
            reason = f"worker lease expired ({decision.reason})"
            with contextlib.suppress(outbox.TransitionRefused):
                await outbox.release(delivery, decision.state, now=now, reason=reason)
                count += 1
                await outbox.log_attempt(  # the lost try shows in the attempt log too
                    delivery,
                    step=Step(delivery.step),
                    outcome=Outcome.LEASE_EXPIRED,
                    worker=self.worker,
                    started_at=now,
                    duration_ms=0,
                    error_message=reason,
                )
        return count

    async def sweep(self) -> int:
        """Catch up after a restart or a stall: reap, then claim whatever is overdue."""
        reaped = await self.reap()
        overdue = await outbox.count_overdue(self.clock(), grace_seconds=self.lease_seconds)
        if overdue:
            log.warning("%d deliveries are due but unclaimed; claiming now", overdue)
        return reaped + await self.tick()

    async def poll_confirmations(self, *, limit: int = 50) -> int:
        """Ask polling channels about accepted deliveries; returns how many got confirmed."""
        polling = [
            name
            for name, ch in self.channels.items()
            if isinstance(ch, Confirmable) and ch.polls_confirmation
        ]
        accepted = (
            await Delivery.filter(state=State.ACCEPTED, channel__in=polling)
            .limit(limit)
            .prefetch_related("item__organization")
        )
        confirmed = 0
        for delivery in accepted:
            confirmed += await self._poll_one(delivery)
        return confirmed

    async def _poll_one(self, delivery: Delivery) -> int:
        channel = self.channels[delivery.channel]
        if not isinstance(channel, Confirmable):
            return 0
        try:
            result = await channel.poll(publishable(delivery))
            if result is None:
                return 0
            await outbox.confirm(
                delivery.id, now=self.clock(), external_id=result.external_id, url=result.url
            )
        except PermanentError as error:
            with contextlib.suppress(outbox.TransitionRefused):  # another worker was first
                await outbox.fail_accepted(delivery.id, reason=error.message, code=error.code)
            return 0
        except ChannelError as error:
            log.info("delivery %s: confirmation poll failed: %s", delivery.id, error.message)
            return 0
        except outbox.TransitionRefused:
            return 0  # another worker confirmed it first
        return 1

    async def drain(self, *, grace_seconds: float) -> None:
        """Stop claiming, let in-flight deliveries finish, release what is left."""
        self._stopping = True
        self._wakeup.set()  # let the refill loop see it and return
        tasks = list(self._in_flight.values())
        if not tasks:
            return
        _done, pending = await asyncio.wait(tasks, timeout=grace_seconds)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _release_on_shutdown(self, delivery_id: int, token: str) -> None:
        delivery = await Delivery.get_or_none(id=delivery_id, lease_owner=token)
        if delivery is None or delivery.state != State.SENDING:
            return
        decision = self._decide(
            Outcome.RELEASED, delivery, step_repeatable=self._repeatable(delivery)
        )
        with contextlib.suppress(outbox.TransitionRefused):
            await outbox.release(
                delivery,
                decision.state,
                now=self.clock(),
                reason=f"worker shut down ({decision.reason})",
            )
