"""Small builders shared by integration tests."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping, Sequence

from bot import publishing
from bot.delivery import RetryPolicy
from bot.dispatcher import Dispatcher
from bot.publishing import ItemInput
from channels.base import Channel
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


async def states(item: Item) -> dict[str, str]:
    return {d.channel: d.state for d in await Delivery.filter(item_id=item.id)}
