"""Tables 二, 三 and 四 of the national formats (2019 trial and 2021), merges as report.md §2."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from bot.annual.document import Cell, Table
from bot.annual.figures import (
    APPLICANT_COLUMNS,
    TABLE3_ROWS,
    TOTAL_COLUMN,
    AnnualFigures,
    CaseCounts,
)
from bot.annual.format_common import money

NationalFormat = Literal["2019", "2021"]

TABLE3_COLUMNS = (*APPLICANT_COLUMNS, TOTAL_COLUMN)
TABLE3_NOTE = "（本列数据的勾稽关系为：第一项加第二项之和，等于第三项加第四项之和）"
RESULTS_LABEL = "三、本年度办理结果"
# Level-2 groups whose level-3 rows share one merged label cell: label, row-key prefix.
TABLE3_GROUPS = (
    ("（三）不予公开", "withheld_"),
    ("（四）无法提供", "unable_"),
    ("（五）不予处理", "ignored_"),
    ("（六）其他处理", "other_"),
)
_FULL_WIDTH_ROWS = ("new", "carried_in", "carried_out")  # span all three label columns
_LEVEL2_ROWS = ("open", "partly_open", "total")  # span label levels 2 and 3
_LABELS = dict(TABLE3_ROWS)


def row_label(key: str) -> str:
    """A table 三 row's label; level-3 rows get their group: （三）不予公开 1.属于国家秘密."""
    group = _group(key)
    return f"{group[0]} {_LABELS[key]}" if group else _LABELS[key]


def _group(key: str) -> tuple[str, str] | None:
    """The level-2 group a level-3 row belongs to, if any."""
    return next((g for g in TABLE3_GROUPS if key.startswith(g[1])), None)


def _group_size(prefix: str) -> int:
    return sum(1 for key, _ in TABLE3_ROWS if key.startswith(prefix))


# The first row of each group lists the group's merged level-2 cell: label and rowspan.
_GROUP_HEADS = {
    next(key for key, _ in TABLE3_ROWS if key.startswith(prefix)): (label, _group_size(prefix))
    for label, prefix in TABLE3_GROUPS
}


def _caption(text: str, width: int) -> list[Cell]:
    return [Cell(text, colspan=width, header=True)]


def _header(labels: tuple[str, ...], last_span: int = 1) -> list[Cell]:
    """A 信息内容 header row; the last label may span the remaining columns."""
    cells = [Cell(label, header=True) for label in labels]
    return [*cells[:-1], Cell(labels[-1], colspan=last_span, header=True)]


def _row(label: str, values: list[str], last_span: int = 1) -> list[Cell]:
    """A label and its values; the last value may span the remaining columns."""
    cells = [Cell(label, align="left"), *(Cell(text) for text in values[:-1])]
    return [*cells, Cell(values[-1], colspan=last_span)]


def table2(figures: AnnualFigures, fmt: NationalFormat) -> Table:
    """Table 二, 主动公开政府信息情况: 14 rows (2021) or 18 rows (2019), four columns."""
    rows = _table2_2021(figures) if fmt == "2021" else _table2_2019(figures)
    return Table("", 4, rows, key="table2")


def _table2_2021(figures: AnnualFigures) -> list[list[Cell]]:
    """The 2021 layout of report.md §2.3."""
    rules, docs = figures.rules, figures.normative_docs
    decisions = ("信息内容", "本年处理决定数量")
    return [
        _caption("第二十条第（一）项", 4),
        _header(("信息内容", "本年制发件数", "本年废止件数", "现行有效件数")),
        _row("规章", [str(rules.issued), str(rules.repealed), str(rules.in_force)]),
        _row("行政规范性文件", [str(docs.issued), str(docs.repealed), str(docs.in_force)]),
        _caption("第二十条第（五）项", 4),
        _header(decisions, 3),
        _row("行政许可", [str(figures.licensing_decisions)], 3),
        _caption("第二十条第（六）项", 4),
        _header(decisions, 3),
        _row("行政处罚", [str(figures.penalty_decisions)], 3),
        _row("行政强制", [str(figures.enforcement_decisions)], 3),
        _caption("第二十条第（八）项", 4),
        _header(("信息内容", "本年收费金额（单位：万元）"), 3),
        _row("行政事业性收费", [money(figures.admin_fees_wan)], 3),
    ]


