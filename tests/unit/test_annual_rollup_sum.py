"""Adding a township's figures into a county's: counts add, flags and entered cells carry."""

from __future__ import annotations

from decimal import Decimal

from bot.annual.figures import AnnualFigures
from bot.annual.rollup import add_figures


def test_counts_add_and_cells_nobody_entered_stay_blank() -> None:
    county = AnnualFigures("shulan", "舒兰市人民政府", 2024, active_total=2, licensing_prev=None)
    county.rollup_missing = ["新安镇人民政府"]
    township = AnnualFigures(
        "tiande", "天德乡人民政府", 2024, active_total=3, licensing_prev=4,
        procurement_amount_wan=Decimal("1.5"), table3_as_totals=True,
    )  # fmt: skip
    other = AnnualFigures("lianhe", "联合乡人民政府", 2024, licensing_prev=1)
    add_figures(county, township)
    add_figures(county, other)
    assert (county.active_total, county.licensing_prev) == (5, 5)
    assert county.procurement_amount_wan == Decimal("1.5")
    assert county.penalty_prev is None  # nobody entered it: still blank in the county's table
    assert county.table3_as_totals  # a part entered as totals: the county's note says so
    assert county.rollup_missing == ["新安镇人民政府"]  # the county's own record, not summed
    assert (county.org_name, county.year) == ("舒兰市人民政府", 2024)
