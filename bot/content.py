"""Item bodies: Markdown in, sanitized HTML out, the same HTML for every channel."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import nh3

if TYPE_CHECKING:
    from markdown_it import MarkdownIt

_ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "strong",
    "em",
    "b",
    "i",
    "u",
    "s",
    "blockquote",
    "ul",
    "ol",
    "li",
    "code",
    "pre",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "a",
    "img",
    "span",
    "sub",
    "sup",
}
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}}


@cache
def _markdown() -> MarkdownIt:
    """The one parser, built on the first body (markdown-it is not needed before)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable("table")


class UnsafeContent(ValueError):
    """The body has nothing left to publish once unsafe markup is removed."""


@dataclass(frozen=True, slots=True)
class RenderedBody:
    html: str
    sanitized: bool  # True when unsafe markup was removed


def _visible_text(html: str) -> str:
    return re.sub(r"<[^>]+>|\s+", "", html)


def render_body(markdown: str) -> RenderedBody:
    """Render Markdown and strip scripts, handlers and unsafe URLs from the result."""
    raw = _markdown().render(markdown)
    clean = nh3.clean(
        raw,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
    )
    if not _visible_text(clean) and "<img" not in clean:
        raise UnsafeContent("body has no publishable content once scripts and markup are removed")
    return RenderedBody(html=clean, sanitized=_normalise(clean) != _normalise(raw))


def _normalise(html: str) -> str:
    return re.sub(r"\s+", "", html).replace(' rel="noopener noreferrer"', "")
