"""The annual report formats (seed, 2019, 2021) and the validation rules of report.md §2.7."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.annual.document import Cell, Document, Heading, Paragraph, Table
from bot.annual.figures import (
    APPLICANT_COLUMNS,
    RESULT_ROWS,
    TOTAL_COLUMN,
    AnnualFigures,
    CaseCounts,
    DocumentCounts,
    OrgLevel,
)
from bot.annual.formats import Format, render
from bot.annual.validate import table3_from_rows, validate
from tests.seed import SEED_REPORT as SEED

COLUMNS = (*APPLICANT_COLUMNS, TOTAL_COLUMN)
R = "三、本年度办理结果"
WITHHELD, UNABLE, IGNORED, OTHER = (
    "（三）不予公开",
    "（四）无法提供",
    "（五）不予处理",
    "（六）其他处理",
)
# report.md §2.4, label columns level 1 | level 2 | level 3 of each row as the grid shows them.
TABLE3_LABELS_2021 = [
    ("一、本年新收政府信息公开申请数量",) * 3,
    ("二、上年结转政府信息公开申请数量",) * 3,
    (R, "（一）予以公开", "（一）予以公开"),
    (R, *("（二）部分公开（区分处理的，只计这一情形，不计其他情形）",) * 2),
    (R, WITHHELD, "1.属于国家秘密"),
    (R, WITHHELD, "2.其他法律行政法规禁止公开"),
    (R, WITHHELD, "3.危及\u201c三安全一稳定\u201d"),
    (R, WITHHELD, "4.保护第三方合法权益"),
    (R, WITHHELD, "5.属于三类内部事务信息"),
    (R, WITHHELD, "6.属于四类过程性信息"),
    (R, WITHHELD, "7.属于行政执法案卷"),
    (R, WITHHELD, "8.属于行政查询事项"),
    (R, UNABLE, "1.本机关不掌握相关政府信息"),
    (R, UNABLE, "2.没有现成信息需要另行制作"),
    (R, UNABLE, "3.补正后申请内容仍不明确"),
    (R, IGNORED, "1.信访举报投诉类申请"),
    (R, IGNORED, "2.重复申请"),
    (R, IGNORED, "3.要求提供公开出版物"),
    (R, IGNORED, "4.无正当理由大量反复申请"),
    (R, IGNORED, "5.要求行政机关确认或重新出具已获取信息"),
    (R, OTHER, "1.申请人无正当理由逾期不补正、行政机关不再处理其政府信息公开申请"),
    (R, OTHER, "2.申请人逾期未按收费通知要求缴纳费用、行政机关不再处理其政府信息公开申请"),
    (R, OTHER, "3.其他"),
    (R, "（七）总计", "（七）总计"),
    ("四、结转下年度继续办理",) * 3,
]
TABLE3_LABELS_2019 = [*TABLE3_LABELS_2021[:20], (R, OTHER, OTHER), *TABLE3_LABELS_2021[23:]]


# ---- helpers ---------------------------------------------------------------------------


def seed_figures(**changes: object) -> AnnualFigures:
    """The seed's numbers (report.md §7.1) as figures."""
    figures = AnnualFigures(
        org_code="220283-tiande",
        org_name="天德乡人民政府",
        year=2016,
        area_word="全乡",
        title_org_name="舒兰市人民政府",
        active_total=10,
        normative_published=2,
        normative_issued=3,
        ch_website=1,
        ch_wechat=8,
        ch_other=1,
        apps_by_channel={"当面": 0, "网络": 0, "信函": 0},
        publication_url="http://218.27.140.5/zwdtSjgl/index.htm",
        contact=(
            "舒兰市天德乡政务公开办公室，地址：舒兰市天德乡庆丰街内，邮编：132622，"
            "电话：0432-68383016，传真：68383015邮箱：tiandexiang@126.com"
        ),
    )
    for name, value in changes.items():
        setattr(figures, name, value)
    return figures


