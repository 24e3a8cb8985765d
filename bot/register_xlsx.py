"""Spreadsheets (.xlsx) for the report registers: a template, an export, and a dry run.

The first row holds the registers' Chinese column names (bot.register_specs); a row is
validated exactly like a console form or an API call. The dry run says row by row what
would be stored and, for a wrong row, which row and column and why, in Chinese; the
console stores the rows only when every row is right (storage.registers.import_records).
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bot.register_specs import Register, parse

MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 5000
YEAR_LABEL = "年度"


def _letter(index: int) -> str:
    """Column letter of a 0-based index (A, B, … Z, AA…)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _headers(register: Register) -> list[str]:
    names = [c.label for c in register.columns]
    return [YEAR_LABEL, *names] if register.per_year else names


def workbook(register: Register, records: list[Any] | None = None) -> bytes:
    """The register as .xlsx: the header row, the records (none: a template), and a sheet
    explaining each column and its choices."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = register.label
    sheet.append(_headers(register))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for record in records or []:
        row: list[Any] = [record.year] if register.per_year else []
        for column in register.columns:
            value = getattr(record, column.name, None)
            if column.choices:
                row.append(column.label_of(value) if value is not None else None)
            elif isinstance(value, Decimal):
                row.append(float(value))
            elif isinstance(value, bool):
                row.append("是" if value else "否")
            else:
                row.append(value)
        sheet.append(row)
    for index, header in enumerate(_headers(register)):
        sheet.column_dimensions[_letter(index)].width = max(12, min(40, len(header) * 2 + 2))
    notes = book.create_sheet("填写说明")
    notes.append(["栏目", "必填", "填写要求"])
    if register.per_year:
        notes.append([YEAR_LABEL, "是", "四位数年份，如 2025"])
    for column in register.columns:
        notes.append(
            [column.label, "是" if column.required else "否", _explain(column.kind, column.choices)]
        )
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _explain(kind: str, choices: tuple[tuple[str, str], ...]) -> str:
    if choices:
        return "只能填写：" + "、".join(label for _, label in choices)
    return {
        "date": "日期，如 2025-03-01",
        "int": "整数",
        "money": "数字，可带小数",
        "bool": "是 或 否",
    }.get(kind, "文字")


@dataclass
class RowResult:
    """One spreadsheet row: what would be stored, or what is wrong with it."""

    number: int  # the row number as the spreadsheet shows it
    shown: list[str]  # the row's values as read
    values: dict[str, Any] | None
    errors: list[str] = field(default_factory=list)
    year: int | None = None


@dataclass
class DryRun:
    """The whole file: its rows and any problem with the file itself."""

    headers: list[str]
    rows: list[RowResult]
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems and all(not r.errors for r in self.rows) and bool(self.rows)

    @property
    def error_count(self) -> int:
        return len(self.problems) + sum(1 for r in self.rows if r.errors)


def _shown(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def dry_run(register: Register, data: bytes) -> DryRun:
    """Read and validate every row of ``data`` (.xlsx) without storing anything."""
    if len(data) > MAX_BYTES:
        return DryRun([], [], [f"文件超过 {MAX_BYTES // 1024 // 1024} MB，请分批导入。"])
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:
        return DryRun([], [], ["无法读取这个文件，请上传 Excel（.xlsx）文件，可先下载模板填写。"])
    sheet = book.worksheets[0]
    rows = list(sheet.iter_rows(values_only=True, max_row=MAX_ROWS + 1))
    book.close()
    if not rows:
        return DryRun([], [], ["表格是空的：第 1 行应为栏目名称。"])
    headers = [_shown(h).strip() for h in rows[0]]
    while headers and headers[-1] == "":
        headers.pop()
    known = {c.label: c for c in register.columns}
    problems = []
    index_of: dict[str, int] = {}
    for i, header in enumerate(headers):
        if header == YEAR_LABEL and register.per_year:
            index_of[YEAR_LABEL] = i
        elif header in known:
            index_of[known[header].name] = i
        elif header:
            problems.append(f"第 1 行第 {_letter(i)} 列「{header}」不是{register.label}表的栏目。")
    for column in register.columns:
        if column.required and column.name not in index_of:
            problems.append(f"第 1 行缺少必填栏目「{column.label}」。")
    if register.per_year and YEAR_LABEL not in index_of:
        problems.append(f"第 1 行缺少必填栏目「{YEAR_LABEL}」。")
    if problems:
        return DryRun(headers, [], problems)
    results = []
    for offset, row in enumerate(rows[1:], start=2):
        cells = list(row) + [None] * max(0, len(headers) - len(row))
        if all(_shown(c).strip() == "" for c in cells[: len(headers)]):
            continue
        results.append(_row(register, offset, cells, headers, index_of))
    if len(rows) > MAX_ROWS:
        problems.append(f"一次最多导入 {MAX_ROWS} 行。")
    if not results and not problems:
        problems.append("表格中没有数据行。")
    return DryRun(headers, results, problems)


def _row(
    register: Register,
    number: int,
    cells: list[object],
    headers: list[str],
    index_of: dict[str, int],
) -> RowResult:
    shown = [_shown(c) for c in cells[: len(headers)]]
    result = RowResult(number, shown, None)
    raw = {name: cells[i] for name, i in index_of.items() if name != YEAR_LABEL}
    if register.per_year:
        year_text = _shown(cells[index_of[YEAR_LABEL]]).strip()
        if not (year_text.isdigit() and 2000 <= int(year_text) <= 2100):
            where = f"第 {number} 行第 {_letter(index_of[YEAR_LABEL])} 列「{YEAR_LABEL}」"
            result.errors.append(f"{where}：应为 2000 至 2100 之间的年份")
        else:
            result.year = int(year_text)
    parsed = parse(register, raw)
    for name, message in parsed.errors.items():
        if name in index_of:
            where = f"第 {number} 行第 {_letter(index_of[name])} 列「{register.label_for(name)}」"
        else:
            where = f"第 {number} 行「{register.label_for(name)}」"
        result.errors.append(f"{where}：{message}")
    if not result.errors:
        result.values = parsed.values
    return result