def _table2_2019(figures: AnnualFigures) -> list[list[Cell]]:
    """The 2019 trial layout of report.md §2.6; a field nobody entered is left blank."""
    rules, docs, f = figures.rules, figures.normative_docs, figures
    items = ("信息内容", "上一年项目数量", "本年增/减", "处理决定数量")
    return [
        _caption("第二十条第（一）项", 4),
        _header(("信息内容", "本年新制作数量", "本年新公开数量", "对外公开总数量")),
        _row("规章", [str(rules.issued), str(rules.issued), str(rules.in_force)]),
        _row(
            "规范性文件", [str(docs.issued), str(figures.normative_published), str(docs.in_force)]
        ),
        _caption("第二十条第（五）项", 4),
        _header(items),
        _row(
            "行政许可", [_n(f.licensing_prev), _n(f.licensing_change), str(f.licensing_decisions)]
        ),
        _row(
            "其他对外管理服务事项",
            [
                _n(f.other_services_prev),
                _n(f.other_services_change),
                _n(f.other_services_decisions),
            ],
        ),
        _caption("第二十条第（六）项", 4),
        _header(items),
        _row("行政处罚", [_n(f.penalty_prev), _n(f.penalty_change), str(f.penalty_decisions)]),
        _row(
            "行政强制",
            [_n(f.enforcement_prev), _n(f.enforcement_change), str(f.enforcement_decisions)],
        ),
        _caption("第二十条第（八）项", 4),
        _header(items[:3], 2),
        _row("行政事业性收费", [_n(f.fees_prev), _n(f.fees_change)], 2),
        _caption("第二十条第（九）项", 4),
        _header(("信息内容", "采购项目数量", "采购总金额（万元）"), 2),
        _row("政府集中采购", [_n(f.procurement_projects), _wan(f.procurement_amount_wan)], 2),
    ]


def _n(value: int | None) -> str:
    """An entered count, or the blank cell the template leaves when nothing was entered."""
    return "" if value is None else str(value)


def _wan(value: Decimal | None) -> str:
    return "" if value is None else money(value)


def table3(figures: AnnualFigures, fmt: NationalFormat) -> Table:
    """Table 三, 收到和处理政府信息公开申请情况: 3 header rows, then 25 (2021) or 23 (2019)."""
    header = [
        [
            Cell(TABLE3_NOTE, rowspan=3, colspan=3, header=True),
            Cell("申请人情况", colspan=7, header=True),
        ],
        [
            Cell("自然人", rowspan=2, header=True),
            Cell("法人或其他组织", colspan=5, header=True),
            Cell(TOTAL_COLUMN, rowspan=2, header=True),
        ],
        [Cell(name, header=True) for name in APPLICANT_COLUMNS[1:]],
    ]
    return Table("", 3 + len(TABLE3_COLUMNS), header + _table3_body(figures, fmt), key="table3")


def _table3_body(figures: AnnualFigures, fmt: NationalFormat) -> list[list[Cell]]:
    """The label rows with their merged label cells and the seven values each."""
    keys = [key for key, _ in TABLE3_ROWS]
    other_keys = [key for key in keys if key.startswith("other_")]
    if fmt == "2019":
        keys = [key for key in keys if key not in other_keys[1:]]
    results_span = keys.index("total") - keys.index("open") + 1  # 22 (2021) or 20 (2019)
    rows: list[list[Cell]] = []
    for key in keys:
        label = [Cell(RESULTS_LABEL, rowspan=results_span)] if key == "open" else []
        if fmt == "2019" and key in other_keys:
            merged = Cell("（六）其他处理", colspan=2, align="left")
            rows.append([merged, *_sums(figures, other_keys)])
        else:
            rows.append([*label, *_label_cells(key), *_sums(figures, [key])])
    return rows


def _label_cells(key: str) -> list[Cell]:
    """The label cells a row lists itself (the merged level-1 cell is added by the caller)."""
    if key in _FULL_WIDTH_ROWS:
        return [Cell(_LABELS[key], colspan=3, align="left")]
    if key in _LEVEL2_ROWS:
        return [Cell(_LABELS[key], colspan=2, align="left")]
    cell = Cell(_LABELS[key], align="left")
    if key in _GROUP_HEADS:
        label, size = _GROUP_HEADS[key]
        return [Cell(label, rowspan=size), cell]
    return [cell]


def _sums(figures: AnnualFigures, keys: list[str]) -> list[Cell]:
    """Seven value cells, each the sum of the given rows in that column."""
    return [Cell(str(sum(figures.cell(k, col) for k in keys))) for col in TABLE3_COLUMNS]


def table4(figures: AnnualFigures) -> Table:
    """Table 四, 行政复议、行政诉讼: 15 value columns under three header rows."""
    outcomes = ("结果维持", "结果纠正", "其他结果", "尚未审结", "总计")
    header = [
        [Cell("行政复议", colspan=5, header=True), Cell("行政诉讼", colspan=10, header=True)],
        [
            *(Cell(name, rowspan=2, header=True) for name in outcomes),
            Cell("未经复议直接起诉", colspan=5, header=True),
            Cell("复议后起诉", colspan=5, header=True),
        ],
        [Cell(name, header=True) for name in outcomes * 2],
    ]
    blocks = (figures.reviews, figures.suits_direct, figures.suits_after_review)
    values = [Cell(str(n)) for cases in blocks for n in _case_values(cases)]
    return Table("", 15, [*header, values], key="table4")


def _case_values(cases: CaseCounts) -> tuple[int, ...]:
    return (cases.upheld, cases.corrected, cases.other, cases.pending, cases.total)
