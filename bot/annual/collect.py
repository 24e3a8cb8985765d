"""Fill AnnualFigures for one organization and year from the ledger and the registers.

Counting rules (all dates are Asia/Shanghai business dates, a year is 1 Jan..31 Dec):

- table 三: 一 = received in the year; 二 = received before it and not replied before
  1 Jan; result rows = those two groups replied in the year, by outcome; （七）总计 = the
  sum of result rows; 四 = those two groups not replied by 31 Dec. Columns are the
  applicant types, and 总计 is their sum. So 一 + 二 = （七）总计 + 四 holds by construction.
- 按时办结 / 延期办结, 属于已主动公开范围 and the fees count the applications replied in the
  year; the channels count those received in it.
- table 四: cases received in the year; one not closed by 31 Dec is 尚未审结.
- 规章 / 规范性文件: issued and repealed in the year; in force on 31 Dec.
- 回应解读: hotspots count once per title (不同方式回应同一热点计1次); every response and
  interpretation of the year counts in responses_total, split into 解读稿件 and the rest.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import get_args

from tortoise.expressions import Q

from bot.annual.figures import (
    APPLICANT_COLUMNS,
    TABLE3_ROWS,
    TOTAL_COLUMN,
    AnnualFigures,
    CaseCounts,
    DocumentCounts,
    OrgLevel,
)
from bot.annual.rollup import add_figures
from bot.deadlines import WorkCalendar, finished_on_time
from bot.report import area_word, channel_section
from storage.ledger import local_today, wechat_reach
from storage.models import Organization
from storage.register_models import (
    APPLICATION_CHANNELS,
    AdminDecisionCount,
    Application,
    Case,
    Complaint,
    InstitutionalFacts,
    ReportText,
    Response,
    Table3Entry,
)
from storage.registers import normative_register
from storage.tokens import descendant_ids

__all__ = ["collect", "collect_rollup", "count_table3", "report_text"]

TABLE3_COLUMNS = (*APPLICANT_COLUMNS, TOTAL_COLUMN)
_FALLBACK_OUTCOME = "other_other"  # replied without a recorded outcome: （六）3.其他
_LEVELS: dict[str, OrgLevel] = {level: level for level in get_args(OrgLevel)}
_TOWNSHIP_SUFFIXES = ("乡人民政府", "镇人民政府", "街道办事处", "乡", "镇", "街道")
# What a draft copies from the latest earlier year. Not title_org_name: the seed's title
# names its county instead of the township (a quirk), which a new year's draft must not keep.
_TEXT_FIELDS = (
    "basic_situation",
    "problems",
    "other_matters",
    "publication_url",
    "contact",
    "level",
    "area_word",
)


def _bounds(year: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


async def collect(org: Organization, year: int, *, calendar: WorkCalendar) -> AnnualFigures:
    """Every number and text of ``org``'s report for ``year``, from data only."""
    text = await report_text(org, year)
    figures = AnnualFigures(
        org_code=org.code,
        org_name=org.name,
        year=year,
        level=await _level(org, text.level),
        area_word=text.area_word or area_word(org),
        title_org_name=text.title_org_name,
        basic_situation=text.basic_situation,
        problems=text.problems,
        other_matters=text.other_matters,
        publication_url=text.publication_url,
        contact=text.contact,
        report_date=text.report_date,
        generated_on=local_today(),
    )
    await _fill_active(figures, org)
    await _fill_applications(figures, org, calendar)
    await _fill_documents(figures, org)
    await _fill_responses(figures, org)
    await _fill_cases(figures, org)
    await _fill_facts(figures, org)
    return figures


