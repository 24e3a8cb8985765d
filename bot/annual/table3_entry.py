"""Table 三 entered as totals: the grid's numbers checked like the counted table.

Input: ``c_<row>_<column>`` → text for the 24 rows other than （七）总计 (computed) and the
six applicant columns (总计 is computed). Checks: whole numbers ≥ 0, and the table's own
rule per column, 一 + 二 = （七）总计 + 四. Messages name the table, row and column.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.annual.figures import APPLICANT_COLUMNS, RESULT_ROWS, TABLE3_ROWS, TOTAL_COLUMN

__all__ = ["check_table3", "complete_table3"]

_LABELS = dict(TABLE3_ROWS)
ENTERED_ROWS = tuple(key for key, _ in TABLE3_ROWS if key != "total")
MAX_CELL = 1_000_000


def _short(row: str) -> str:
    label = _LABELS[row]
    return label if len(label) <= 24 else label[:23] + "…"


def check_table3(values: Mapping[str, str]) -> tuple[dict[str, dict[str, int]], list[str]]:
    """The grid as numbers (empty cells are 0), and the problems found, in Chinese."""
    cells: dict[str, dict[str, int]] = {
        row: dict.fromkeys(APPLICANT_COLUMNS, 0) for row in ENTERED_ROWS
    }
    problems: list[str] = []
    for row in ENTERED_ROWS:
        for column in APPLICANT_COLUMNS:
            text = values.get(f"c_{row}_{column}", "").strip()
            if text == "":
                continue
            if not text.isdigit() or int(text) > MAX_CELL:
                where = f"表三「{_short(row)}」行「{column}」列"
                problems.append(f"{where}：应为 0 至 {MAX_CELL} 的整数，不是“{text}”。")
                continue
            cells[row][column] = int(text)
    if problems:
        return cells, problems
    for column in APPLICANT_COLUMNS:
        total = sum(cells[row][column] for row in RESULT_ROWS)
        left = cells["new"][column] + cells["carried_in"][column]
        right = total + cells["carried_out"][column]
        if left != right:
            problems.append(
                f"表三「{column}」列：一、本年新收（{cells['new'][column]}）加二、上年结转"
                f"（{cells['carried_in'][column]}）应等于（七）总计（{total}）加四、结转下年度"
                f"继续办理（{cells['carried_out'][column]}），现为 {left} ≠ {right}。"
            )
    return cells, problems


def complete_table3(cells: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    """Every row (（七）总计 summed) with the 总计 column, as the report's table3 holds it."""
    table = {
        row: {c: int(cells.get(row, {}).get(c, 0)) for c in APPLICANT_COLUMNS}
        for row in ENTERED_ROWS
    }
    table["total"] = {c: sum(table[r][c] for r in RESULT_ROWS) for c in APPLICANT_COLUMNS}
    for row in table.values():
        row[TOTAL_COLUMN] = sum(row[c] for c in APPLICANT_COLUMNS)
    return {key: table[key] for key, _ in TABLE3_ROWS}
