"""The annual report's exports: .docx read back with python-docx, HTML, Markdown and JSON."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from typing import Any

import docx
import pytest
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

from bot.annual.document import Cell, Document, Finding, Heading, Paragraph, Table
from bot.annual.export import (
    default_format,
    kind_for_path,
    to_docx,
    to_html,
    to_json,
    to_markdown,
)
from bot.annual.export_grid import TableShapeError, header_rows, place
from bot.annual.figures import AnnualFigures, CaseCounts
from bot.web.annual import negotiate

NOTE = "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）"
KINDS = ("商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他")
BODY = "全乡共主动公开政府信息63条，其中规范性文件1条，<网站>&公开栏同步公开。"


def table3_head() -> Table:
    """Table 三's three header rows plus a few body rows, with its row and column merges."""
    c = Cell
    values = [c(str(n)) for n in (3, 1, 0, 0, 0, 0, 4)]
    rows = [
        [c(NOTE, rowspan=3, colspan=3, header=True), c("申请人情况", colspan=7, header=True)],
        [
            c("自然人", rowspan=2, header=True),
            c("法人或其他组织", colspan=5, header=True),
            c("总计", rowspan=2, header=True),
        ],
        [c(kind, header=True) for kind in KINDS],
        [c("一、本年新收政府信息公开申请数量", colspan=3, align="left"), *values],
        [
            c("三、本年度办理结果", rowspan=2, align="left"),
            c("（三）不予公开", rowspan=2, align="left"),
            c("1.属于国家秘密", align="left"),
            *values,
        ],
        [c("2.其他法律行政法规禁止公开", align="left"), *values],
    ]
    return Table(caption="", columns=10, rows=rows, key="table3")


def plain_table() -> Table:
    """A small table without merges (Markdown renders it as a GitHub table)."""
    return Table(
        caption="收费情况",
        columns=2,
        rows=[
            [Cell("项目", header=True), Cell("金额", header=True)],
            [Cell("信息处理费 | 按件", align="left"), Cell("0")],
        ],
        key="fees",
    )


def sample() -> Document:
    """A title, headings of each level, paragraphs (one with a run-in lead) and two tables."""
    return Document(
        title_lines=["天德乡人民政府", "2023年政府信息公开工作年度报告"],
        date_line="（2024年1月20日）",
        blocks=[
            Paragraph("根据《中华人民共和国政府信息公开条例》，编制本报告。"),
            Heading(1, "一、总体情况"),
            Heading(2, "（一）主动公开"),
            Paragraph(BODY, lead="（一）主动公开情况。"),
            Heading(3, "1. 网站公开"),
            Paragraph("1.属于国家秘密的不予公开。", indent=False),
            Heading(1, "三、收到和处理政府信息公开申请情况"),
            table3_head(),
            plain_table(),
        ],
        format="2021",
    )


def figures() -> AnnualFigures:
    """Figures with a Decimal, a date-free default, table 三 cells and a case block."""
    return AnnualFigures(
        org_code="tiande",
        org_name="天德乡人民政府",
        year=2023,
        admin_fees_wan=Decimal("1.50"),
        table3={"new": {"自然人": 3, "总计": 3}},
        reviews=CaseCounts(upheld=1, pending=2),
    )


@pytest.fixture(scope="module")
def word() -> Any:
    """The sample document exported and read back with python-docx."""
    return docx.Document(io.BytesIO(to_docx(sample())))


def east_asia(rpr_parent: Any) -> str | None:
    """The w:rFonts/@w:eastAsia of a style or run element's rPr."""
    rfonts = rpr_parent.find(qn("w:rPr") + "/" + qn("w:rFonts"))
    return None if rfonts is None else rfonts.get(qn("w:eastAsia"))


class TestDocxPage:
    def test_a4_and_gbt9704_margins(self, word: Any) -> None:
        section = word.sections[0]
        expected = {
            "page_width": 210,
            "page_height": 297,
            "top_margin": 37,
            "left_margin": 28,
            "bottom_margin": 35,
            "right_margin": 26,
        }
        for name, mm in expected.items():
            assert abs(getattr(section, name) - Mm(mm)) <= Mm(0.5), name

    def test_footer_page_field_odd_right_even_left(self, word: Any) -> None:
        settings = word.settings.element
        assert settings.find(qn("w:evenAndOddHeaders")) is not None
        section = word.sections[0]
        for footer, alignment in (
            (section.footer, WD_ALIGN_PARAGRAPH.RIGHT),
            (section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT),
        ):
            assert not footer.is_linked_to_previous
            p = footer.paragraphs[0]
            assert p.alignment == alignment
            instr = "".join(t.text for t in p._element.iter(qn("w:instrText")))
            assert instr.strip() == "PAGE"
            kinds = [f.get(qn("w:fldCharType")) for f in p._element.iter(qn("w:fldChar"))]
            assert kinds == ["begin", "separate", "end"]
            assert p.text.startswith("— ")
            assert p.text.endswith(" —")
            assert p.style.font.size == Pt(14)
            assert east_asia(p.style.element) == "宋体"


