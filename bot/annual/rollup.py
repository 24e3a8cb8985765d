"""Adding one organization's AnnualFigures into another's, for a county's rollup."""

from __future__ import annotations

import copy
from dataclasses import fields
from decimal import Decimal

from bot.annual.figures import AnnualFigures, CaseCounts, DocumentCounts

# An identity and the rollup's own record of who is missing: never summed.
_KEPT = frozenset({"year", "rollup_missing", "rollup_counts_missing"})


def add_figures(total: AnnualFigures, part: AnnualFigures) -> None:
    """Add every count, amount and table cell of ``part`` into ``total``, in place.

    Names, texts and dates stay ``total``'s own: the county's report speaks for itself.
    """
    for spec in fields(AnnualFigures):
        if spec.name not in _KEPT:
            mine = getattr(total, spec.name)
            setattr(total, spec.name, _sum(mine, getattr(part, spec.name)))


def _sum(mine: object, theirs: object) -> object:
    if mine is None and _is_quantity(theirs):  # a cell the county left empty, entered below
        return theirs
    if isinstance(mine, bool):  # a flag such as table3_as_totals holds if any part has it
        return mine or bool(theirs)
    if mine is None or isinstance(mine, str) or theirs is None:
        return mine
    if isinstance(mine, int) and isinstance(theirs, int):
        return mine + theirs
    if isinstance(mine, Decimal) and isinstance(theirs, Decimal | int):
        return mine + theirs
    if isinstance(mine, CaseCounts | DocumentCounts):
        out = copy.copy(mine)
        for spec in fields(mine):
            setattr(out, spec.name, getattr(mine, spec.name) + getattr(theirs, spec.name))
        return out
    if isinstance(mine, dict) and isinstance(theirs, dict):
        return _sum_dicts(mine, theirs)
    return mine  # dates and anything else that is not a quantity


def _sum_dicts(mine: dict[str, object], theirs: dict[str, object]) -> dict[str, object]:
    out = dict(mine)
    for key, value in theirs.items():
        if key in mine:
            out[key] = _sum(mine[key], value)
        else:  # a copy, never the part's own dict
            out[key] = _sum_dicts({}, value) if isinstance(value, dict) else value
    return out


def _is_quantity(value: object) -> bool:
    return isinstance(value, int | Decimal) and not isinstance(value, bool)
