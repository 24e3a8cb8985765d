"""Article content for WeChat: inline-styled HTML, re-hosted images and the field limits.

WeChat strips ``<style>``, classes, scripts and external links and images from articles,
so the body is rewritten into plain tags with inline styles, links become visible text,
and every image is uploaded to WeChat (``media/uploadimg``) first.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any, Literal
from urllib.parse import urlsplit

from channels.base import PermanentError
from channels.safe_fetch import FetchRefused, FetchTooLarge, SafeFetcher

_FONT = "font-size:16px;line-height:1.75;color:#333;"
STYLES = {
    "p": f"margin:0 0 1em;{_FONT}",
    "h1": "margin:1.2em 0 0.6em;font-size:22px;font-weight:bold;color:#222;",
    "h2": "margin:1.2em 0 0.6em;font-size:20px;font-weight:bold;color:#222;",
    "h3": "margin:1em 0 0.5em;font-size:18px;font-weight:bold;color:#222;",
    "h4": "margin:1em 0 0.5em;font-size:16px;font-weight:bold;color:#222;",
    "strong": "font-weight:bold;",
    "em": "font-style:italic;",
    "ul": f"margin:0 0 1em;padding-left:2em;list-style-type:disc;{_FONT}",
    "ol": f"margin:0 0 1em;padding-left:2em;list-style-type:decimal;{_FONT}",
    "li": "margin:0.3em 0;",
    "blockquote": "margin:1em 0;padding:0.5em 1em;border-left:4px solid #ccc;"
    "background:#f7f7f7;color:#666;",
    "table": "margin:1em 0;width:100%;border-collapse:collapse;font-size:14px;",
    "th": "padding:6px;border:1px solid #ccc;background:#f2f2f2;font-weight:bold;",
    "td": "padding:6px;border:1px solid #ccc;",
    "code": "padding:0 0.2em;background:#f6f8fa;font-family:Menlo,Consolas,monospace;"
    "font-size:14px;",
    "pre": "margin:1em 0;padding:1em;background:#f6f8fa;white-space:pre-wrap;"
    "font-family:Menlo,Consolas,monospace;font-size:14px;line-height:1.5;",
    "img": "display:block;max-width:100%;height:auto;margin:1em auto;",
    "hr": "margin:1.5em 0;border:0;border-top:1px solid #ddd;",
}
_ALIASES = {"b": "strong", "i": "em"}
_PLAIN = frozenset({"thead", "tbody", "tfoot", "tr", "br", "sub", "sup", "del", "s", "u"})
_VOID = frozenset({"img", "br", "hr"})
_DROP = frozenset(
    {"script", "style", "iframe", "object", "embed", "noscript", "template", "svg", "head"}
)
_ATTRS = {
    "img": ("src", "alt"),
    "th": ("colspan", "rowspan"),
    "td": ("colspan", "rowspan"),
    "ol": ("start",),
}
_BLOCKS = frozenset({"p", "h1", "h2", "h3", "h4", "ul", "ol", "table", "pre", "blockquote", "hr"})
_CELL_SCOPE = frozenset({"tr", "table"})
# An opening tag implicitly closes these open tags, searching no further than the scope tags.
_IMPLICIT = {
    "li": (frozenset({"li"}), frozenset({"ul", "ol"})),
    "td": (frozenset({"td", "th"}), _CELL_SCOPE),
    "th": (frozenset({"td", "th"}), _CELL_SCOPE),
    "tr": (frozenset({"tr"}), frozenset({"table", "thead", "tbody", "tfoot"})),
    **{block: (frozenset({"p"}), frozenset({"blockquote", "li", "td", "th"})) for block in _BLOCKS},
}
WECHAT_IMAGE_HOST = "mmbiz.qpic.cn"
UNFETCHABLE = "图片无法获取"
Unit = Literal["chars", "bytes"]
ELLIPSIS = "…"
log = logging.getLogger("gongkai.wechat.content")
_PNG, _JPEG = b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"


class _Styler(HTMLParser):
    """Re-emits allowed tags with inline styles; links become text plus the URL."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.stack: list[tuple[str, str | None]] = []  # (tag, href for links)
        self.dropping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = _ALIASES.get(tag, tag)
        if tag in _DROP:
            self.dropping += 1
        elif self.dropping:
            return
        elif tag == "a":
            self.stack.append(("a", dict(attrs).get("href")))
        elif tag in STYLES or tag in _PLAIN:
            self._close_implied(tag)
            self.out.append(_open_tag(tag, attrs, self._in_pre()))
            if tag not in _VOID:
                self.stack.append((tag, None))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if _ALIASES.get(tag, tag) not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        tag = _ALIASES.get(tag, tag)
        if tag in _DROP:
            self.dropping = max(0, self.dropping - 1)
            return
        if self.dropping or tag not in (open_tag for open_tag, _ in self.stack):
            return
        while self.stack:
            open_tag, href = self.stack.pop()
            self._close(open_tag, href)
            if open_tag == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self.dropping:
            self.out.append(html.escape(data, quote=False))

    def finish(self) -> str:
        self.close()
        while self.stack:
            self._close(*self.stack.pop())
        return "".join(self.out)

    def _close(self, tag: str, href: str | None) -> None:
        if tag != "a":
            self.out.append(f"</{tag}>")
        elif href and urlsplit(href).scheme in ("http", "https"):
            self.out.append(f"（{html.escape(href, quote=False)}）")

    def _close_implied(self, tag: str) -> None:
        closes, scope = _IMPLICIT.get(tag, (frozenset(), frozenset()))
        for depth in range(len(self.stack) - 1, -1, -1):
            open_tag = self.stack[depth][0]
            if open_tag in scope:
                return
            if open_tag in closes:
                while len(self.stack) > depth:
                    self._close(*self.stack.pop())
                return

    def _in_pre(self) -> bool:
        return any(tag == "pre" for tag, _ in self.stack)