class TestDocxText:
    def test_title_centred_22pt_in_xiaobiaosong(self, word: Any) -> None:
        titles = [p for p in word.paragraphs if p.style.name == "GK Title"]
        assert [p.text for p in titles] == ["天德乡人民政府", "2023年政府信息公开工作年度报告"]
        style = titles[0].style
        assert style.font.size == Pt(22)
        assert style.paragraph_format.alignment == WD_ALIGN_PARAGRAPH.CENTER
        assert east_asia(style.element) == "方正小标宋简体"
        dates = [p.text for p in word.paragraphs if p.style.name == "GK Date"]
        assert "（2024年1月20日）" in dates

    @pytest.mark.parametrize(
        ("level", "text", "font", "bold"),
        [
            (1, "一、总体情况", "黑体", False),
            (2, "（一）主动公开", "楷体_GB2312", False),
            (3, "1. 网站公开", "仿宋_GB2312", True),
        ],
    )
    def test_headings_per_level(
        self, word: Any, level: int, text: str, font: str, bold: bool
    ) -> None:
        found = [p for p in word.paragraphs if p.style.name == f"Heading {level}"]
        assert text in [p.text for p in found]
        style = found[0].style
        assert east_asia(style.element) == font
        rfonts = style.element.find(qn("w:rPr") + "/" + qn("w:rFonts"))
        assert rfonts.get(qn("w:ascii")) == font
        assert rfonts.get(qn("w:hAnsi")) == font
        assert rfonts.get(qn("w:asciiTheme")) is None
        assert style.font.size == Pt(16)
        assert bool(style.font.bold) is bold
        assert style.paragraph_format.first_line_indent == Pt(32)
        outline = style.element.find(qn("w:pPr") + "/" + qn("w:outlineLvl"))
        assert outline.get(qn("w:val")) == str(level - 1)

    def test_body_fangsong_16pt_fixed_lines_two_char_indent(self, word: Any) -> None:
        normal = word.styles["Normal"]
        assert east_asia(normal.element) == "仿宋_GB2312"
        assert normal.font.size == Pt(16)
        fmt = normal.paragraph_format
        assert fmt.line_spacing_rule == WD_LINE_SPACING.EXACTLY
        assert abs(fmt.line_spacing.pt - 28.95) < 0.1
        body = next(p for p in word.paragraphs if p.text.startswith("根据"))
        assert body.style.name == "Normal"
        assert body.paragraph_format.first_line_indent == Pt(32)
        ind = body._element.find(qn("w:pPr") + "/" + qn("w:ind"))
        assert ind.get(qn("w:firstLineChars")) == "200"
        flush = next(p for p in word.paragraphs if p.text.startswith("1.属于"))
        assert flush.paragraph_format.first_line_indent is None

    def test_lead_is_a_kaiti_run(self, word: Any) -> None:
        p = next(p for p in word.paragraphs if p.text.startswith("（一）主动公开情况。"))
        lead, text = p.runs
        assert lead.text == "（一）主动公开情况。"
        assert east_asia(lead._element) == "楷体_GB2312"
        assert text.text == BODY
        assert east_asia(text._element) is None  # the body font comes from Normal

    def test_docdefaults_name_the_body_font_without_theme(self, word: Any) -> None:
        rfonts = word.styles.element.find(
            "/".join(qn(t) for t in ("w:docDefaults", "w:rPrDefault", "w:rPr", "w:rFonts"))
        )
        assert rfonts.get(qn("w:eastAsia")) == "仿宋_GB2312"
        assert rfonts.get(qn("w:eastAsiaTheme")) is None


