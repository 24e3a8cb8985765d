"""The report as a Word document laid out to GB/T 9704-2012 (党政机关公文格式).

The official (commercial) font names go into every ``w:rFonts`` so that recipients on
government PCs see 方正小标宋简体 / 仿宋_GB2312 / 黑体 / 楷体_GB2312 / 宋体; on Linux the
fontconfig aliases in ``deploy/fonts/`` map them to Fandol and Noto CJK.
"""

from __future__ import annotations

import io
import re
from typing import Any

import docx
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Emu, Mm, Pt, RGBColor

from bot.annual.document import Block, Cell, Document, Heading, Paragraph, Table
from bot.annual.export_grid import Placed, header_rows, is_number, place

# Official font names (written into the document as they are).
TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋_GB2312"
HEI_FONT = "黑体"
KAI_FONT = "楷体_GB2312"
SONG_FONT = "宋体"

# GB/T 9704-2012 page: A4 and the margins of report.md §4.1 (millimetres).
PAGE_WIDTH_MM, PAGE_HEIGHT_MM = 210, 297
MARGIN_TOP_MM, MARGIN_LEFT_MM, MARGIN_BOTTOM_MM, MARGIN_RIGHT_MM = 37, 28, 35, 26
TEXT_WIDTH_MM = PAGE_WIDTH_MM - MARGIN_LEFT_MM - MARGIN_RIGHT_MM  # 156
FOOTER_DISTANCE_MM = 22  # the page number's line starts ~7 mm below the text block

TITLE_PT = 22.0  # 2号
BODY_PT = 16.0  # 3号
PAGE_NUMBER_PT = 14.0  # 4号
TABLE_PT = 10.5  # 五号
LINE_PT = 28.95  # 225 mm / 22 lines
TITLE_LINE_PT = 35.0
KEEP_TOGETHER_ROWS = 16
ROW_MIN_HEIGHT_TWIPS = 397  # 7 mm
CELL_MARGINS_TWIPS = {"top": 40, "left": 70, "bottom": 40, "right": 70}

STYLE_TITLE = "GK Title"
STYLE_DATE = "GK Date"
STYLE_CAPTION = "GK Table Caption"
STYLE_TABLE = "GK Table Text"
STYLE_FOOTER = "GK Page Number"
HEADING_STYLES = {1: "Heading 1", 2: "Heading 2", 3: "Heading 3"}
HEADING_FONTS = {1: (HEI_FONT, False), 2: (KAI_FONT, False), 3: (BODY_FONT, True)}

_INDENT_CHARS = 2
_THEME_ATTRS = ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme")
_FONT_ATTRS = ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs")


def to_docx(doc: Document) -> bytes:
    """Render the document as a .docx (GB/T 9704 page, official fonts, merged tables)."""
    out = docx.Document()
    _page(out)
    _styles(out)
    _footers(out)
    out.core_properties.title = "".join(doc.title_lines)
    out.core_properties.language = "zh-CN"
    body = out.element.body
    for p in list(body.iterchildren(qn("w:p"))):  # the template's empty first paragraph
        body.remove(p)

    for line in doc.title_lines:
        out.add_paragraph(line, style=STYLE_TITLE)
    if doc.date_line:
        out.add_paragraph(doc.date_line, style=STYLE_DATE)
    out.add_paragraph("", style=STYLE_DATE)  # GB/T 9704: one empty line under the title
    previous: Block | None = None
    for block in doc.blocks:
        if isinstance(block, Heading):
            out.add_paragraph(block.text, style=HEADING_STYLES[block.level])
        elif isinstance(block, Paragraph):
            _paragraph(out, block)
        else:
            if isinstance(previous, Table) and not block.caption:
                out.add_paragraph("", style=STYLE_TABLE)  # keep adjacent tables apart
            _table(out, block)
        previous = block
    _sign_off(out, doc.sign_off)
    buffer = io.BytesIO()
    out.save(buffer)
    return buffer.getvalue()


def _page(out: Any) -> None:
    section = out.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width = Mm(PAGE_WIDTH_MM)
    section.page_height = Mm(PAGE_HEIGHT_MM)
    section.top_margin = Mm(MARGIN_TOP_MM)
    section.bottom_margin = Mm(MARGIN_BOTTOM_MM)
    section.left_margin = Mm(MARGIN_LEFT_MM)
    section.right_margin = Mm(MARGIN_RIGHT_MM)
    section.header_distance = Mm(15)
    section.footer_distance = Mm(FOOTER_DISTANCE_MM)
    section.gutter = Mm(0)