async def collect_rollup(
    county: Organization, year: int, *, calendar: WorkCalendar, include_unsubmitted: bool = False
) -> tuple[AnnualFigures, list[str]]:
    """The county's figures plus those of every organization under it that has submitted its
    data for ``year`` (all of them with ``include_unsubmitted``), and the Chinese names of
    those that have not. The figures carry the names too, so every export can print them."""
    figures = await collect(county, year, calendar=calendar)
    ids = await descendant_ids(county.id) - {county.id}
    members = await Organization.filter(id__in=sorted(ids)).order_by("code")
    rows = await ReportText.filter(
        organization_id__in=sorted(ids), year=year, submitted=True
    ).values("organization_id")
    submitted = {int(row["organization_id"]) for row in rows}
    for member in members:
        if member.id in submitted or include_unsubmitted:
            add_figures(figures, await collect(member, year, calendar=calendar))
    figures.rollup_missing = [m.name for m in members if m.id not in submitted]
    figures.rollup_counts_missing = include_unsubmitted and bool(figures.rollup_missing)
    return figures, list(figures.rollup_missing)


async def report_text(org: Organization, year: int) -> ReportText:
    """The year's texts, or an unsaved draft from the latest earlier year's: its own or, for
    an organization without one, a sibling's narrative. The draft's years are moved to this
    year (2016年以来 → 2025年以来, 2017年，我乡将 → 2026年…) and the source's organization
    and county names replaced by this organization's."""
    text = await ReportText.get_or_none(organization_id=org.id, year=year)
    if text is not None:
        return text
    draft = ReportText(organization_id=org.id, year=year)
    earlier = (
        await ReportText.filter(organization_id=org.id, year__lt=year).order_by("-year").first()
    )
    fields: tuple[str, ...] = _TEXT_FIELDS
    source = org
    if earlier is None and org.parent_id is not None:
        earlier = (
            await ReportText.filter(organization__parent_id=org.parent_id, year__lt=year)
            .exclude(organization_id=org.id)
            .exclude(basic_situation="")
            .order_by("-year", "organization_id")
            .first()
        )
        fields = _NARRATIVE_FIELDS
        if earlier is not None:
            source = await Organization.get(id=earlier.organization_id)
    if earlier is not None:
        names = await _renames(source, org)
        for name in fields:
            value = getattr(earlier, name)
            if name in _NARRATIVE_FIELDS or name == "contact":
                value = redraft(value, earlier.year, year, names)
            setattr(draft, name, value)
    return draft


_NARRATIVE_FIELDS = ("basic_situation", "problems", "other_matters")
_YEAR_RE = re.compile(r"(?<![0-9０-９])([12][0-9]{3})(?=年)")
_SUFFIXES = ("人民政府", "办事处")


def redraft(text: str, from_year: int, to_year: int, names: list[tuple[str, str]]) -> str:
    """``text`` of ``from_year`` for ``to_year``: the year before, the year itself and the
    year after move with it (other years, such as a law's, stay); names are replaced."""
    shift = to_year - from_year

    def move(match: re.Match[str]) -> str:
        value = int(match.group(1))
        return str(value + shift) if abs(value - from_year) <= 1 else match.group(1)

    text = _YEAR_RE.sub(move, text)
    marks = {}
    for i, (old, new) in enumerate(sorted(names, key=lambda pair: -len(pair[0]))):
        if old and old != new and old in text:
            mark = f"\x00{i}\x00"
            text = text.replace(old, mark)
            marks[mark] = new
    for mark, new in marks.items():
        text = text.replace(mark, new)
    return text