class TestDocxTable:
    def test_grid_shape(self, word: Any) -> None:
        table = word.tables[0]
        assert len(table.rows) == 6
        assert len(table.columns) == 10
        widths = [int(g.get(qn("w:w"))) for g in table._tbl.tblGrid.iter(qn("w:gridCol"))]
        assert abs(sum(widths) - Mm(156).twips) < 10

    def test_merges_as_gridspan_and_vmerge(self, word: Any) -> None:
        trs = word.tables[0]._tbl.tr_lst

        def spans(tr: Any) -> list[tuple[int, str | None]]:
            out = []
            for tc in tr.tc_lst:
                vmerge = tc.tcPr.find(qn("w:vMerge")) if tc.tcPr is not None else None
                state = None if vmerge is None else (vmerge.get(qn("w:val")) or "continue")
                out.append((tc.grid_span, state))
            return out

        assert spans(trs[0]) == [(3, "restart"), (7, None)]
        assert spans(trs[1]) == [(3, "continue"), (1, "restart"), (5, None), (1, "restart")]
        assert spans(trs[2]) == [
            (3, "continue"),
            (1, "continue"),
            *[(1, None)] * 5,
            (1, "continue"),
        ]
        assert spans(trs[3]) == [(3, None), *[(1, None)] * 7]
        assert spans(trs[4])[:3] == [(1, "restart"), (1, "restart"), (1, None)]
        assert spans(trs[5])[:3] == [(1, "continue"), (1, "continue"), (1, None)]

    def test_merged_cells_read_back_as_one(self, word: Any) -> None:
        table = word.tables[0]
        assert table.cell(0, 0).text == NOTE
        assert table.cell(2, 2)._tc is table.cell(0, 0)._tc
        assert table.cell(0, 9).text == "申请人情况"
        assert table.cell(1, 4).text == "法人或其他组织"
        assert table.cell(2, 9).text == "总计"
        assert [table.cell(2, c).text for c in range(4, 9)] == list(KINDS)
        assert table.cell(5, 0).text == "三、本年度办理结果"

    def test_header_bold_centred_numbers_centred_labels_left(self, word: Any) -> None:
        table = word.tables[0]
        head = table.cell(0, 3).paragraphs[0]
        assert head.alignment == WD_ALIGN_PARAGRAPH.CENTER
        assert all(r.bold for r in head.runs)
        label = table.cell(3, 0).paragraphs[0]
        assert label.alignment == WD_ALIGN_PARAGRAPH.LEFT
        number = table.cell(3, 3).paragraphs[0]
        assert number.text == "3"
        assert number.alignment == WD_ALIGN_PARAGRAPH.CENTER
        style = number.style
        assert east_asia(style.element) == "宋体"
        assert style.font.size == Pt(10.5)

    def test_full_borders_and_repeated_header_rows(self, word: Any) -> None:
        tbl = word.tables[0]._tbl
        borders = tbl.tblPr.find(qn("w:tblBorders"))
        sides = {el.tag.split("}")[1]: el.get(qn("w:val")) for el in borders}
        assert sides == dict.fromkeys(
            ("top", "left", "bottom", "right", "insideH", "insideV"), "single"
        )
        layouts = tbl.tblPr.findall(qn("w:tblLayout"))
        assert [el.get(qn("w:type")) for el in layouts] == ["fixed"]
        repeated = [tr.trPr.find(qn("w:tblHeader")) is not None for tr in tbl.tr_lst]
        assert repeated == [True, True, True, False, False, False]

    def test_headers_recurring_below_are_not_repeated(self) -> None:
        head = [Cell("第二十条第（一）项", colspan=2, header=True)]
        rows = [head, [Cell("规章"), Cell("0")], head, [Cell("行政许可"), Cell("0")]]
        table = Table(caption="", columns=2, rows=rows, key="table2")
        assert header_rows(table) == 0
        assert header_rows(table3_head()) == 3

    def test_short_tables_are_kept_on_one_page(self, word: Any) -> None:
        trs = word.tables[0]._tbl.tr_lst
        keep = [
            all(
                p.find(qn("w:pPr") + "/" + qn("w:keepNext")) is not None for p in tr.iter(qn("w:p"))
            )
            for tr in trs
        ]
        assert keep == [True] * 5 + [False]

    def test_caption_precedes_its_table(self, word: Any) -> None:
        assert "收费情况" in [p.text for p in word.paragraphs if p.style.name == "GK Table Caption"]
        assert len(word.tables) == 2