def set_fonts(rpr: Any, name: str) -> None:
    """Name one font for every script of a ``w:rPr``, dropping any theme font references."""
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = OxmlElement("w:rFonts")
        rpr.insert(0, rfonts)
    for attr in _THEME_ATTRS:
        rfonts.attrib.pop(qn(attr), None)
    for attr in _FONT_ATTRS:
        rfonts.set(qn(attr), name)


def _reset(style: Any) -> None:
    """Drop a built-in style's paragraph and run properties, so ours are the only ones."""
    for tag in ("w:pPr", "w:rPr"):
        child = style.element.find(qn(tag))
        if child is not None:
            style.element.remove(child)


def _font(style: Any, name: str, size: float, *, bold: bool = False) -> None:
    style.font.size = Pt(size)
    style.font.bold = bold
    style.font.italic = False
    style.font.color.rgb = RGBColor(0, 0, 0)
    set_fonts(style.element.get_or_add_rPr(), name)


def _indent_chars(pf: Any, chars: int, size: float) -> None:
    """First-line indent of ``chars`` characters, in points and (for Word) in character units."""
    pf.first_line_indent = Pt(chars * size)
    ind = pf._element.get_or_add_pPr().get_or_add_ind()
    ind.set(qn("w:firstLineChars"), str(chars * 100))


def _lines(pf: Any, points: float, *, before: float = 0, after: float = 0) -> None:
    pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    pf.line_spacing = Pt(points)
    pf.space_before = Pt(before)
    pf.space_after = Pt(after)


def _styles(out: Any) -> None:
    styles = out.styles
    defaults = styles.element.find(qn("w:docDefaults"))
    rpr = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    set_fonts(rpr, BODY_FONT)
    lang = rpr.find(qn("w:lang"))
    if lang is not None:
        lang.set(qn("w:val"), "en-US")
        lang.set(qn("w:eastAsia"), "zh-CN")

    normal = styles["Normal"]
    _reset(normal)
    _font(normal, BODY_FONT, BODY_PT)
    pf = normal.paragraph_format
    _lines(pf, LINE_PT)
    pf.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
    pf.widow_control = True

    for level, style_name in HEADING_STYLES.items():
        style = styles[style_name]
        _reset(style)
        font_name, bold = HEADING_FONTS[level]
        _font(style, font_name, BODY_PT, bold=bold)
        pf = style.paragraph_format
        _lines(pf, LINE_PT)
        _indent_chars(pf, _INDENT_CHARS, BODY_PT)
        pf.alignment = WD_ALIGN_PARAGRAPH.JUSTIFY
        pf.keep_with_next = True
        outline = OxmlElement("w:outlineLvl")
        outline.set(qn("w:val"), str(level - 1))
        pf._element.get_or_add_pPr().append(outline)

    title = _paragraph_style(out, STYLE_TITLE)
    _font(title, TITLE_FONT, TITLE_PT)
    _lines(title.paragraph_format, TITLE_LINE_PT)
    title.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.paragraph_format.keep_with_next = True

    date = _paragraph_style(out, STYLE_DATE)
    _font(date, KAI_FONT, BODY_PT)
    date.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    date.paragraph_format.keep_with_next = True

    caption = _paragraph_style(out, STYLE_CAPTION)
    _font(caption, HEI_FONT, BODY_PT)
    caption.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    caption.paragraph_format.keep_with_next = True

    cell = _paragraph_style(out, STYLE_TABLE)
    _font(cell, SONG_FONT, TABLE_PT)
    cell.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE
    cell.paragraph_format.space_before = Pt(0)
    cell.paragraph_format.space_after = Pt(0)
    cell.paragraph_format.first_line_indent = Pt(0)
    cell.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER

    footer = _paragraph_style(out, STYLE_FOOTER)
    _font(footer, SONG_FONT, PAGE_NUMBER_PT)
    footer.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE


def _paragraph_style(out: Any, name: str) -> Any:
    style = out.styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    style.base_style = out.styles["Normal"]
    style.quick_style = True
    return style


def _paragraph(out: Any, block: Paragraph) -> None:
    p = out.add_paragraph()
    if _LONG_LATIN.search(block.text):
        _wrap_inside_words(p)
    if block.indent:
        _indent_chars(p.paragraph_format, _INDENT_CHARS, BODY_PT)
    if block.lead:
        lead = p.add_run(block.lead)
        set_fonts(lead._element.get_or_add_rPr(), KAI_FONT)
    if block.text:
        p.add_run(block.text)


# A URL, e-mail address or other run of Latin text too long to sit at the end of a line.
_LONG_LATIN = re.compile(r"[!-~]{20,}")


