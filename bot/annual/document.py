"""A format-neutral report document: what the formats produce and the exporters consume."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

HeadingLevel = Literal[1, 2, 3]  # 一、 (黑体) / （一） (楷体) / 1. (仿宋 bold)


@dataclass(frozen=True, slots=True)
class Heading:
    level: HeadingLevel
    text: str  # includes its number, e.g. "二、主动公开政府信息情况"


@dataclass(frozen=True, slots=True)
class Paragraph:
    text: str
    indent: bool = True  # first-line indent of two characters
    lead: str = ""  # a run-in heading printed in 楷体 before the text, e.g. "（一）收到申请情况。"


@dataclass(frozen=True, slots=True)
class Cell:
    text: str
    rowspan: int = 1
    colspan: int = 1
    header: bool = False
    align: Literal["left", "center", "right"] = "center"


@dataclass(frozen=True, slots=True)
class Table:
    """Rows of cells; a cell covered by another's row/colspan is simply not listed.

    ``columns`` is the grid width; every row's cells plus the spans reaching into it
    from above fill exactly that many columns.
    """

    caption: str
    columns: int
    rows: list[list[Cell]]
    key: str = ""  # "table2", "table3", "table4": for validation messages and JSON


Block = Heading | Paragraph | Table


@dataclass
class Document:
    """One report: a title (one or more lines), then blocks in order."""

    title_lines: list[str]
    blocks: list[Block] = field(default_factory=list)
    date_line: str = ""  # e.g. "（2017年2月23日）" under the title, when used
    format: Literal["seed", "2019", "2021"] = "2021"
    # The sign-off under the last section: the organization, then the date (GB/T 9704).
    sign_off: tuple[str, str] = ("", "")


@dataclass(frozen=True, slots=True)
class Finding:
    """A broken validation rule, naming the cell: e.g. table3 row 24 column 总计."""

    rule: str
    where: str
    message: str
    severity: Literal["error", "warning"] = "error"
