"""年度报告: a year's section 二 with each tally linked to its items, and the report's downloads.

The numbers come from the publication ledger (bot.report, storage.ledger); the downloads
are the same bot.annual export the API serves, for the organization in the top bar.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from bot.annual.document import Finding, Paragraph
from bot.annual.export import MEDIA_TYPES, ExportKind, build_report, default_format, export
from bot.annual.format_common import active_paragraphs
from bot.annual.formats import Format
from bot.annual.source import figures_for_report
from bot.console.auth import ConsoleError, ConsoleUser, OrgRef, current_user, ensure
from bot.console.templates import current_org, render
from bot.report import channel_section
from channels.registry import BUCKET_LABELS, CHANNEL_LABELS
from storage.ledger import backfilled_items, items_counted, local_today, wechat_reach
from storage.models import Item, Organization, Publication

router = APIRouter(prefix="/report")
UserDep = Annotated[ConsoleUser, Depends(current_user)]
FIRST_YEAR = 2008  # the year the disclosure regulations took effect
FORMAT_LABELS: dict[str, str] = {
    "seed": "2008 年样式（2018 年度及以前）",
    "2019": "2019 年试行样式（2019—2020 年度）",
    "2021": "2021 年新样式（2021 年度起）",
}
KIND_LABELS: dict[str, str] = {
    "docx": "Word 文档（.docx）",
    "html": "网页（.html，可打印）",
    "md": "Markdown（.md）",
    "json": "数据（.json）",
}
BUCKETS: dict[str, str] = {
    "total": "主动公开信息（合计）",
    "normative": "主动公开规范性文件",
    **{bucket: f"{label}公开" for bucket, label in BUCKET_LABELS.items()},
}


async def _org(request: Request, user: ConsoleUser) -> tuple[OrgRef, Organization]:
    ref = current_org(request)
    if ref is None:
        raise ConsoleError(404, "您还没有被分配到任何机构，请联系管理员。")
    ensure(user, ref.id)
    return ref, await Organization.get(id=ref.id)


def _year(value: int | None) -> int:
    this_year = local_today().year
    if value is None:
        return this_year
    if not FIRST_YEAR <= value <= this_year:
        raise ConsoleError(404, f"年份须在 {FIRST_YEAR} 至 {this_year} 之间。")
    return value


def _format(value: str, year: int) -> Format:
    for known in get_args(Format):
        if value == known:
            return known  # type: ignore[no-any-return]
    return default_format(year)


@router.get("", response_class=HTMLResponse)
async def report_page(
    request: Request,
    user: UserDep,
    year: Annotated[int | None, Query()] = None,
    fmt: Annotated[str, Query(alias="format")] = "",
    include_unsubmitted: Annotated[bool, Query()] = False,
) -> Response:
    ref, org = await _org(request, user)
    chosen_year = _year(year)
    section = await channel_section(org, chosen_year)
    reached, audience = await wechat_reach(org.id, chosen_year)
    chosen = _format(fmt, chosen_year)
    figures, notes = await figures_for_report(
        org,
        chosen_year,
        calendar=request.app.state.runtime.calendar,
        include_unsubmitted=include_unsubmitted,
    )
    _, findings = build_report(figures, chosen)
    tally = section.tally
    numbers: list[dict[str, Any]] = [
        {"bucket": bucket, "label": label, "value": getattr(tally, bucket)}
        for bucket, label in BUCKETS.items()
    ]
    return render(
        request,
        "report.html",
        org=ref,
        year=chosen_year,
        years=list(range(local_today().year, FIRST_YEAR - 1, -1)),
        section=section,
        numbers=numbers,
        reached=reached,
        audience=audience,
        backfilled=await backfilled_items(org.id, chosen_year),
        chosen=chosen,
        default=default_format(chosen_year),
        format_labels=FORMAT_LABELS,
        kind_labels=KIND_LABELS,
        findings=[*findings, *notes],
        active_lines=[
            block.lead + block.text
            for block in active_paragraphs(figures)
            if isinstance(block, Paragraph)
        ][: 2 if figures.active_total else 1],
        normative_issued=figures.normative_issued,
        has_members=await Organization.exists(parent_id=org.id),
        include_unsubmitted=include_unsubmitted,
        missing=figures.rollup_missing,
        blocked=any(f.severity == "error" for f in findings),
    )


@router.get("/{year}/items", response_class=HTMLResponse)
async def counted_items(
    request: Request, user: UserDep, year: int, bucket: Annotated[str, Query()] = "total"
) -> Response:
    ref, org = await _org(request, user)
    year = _year(year)
    if bucket not in BUCKETS:
        raise ConsoleError(404, "没有这一项统计。")
    lineages = await items_counted(
        org.id,
        year,
        channel_bucket=next((b for b in BUCKET_LABELS if b == bucket), None),
        normative_only=bucket == "normative",
    )
    rows = await _lineage_rows(org.id, year, lineages)
    return render(
        request,
        "report_items.html",
        org=ref,
        year=year,
        bucket_label=BUCKETS[bucket],
        rows=rows,
        channel_labels=CHANNEL_LABELS,
    )


async def _lineage_rows(org_id: int, year: int, lineages: list[int]) -> list[dict[str, Any]]:
    """One row per counted item: its latest revision, first publication date and channels."""
    if not lineages:
        return []
    items = await Item.filter(organization_id=org_id, lineage_id__in=lineages).order_by(
        "lineage_id", "revision"
    )
    latest = {item.lineage_id: item for item in items}  # the last revision wins
    published = await Publication.filter(
        organization_id=org_id,
        lineage_id__in=lineages,
        local_date__gte=dt.date(year, 1, 1),
        local_date__lt=dt.date(year + 1, 1, 1),
    ).order_by("local_date")
    first: dict[int, dt.date] = {}
    channels: dict[int, list[str]] = {}
    for row in published:
        first.setdefault(row.lineage_id, row.local_date)
        seen = channels.setdefault(row.lineage_id, [])
        if row.channel not in seen:
            seen.append(row.channel)
    return [
        {"item": latest[lid], "first": first.get(lid), "channels": channels.get(lid, [])}
        for lid in lineages
        if lid in latest
    ]


@router.get("/{year}/annual.{kind}")
async def download(
    request: Request,
    user: UserDep,
    year: int,
    kind: str,
    fmt: Annotated[str, Query(alias="format")] = "",
    include_unsubmitted: Annotated[bool, Query()] = False,
) -> Response:
    ref, org = await _org(request, user)
    year = _year(year)
    export_kind = next((k for k in get_args(ExportKind) if k == kind), None)
    if export_kind is None:
        raise ConsoleError(404, "没有这种下载格式。")
    chosen = _format(fmt, year)
    calendar = request.app.state.runtime.calendar
    figures, notes = await figures_for_report(
        org, year, calendar=calendar, include_unsubmitted=include_unsubmitted
    )
    doc, findings = build_report(figures, chosen)
    errors = [f for f in findings if f.severity == "error"]
    if errors and export_kind != "json":  # the data file carries its findings; prints may not
        raise ConsoleError(409, _blocked_message(errors))
    body = export(export_kind, doc, figures, [*findings, *notes])
    code = re.sub(r"[^A-Za-z0-9_-]", "_", ref.code)
    name = f"{code}-{year}-annual-{chosen}.{export_kind}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(body, media_type=MEDIA_TYPES[export_kind], headers=headers)


def _blocked_message(errors: list[Finding]) -> str:
    """Why a download is refused: every error, naming its table, row and column."""
    listed = "；".join(f"{f.where}：{f.message}" for f in errors[:10])
    more = f"（另有 {len(errors) - 10} 处）" if len(errors) > 10 else ""
    return f"报告数据有 {len(errors)} 处错误，改正后才能下载：{listed}{more}。"