def _open_tag(tag: str, attrs: list[tuple[str, str | None]], in_pre: bool) -> str:
    """Return the start tag with only the kept attributes and our inline style."""
    kept = [(k, v) for k, v in attrs if k in _ATTRS.get(tag, ()) and v is not None]
    style = None if tag == "code" and in_pre else STYLES.get(tag)
    if style:
        kept.append(("style", style))
    rendered = "".join(f' {k}="{html.escape(v or "", quote=True)}"' for k, v in kept)
    return f"<{tag}{rendered}>"


def to_wechat_html(body_html: str) -> str:
    """Return ``body_html`` as WeChat-safe HTML with inline styles and no scripts or classes."""
    styler = _Styler()
    styler.feed(body_html)
    return styler.finish()


class ImageRejected(ValueError):
    """An image that cannot go into a WeChat article (scheme, type or size)."""


async def fetch_image(url: str, *, fetcher: SafeFetcher) -> bytes:
    """Download a jpg/png image over http(s) through ``fetcher`` (which refuses inside
    addresses and bounds size and time); FetchRefused when it cannot be fetched."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise ImageRejected("只能下载 http/https 地址的图片")
    try:
        data = await fetcher.fetch(url)
    except FetchTooLarge as exc:
        raise ImageRejected(f"图片超过 {exc.limit} 字节") from exc
    if not data.startswith((_PNG, _JPEG)):
        raise ImageRejected("图片格式不支持（只能是 jpg 或 png）")
    return data


def _filename(src: str, data: bytes) -> str:
    """Return the file name to upload ``data`` under, from the URL or the content type."""
    name = urlsplit(src).path.rsplit("/", 1)[-1]
    if re.fullmatch(r"[\w.-]+\.(png|jpe?g)", name, flags=re.IGNORECASE):
        return name
    return "image.png" if data.startswith(_PNG) else "image.jpg"


class _ImageFinder(HTMLParser):
    """Records the position and attributes of every ``<img>`` tag."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.found: list[tuple[int, int, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            line, column = self.getpos()
            start = self.line_starts[line - 1] + column
            self.found.append((start, start + len(self.get_starttag_text() or ""), attrs))


async def rewrite_images(
    html_text: str,
    *,
    fetch: Callable[[str], Awaitable[bytes]],
    upload: Callable[[bytes, str], Awaitable[str]],
) -> tuple[str, list[str]]:
    """Re-host every non-WeChat ``<img>``; drop those that fail (keeping alt) and note why."""
    finder = _ImageFinder(html_text)
    finder.feed(html_text)
    finder.close()
    parts: list[str] = []
    notes: list[str] = []
    done: dict[str, str | None] = {}
    position = 0
    for start, end, attrs in finder.found:
        values = dict(attrs)
        src, alt = values.get("src") or "", values.get("alt") or ""
        if src not in done:
            done[src] = await _rehost(src, fetch, upload, notes)
        new_src = done[src]
        parts.append(html_text[position:start])
        if new_src == src:
            parts.append(html_text[start:end])
        elif new_src is not None:
            kept = [(k, new_src if k == "src" else v) for k, v in attrs]
            parts.append(_open_tag("img", kept, False))
        elif alt:
            parts.append(html.escape(f"［图：{alt}］", quote=False))
        position = end
    parts.append(html_text[position:])
    return "".join(parts), notes


async def images_dropped(html_text: str, *, fetch: Callable[[str], Awaitable[bytes]]) -> list[str]:
    """The notes ``rewrite_images`` would write (too large, wrong type, could not fetch),
    found by fetching without uploading: what a preview warns of before submission."""

    async def keep(_data: bytes, _name: str) -> str:
        return ""

    return (await rewrite_images(html_text, fetch=fetch, upload=keep))[1]


