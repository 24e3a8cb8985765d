"""The group robot's message and rate limit, without the network."""

from __future__ import annotations

import datetime as dt

from channels.base import Publishable
from channels.wecom_robot.limiter import RobotRateLimit
from channels.wecom_robot.message import MARKDOWN_MAX_BYTES, clip, message_for

START = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)


def robot_pub(**changes: object) -> Publishable:
    base: dict[str, object] = {
        "delivery_id": 1,
        "idempotency_key": "k" * 32,
        "org_code": "tiande",
        "org_name": "天德乡人民政府",
        "item_id": 1,
        "lineage_id": 1,
        "revision": 1,
        "index_no": "tiande/2026-00001",
        "title": "关于春耕生产的通知",
        "body_md": "正文",
        "body_html": "<p>正文</p>",
        "summary": "",
        "category": "",
        "doc_number": "",
        "normative": False,
        "formed_on": None,
        "publish_date": dt.date(2026, 3, 2),
    }
    return Publishable(**{**base, **changes})  # type: ignore[arg-type]


class TestMessage:
    def test_long_body_is_clipped_to_the_markdown_limit(self) -> None:
        """A body far over 4096 bytes still makes a message the platform accepts."""
        message = message_for(robot_pub(body_md="长" * 5000, source_url="http://x/1"), "markdown")
        content = message["markdown"]["content"]
        assert len(content.encode("utf-8")) <= MARKDOWN_MAX_BYTES
        assert content.endswith("[查看全文](http://x/1)")

    def test_clip_never_splits_a_character(self) -> None:
        """Cutting at a byte limit keeps whole UTF-8 characters and marks the cut."""
        cut = clip("政务公开" * 10, 20)
        assert len(cut.encode("utf-8")) <= 20
        assert cut.endswith("…")
        assert clip("短", 20) == "短"

    def test_news_needs_a_link_else_it_is_markdown(self) -> None:
        """A news card links to the website page; without one the item goes as Markdown."""
        assert message_for(robot_pub(source_url="http://x/1"), "news")["msgtype"] == "news"
        assert message_for(robot_pub(), "news")["msgtype"] == "markdown"


class TestRateLimit:
    def test_twenty_a_minute_then_wait_for_the_oldest_to_age(self) -> None:
        """The 21st message in a minute waits until the first is a minute old."""
        now = [START]
        limit = RobotRateLimit(20, clock=lambda: now[0])
        for second in range(20):
            now[0] = START + dt.timedelta(seconds=second)
            assert limit.next_free("key") is None
            limit.record("key")
        assert limit.next_free("key") == START + dt.timedelta(minutes=1)
        assert limit.next_free("other-robot") is None
        now[0] = START + dt.timedelta(minutes=1)
        assert limit.next_free("key") is None
