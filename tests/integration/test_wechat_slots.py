"""The daily broadcast slot in Beijing time, including a window that passes midnight."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from channels.base import Deferred, Publishable
from channels.wechat import BEIJING, WeChatChannel
from channels.wechat.tokens import MemoryMediaStore, MemoryTokenStore
from tests.fakes.wechat import FakeWeChat
from tests.fakes.wechat_stores import MemoryAccounts, MemoryJobStore, account

FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")
APPID = "wx0f0e0d0c0b0a0908"


@pytest.fixture
def wx() -> Iterator[FakeWeChat]:
    with FakeWeChat.start(appid=APPID, secret="slot-secret", kind="service") as emu:
        yield emu


def _channel(wx: FakeWeChat, now: dt.datetime, slot: dt.time) -> WeChatChannel:
    return WeChatChannel(
        accounts=MemoryAccounts(account("tiande", APPID, "slot-secret", slot_time=slot)),
        jobs=MemoryJobStore(),
        tokens=MemoryTokenStore(),
        media=MemoryMediaStore(),
        api_base=wx.api_base,
        timeout=5,
        font_path=FONT,
        slot_window=dt.timedelta(hours=2),
        poll_interval=dt.timedelta(minutes=10),
        clock=lambda: now,
    )


def _pub(key: str) -> Publishable:
    return Publishable(
        delivery_id=1,
        idempotency_key=key,
        org_code="tiande",
        org_name="天德乡人民政府",
        item_id=1,
        lineage_id=1,
        revision=1,
        index_no="tiande/2026-00001",
        title="夜间通知",
        body_md="正文",
        body_html="<p>正文</p>",
        summary="",
        category="",
        doc_number="",
        normative=False,
        formed_on=None,
        publish_date=dt.date(2026, 3, 2),
    )


class TestSlots:
    async def test_a_window_that_passes_midnight_stays_open(self, wx: FakeWeChat) -> None:
        """With the slot at 23:30 and a 2 h window, 00:10 Beijing the next day still sends."""
        now = dt.datetime(2026, 3, 3, 0, 10, tzinfo=BEIJING)
        channel = _channel(wx, now, dt.time(23, 30))
        pub = _pub("a" * 32)
        await channel.commit(pub, await channel.prepare(pub))
        assert len(wx.sent_mass()) == 1
        await channel.aclose()

    async def test_outside_the_window_the_batch_waits_for_the_next_slot(
        self, wx: FakeWeChat
    ) -> None:
        """At 02:00 with the slot at 23:30 the batch is deferred to 23:30 that day."""
        now = dt.datetime(2026, 3, 3, 2, 0, tzinfo=BEIJING)
        channel = _channel(wx, now, dt.time(23, 30))
        pub = _pub("b" * 32)
        with pytest.raises(Deferred) as deferred:
            await channel.commit(pub, await channel.prepare(pub))
        assert deferred.value.until == dt.datetime(2026, 3, 3, 23, 30, tzinfo=BEIJING)
        assert wx.sent_mass() == []
        await channel.aclose()