def _wrap_inside_words(p: Any) -> None:
    """Let Latin text break at any character, as Chinese does (w:wordWrap off: Word's
    允许西文在单词中间换行), so a long URL cannot leave the line before it stretched."""
    wrap = OxmlElement("w:wordWrap")
    wrap.set(qn("w:val"), "0")
    ppr = p._p.get_or_add_pPr()
    ppr.append(wrap)
    _order_ppr(ppr)


# w:pPr children in schema order, as far as this module writes them.
_PPR_ORDER = (
    "pStyle", "keepNext", "keepLines", "pageBreakBefore", "widowControl", "wordWrap",
    "spacing", "ind", "jc", "outlineLvl",
)  # fmt: skip


def _order_ppr(ppr: Any) -> None:
    rank = {qn(f"w:{name}"): i for i, name in enumerate(_PPR_ORDER)}
    children = sorted(ppr, key=lambda el: rank.get(el.tag, len(rank)))
    for el in children:
        ppr.remove(el)
        ppr.append(el)


def _sign_off(out: Any, sign_off: tuple[str, str]) -> None:
    """GB/T 9704 7.3.5: the organization above the date, the date four characters in from
    the right margin, after one empty line; kept on the page of the text before it."""
    organization, date = sign_off
    if not (organization or date):
        return
    out.add_paragraph("").paragraph_format.keep_with_next = True
    for text, chars in ((organization, _SIGN_OFF_INDENT_CHARS[0]), (date, 4)):
        p = out.add_paragraph(text)
        p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
        p.paragraph_format.right_indent = Pt(chars * BODY_PT)
        p.paragraph_format.keep_with_next = text == organization
        p.paragraph_format.keep_together = True


_SIGN_OFF_INDENT_CHARS = (2, 4)


def _footers(out: Any) -> None:
    out.settings.odd_and_even_pages_header_footer = True
    section = out.sections[0]
    one_char = Pt(PAGE_NUMBER_PT)
    for footer, alignment in (
        (section.footer, WD_ALIGN_PARAGRAPH.RIGHT),  # odd pages
        (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT),
    ):
        footer.is_linked_to_previous = False
        p = footer.paragraphs[0]
        p.style = out.styles[STYLE_FOOTER]
        p.alignment = alignment
        if alignment == WD_ALIGN_PARAGRAPH.RIGHT:
            p.paragraph_format.right_indent = one_char
        else:
            p.paragraph_format.left_indent = one_char
        p.add_run("— ")
        _page_field(p)
        p.add_run(" —")


def _page_field(p: Any) -> None:
    """Append a complex PAGE field (begin, instruction, separate, cached '1', end)."""

    def fld_char(kind: str) -> Any:
        run = p.add_run()
        el = OxmlElement("w:fldChar")
        el.set(qn("w:fldCharType"), kind)
        run._element.append(el)
        return run

    fld_char("begin")
    instr = p.add_run()._element
    text = OxmlElement("w:instrText")
    text.set(qn("xml:space"), "preserve")
    text.text = " PAGE "
    instr.append(text)
    fld_char("separate")
    p.add_run("1")
    fld_char("end")


def _table(out: Any, table: Table) -> None:
    placed = place(table)
    if table.caption:
        out.add_paragraph(table.caption, style=STYLE_CAPTION)
    grid = out.add_table(rows=len(table.rows), cols=table.columns)
    grid.style = out.styles["Table Grid"]
    grid.alignment = WD_TABLE_ALIGNMENT.CENTER
    grid.autofit = False  # w:tblLayout fixed: the widths below hold in Word and LibreOffice
    _borders(grid)
    widths = _column_widths(table, placed)
    tbl_pr = grid._tbl.tblPr
    tbl_w = tbl_pr.find(qn("w:tblW"))
    if tbl_w is None:
        tbl_w = OxmlElement("w:tblW")
        tbl_pr.append(tbl_w)
    tbl_w.set(qn("w:type"), "dxa")
    tbl_w.set(qn("w:w"), str(sum(w.twips for w in widths)))
    for column, width in zip(grid.columns, widths, strict=True):
        column.width = width
        for c in column.cells:
            c.width = width

    repeat = header_rows(table)
    for r, row in enumerate(grid.rows):
        tr_pr = row._tr.get_or_add_trPr()
        tr_pr.append(OxmlElement("w:cantSplit"))
        height = OxmlElement("w:trHeight")
        height.set(qn("w:val"), str(ROW_MIN_HEIGHT_TWIPS))
        height.set(qn("w:hRule"), "atLeast")
        tr_pr.append(height)
        if r < repeat:
            tr_pr.append(OxmlElement("w:tblHeader"))

    for row in placed:
        for item in row:
            _cell(grid, item)
    if len(table.rows) <= KEEP_TOGETHER_ROWS:  # a short table moves to the next page whole
        _keep_rows_together(grid, range(len(table.rows) - 1))
    else:  # a long one may break, but never inside a merged row label that fits on a page
        _keep_rows_together(grid, _rows_inside_label_merges(placed, repeat))