def _short_name(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


# How a text names its own kind of area: a 镇 drafting from a 乡's text says 我镇, not 我乡.
_AREA_KINDS = ("街道", "乡", "镇")
_AREA_WORDS = ("我{}", "全{}", "本{}", "{}党委", "{}政府", "{}机关", "{}村两级", "{}直")


def _area_kind(name: str) -> str:
    short = _short_name(name)
    return next((kind for kind in _AREA_KINDS if short.endswith(kind)), "")


def _area_renames(source: Organization, target: Organization) -> list[tuple[str, str]]:
    old, new = _area_kind(source.name), _area_kind(target.name)
    if not old or not new or old == new:
        return []
    return [(word.format(old), word.format(new)) for word in _AREA_WORDS]


async def _renames(source: Organization, target: Organization) -> list[tuple[str, str]]:
    """(old, new) names: the organizations' full and short names, their kind of area (乡/镇),
    then their parents'."""
    pairs = [(source.name, target.name), (_short_name(source.name), _short_name(target.name))]
    pairs += _area_renames(source, target)
    if source.parent_id != target.parent_id and source.parent_id and target.parent_id:
        old = await Organization.get(id=source.parent_id)
        new = await Organization.get(id=target.parent_id)
        pairs += [(old.name, new.name), (_short_name(old.name), _short_name(new.name))]
    return pairs


async def _level(org: Organization, stored: str) -> OrgLevel:
    if stored in _LEVELS:
        return _LEVELS[stored]
    if org.name.endswith(_TOWNSHIP_SUFFIXES):
        return "township"
    return "county" if await Organization.exists(parent_id=org.id) else "department"


async def _fill_active(figures: AnnualFigures, org: Organization) -> None:
    section = await channel_section(org, figures.year)
    figures.active_total = section.tally.total
    figures.normative_published = section.tally.normative
    figures.normative_issued = section.normative_issued
    figures.ch_website = section.tally.website
    figures.ch_wechat = section.tally.wechat
    figures.ch_other = section.tally.other
    figures.wechat_followers_reached, _audience = await wechat_reach(org.id, figures.year)


def count_table3(applications: Iterable[Application], year: int) -> dict[str, dict[str, int]]:
    """Table 三 for ``year``: row key → column → count, every cell present."""
    start, end = _bounds(year)
    table = {key: dict.fromkeys(TABLE3_COLUMNS, 0) for key, _ in TABLE3_ROWS}
    for app in applications:
        if app.received_on > end or (app.replied_on is not None and app.replied_on < start):
            continue
        rows = ["new" if app.received_on >= start else "carried_in"]
        if app.replied_on is None or app.replied_on > end:
            rows.append("carried_out")
        else:
            rows += [_result_row(app), "total"]
        column = app.applicant_type if app.applicant_type in APPLICANT_COLUMNS else "其他"
        for row in rows:
            table[row][column] += 1
            table[row][TOTAL_COLUMN] += 1
    return table


def _result_row(app: Application) -> str:
    if app.outcome and app.outcome in dict(TABLE3_ROWS) and app.outcome not in _NOT_RESULTS:
        return app.outcome
    return _FALLBACK_OUTCOME


_NOT_RESULTS = ("new", "carried_in", "total", "carried_out")


async def _fill_applications(
    figures: AnnualFigures, org: Organization, calendar: WorkCalendar
) -> None:
    start, end = _bounds(figures.year)
    apps = await Application.filter(organization_id=org.id, received_on__lte=end).filter(
        Q(replied_on__isnull=True) | Q(replied_on__gte=start)
    )
    figures.table3 = count_table3(apps, figures.year)
    entered = await Table3Entry.get_or_none(organization_id=org.id, year=figures.year)
    if entered is not None:  # a township keeping its applications on paper: its totals
        figures.table3 = {
            key: {
                column: int(entered.cells.get(key, {}).get(column, 0)) for column in TABLE3_COLUMNS
            }
            for key, _ in TABLE3_ROWS
        }
        figures.table3_as_totals = True
    figures.apps_by_channel = dict.fromkeys(APPLICATION_CHANNELS, 0)
    for app in apps:
        if app.received_on >= start:
            channel = app.channel if app.channel in APPLICATION_CHANNELS else "其他"
            figures.apps_by_channel[channel] += 1
        if app.replied_on is None or app.replied_on > end:
            continue
        on_time, extended = finished_on_time(
            app.received_on,
            app.replied_on,
            extension_days=app.extension_workdays,
            paused_workdays=app.paused_workdays,
            corrected_on=app.corrected_on,
            calendar=calendar,
        )
        figures.apps_on_time += on_time
        figures.apps_extended += extended
        figures.apps_late += not (on_time or extended)
        figures.replies_already_public += int(app.replies_already_public)
        figures.fees_collected_yuan += Decimal(app.fee_yuan)


async def _fill_documents(figures: AnnualFigures, org: Organization) -> None:
    start, end = _bounds(figures.year)
    docs = await normative_register(org.id, end)
    counts = {"规章": DocumentCounts(), "行政规范性文件": DocumentCounts()}
    for doc in docs:
        bucket = counts.get(doc.kind)
        if bucket is None:
            continue
        bucket.issued += int(doc.issued_on >= start)
        repealed_on = doc.repealed_on
        if repealed_on is not None and repealed_on <= end:
            bucket.repealed += int(repealed_on >= start)
        else:
            bucket.in_force += 1
    figures.rules, figures.normative_docs = counts["规章"], counts["行政规范性文件"]
    figures.normative_issued = figures.normative_docs.issued  # one source for both
    decisions = await AdminDecisionCount.get_or_none(organization_id=org.id, year=figures.year)
    if decisions is not None:
        figures.licensing_decisions = decisions.licensing
        figures.penalty_decisions = decisions.penalty
        figures.enforcement_decisions = decisions.enforcement
        figures.admin_fees_wan = Decimal(decisions.admin_fees_wan)
        figures.other_services_decisions = decisions.other_services
        for name in _TABLE2_2019_COUNTS:
            setattr(figures, name, getattr(decisions, name))
        figures.procurement_projects = decisions.procurement_projects
        amount = decisions.procurement_amount_wan
        figures.procurement_amount_wan = None if amount is None else Decimal(amount)


_TABLE2_2019_COUNTS = tuple(
    f"{row}_{column}"
    for row in ("licensing", "other_services", "penalty", "enforcement", "fees")
    for column in ("prev", "change")
)


async def _fill_responses(figures: AnnualFigures, org: Organization) -> None:
    start, end = _bounds(figures.year)
    responses = await Response.filter(
        organization_id=org.id, occurred_on__gte=start, occurred_on__lte=end
    )
    figures.hotspot_responses = len({r.title for r in responses if r.kind == "hotspot"})
    figures.responses_total = len(responses)
    figures.interpretation_articles = sum(r.kind == "interpretation" for r in responses)
    figures.other_responses = figures.responses_total - figures.interpretation_articles


async def _fill_cases(figures: AnnualFigures, org: Organization) -> None:
    start, end = _bounds(figures.year)
    blocks = {
        "review": figures.reviews,
        "suit_direct": figures.suits_direct,
        "suit_after_review": figures.suits_after_review,
    }
    cases = await Case.filter(organization_id=org.id, received_on__gte=start, received_on__lte=end)
    for case in cases:
        block = blocks.get(case.kind)
        if block is not None:
            _count_case(block, case, end)
    figures.complaints = await Complaint.filter(
        organization_id=org.id, received_on__gte=start, received_on__lte=end
    ).count()


def _count_case(block: CaseCounts, case: Case, end: dt.date) -> None:
    closed = case.closed_on is not None and case.closed_on <= end
    outcome = case.outcome if closed else "pending"
    if outcome == "upheld":
        block.upheld += 1
    elif outcome == "corrected":
        block.corrected += 1
    elif outcome == "other":
        block.other += 1
    else:
        block.pending += 1


async def _fill_facts(figures: AnnualFigures, org: Organization) -> None:
    facts = await InstitutionalFacts.get_or_none(organization_id=org.id, year=figures.year)
    if facts is None:
        return
    figures.dedicated_units = facts.dedicated_units
    figures.reading_points = facts.reading_points
    figures.staff_full_time = facts.staff_full_time
    figures.staff_part_time = facts.staff_part_time
    figures.funds_wan = Decimal(facts.funds_wan)
    figures.meetings = facts.meetings
    figures.trainings = facts.trainings
    figures.trainees = facts.trainees