async def _rehost(
    src: str,
    fetch: Callable[[str], Awaitable[bytes]],
    upload: Callable[[bytes, str], Awaitable[str]],
    notes: list[str],
) -> str | None:
    """Return the WeChat URL for ``src``, or None (with a note) when it cannot be used."""
    if urlsplit(src).hostname == WECHAT_IMAGE_HOST:
        return src
    import httpx

    try:
        data = await fetch(src)
        return await upload(data, _filename(src, data))
    except ImageRejected as exc:
        reason = str(exc)
    except (FetchRefused, httpx.HTTPError, OSError) as exc:
        # Never why (refused address, connection refused, HTTP status): that would tell
        # whoever typed the address which internal hosts and ports answer.
        log.info("body image not fetched: %s", exc)
        reason = UNFETCHABLE
    except PermanentError as exc:
        reason = exc.message
    notes.append(f"正文图片 {_shown(src)} 已删除：{reason}")
    return None


def _shown(src: str) -> str:
    """The image address as staff see it in a note: no user, password, port or query."""
    if not src:
        return "（无地址）"
    parts = urlsplit(src)
    if not parts.scheme or not parts.hostname:
        return src[:200]
    return f"{parts.scheme}://{parts.hostname}{parts.path}"[:200]


@dataclass(frozen=True, slots=True)
class Limits:
    """WeChat's draft field limits. Title, author and digest are counted in ``unit`` (the
    account's setting: the documented characters, or UTF-8 bytes as some accounts see);
    content and the link by their fixed rules."""

    title: int = 32
    author: int = 16
    digest: int = 128
    unit: Unit = "chars"
    content_chars: int = 20000
    content_bytes: int = 1_000_000
    source_url_bytes: int = 1024


def measure(text: str, unit: Unit) -> int:
    """The length WeChat counts: characters, or UTF-8 bytes."""
    return len(text.encode()) if unit == "bytes" else len(text)


def shorten(text: str, limit: int, unit: Unit = "chars") -> str:
    """``text`` if it fits, else a shorter form that does: without a leading 关于 and the
    spaces, then cut with an ellipsis. The clerk may replace it with a better one."""
    text = " ".join(text.split())
    if measure(text, unit) <= limit:
        return text
    text = text.removeprefix("关于").replace(" ", "")
    if measure(text, unit) <= limit:
        return text
    while text and measure(text + ELLIPSIS, unit) > limit:
        text = text[:-1]
    return text + ELLIPSIS if text else ""


def check_article_limits(
    *,
    title: str,
    author: str,
    digest: str,
    content_html: str,
    source_url: str,
    limits: Limits = Limits(),
) -> list[tuple[str, str]]:
    """Return (field, Chinese message naming the limit) for every field WeChat would reject."""
    problems: list[tuple[str, str]] = []
    unit_name = "字节" if limits.unit == "bytes" else "个字符"

    def over(field: str, what: str, value: int, limit: int, unit: str) -> None:
        if value > limit:
            problems.append((field, f"微信{what}最多 {limit} {unit}（当前 {value}）"))

    if not title.strip():
        problems.append(("title", "微信标题不能为空"))
    over("title", "标题", measure(title, limits.unit), limits.title, unit_name)
    over("author", "作者", measure(author, limits.unit), limits.author, unit_name)
    over("digest", "摘要", measure(digest, limits.unit), limits.digest, unit_name)
    if not content_html.strip():
        problems.append(("content", "微信正文不能为空"))
    over("content", "正文", len(content_html), limits.content_chars, "个字符（含 HTML 标签）")
    over("content", "正文", len(content_html.encode()), limits.content_bytes, "字节")
    url_bytes = len(source_url.encode())
    over("content_source_url", "“阅读原文”链接", url_bytes, limits.source_url_bytes, "字节")
    if source_url and urlsplit(source_url).scheme not in ("http", "https"):
        problems.append(("content_source_url", "“阅读原文”链接必须以 http:// 或 https:// 开头"))
    return problems


def digest_from(summary: str, body_text: str, *, length: int = 54) -> str:
    """Return the summary, or else the first ``length`` characters of the body text."""
    summary = " ".join(summary.split())
    return summary or " ".join(body_text.split())[:length]


def article(
    *,
    title: str,
    content: str,
    thumb_media_id: str,
    author: str = "",
    digest: str = "",
    content_source_url: str = "",
) -> dict[str, Any]:
    """Return one ``draft/add`` article with comments closed."""
    return {
        "title": title,
        "author": author,
        "digest": digest,
        "content": content,
        "content_source_url": content_source_url,
        "thumb_media_id": thumb_media_id,
        "need_open_comment": 0,
        "only_fans_can_comment": 0,
    }
