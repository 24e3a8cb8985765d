"""Which figures a report prints: an organization's own, or a county's rollup."""

from __future__ import annotations

from bot.annual.collect import collect, collect_rollup
from bot.annual.document import Finding
from bot.annual.figures import AnnualFigures
from bot.deadlines import WorkCalendar
from storage.models import Organization


async def figures_for_report(
    org: Organization, year: int, *, calendar: WorkCalendar, include_unsubmitted: bool = False
) -> tuple[AnnualFigures, list[Finding]]:
    """An organization's own figures or, for one with organizations under it (a county),
    the rollup with a warning naming those that have not submitted the year's data. Their
    figures are left out unless the county chooses ``include_unsubmitted``."""
    if not await Organization.exists(parent_id=org.id):
        return await collect(org, year, calendar=calendar), []
    figures, missing = await collect_rollup(
        org, year, calendar=calendar, include_unsubmitted=include_unsubmitted
    )
    if not missing:
        return figures, []
    counted = "已按其现有数据计入汇总" if include_unsubmitted else "其数据未计入汇总"
    note = Finding(
        rule="rollup",
        where="汇总范围",
        severity="warning",
        message=f"以下单位尚未提交{year}年度数据，{counted}：{'、'.join(missing)}",
    )
    return figures, [note]