class TestHtml:
    def test_escaped_text_and_spans(self) -> None:
        page = to_html(sample())
        assert page.startswith("<!doctype html>")
        assert '<html lang="zh-CN">' in page
        assert "&lt;网站&gt;&amp;公开栏" in page
        assert "<网站>" not in page
        assert f'<th rowspan="3" colspan="3">{NOTE}</th>' in page
        assert '<th colspan="7">申请人情况</th>' in page
        assert '<th rowspan="2">自然人</th>' in page
        assert "<h1>天德乡人民政府<br>2023年政府信息公开工作年度报告</h1>" in page
        assert "<h2>一、总体情况</h2>" in page
        assert "<h3>（一）主动公开</h3>" in page
        assert '<span class="lead">（一）主动公开情况。</span>' in page
        assert "@page { size: A4; margin: 37mm 26mm 35mm 28mm; }" in page

    def test_every_row_fills_the_grid(self) -> None:
        placed = place(table3_head())
        assert [[p.col for p in row] for row in placed][2] == [4, 5, 6, 7, 8]

    def test_a_table_that_overflows_its_grid_is_refused(self) -> None:
        bad = Table(caption="", columns=2, rows=[[Cell("a", colspan=2), Cell("b")]], key="bad")
        with pytest.raises(TableShapeError, match="bad row 1"):
            to_html(Document(title_lines=["t"], blocks=[bad]))


class TestMarkdown:
    def test_merged_table_becomes_an_html_block(self) -> None:
        md = to_markdown(sample())
        assert md.startswith(
            "# 天德乡人民政府2023年政府信息公开工作年度报告\n\n（2024年1月20日）\n"
        )
        assert "\n## 一、总体情况\n" in md
        assert "\n### （一）主动公开\n" in md
        assert "\n#### 1. 网站公开\n" in md
        assert 'rowspan="3" colspan="3"' in md
        block = md[md.index("<table") : md.index("</table>")]
        assert "\n\n" not in block  # an HTML block ends at the first blank line

    def test_plain_table_becomes_a_github_table(self) -> None:
        md = to_markdown(sample())
        assert "| 项目 | 金额 |\n| :--- | :---: |\n| 信息处理费 \\| 按件 | 0 |" in md

    def test_text_is_escaped(self) -> None:
        md = to_markdown(sample())
        assert "\\<网站\\>&公开栏" in md
        assert "\n1\\.属于国家秘密的不予公开。" in md  # not an ordered list
        assert "**（一）主动公开情况。**" in md


class TestJson:
    def test_round_trips_through_json(self) -> None:
        findings = [Finding("balance", "table3 row 24 column 总计", "一+二 ≠ 七+四")]
        data = to_json(sample(), figures(), findings)
        again = json.loads(json.dumps(data, ensure_ascii=False))
        assert again == data
        assert data["figures"]["admin_fees_wan"] == "1.50"
        assert data["figures"]["reviews"] == {
            "upheld": 1,
            "corrected": 0,
            "other": 0,
            "pending": 2,
            "total": 3,
        }
        assert data["figures"]["table3"]["new"]["总计"] == 3
        assert data["figures"]["report_date"] is None
        assert data["findings"][0]["where"] == "table3 row 24 column 总计"
        assert data["valid"] is False
        kinds = [b["type"] for b in data["document"]["blocks"]]
        assert kinds.count("table") == 2
        table = next(b for b in data["document"]["blocks"] if b["type"] == "table")
        assert table["rows"][0][0] == {
            "text": NOTE,
            "rowspan": 3,
            "colspan": 3,
            "header": True,
            "align": "center",
        }

    def test_warnings_alone_leave_it_valid(self) -> None:
        warning = Finding("units", "table2 行政事业性收费", "looks like 元", severity="warning")
        assert to_json(sample(), figures(), [warning])["valid"] is True


class TestChoosing:
    @pytest.mark.parametrize(
        ("name", "kind"),
        [
            ("r.docx", "docx"),
            ("R.HTML", "html"),
            ("r.htm", "html"),
            ("r.md", "md"),
            ("r.json", "json"),
        ],
    )
    def test_kind_from_extension(self, name: str, kind: str) -> None:
        assert kind_for_path(name) == kind

    def test_unknown_extension(self) -> None:
        with pytest.raises(ValueError, match="unknown output kind"):
            kind_for_path("report.pdf")

    @pytest.mark.parametrize(("year", "fmt"), [(2016, "seed"), (2019, "2019"), (2024, "2021")])
    def test_default_format_by_year(self, year: int, fmt: str) -> None:
        assert default_format(year) == fmt

    @pytest.mark.parametrize(
        ("accept", "kind"),
        [
            (None, "json"),
            ("*/*", "json"),
            ("text/html,application/xhtml+xml;q=0.9,*/*;q=0.8", "html"),
            ("text/markdown", "md"),
            ("application/json;q=0.5, text/markdown;q=0.9", "md"),
            (
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                "docx",
            ),
            ("image/png", None),
            ("text/html;q=0", None),
        ],
    )
    def test_accept_header(self, accept: str | None, kind: str | None) -> None:
        assert negotiate(accept) == kind


