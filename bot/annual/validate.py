"""The validation rules of report.md §2.7, each finding naming the cell it concerns."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Literal

from bot.annual.document import Finding
from bot.annual.figures import (
    APPLICANT_COLUMNS,
    RESULT_ROWS,
    TABLE3_ROWS,
    TOTAL_COLUMN,
    AnnualFigures,
    CaseCounts,
    OrgLevel,
)
from bot.annual.format_common import money
from bot.annual.format_tables import TABLE3_COLUMNS, row_label

Format = Literal["seed", "2019", "2021"]
_TABLE2_DOC_COLUMNS = {
    "2021": ("本年制发件数", "本年废止件数", "现行有效件数"),
    "2019": ("本年新制作数量", "本年新公开数量", "对外公开总数量"),
    "seed": ("本年制发件数", "本年废止件数", "现行有效件数"),
}
# Above these, an amount in a 万元 column is out of proportion to the organization's level:
# most likely typed in 元. A warning, since a large county may really spend that much.
_WAN_CEILINGS: dict[str, dict[OrgLevel, Decimal]] = {
    "funds_wan": {  # 政府信息公开专项经费
        "township": Decimal(50),
        "department": Decimal(200),
        "county": Decimal(500),
        "city": Decimal(5000),
        "province": Decimal(50000),
    },
    "admin_fees_wan": {  # 行政事业性收费
        "township": Decimal(500),
        "department": Decimal(10000),
        "county": Decimal(100000),
        "city": Decimal(1000000),
        "province": Decimal(10000000),
    },
    "procurement_amount_wan": {  # 政府集中采购 采购总金额
        "township": Decimal(5000),
        "department": Decimal(50000),
        "county": Decimal(500000),
        "city": Decimal(5000000),
        "province": Decimal(50000000),
    },
}
_WAN_WHERE = {
    "funds_wan": "机构人员经费 “政府信息公开专项经费（万元）”栏",
    "admin_fees_wan": "表二 “行政事业性收费”行 “本年收费金额（单位：万元）”列",
    "procurement_amount_wan": "表二 “政府集中采购”行 “采购总金额”列",
}
_LEVEL_NAMES: dict[OrgLevel, str] = {
    "township": "乡镇",
    "department": "部门",
    "county": "县级",
    "city": "市级",
    "province": "省级",
}
# 信息处理费 (国办函〔2020〕109号, from 2021): 100 元 steps per request or 10/20/40 元 a page,
# so every amount is a whole multiple of 10 元. A fraction of a yuan is 万元 typed as 元.
_FEE_STEP_YUAN = Decimal(10)
_FEE_RULES_FROM = 2021
_SCALAR_NAMES = {
    "active_total": "主动公开信息数",
    "normative_published": "主动公开规范性文件数",
    "normative_issued": "制发规范性文件数",
    "ch_website": "政府网站公开数",
    "ch_wechat": "政务微信公开数",
    "ch_other": "其他方式公开数",
    "hotspot_responses": "回应热点数",
    "responses_total": "回应解读总数",
    "interpretation_articles": "政策解读稿件数",
    "other_responses": "其他方式回应数",
    "apps_on_time": "按时办结数",
    "apps_extended": "延期办结数",
    "replies_already_public": "属于已主动公开范围数",
    "complaints": "举报投诉数",
    "dedicated_units": "专门机构数",
    "reading_points": "查阅点数",
    "staff_full_time": "专职工作人员数",
    "staff_part_time": "兼职工作人员数",
    "meetings": "工作会议数",
    "trainings": "培训班数",
    "trainees": "接受培训人次",
}
_TABLE3_NUMBERS = {key: n for n, (key, _) in enumerate(TABLE3_ROWS, start=1)}


def _t3(key: str, column: str) -> str:
    """Where a table 三 cell is: 表三 第24行“（七）总计” “总计”列."""
    return f"表三 第{_TABLE3_NUMBERS[key]}行“{row_label(key)}” “{column}”列"


def validate(figures: AnnualFigures, fmt: Format) -> list[Finding]:
    """Every broken rule of report.md §2.7 for these figures in this format, errors first."""
    findings = [
        *_balance(figures),
        *_result_totals(figures),
        *_applicant_totals(figures),
        *_negative_table3(figures),
        *_negative_table2(figures, fmt),
        *_negative_table4(figures),
        *_negative_scalars(figures),
        *_money(figures),
        *_fee_steps(figures),
        *_finished(figures, fmt),
        *_township_rules(figures, fmt),
        *_channels(figures),
    ]
    return sorted(findings, key=lambda f: f.severity != "error")


def table3_from_rows(rows: list[list[int]]) -> dict[str, dict[str, int]]:
    """A plain grid of table 三 (25 rows, or the 2019 table's 23, × 7 columns) → figures.table3."""
    keys = _row_keys(len(rows))
    for number, row in enumerate(rows, start=1):
        if len(row) != len(TABLE3_COLUMNS):
            raise ValueError(f"table3 row {number}: {len(row)} values, expected 7")
    return {
        key: dict(zip(TABLE3_COLUMNS, row, strict=True))
        for key, row in zip(keys, rows, strict=True)
    }


def _row_keys(count: int) -> list[str]:
    """The row keys of a 25-row (2021) or 23-row (2019) table 三."""
    keys = [key for key, _ in TABLE3_ROWS]
    if count == len(keys):
        return keys
    if count == len(keys) - 2:
        # The 2019 table's single （六）其他处理 row counts as 3.其他: the sums are unchanged.
        return [key for key in keys if key not in ("other_no_correction", "other_unpaid")]
    raise ValueError(f"table3 has {count} rows, expected 25 (2021) or 23 (2019)")


def _balance(figures: AnnualFigures) -> Iterator[Finding]:
    """Rule 1, the 勾稽关系: 一 + 二 = （七）总计 + 四 in every column."""
    for col in TABLE3_COLUMNS:
        came = figures.cell("new", col) + figures.cell("carried_in", col)
        went = figures.cell("total", col) + figures.cell("carried_out", col)
        if came != went:
            yield Finding(
                "table3.balance",
                f"表三 “{col}”列 第1、2行与第24、25行",
                f"一、本年新收加二、上年结转为{came}，（七）总计加四、结转下年度继续办理却为{went}，"
                "两者应相等",
            )


def _result_totals(figures: AnnualFigures) -> Iterator[Finding]:
    """Rule 2: （七）总计 is the sum of the result rows (一)…(六) in every column."""
    for col in TABLE3_COLUMNS:
        expected = sum(figures.cell(row, col) for row in RESULT_ROWS)
        entered = figures.cell("total", col)
        if entered != expected:
            yield Finding(
                "table3.result_total",
                _t3("total", col),
                f"（七）总计填{entered}，但（一）至（六）各项之和为{expected}",
            )


def _applicant_totals(figures: AnnualFigures) -> Iterator[Finding]:
    """Rule 3: the 总计 column is the sum of the six applicant columns on every row."""
    for key, _ in TABLE3_ROWS:
        expected = sum(figures.cell(key, col) for col in APPLICANT_COLUMNS)
        entered = figures.cell(key, TOTAL_COLUMN)
        if entered != expected:
            yield Finding(
                "table3.applicant_total",
                _t3(key, TOTAL_COLUMN),
                f"总计填{entered}，但六类申请人之和为{expected}",
            )


def _negative_table3(figures: AnnualFigures) -> Iterator[Finding]:
    """No count in table 三 may be negative."""
    for key, _ in TABLE3_ROWS:
        for col in TABLE3_COLUMNS:
            if figures.cell(key, col) < 0:
                yield _negative(_t3(key, col), figures.cell(key, col))


def _negative_table2(figures: AnnualFigures, fmt: Format) -> Iterator[Finding]:
    """No count in table 二 may be negative."""
    columns = _TABLE2_DOC_COLUMNS[fmt]
    for label, counts in (("规章", figures.rules), ("行政规范性文件", figures.normative_docs)):
        values = (counts.issued, counts.repealed, counts.in_force)
        for column, value in zip(columns, values, strict=True):
            if value < 0:
                yield _negative(f"表二 “{label}”行 “{column}”列", value)
    decisions = (
        ("行政许可", figures.licensing_decisions),
        ("行政处罚", figures.penalty_decisions),
        ("行政强制", figures.enforcement_decisions),
    )
    for label, value in decisions:
        if value < 0:
            yield _negative(f"表二 “{label}”行 “本年处理决定数量”列", value)


def _negative_table4(figures: AnnualFigures) -> Iterator[Finding]:
    """Rule 5: table 四's 总计 are computed, so only negative entries can break them."""
    blocks = (
        ("行政复议", figures.reviews),
        ("行政诉讼 未经复议直接起诉", figures.suits_direct),
        ("行政诉讼 复议后起诉", figures.suits_after_review),
    )
    for block, cases in blocks:
        for column, value in _case_cells(cases):
            if value < 0:
                yield _negative(f"表四 “{block}” “{column}”列", value)


def _case_cells(cases: CaseCounts) -> tuple[tuple[str, int], ...]:
    return (
        ("结果维持", cases.upheld),
        ("结果纠正", cases.corrected),
        ("其他结果", cases.other),
        ("尚未审结", cases.pending),
    )


def _negative_scalars(figures: AnnualFigures) -> Iterator[Finding]:
    """Narrative counts and application channels may not be negative either."""
    for name, label in _SCALAR_NAMES.items():
        value: int = getattr(figures, name)
        if value < 0:
            yield _negative(f"正文 “{label}”", value)
    for channel, value in figures.apps_by_channel.items():
        if value < 0:
            yield _negative(f"正文 收到申请 “{channel}”申请数", value)


def _negative(where: str, value: int | Decimal) -> Finding:
    return Finding("negative", where, f"填了{value}：数量和金额不能为负数")


def _money(figures: AnnualFigures) -> Iterator[Finding]:
    """Rule 7: a 万元 amount out of proportion to the organization's level and the field
    (likely typed in 元) is a warning; a negative amount is an error."""
    for name, ceilings in _WAN_CEILINGS.items():
        amount: Decimal | None = getattr(figures, name)
        if amount is None:
            continue
        where = _WAN_WHERE[name]
        if amount < 0:
            yield _negative(where, amount)
        elif amount > ceilings[figures.level]:
            level = _LEVEL_NAMES[figures.level]
            yield Finding(
                "units",
                where,
                f"{money(amount)}万元对{level}单位的这一项明显偏大"
                f"（通常不超过{money(ceilings[figures.level])}万元）：是否把元填成了万元？",
                "warning",
            )
    if figures.fees_collected_yuan < 0:
        yield _negative("正文 “信息处理费（元）”", figures.fees_collected_yuan)


def _fee_steps(figures: AnnualFigures) -> Iterator[Finding]:
    """信息处理费 under the 2020 rules comes in whole tens of 元: 0.35 is 万元 typed as 元."""
    fee = figures.fees_collected_yuan
    if figures.year < _FEE_RULES_FROM or fee <= 0 or fee % _FEE_STEP_YUAN == 0:
        return
    yield Finding(
        "units",
        "正文 “信息处理费（元）”",
        f"信息处理费{money(fee)}元不可能：按国办函〔2020〕109号，按件或按量收取的金额都是"
        "10元的整数倍。是否把万元填进了以元为单位的栏目？",
    )


def _finished(figures: AnnualFigures, fmt: Format) -> Iterator[Finding]:
    """The seed's sentence 按时办结 + 延期办结 + 逾期办结 counts the applications replied in
    the year: table 三's （七）总计 (the national formats print only the table)."""
    finished = figures.apps_on_time + figures.apps_extended + figures.apps_late
    replied = figures.cell("total", TOTAL_COLUMN)
    if fmt != "seed" or figures.table3_as_totals or finished == replied:
        return
    yield Finding(
        "applications.finished",
        f"正文 申请办结情况 与 {_t3('total', TOTAL_COLUMN)}",
        f"按时、延期、逾期办结共{finished}件，表三本年办结却为{replied}件",
    )


def _township_rules(figures: AnnualFigures, fmt: Format) -> Iterator[Finding]:
    """Rule 6: a township government cannot make 规章 (立法法), so 规章 > 0 is likely a slip."""
    if figures.level != "township":
        return
    rules = figures.rules
    values = (rules.issued, rules.repealed, rules.in_force)
    for column, value in zip(_TABLE2_DOC_COLUMNS[fmt], values, strict=True):
        if value > 0:
            yield Finding(
                "township_rules",
                f"表二 “规章”行 “{column}”列",
                f"乡镇人民政府无权制定规章（《立法法》），这里却填了{value}：请核对",
                "warning",
            )


def _channels(figures: AnnualFigures) -> Iterator[Finding]:
    """The narrative's channel split should add up to table 三's 一、本年新收 总计."""
    if not figures.apps_by_channel:
        return
    split = sum(figures.apps_by_channel.values())
    received = figures.apps_received()
    if split != received:
        yield Finding(
            "channels",
            f"正文 收到申请情况 与 {_t3('new', TOTAL_COLUMN)}",
            f"当面、网络、信函等方式合计{split}件，表三本年新收却为{received}件",
            "warning",
        )
