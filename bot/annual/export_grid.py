"""Place a table's cells on its grid: where each cell starts once the spans above are counted."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.annual.document import Cell, Table

_NUMBER = re.compile(r"^[-+]?[\d,]+(\.\d+)?%?$")


@dataclass(frozen=True, slots=True)
class Placed:
    """A cell with its top-left grid position (0-based row and column)."""

    row: int
    col: int
    cell: Cell


class TableShapeError(ValueError):
    """A table whose cells and spans do not fill its grid exactly."""


def place(table: Table) -> list[list[Placed]]:
    """Return each row's cells with grid positions, checking that the spans fill the grid."""
    width = table.columns
    taken: list[set[int]] = [set() for _ in table.rows]
    placed: list[list[Placed]] = []
    for r, row in enumerate(table.rows):
        out: list[Placed] = []
        col = 0
        for cell in row:
            while col in taken[r]:
                col += 1
            if cell.rowspan < 1 or cell.colspan < 1:
                raise TableShapeError(f"{_name(table)} row {r + 1}: spans must be at least 1")
            if col + cell.colspan > width or r + cell.rowspan > len(table.rows):
                raise TableShapeError(
                    f"{_name(table)} row {r + 1}: cell {cell.text!r} reaches outside the grid"
                )
            for rr in range(r, r + cell.rowspan):
                for cc in range(col, col + cell.colspan):
                    if cc in taken[rr]:
                        raise TableShapeError(
                            f"{_name(table)} row {rr + 1} column {cc + 1}: covered twice"
                        )
                    taken[rr].add(cc)
            out.append(Placed(r, col, cell))
            col += cell.colspan
        placed.append(out)
    for r, cols in enumerate(taken):
        if len(cols) != width:
            raise TableShapeError(
                f"{_name(table)} row {r + 1}: fills {len(cols)} of {width} columns"
            )
    return placed


def has_merges(table: Table) -> bool:
    """Tell whether any cell of the table spans more than one row or column."""
    return any(c.rowspan > 1 or c.colspan > 1 for row in table.rows for c in row)


def header_rows(table: Table) -> int:
    """Count the leading all-header rows that repeat on each page (0 if headers recur below)."""
    heads = [bool(row) and all(c.header for c in row) for row in table.rows]
    n = heads.index(False) if False in heads else len(heads)
    return 0 if any(heads[n:]) else n


def is_number(text: str) -> bool:
    """Tell whether a cell's text is a plain number (those are always centred)."""
    return bool(_NUMBER.match(text.strip()))


def _name(table: Table) -> str:
    return table.key or table.caption or "table"
