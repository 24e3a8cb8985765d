"""Small builders shared by integration tests."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Mapping, Sequence

from bot import publishing
from bot.dispatcher import Dispatcher
from bot.publishing import ItemInput
from channels.base import Channel
from storage.delivery import RetryPolicy
from storage.models import Delivery, Item, Organization

UTC = dt.UTC


async def make_org(
    code: str = "tiande", name: str = "天德乡人民政府", parent: Organization | None = None
) -> Organization:
    return await Organization.create(code=code, name=name, parent=parent)


async def queue(
    org: Organization,
    channels: Mapping[str, Channel],
    *,
    title: str = "关于春耕生产的通知",
    chosen: Sequence[str] = ("website",),
    publish_at: dt.datetime | None = None,
    normative: bool = False,
) -> Item:
    data = ItemInput(
        org=org,
        title=title,
        body="正文。",
        channels=list(chosen),
        publish_at=publish_at,
        normative=normative,
        author="tester",
    )
    return await publishing.queue(data, channels=channels, max_body_bytes=100_000)


def dispatcher(
    channels: Mapping[str, Channel],
    *,
    worker: str = "w1",
    lease_seconds: float = 60,
    max_attempts: int = 3,
    now: dt.datetime | None = None,
) -> Dispatcher:
    clock = (lambda: now) if now else (lambda: dt.datetime.now(UTC))
    return Dispatcher(
        channels,
        worker=worker,
        lease_seconds=lease_seconds,
        batch=50,
        concurrency=8,
        clock=clock,
        rng=random.Random(0),
        policy=RetryPolicy(max_attempts=max_attempts, base_seconds=0.001, cap_seconds=0.002),
    )


async def kill(worker: Dispatcher) -> None:
    """End a worker as SIGKILL would: its deliveries stop where they are with their leases
    held, and none of a graceful shutdown's clean-up (releasing the leases) runs."""

    async def no_cleanup(delivery_id: int, token: str) -> None:
        return None

    worker._release_on_shutdown = no_cleanup  # type: ignore[method-assign]
    tasks = set(worker._in_flight.values())
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def states(item: Item) -> dict[str, str]:
    return {d.channel: d.state for d in await Delivery.filter(item_id=item.id)}
