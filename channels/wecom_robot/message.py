"""What the robot posts: a Markdown message or a news card, within the platform's limits.

Limits (企业微信 群机器人): Markdown content at most 4096 UTF-8 bytes; a news article's
title at most 128 bytes and description at most 512 bytes, and it must carry a link.
"""

from __future__ import annotations

from typing import Any

from channels.base import Publishable

MARKDOWN_MAX_BYTES = 4096
TITLE_MAX_BYTES = 128
DESCRIPTION_MAX_BYTES = 512
_MORE = "…"


def clip(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` UTF-8 bytes, ending in … when it was cut."""
    if len(text.encode("utf-8")) <= limit:
        return text
    room = limit - len(_MORE.encode("utf-8"))
    cut = text.encode("utf-8")[:room].decode("utf-8", errors="ignore")
    return cut + _MORE


def message_for(pub: Publishable, msg_type: str) -> dict[str, Any]:
    """The webhook body for one item. A news card must link somewhere: without the item's
    page on the website it is sent as Markdown."""
    if msg_type == "news" and pub.source_url:
        return _news(pub, pub.source_url)
    return _markdown(pub)


def _markdown(pub: Publishable) -> dict[str, Any]:
    head = f"**{_plain(pub.title)}**\n> {pub.org_name}　{pub.publish_date:%Y年%m月%d日}"
    if pub.doc_number:
        head += f"　{pub.doc_number}"
    head += f"\n> 索引号：{pub.index_no}"
    tail = f"\n[查看全文]({pub.source_url})" if pub.source_url else ""
    room = MARKDOWN_MAX_BYTES - len((head + "\n\n" + tail).encode("utf-8"))
    text = clip(pub.summary or pub.body_md, max(room, 0))
    return {"msgtype": "markdown", "markdown": {"content": f"{head}\n\n{text}{tail}"}}


def _news(pub: Publishable, link: str) -> dict[str, Any]:
    article = {
        "title": clip(pub.title, TITLE_MAX_BYTES),
        "description": clip(
            f"{pub.summary or pub.org_name}（索引号：{pub.index_no}）", DESCRIPTION_MAX_BYTES
        ),
        "url": link,
    }
    return {"msgtype": "news", "news": {"articles": [article]}}


def _plain(text: str) -> str:
    """A title without Markdown emphasis that would break the bold line."""
    return text.replace("*", "＊").replace("\n", " ")