def _rows_inside_label_merges(placed: list[list[Placed]], header: int) -> set[int]:
    """Rows that must stay with the next one: every row of a vertically merged label cell
    (such as table 三's （三）不予公开, eight rows) but its last, so that no page starts with
    rows whose label stayed on the page before. The header rows repeat anyway."""
    rows: set[int] = set()
    for row in placed:
        for item in row:
            span = item.cell.rowspan
            if item.row >= header and 1 < span <= KEEP_TOGETHER_ROWS // 2:
                rows.update(range(item.row, item.row + span - 1))
    return rows


def _keep_rows_together(grid: Any, rows: Any) -> None:
    for r in rows:
        for tc in grid.rows[r]._tr.tc_lst:
            for p in tc.iter(qn("w:p")):
                p.get_or_add_pPr().get_or_add_keepNext()


def _cell(grid: Any, item: Placed) -> None:
    cell: Cell = item.cell
    target = grid.cell(item.row, item.col)
    if cell.rowspan > 1 or cell.colspan > 1:
        end = grid.cell(item.row + cell.rowspan - 1, item.col + cell.colspan - 1)
        target = target.merge(end)
    target.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    p = target.paragraphs[0]
    for extra in target.paragraphs[1:]:  # merging leaves the covered cells' empty paragraphs
        extra._element.getparent().remove(extra._element)
    p.style = STYLE_TABLE
    if cell.header or is_number(cell.text):
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    else:
        p.alignment = {
            "left": WD_ALIGN_PARAGRAPH.LEFT,
            "center": WD_ALIGN_PARAGRAPH.CENTER,
            "right": WD_ALIGN_PARAGRAPH.RIGHT,
        }[cell.align]
    run = p.add_run(cell.text)
    if cell.header:
        run.bold = True


def _borders(grid: Any) -> None:
    tbl_pr = grid._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for side in ("top", "left", "bottom", "right", "insideH", "insideV"):
        edge = OxmlElement(f"w:{side}")
        edge.set(qn("w:val"), "single")
        edge.set(qn("w:sz"), "4")  # eighths of a point: 0.5 pt
        edge.set(qn("w:space"), "0")
        edge.set(qn("w:color"), "000000")
        borders.append(edge)
    old = tbl_pr.find(qn("w:tblBorders"))
    if old is not None:
        tbl_pr.remove(old)
    tbl_pr.append(borders)
    margins = OxmlElement("w:tblCellMar")
    for side, twips in CELL_MARGINS_TWIPS.items():
        edge = OxmlElement(f"w:{side}")
        edge.set(qn("w:w"), str(twips))
        edge.set(qn("w:type"), "dxa")
        margins.append(edge)
    old_margins = tbl_pr.find(qn("w:tblCellMar"))
    if old_margins is not None:
        tbl_pr.remove(old_margins)
    tbl_pr.append(margins)
    _order_tbl_pr(tbl_pr)


_TBL_PR_ORDER = (
    "tblStyle",
    "tblpPr",
    "tblOverlap",
    "bidiVisual",
    "tblStyleRowBandSize",
    "tblStyleColBandSize",
    "tblW",
    "jc",
    "tblCellSpacing",
    "tblInd",
    "tblBorders",
    "shd",
    "tblLayout",
    "tblCellMar",
    "tblLook",
)


def _order_tbl_pr(tbl_pr: Any) -> None:
    """Put ``w:tblPr``'s children in schema order (Word rejects them out of order)."""
    rank = {qn(f"w:{name}"): i for i, name in enumerate(_TBL_PR_ORDER)}
    children = sorted(tbl_pr, key=lambda el: rank.get(el.tag, len(rank)))
    for el in children:
        tbl_pr.remove(el)
        tbl_pr.append(el)


def _column_widths(table: Table, placed: list[list[Placed]]) -> list[Emu]:
    """Share the text width between columns by the longest single-column text in each."""
    weights = [0.0] * table.columns
    for row in placed:
        for item in row:
            if item.cell.colspan != 1:
                continue
            length = len(item.cell.text.strip())
            # Headers wrap onto two or three lines; long labels wrap onto two.
            need = length / 3 if item.cell.header else min(length, 24) / 2 if length > 8 else length
            weights[item.col] = max(weights[item.col], need)
    weights = [max(w, 3.0) for w in weights]
    total = sum(weights)
    text_width = Mm(TEXT_WIDTH_MM)
    widths = [Emu(int(text_width * w / total)) for w in weights]
    return widths
