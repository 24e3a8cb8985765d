"""Render one item as a print-ready A4 notice (公告) for the public notice board (公开栏)."""

from __future__ import annotations

import datetime as dt
import io
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont
from reportlab.platypus import (
    Flowable,
    HRFlowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.doctemplate import LayoutError

from channels.base import ConfigurationError, PermanentError, Publishable

# GB/T 9704 page margins.
TOP, BOTTOM, LEFT, RIGHT = 37 * mm, 35 * mm, 28 * mm, 26 * mm
EM = 16.0  # body size: 三号 (16 pt)
RED = colors.HexColor("#C00000")
GREY = colors.HexColor("#555555")
LABEL_BG = colors.HexColor("#F2F2F2")

_RENDER_LOCK = threading.Lock()  # reportlab's font registry and doc state are process-global
_FONTS: dict[Path, str] = {}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CJK = r"[\u2e80-\u9fff\u3000-\u303f\uff00-\uffef\u2014\u2018-\u201d\u2026]"
_SOFT_BREAK = re.compile(rf"(?<={_CJK})[ \t]*\n\s*(?={_CJK})")
_TAGS = re.compile(r"<[^>]*>")
_TRAILING_BR = re.compile(r"(<br/>|\s)+$")
_DROP = frozenset({"script", "style", "template", "head", "title", "iframe", "object", "svg"})
_PARA = frozenset({"p", "div", "section", "article", "dd", "dt", "figcaption", "caption"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})
# WQY Zen Hei has no bold face, so strong emphasis is underlined (as in typed Chinese notices).
_INLINE = {"strong": "u", "b": "u", "u": "u", "em": "i", "i": "i", "del": "strike", "s": "strike"}
_INLINE |= {"sub": "sub", "sup": "super"}


@dataclass(frozen=True, slots=True)
class RenderedNotice:
    """A rendered notice: the PDF bytes and its page count."""

    pdf: bytes
    pages: int


@dataclass(frozen=True, slots=True)
class _Block:
    kind: str  # "p", "li", "h1".."h6", "pre" or "hr"
    markup: str  # reportlab paragraph mini-markup, user text already escaped
    depth: int = 0  # list and quotation nesting
    bullet: str | None = None


class _BodyParser(HTMLParser):
    """Turns sanitized HTML into blocks of reportlab-safe markup, dropping unknown tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[_Block] = []
        self._parts: list[str] = []
        self._kind = "p"
        self._bullet: str | None = None
        self._open: list[str] = []
        self._lists: list[list[int]] = []  # [ordered, counter] per open list
        self._quote = self._skip = self._pre = self._cells = 0
        self._link: tuple[str, int] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP:
            self._skip += 1
        elif self._skip:
            return
        elif tag in _PARA or tag in _HEADINGS or tag == "pre":
            self._begin("p" if tag in _PARA else tag)
            self._pre += tag == "pre"
        elif tag == "li":
            self._begin("li", self._next_bullet())
        elif tag in ("ul", "ol"):
            self.flush()
            start = dict(attrs).get("start") or "1"
            self._lists.append([tag == "ol", int(start) - 1 if start.isdigit() else 0])
        elif tag == "blockquote":
            self.flush()
            self._quote += 1
        elif tag == "tr":
            self._begin("p")
            self._cells = 0
        elif tag in ("td", "th"):
            self._parts.append(escape(" ｜ ") if self._cells else "")
            self._cells += 1
        else:
            self._inline_start(tag, dict(attrs))

    def _inline_start(self, tag: str, attrs: dict[str, str | None]) -> None:
        if tag == "br":
            self._parts.append("<br/>")
        elif tag == "hr":
            self.flush()
            self.blocks.append(_Block("hr", ""))
        elif tag == "a":
            self._link = (attrs.get("href") or "", len(self._parts))
        elif tag == "img" and attrs.get("alt"):
            self._parts.append(escape(f"［图：{attrs['alt']}］"))
        elif tag in _INLINE:
            self._open.append(_INLINE[tag])
            self._parts.append(f"<{_INLINE[tag]}>")

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP:
            self._skip = max(0, self._skip - 1)
        elif self._skip:
            return
        elif tag in _PARA or tag in _HEADINGS or tag in ("li", "pre", "tr"):
            self.flush()
            if tag == "pre":
                self._pre = max(0, self._pre - 1)
        elif tag in ("ul", "ol", "blockquote"):
            self.flush()
            if tag == "blockquote":
                self._quote = max(0, self._quote - 1)
            elif self._lists:
                self._lists.pop()
        elif tag == "a" and self._link is not None:
            self._end_link(*self._link)
        elif tag in _INLINE and _INLINE[tag] in self._open:
            while self._open:
                closed = self._open.pop()
                self._parts.append(f"</{closed}>")
                if closed == _INLINE[tag]:
                    break

    def _end_link(self, href: str, start: int) -> None:
        self._link = None
        text = _TAGS.sub("", "".join(self._parts[start:]))
        if href.startswith(("http://", "https://")) and escape(href) not in text:
            self._parts.append(escape(f"（{href}）"))

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        data = _CONTROL.sub("", data)
        if self._pre:
            self._parts.append(escape(data).replace("\n", "<br/>").replace(" ", "&nbsp;"))
        elif data.strip() or self._parts:
            self._parts.append(escape(data))

    def _next_bullet(self) -> str:
        if not self._lists:
            return "●"
        self._lists[-1][1] += 1
        ordered, number = self._lists[-1]
        return f"{number}." if ordered else "●"

    def _begin(self, kind: str, bullet: str | None = None) -> None:
        # Loose lists wrap item text in <p>: that paragraph still belongs to the bullet.
        if kind == "p" and self._kind == "li" and not self._text():
            return
        self.flush()
        self._kind, self._bullet = kind, bullet

    def _text(self) -> str:
        return _TAGS.sub("", "".join(self._parts)).replace("&nbsp;", " ").strip()

    def flush(self) -> None:
        """Ends the current block, closing any inline tags left open."""
        self._parts.extend(f"</{tag}>" for tag in reversed(self._open))
        if self._text():
            markup = _SOFT_BREAK.sub("", _TRAILING_BR.sub("", "".join(self._parts).strip()))
            depth = len(self._lists) + self._quote
            self.blocks.append(_Block(self._kind, markup, depth, self._bullet))
        self._parts, self._open = [], []
        self._kind, self._bullet = "p", None


def html_to_blocks(body_html: str) -> list[_Block]:
    """Splits sanitized body HTML into paragraphs, headings and list items of safe markup."""
    parser = _BodyParser()
    parser.feed(body_html)
    parser.close()
    parser.flush()
    return parser.blocks


def _literal(text: str) -> str:
    """Returns user text as reportlab markup that renders literally."""
    return escape(_CONTROL.sub("", text))


def cn_date(day: dt.date) -> str:
    """Formats a date the way official documents do, e.g. 2024年5月1日."""
    return f"{day.year}年{day.month}月{day.day}日"


def register_font(font_path: Path) -> str:
    """Registers the CJK TrueType font once and returns its reportlab name."""
    if not font_path.is_file():
        raise ConfigurationError(
            f"找不到中文字体文件 {font_path}：请安装 Debian 软件包 fonts-wqy-zenhei，"
            "或在设置中改正字体路径。"
        )
    key = font_path.resolve()
    if key not in _FONTS:
        name = "WQY" if not _FONTS else f"WQY{len(_FONTS)}"
        try:
            pdfmetrics.registerFont(TTFont(name, str(key), subfontIndex=0))
        except (TTFError, OSError, ValueError) as exc:
            raise ConfigurationError(
                f"字体文件 {font_path} 无法读取（{exc}）："
                "请重新安装 Debian 软件包 fonts-wqy-zenhei。"
            ) from exc
        pdfmetrics.registerFontFamily(name, normal=name, bold=name, italic=name, boldItalic=name)
        _FONTS[key] = name
    return _FONTS[key]


# Per style: font size, leading, alignment, first-line indent in em, extra attributes.
_STYLES: dict[str, tuple[float, float, int, int, dict[str, Any]]] = {
    "p": (EM, 28, TA_JUSTIFY, 2, {}),
    "org": (26, 36, TA_CENTER, 0, {"textColor": RED}),
    "title": (22, 32, TA_CENTER, 0, {"spaceBefore": 10, "spaceAfter": 14}),
    "meta": (10.5, 14, TA_LEFT, 0, {}),
    "h1": (18, 30, TA_JUSTIFY, 2, {"spaceBefore": 8, "keepWithNext": 1}),
    "h2": (17, 29, TA_JUSTIFY, 2, {"spaceBefore": 6, "keepWithNext": 1}),
    "h3": (EM, 28, TA_JUSTIFY, 2, {"spaceBefore": 4, "keepWithNext": 1}),
    "pre": (12, 18, TA_LEFT, 0, {"spaceBefore": 4, "spaceAfter": 4}),
    "sign": (EM, 28, TA_RIGHT, 0, {"rightIndent": 2 * EM}),
}


def _styles(font: str) -> dict[str, ParagraphStyle]:
    return {
        name: ParagraphStyle(
            name, fontName=font, fontSize=size, leading=leading, alignment=align,
            firstLineIndent=indent * EM, wordWrap="CJK", bulletFontName=font, bulletFontSize=EM,
            **extra,
        )
        for name, (size, leading, align, indent, extra) in _STYLES.items()
    }  # fmt: skip


def _block_flowable(block: _Block, styles: dict[str, ParagraphStyle]) -> Flowable:
    if block.kind == "hr":
        return HRFlowable(width="100%", thickness=0.5, color=GREY, spaceBefore=6, spaceAfter=6)
    style = styles.get(block.kind) or styles["h3" if block.kind in _HEADINGS else "p"]
    if block.bullet is not None:
        indent = 2 * EM * block.depth - EM
        extra = {"bulletFontSize": 8} if block.bullet == "●" else {}
        style = ParagraphStyle(
            f"li{block.depth}", parent=style, firstLineIndent=0, bulletIndent=indent,
            leftIndent=indent + 2 * EM, **extra,
        )  # fmt: skip
    elif block.depth:
        style = ParagraphStyle(f"in{block.depth}", parent=style, leftIndent=2 * EM * block.depth)
    return Paragraph(block.markup, style, bulletText=block.bullet)


def _meta_table(pub: Publishable, styles: dict[str, ParagraphStyle]) -> Table:
    pairs = [("索引号", pub.index_no)]
    if pub.doc_number:
        pairs.append(("文号", pub.doc_number))
    if pub.formed_on is not None:
        pairs.append(("成文日期", cn_date(pub.formed_on)))
    pairs.append(("发布日期", cn_date(pub.publish_date)))
    cells = [
        [Paragraph(k, styles["meta"]), Paragraph(_literal(v), styles["meta"])] for k, v in pairs
    ]
    rows: list[list[Any]] = [[*cells[i], *cells[i + 1]] for i in range(0, len(cells) - 1, 2)]
    if len(cells) % 2:  # an odd number of fields: the last value spans the row
        rows.append([*cells[-1], "", ""])
    commands: list[tuple[Any, ...]] = [
        ("GRID", (0, 0), (-1, -1), 0.5, GREY),
        ("FONT", (0, 0), (-1, -1), styles["meta"].fontName, 10.5),
        ("BACKGROUND", (0, 0), (0, -1), LABEL_BG),
        ("BACKGROUND", (2, 0), (2, len(cells) // 2 - 1), LABEL_BG),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
    ]
    if len(cells) % 2:
        commands.append(("SPAN", (1, len(rows) - 1), (3, len(rows) - 1)))
    return Table(rows, colWidths=[20 * mm, 58 * mm] * 2, style=TableStyle(commands))


def _story(pub: Publishable, styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    sign_date = pub.formed_on or pub.publish_date
    story: list[Flowable] = [
        Paragraph(_literal(pub.org_name), styles["org"]),
        HRFlowable(width="100%", thickness=2, color=RED, spaceBefore=6, spaceAfter=10),
        Paragraph(_literal(pub.title), styles["title"]),
        _meta_table(pub, styles),
        Spacer(1, 16),
    ]
    story += [_block_flowable(block, styles) for block in html_to_blocks(pub.body_html)]
    signature = [
        Paragraph(_literal(pub.org_name), styles["sign"]),
        Paragraph(cn_date(sign_date), styles["sign"]),
    ]
    return [*story, Spacer(1, 2 * EM), KeepTogether(signature)]


def _footer(font: str, index_no: str, total: int | None) -> Callable[[Any, Any], None]:
    def draw(canvas: Any, doc: Any) -> None:
        y = BOTTOM - 14 * mm
        canvas.saveState()
        canvas.setStrokeColor(GREY)
        canvas.setLineWidth(0.5)
        canvas.line(LEFT, y + 12, A4[0] - RIGHT, y + 12)
        canvas.setFont(font, 9)
        canvas.setFillColor(GREY)
        canvas.drawString(LEFT, y, f"索引号：{_CONTROL.sub('', index_no)}")
        canvas.drawRightString(A4[0] - RIGHT, y, f"{doc.page} / {total or '?'}")
        canvas.restoreState()

    return draw


def _build(pub: Publishable, font: str, total: int | None) -> RenderedNotice:
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, topMargin=TOP, bottomMargin=BOTTOM, leftMargin=LEFT,
        rightMargin=RIGHT, title=pub.title, author=pub.org_name, subject=pub.index_no,
        creator="Gongkai", invariant=1, initialFontName=font,
    )  # fmt: skip
    footer = _footer(font, pub.index_no, total)
    doc.build(_story(pub, _styles(font)), onFirstPage=footer, onLaterPages=footer)
    return RenderedNotice(buffer.getvalue(), int(doc.page))


def render_notice(pub: Publishable, *, font_path: Path) -> RenderedNotice:
    """Renders the notice twice (the footer needs the page total) and returns the final PDF."""
    with _RENDER_LOCK:
        font = register_font(font_path)
        try:
            first = _build(pub, font, None)
            return _build(pub, font, first.pages)
        except (LayoutError, ValueError) as exc:  # markup or layout reportlab cannot handle
            raise PermanentError(f"公告 PDF 排版失败：{exc}") from exc


def render_notice_pdf(pub: Publishable, *, font_path: Path) -> bytes:
    """Returns the notice as A4 PDF bytes with the CJK font embedded."""
    return render_notice(pub, font_path=font_path).pdf