class TestLayout:
    """Long URLs, the label merges of a long table 三 and the sign-off (report.md §4)."""

    @staticmethod
    def _national(**changes: Any) -> Any:
        from bot.annual.formats import render
        from tests.unit.test_annual_formats import seed_figures

        figures = seed_figures(**changes)
        return render(figures, "2021")

    def test_a_paragraph_with_a_long_url_may_break_inside_it(self) -> None:
        word = docx.Document(io.BytesIO(to_docx(self._national())))
        wraps = {
            p.text[:6]: p._p.pPr.find(qn("w:wordWrap")) is not None
            for p in word.paragraphs
            if p.text and p._p.pPr is not None
        }
        preamble = next(p for p in word.paragraphs if "http://218.27.140.5" in p.text)
        assert preamble._p.pPr is not None
        wrap = preamble._p.pPr.find(qn("w:wordWrap"))
        assert wrap is not None
        assert wrap.get(qn("w:val")) == "0"
        assert preamble.paragraph_format.alignment in (None, WD_ALIGN_PARAGRAPH.JUSTIFY)
        assert sum(wraps.values()) == 1  # only the paragraph with the URL

    def test_a_long_table3_keeps_each_merged_label_with_its_rows(self) -> None:
        word = docx.Document(io.BytesIO(to_docx(self._national())))
        table3 = next(t for t in word.tables if "申请人情况" in t.cell(0, 3).text)
        trs = table3._tbl.tr_lst
        assert len(trs) == 28
        header = [tr.trPr is not None and tr.trPr.find(qn("w:tblHeader")) is not None for tr in trs]
        assert header == [True] * 3 + [False] * 25
        keep = [
            all(
                p.find(qn("w:pPr") + "/" + qn("w:keepNext")) is not None for p in tr.iter(qn("w:p"))
            )
            for tr in trs
        ]
        # rows 8-15 are （三）不予公开 1-8, 16-18 （四）, 19-23 （五）, 24-26 （六）
        groups = [(7, 8), (15, 3), (18, 5), (23, 3)]
        expected = [False] * 28
        for start, size in groups:
            for r in range(start, start + size - 1):
                expected[r] = True
        assert keep == expected
        assert all(
            tr.trPr is not None and tr.trPr.find(qn("w:cantSplit")) is not None for tr in trs
        )

    def test_the_sign_off_is_always_there(self) -> None:
        import datetime as dt

        dated = self._national(report_date=dt.date(2025, 1, 20))
        assert dated.sign_off == ("天德乡人民政府", "2025年1月20日")
        generated = self._national(generated_on=dt.date(2025, 2, 3))
        assert generated.sign_off == ("天德乡人民政府", "2025年2月3日")
        blank = self._national()
        assert blank.sign_off[1] == "\u3000\u3000年\u3000\u3000月\u3000\u3000日"
        word = docx.Document(io.BytesIO(to_docx(dated)))
        last = [p for p in word.paragraphs[-3:]]
        assert [p.text for p in last] == ["", "天德乡人民政府", "2025年1月20日"]
        assert all(p.alignment == WD_ALIGN_PARAGRAPH.RIGHT for p in last[1:])
        assert last[2].paragraph_format.right_indent == Pt(4 * 16)
        assert last[0].paragraph_format.keep_with_next
        assert last[1].paragraph_format.keep_with_next
        assert '<footer class="sign-off"><p>天德乡人民政府</p>' in to_html(dated)
        assert to_markdown(dated).endswith("天德乡人民政府\n\n2025年1月20日\n")
        figures = AnnualFigures(org_code="x", org_name="天德乡人民政府", year=2024)
        signed = to_json(dated, figures, [])["document"]["sign_off"]
        assert signed == {"organization": "天德乡人民政府", "date": "2025年1月20日"}
