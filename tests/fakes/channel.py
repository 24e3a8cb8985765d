"""A channel that follows a script: for dispatcher tests that need exact outcomes.

It implements the whole contract, keeps a call log and a ``published`` dict keyed by
idempotency key (so a repeat is visible), and can hold a commit until released.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from channels.base import ChannelError, Committed, Deferred, Publishable, Withdrawal


class ScriptedChannel:
    name: ClassVar[str] = "website"

    def __init__(
        self,
        *,
        commit_repeatable: bool = True,
        needs_confirmation: bool = False,
        polls_confirmation: bool = False,
    ) -> None:
        self.commit_repeatable = commit_repeatable
        self.polls_confirmation = polls_confirmation
        self.needs_confirmation = needs_confirmation
        self.calls: list[tuple[str, int]] = []
        self.published: dict[str, int] = {}
        self.failures: list[ChannelError] = []  # raised by the next commits, in order
        self.prepare_failures: list[ChannelError] = []
        self.poll_results: list[Committed | ChannelError | None] = []
        self.hold = asyncio.Event()
        self.hold.set()
        self.committing = asyncio.Event()

    def reset(self) -> None:
        self.calls.clear()
        self.published.clear()
        self.failures.clear()

    async def prepare(self, pub: Publishable) -> dict[str, Any]:
        self.calls.append(("prepare", pub.delivery_id))
        if self.prepare_failures:
            raise self.prepare_failures.pop(0)
        return {"rendered": pub.title}

    async def commit(self, pub: Publishable, prepared: Mapping[str, Any]) -> Committed:
        self.calls.append(("commit", pub.delivery_id))
        self.committing.set()
        await self.hold.wait()
        if self.failures:
            raise self.failures.pop(0)
        self.published[pub.idempotency_key] = self.published.get(pub.idempotency_key, 0) + 1
        return Committed(
            external_id=f"ext-{pub.delivery_id}",
            url=f"http://example.test/{pub.delivery_id}",
            needs_confirmation=self.needs_confirmation,
        )

    async def poll(self, pub: Publishable) -> Committed | None:
        self.calls.append(("poll", pub.delivery_id))
        result = self.poll_results.pop(0) if self.poll_results else None
        if isinstance(result, ChannelError):
            raise result
        return result

    async def withdraw(self, pub: Publishable) -> Withdrawal:
        self.calls.append(("withdraw", pub.delivery_id))
        return Withdrawal(undone=["页面已删除"], not_undone=["转载无法撤回"])

    async def check(self) -> str:
        return "ok"

    async def aclose(self) -> None:
        return None


class ScriptedBatchChannel(ScriptedChannel):
    """Commits several deliveries at once and, like WeChat's clientmsgid, recognises a
    repeated batch key: a repeat returns the first answer and publishes nothing new."""

    def __init__(self, *, batch_limit: int = 8, **kwargs: Any) -> None:
        super().__init__(needs_confirmation=True, **kwargs)
        self.batch_limit = batch_limit
        self.batches: dict[str, list[int]] = {}  # batch key -> delivery ids, first commit
        self.commits: list[tuple[str, list[int]]] = []  # every commit_batch call
        self.defer_until: Any = None
        self.crash_after_send = asyncio.Event()

    async def commit_batch(
        self, pubs: Sequence[Publishable], prepared: Sequence[Mapping[str, Any]]
    ) -> list[Committed]:
        key = pubs[0].batch_key or ""
        assert all(p.batch_key == key for p in pubs), "a batch carries one key"
        self.commits.append((key, [p.delivery_id for p in pubs]))
        if self.defer_until is not None:
            raise Deferred("等待群发时段", until=self.defer_until)
        if self.failures:
            raise self.failures.pop(0)
        self.batches.setdefault(key, [p.delivery_id for p in pubs])
        await self.hold.wait()
        return [Committed(external_id=f"msg-{key}", needs_confirmation=True) for _ in pubs]