def seed_lines() -> list[str]:
    """The seed's non-blank lines, whitespace (incl. U+00A0, U+3000) stripped (report.md §7.1)."""
    lines = (line.strip() for line in SEED.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


def seed_section(start: str, stop: str) -> list[str]:
    lines = seed_lines()
    first = next(n for n, line in enumerate(lines) if line.startswith(start))
    last = next(n for n, line in enumerate(lines) if line.startswith(stop))
    return lines[first:last]


def block_lines(document: Document) -> list[str]:
    """Headings and paragraphs as plain lines (a run-in heading joins its paragraph)."""
    out = []
    for block in document.blocks:
        if isinstance(block, Heading):
            out.append(block.text.strip())
        elif isinstance(block, Paragraph):
            out.append((block.lead + block.text).strip())
    return out


def doc_section(document: Document, start: str, stop: str) -> list[str]:
    lines = block_lines(document)
    first = next(n for n, line in enumerate(lines) if line.startswith(start))
    last = next(n for n, line in enumerate(lines) if line.startswith(stop))
    return lines[first:last]


def table(document: Document, key: str) -> Table:
    return next(b for b in document.blocks if isinstance(b, Table) and b.key == key)


def grid(tab: Table) -> list[list[Cell]]:
    """Each grid position → the cell covering it; fails unless the spans fill the grid exactly."""
    covered: list[list[Cell | None]] = [[None] * tab.columns for _ in tab.rows]
    for r, row in enumerate(tab.rows):
        c = 0
        for cell in row:
            while c < tab.columns and covered[r][c] is not None:
                c += 1
            for rr in range(r, r + cell.rowspan):
                for cc in range(c, c + cell.colspan):
                    assert covered[rr][cc] is None, f"{tab.key} row {rr} col {cc} covered twice"
                    covered[rr][cc] = cell
            c += cell.colspan
    for r, cells in enumerate(covered):
        assert all(cells), f"{tab.key} row {r} not filled"
    return [[cell for cell in cells if cell] for cells in covered]


def with_total(values: list[int]) -> dict[str, int]:
    return {**dict(zip(APPLICANT_COLUMNS, values, strict=True)), TOTAL_COLUMN: sum(values)}


def consistent_table3() -> dict[str, dict[str, int]]:
    """Non-zero in every row and column; all sums and the 勾稽关系 hold."""
    table = {
        key: with_total([1 + (n + c) % 3 for c in range(6)]) for n, key in enumerate(RESULT_ROWS)
    }
    results = [sum(table[key][col] for key in RESULT_ROWS) for col in APPLICANT_COLUMNS]
    table["total"] = with_total(results)
    table["carried_in"] = with_total([1] * 6)
    table["carried_out"] = with_total([2] * 6)
    table["new"] = with_total([n + 2 - 1 for n in results])
    return table


def busy_figures(level: OrgLevel = "county") -> AnnualFigures:
    figures = seed_figures(level=level, table3=consistent_table3())
    figures.apps_by_channel = {"网络": figures.apps_received()}
    figures.apps_on_time = figures.cell("total", TOTAL_COLUMN)
    return figures


# ---- (a) the seed, sentence by sentence ------------------------------------------------


class TestSeed:
    def test_sections_two_to_five_match_the_seed(self) -> None:
        document = render(seed_figures(), "seed")
        expected = seed_section("二、主动公开政府信息情况", "六、")
        assert doc_section(document, "二、主动公开政府信息情况", "六、") == expected

    def test_narrative_sections_and_title_round_trip(self) -> None:
        """一 and 六 come back line for line from the narrative text; the title keeps its quirk."""
        first = seed_section("一、 基本工作情况", "二、")
        last = seed_lines()[seed_lines().index("六、工作存在的主要问题、改进情况及工作打算") :]
        figures = seed_figures(basic_situation="\n\n".join(first[1:]), problems="\n".join(last[1:]))
        document = render(figures, "seed")
        assert document.title_lines == seed_lines()[:2]
        assert doc_section(document, "一、", "二、") == first
        assert block_lines(document)[-len(last) :] == last

    def test_preamble_lists_the_parts_present(self) -> None:
        preamble = block_lines(render(seed_figures(), "seed"))[0]
        assert "统计期限自2016年1月1日起至2016年12月31日止" in preamble
        assert "存在问题及工作打算等六部分组成" in preamble
        assert "（http://218.27.140.5/zwdtSjgl/index.htm）" in preamble
        assert preamble.endswith("邮箱：tiandexiang@126.com。")

    def test_fax_and_other_channels_print_only_when_non_zero(self) -> None:
        table3 = {"new": with_total([3, 0, 0, 0, 0, 0])}
        figures = seed_figures(table3=table3, apps_by_channel={"网络": 1, "传真": 2})
        line = next(x for x in block_lines(render(figures, "seed")) if "收到申请情况" in x)
        assert line.endswith("当面申请0件，网络申请1件，信函申请0件，传真申请2件。")

    def test_cases_with_numbers(self) -> None:
        figures = seed_figures(
            reviews=CaseCounts(upheld=1, pending=1),
            suits_after_review=CaseCounts(corrected=1),
        )
        lines = doc_section(render(figures, "seed"), "五、", "六、")
        assert lines[1] == (
            "（一）收到政府信息公开行政复议案件2件，其中，结果维持1件，结果纠正0件，"
            "其他结果0件，尚未审结1件。"
        )
        assert lines[2].startswith("（二）收到政府信息公开行政诉讼案件1件，")
        assert lines[2].endswith("；未收到举报投诉案件。")

    def test_institution_section_appears_when_non_zero_and_renumbers(self) -> None:
        figures = seed_figures(staff_part_time=2, funds_wan=Decimal("1.5"), other_matters="无。")
        headings = [b.text for b in render(figures, "seed").blocks if isinstance(b, Heading)]
        assert headings[5:] == [
            "六、机构建设、保障经费和培训会议情况",
            "七、工作存在的主要问题、改进情况及工作打算",
            "八、其他需要报告的事项",
        ]
        lines = block_lines(render(figures, "seed"))
        assert "（二）保障经费情况。政府信息公开专项经费1.5万元。" in lines
        assert "等八部分组成" in lines[0]


# ---- (b) table 三 with every row non-zero ----------------------------------------------


class TestTable3:
    @pytest.mark.parametrize("fmt", ["2021", "2019"])
    def test_consistent_dataset_passes(self, fmt: Format) -> None:
        assert validate(busy_figures(), fmt) == []

    def test_header_rows_and_merges(self) -> None:
        tab = table(render(busy_figures(), "2021"), "table3")
        assert tab.columns == 10
        assert len(tab.rows) == 3 + 25
        assert all(cell.header for row in tab.rows[:3] for cell in row)
        note, applicants = tab.rows[0]
        assert note.text.startswith("（本列数据的勾稽关系为")
        assert (note.rowspan, note.colspan) == (3, 3)
        assert (applicants.text, applicants.colspan) == ("申请人情况", 7)
        spans = [(c.text, c.rowspan, c.colspan) for c in tab.rows[1]]
        assert spans == [("自然人", 2, 1), ("法人或其他组织", 1, 5), ("总计", 2, 1)]
        assert [c.text for c in tab.rows[2]] == list(APPLICANT_COLUMNS[1:])
        assert [c.text for c in grid(tab)[2][3:]] == list(COLUMNS)

    def test_label_merges_2021(self) -> None:
        body = render(busy_figures(), "2021").blocks
        rows = table(Document([], body), "table3").rows[3:]
        for n in (0, 1, 24):
            assert rows[n][0].colspan == 3
        for n in (3, 23):
            assert rows[n][0].colspan == 2
        assert (rows[2][0].text, rows[2][0].rowspan) == (R, 22)
        assert rows[2][1].colspan == 2
        groups = (WITHHELD, UNABLE, IGNORED, OTHER)
        heads = {cell.text: cell.rowspan for row in rows for cell in row if cell.text in groups}
        assert heads == {WITHHELD: 8, UNABLE: 3, IGNORED: 5, OTHER: 3}

    @pytest.mark.parametrize(
        ("fmt", "labels"), [("2021", TABLE3_LABELS_2021), ("2019", TABLE3_LABELS_2019)]
    )
    def test_labels_and_values(self, fmt: Format, labels: list[tuple[str, ...]]) -> None:
        figures = busy_figures()
        cells = grid(table(render(figures, fmt), "table3"))[3:]
        assert [tuple(c.text for c in row[:3]) for row in cells] == labels
        assert cells[0][9].text == str(figures.apps_received())
        for row in cells:
            assert all(int(cell.text) > 0 for cell in row[3:])

    def test_2019_merges_other_results_into_one_row(self) -> None:
        figures = busy_figures()
        tab = table(render(figures, "2019"), "table3")
        assert len(tab.rows) == 3 + 23
        assert (tab.rows[5][0].text, tab.rows[5][0].rowspan) == (R, 20)
        other = next(row for row in tab.rows if row[0].text == OTHER)
        assert other[0].colspan == 2
        keys = ("other_no_correction", "other_unpaid", "other_other")
        assert [c.text for c in other[1:]] == [
            str(sum(figures.cell(k, col) for k in keys)) for col in COLUMNS
        ]


# ---- (c) the 会仪镇 table breaks the 总计 column -----------------------------------------


class TestHuiyi:
    def test_total_column_is_flagged(self) -> None:
        rows = [[0] * 7 for _ in range(25)]
        rows[0] = [0, 0, 0, 0, 1, 0, 0]
        rows[2] = [0, 0, 0, 0, 1, 0, 0]
        figures = seed_figures(org_name="会仪镇人民政府", table3=table3_from_rows(rows))
        findings = validate(figures, "2021")
        wheres = {f.where for f in findings if f.severity == "error"}
        assert "表三 第1行“一、本年新收政府信息公开申请数量” “总计”列" in wheres
        assert "表三 第3行“（一）予以公开” “总计”列" in wheres
        assert "表三 第24行“（七）总计” “法律服务机构”列" in wheres
        assert "表三 “法律服务机构”列 第1、2行与第24、25行" in wheres
        messages = " ".join(f.message for f in findings)
        assert "总计填0，但六类申请人之和为1" in messages

    def test_table3_from_rows_shapes(self) -> None:
        assert table3_from_rows([[1] * 7] * 23)["other_other"]["总计"] == 1
        with pytest.raises(ValueError, match="24 rows"):
            table3_from_rows([[0] * 7] * 24)
        with pytest.raises(ValueError, match="row 2: 6 values"):
            table3_from_rows([[0] * 7, [0] * 6, *[[0] * 7] * 23])


# ---- (d) table 二 per format, (f) no blank cells -----------------------------------------


class TestTable2:
    def test_2021_shape(self) -> None:
        figures = seed_figures(admin_fees_wan=Decimal("12.345678"), licensing_decisions=213)
        tab = table(render(figures, "2021"), "table2")
        assert (tab.columns, len(tab.rows)) == (4, 14)
        cells = grid(tab)
        for n in (0, 4, 7, 11):
            assert tab.rows[n][0].colspan == 4
        assert [c.text for c in tab.rows[1]] == [
            "信息内容",
            "本年制发件数",
            "本年废止件数",
            "现行有效件数",
        ]
        for n in (5, 6, 8, 9, 10, 12, 13):
            assert tab.rows[n][1].colspan == 3
        assert [row[0].text for row in cells] == [
            "第二十条第（一）项", "信息内容", "规章", "行政规范性文件",
            "第二十条第（五）项", "信息内容", "行政许可",
            "第二十条第（六）项", "信息内容", "行政处罚", "行政强制",
            "第二十条第（八）项", "信息内容", "行政事业性收费",
        ]  # fmt: skip
        assert cells[6][1].text == "213"
        assert cells[12][1].text == "本年收费金额（单位：万元）"
        assert cells[13][1].text == "12.3457"

    def test_2019_shape(self) -> None:
        figures = seed_figures(normative_docs=DocumentCounts(issued=3, in_force=5))
        tab = table(render(figures, "2019"), "table2")
        assert (tab.columns, len(tab.rows)) == (4, 18)
        cells = grid(tab)
        for n in (0, 4, 8, 12, 15):
            assert tab.rows[n][0].colspan == 4
        assert [c.text for c in cells[1]] == [
            "信息内容",
            "本年新制作数量",
            "本年新公开数量",
            "对外公开总数量",
        ]
        assert [c.text for c in cells[3]] == ["规范性文件", "3", "2", "5"]
        assert [c.text for c in cells[5]] == [
            "信息内容",
            "上一年项目数量",
            "本年增/减",
            "处理决定数量",
        ]
        assert [row[0].text for row in cells[14:]] == [
            "行政事业性收费", "第二十条第（九）项", "信息内容", "政府集中采购",
        ]  # fmt: skip
        assert tab.rows[16][2].colspan == 2

    def test_2019_fields_print_as_entered_and_blank_when_not(self) -> None:
        figures = seed_figures(
            licensing_decisions=7,
            licensing_prev=12,
            licensing_change=-2,
            other_services_decisions=3,
            fees_prev=4,
            procurement_projects=2,
            procurement_amount_wan=Decimal("25.1"),
        )
        cells = grid(table(render(figures, "2019"), "table2"))
        assert [c.text for c in cells[6]] == ["行政许可", "12", "-2", "7"]
        assert [c.text for c in cells[7]] == ["其他对外管理服务事项", "", "", "3"]
        assert [c.text for c in cells[10]] == ["行政处罚", "", "", "0"]
        assert [c.text for c in cells[14][:3]] == ["行政事业性收费", "4", ""]
        assert [c.text for c in cells[17][:3]] == ["政府集中采购", "2", "25.1"]
        nothing = grid(table(render(seed_figures(), "2019"), "table2"))
        assert [c.text for c in nothing[7]] == ["其他对外管理服务事项", "", "", ""]
        assert [c.text for c in nothing[17][:3]] == ["政府集中采购", "", ""]

    @pytest.mark.parametrize("fmt", ["2021", "2019"])
    def test_no_blank_cells(self, fmt: Format) -> None:
        """Every cell the template fills is printed; only the 2019 table's fields nobody
        entered (上一年项目数量, 本年增/减, 其他对外管理服务事项, 政府集中采购) stay blank."""
        document = render(AnnualFigures(org_code="x", org_name="某镇人民政府", year=2021), fmt)
        tables = [b for b in document.blocks if isinstance(b, Table)]
        assert [t.key for t in tables] == ["table2", "table3", "table4"]
        for tab in tables[1:]:
            grid(tab)
            assert all(cell.text.strip() for row in tab.rows for cell in row)
        blanks = [(r, c) for r, row in enumerate(grid(tables[0])) for c, cell in enumerate(row)]
        blanks = [(r, c) for r, c in blanks if not grid(tables[0])[r][c].text.strip()]
        expected = {"2021": [], "2019": [(6, 1), (6, 2), (7, 1), (7, 2), (7, 3), (10, 1),
                    (10, 2), (11, 1), (11, 2), (14, 1), (14, 2), (14, 3), (17, 1), (17, 2),
                    (17, 3)]}  # fmt: skip
        assert blanks == expected[fmt]
        table3_values = [c.text for row in grid(tables[1])[3:] for c in row[3:]]
        assert len(table3_values) == len(tables[1].rows[3:]) * 7
        assert set(table3_values) == {"0"}
        assert {c.text for c in tables[2].rows[3]} == {"0"}
        assert {c.text for c in grid(tables[0])[2][1:]} == {"0"}


class TestTable4AndSections:
    def test_table4_shape_and_totals(self) -> None:
        figures = seed_figures(reviews=CaseCounts(1, 2, 3, 4), suits_direct=CaseCounts(pending=1))
        tab = table(render(figures, "2021"), "table4")
        assert (tab.columns, len(tab.rows)) == (15, 4)
        cells = grid(tab)
        assert [c.colspan for c in tab.rows[0]] == [5, 10]
        assert [c.rowspan for c in tab.rows[1][:5]] == [2] * 5
        assert [c.text for c in cells[2][5:]] == [
            "结果维持",
            "结果纠正",
            "其他结果",
            "尚未审结",
            "总计",
        ] * 2
        assert [c.text for c in cells[3]] == [*"1234", "10", *"000", "1", "1", *"00000"]

    @pytest.mark.parametrize("fmt", ["2021", "2019"])
    def test_sections_and_fee_sentence(self, fmt: Format) -> None:
        document = render(seed_figures(fees_collected_yuan=Decimal(200)), fmt)
        headings = [b.text for b in document.blocks if isinstance(b, Heading)]
        assert headings == [
            "一、总体情况",
            "二、主动公开政府信息情况",
            "三、收到和处理政府信息公开申请情况",
            "四、政府信息公开行政复议、行政诉讼情况",
            "五、存在的主要问题及改进情况",
            "六、其他需要报告的事项",
        ]
        lines = block_lines(document)
        assert lines[-1] == "本年度共收取信息处理费200元。"
        channel = seed_section("（二）通过不同渠道和方式公开", "三、")[0]
        active = next(line for line in seed_lines() if line.startswith("（一）主动公开政府"))
        overview = doc_section(document, "一、总体情况", "二、")
        assert (
            overview[1]
            == "（一）主动公开。" + active.partition("。")[2] + (channel.partition("。")[2])
        )
        assert "本年度未收取信息处理费。" in block_lines(render(seed_figures(), fmt))

    @pytest.mark.parametrize("fmt", ["2021", "2019"])
    def test_overview_has_one_numbering(self, fmt: Format) -> None:
        """The clerk's （一）（二） move on after the counts' （一）主动公开; a narrative that
        opens with its own （一）主动公开 takes the counts instead of a second （一）."""
        narrative = "（一）依申请公开。全年规范办理。\n（二）监督保障。开展考核。\n不分节的一段。"
        lines = doc_section(render(seed_figures(basic_situation=narrative), fmt), "一、", "二、")
        assert [line[:3] for line in lines[1:]] == ["（一）", "（二）", "（三）", "不分节"]
        assert lines[2] == "（二）依申请公开。全年规范办理。"
        assert lines[3] == "（三）监督保障。开展考核。"
        own = "（一）主动公开工作。我乡坚持公开为常态。\n（二）依申请公开。规范办理。"
        lines = doc_section(render(seed_figures(basic_situation=own), fmt), "一、", "二、")
        assert [line[:3] for line in lines[1:]] == ["（一）", "（二）"]
        assert lines[1].startswith("（一）主动公开工作。2016年全乡主动公开信息10条。")
        assert lines[1].endswith("我乡坚持公开为常态。")

    @pytest.mark.parametrize("fmt", ["seed", "2021", "2019"])
    def test_no_channel_sentence_when_nothing_was_published(self, fmt: Format) -> None:
        empty = seed_figures(active_total=0, normative_published=0, ch_website=0, ch_wechat=0)
        empty.ch_other = 0
        text = "\n".join(block_lines(render(empty, fmt)))
        assert "主动公开信息0条" in text
        assert "在公开的" not in text
        assert "在公开的10条信息中" in "\n".join(block_lines(render(seed_figures(), fmt)))


# ---- (e) and the other rules -------------------------------------------------------------


class TestRules:
    def test_township_rules_warning(self) -> None:
        figures = busy_figures(level="township")
        figures.rules = DocumentCounts(issued=2, in_force=2)
        findings = validate(figures, "2021")
        assert [(f.rule, f.where, f.severity) for f in findings] == [
            ("township_rules", "表二 “规章”行 “本年制发件数”列", "warning"),
            ("township_rules", "表二 “规章”行 “现行有效件数”列", "warning"),
        ]
        figures.level = "city"
        assert validate(figures, "2021") == []

    def test_units_and_negatives(self) -> None:
        figures = busy_figures()
        figures.admin_fees_wan = Decimal(251000)
        figures.funds_wan = Decimal(-1)
        figures.penalty_decisions = -1
        figures.table3["open"]["其他"] = -1
        figures.reviews = CaseCounts(pending=-2)
        findings = validate(figures, "2021")
        errors = {f.where for f in findings if f.severity == "error"}
        assert "表二 “行政处罚”行 “本年处理决定数量”列" in errors
        assert "表三 第3行“（一）予以公开” “其他”列" in errors
        assert "表四 “行政复议” “尚未审结”列" in errors
        assert "机构人员经费 “政府信息公开专项经费（万元）”栏" in errors
        (units,) = [f for f in findings if f.rule == "units"]
        assert units.severity == "warning"
        assert units.where == "表二 “行政事业性收费”行 “本年收费金额（单位：万元）”列"
        assert findings[-1].severity == "warning"  # errors come first

    def test_money_is_judged_by_level_and_field(self) -> None:
        """800 万元 of 专项经费 is a warning for a township, not for a city; 0.35 元 of
        信息处理费 is impossible under the 2020 fee rules: an error."""
        township = busy_figures(level="township")
        township.year = 2022
        township.funds_wan = Decimal(800)
        township.fees_collected_yuan = Decimal("0.35")
        findings = validate(township, "2021")
        by_rule = {(f.rule, f.severity, f.where) for f in findings}
        assert by_rule == {
            ("units", "warning", "机构人员经费 “政府信息公开专项经费（万元）”栏"),
            ("units", "error", "正文 “信息处理费（元）”"),
        }
        warning = next(f for f in findings if f.severity == "warning")
        assert "乡镇" in warning.message
        assert "50万元" in warning.message
        city = busy_figures(level="city")
        city.funds_wan = Decimal(800)
        city.fees_collected_yuan = Decimal(300)
        assert validate(city, "2021") == []
        city.admin_fees_wan = Decimal(2_000_000)
        assert [f.rule for f in validate(city, "2021")] == ["units"]

    def test_late_replies_must_add_up_with_table3(self) -> None:
        """按时 + 延期 + 逾期 办结 in the seed's sentence are table 三's （七）总计."""
        figures = busy_figures()
        replied = figures.cell("total", TOTAL_COLUMN)
        figures.apps_on_time, figures.apps_extended, figures.apps_late = replied - 3, 2, 1
        assert validate(figures, "seed") == []
        figures.apps_late = 0
        (finding,) = validate(figures, "seed")
        assert (finding.rule, finding.severity) == ("applications.finished", "error")
        assert validate(figures, "2021") == []  # the national formats print no such sentence

    def test_channel_split_must_match_received(self) -> None:
        figures = busy_figures()
        figures.apps_by_channel = {"网络": 1}
        (finding,) = validate(figures, "seed")
        assert (finding.rule, finding.severity) == ("channels", "warning")
