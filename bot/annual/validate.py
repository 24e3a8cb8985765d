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
)
from bot.annual.format_common import money
from bot.annual.format_tables import TABLE3_COLUMNS, row_label

Format = Literal["seed", "2019", "2021"]
# 一千万元 of 行政事业性收费 is beyond any township or department: an amount in 元 typed as 万元.
_LIKELY_YUAN = Decimal(1000)
_TABLE2_DOC_COLUMNS = {
    "2021": ("本年制发件数", "本年废止件数", "现行有效件数"),
    "2019": ("本年新制作数量", "本年新公开数量", "对外公开总数量"),
    "seed": ("本年制发件数", "本年废止件数", "现行有效件数"),
}
_SCALARS = (
    "active_total",
    "normative_published",
    "normative_issued",
    "ch_website",
    "ch_wechat",
    "ch_other",
    "licensing_decisions",
    "penalty_decisions",
    "enforcement_decisions",
    "hotspot_responses",
    "responses_total",
    "interpretation_articles",
    "other_responses",
    "apps_on_time",
    "apps_extended",
    "replies_already_public",
    "complaints",
    "dedicated_units",
    "reading_points",
    "staff_full_time",
    "staff_part_time",
    "meetings",
    "trainings",
    "trainees",
)


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
                f"table3 column {col} rows 一+二 vs （七）总计+四",
                f"一 + 二 = {came} but （七）总计 + 四 = {went}",
            )


def _result_totals(figures: AnnualFigures) -> Iterator[Finding]:
    """Rule 2: （七）总计 is the sum of the result rows (一)…(六) in every column."""
    for col in TABLE3_COLUMNS:
        expected = sum(figures.cell(row, col) for row in RESULT_ROWS)
        entered = figures.cell("total", col)
        if entered != expected:
            yield Finding(
                "table3.result_total",
                f"table3 column {col} row （七）总计",
                f"（七）总计 is {entered} but the result rows add up to {expected}",
            )


def _applicant_totals(figures: AnnualFigures) -> Iterator[Finding]:
    """Rule 3: the 总计 column is the sum of the six applicant columns on every row."""
    for key, _ in TABLE3_ROWS:
        expected = sum(figures.cell(key, col) for col in APPLICANT_COLUMNS)
        entered = figures.cell(key, TOTAL_COLUMN)
        if entered != expected:
            yield Finding(
                "table3.applicant_total",
                f"table3 row {row_label(key)} column {TOTAL_COLUMN}",
                f"总计 is {entered} but the six applicant columns add up to {expected}",
            )


def _negative_table3(figures: AnnualFigures) -> Iterator[Finding]:
    """No count in table 三 may be negative."""
    for key, _ in TABLE3_ROWS:
        for col in TABLE3_COLUMNS:
            if figures.cell(key, col) < 0:
                yield _negative(f"table3 row {row_label(key)} column {col}", figures.cell(key, col))


def _negative_table2(figures: AnnualFigures, fmt: Format) -> Iterator[Finding]:
    """No count in table 二 may be negative."""
    columns = _TABLE2_DOC_COLUMNS[fmt]
    for label, counts in (("规章", figures.rules), ("行政规范性文件", figures.normative_docs)):
        values = (counts.issued, counts.repealed, counts.in_force)
        for column, value in zip(columns, values, strict=True):
            if value < 0:
                yield _negative(f"table2 row {label} column {column}", value)
    decisions = (
        ("行政许可", figures.licensing_decisions),
        ("行政处罚", figures.penalty_decisions),
        ("行政强制", figures.enforcement_decisions),
    )
    for label, value in decisions:
        if value < 0:
            yield _negative(f"table2 row {label} column 本年处理决定数量", value)


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
                yield _negative(f"table4 {block} column {column}", value)


def _case_cells(cases: CaseCounts) -> tuple[tuple[str, int], ...]:
    return (
        ("结果维持", cases.upheld),
        ("结果纠正", cases.corrected),
        ("其他结果", cases.other),
        ("尚未审结", cases.pending),
    )


def _negative_scalars(figures: AnnualFigures) -> Iterator[Finding]:
    """Narrative counts and application channels may not be negative either."""
    for name in _SCALARS:
        value: int = getattr(figures, name)
        if value < 0:
            yield _negative(f"field {name}", value)
    for channel, value in figures.apps_by_channel.items():
        if value < 0:
            yield _negative(f"field apps_by_channel {channel}", value)


def _negative(where: str, value: int | Decimal) -> Finding:
    return Finding("negative", where, f"{value} is negative; counts and amounts cannot be")


def _money(figures: AnnualFigures) -> Iterator[Finding]:
    """Rule 7: 万元 amounts that look like 元, and negative amounts."""
    wan = (
        ("table2 row 行政事业性收费 column 本年收费金额（单位：万元）", figures.admin_fees_wan),
        ("field funds_wan (政府信息公开专项经费, 万元)", figures.funds_wan),
    )
    for where, amount in wan:
        if amount < 0:
            yield _negative(where, amount)
        elif amount >= _LIKELY_YUAN:
            yield Finding(
                "units",
                where,
                f"{money(amount)} 万元 is implausibly large: was the amount entered in 元?",
                "warning",
            )
    if figures.fees_collected_yuan < 0:
        yield _negative("field fees_collected_yuan (信息处理费, 元)", figures.fees_collected_yuan)


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
                f"table2 row 规章 column {column}",
                f"a township government cannot make 规章, yet {value} is entered",
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
            "field apps_by_channel vs table3 row 一、本年新收政府信息公开申请数量 column 总计",
            f"the channels add up to {split} but {received} applications were received",
            "warning",
        )
