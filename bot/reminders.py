"""Deadline reminders: open applications, the annual report, and unpublished 主动公开 items.

Applications are reminded from 5 working days before their reply due date, as the
console's desk reminds them (``bot.applications.REMINDER_WORKDAYS``), and every day after
it until a reply or an outcome is recorded. The annual report for the year just ended is
reminded from 30 days before its due date until it is marked submitted (overdue
ones until the year ends). An active item is reminded once 20 working days have passed
since its 成文日期 without it being published on any channel.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Literal, cast

from bot.applications import REMINDER_WORKDAYS
from bot.deadlines import WorkCalendar, annual_report_due, application_due, proactive_due
from bot.settings import Settings
from storage.delivery import State
from storage.items import UNRELEASED, ItemStatus
from storage.models import Delivery, Item, Organization, Publication
from storage.register_models import Application, ReportText

log = logging.getLogger("gongkai.reminders")

ReminderKind = Literal["application", "annual_report", "proactive"]
REMINDER_KINDS: tuple[ReminderKind, ...] = ("application", "annual_report", "proactive")
APPLICATION_NOTICE_WORKDAYS = max(REMINDER_WORKDAYS)  # one rule with the desk
ANNUAL_REPORT_NOTICE_DAYS = 30
_TITLE_CHARS = 40


@dataclass(frozen=True, slots=True)
class Reminder:
    """One deadline to act on, with a message for staff in Chinese."""

    kind: ReminderKind
    org_code: str
    title: str
    due_on: dt.date
    message: str
    item_id: int | None = None
    application_id: int | None = None


async def reminders(
    org_ids: Sequence[int] | None,
    *,
    today: dt.date,
    calendar: WorkCalendar,
    settings: Settings,
    kinds: Collection[ReminderKind] = REMINDER_KINDS,
) -> list[Reminder]:
    """The reminders of ``kinds`` due ``today`` for the organizations (None: all), soonest
    due first."""
    found: list[Reminder] = []
    if "application" in kinds:
        found += await application_reminders(org_ids, today=today, calendar=calendar)
    if "annual_report" in kinds:
        month_day = settings.annual_report_due
        found += await annual_report_reminders(org_ids, today=today, month_day=month_day)
    if "proactive" in kinds:
        found += await proactive_reminders(org_ids, today=today, calendar=calendar)
    return sorted(found, key=lambda r: (r.due_on, r.org_code, r.kind, r.title))


def _chinese_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def _short(text: str) -> str:
    """The first line of ``text``, cut to a title's length."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= _TITLE_CHARS else line[: _TITLE_CHARS - 1] + "…"


def _time_left(left: int, unit: str, late: str) -> str:
    """还剩N<unit>, 今天到期, or <late>N<unit>."""
    if left > 0:
        return f"还剩{left}{unit}"
    return "今天到期" if left == 0 else f"{late}{-left}{unit}"


async def application_reminders(
    org_ids: Sequence[int] | None, *, today: dt.date, calendar: WorkCalendar
) -> list[Reminder]:
    """Open applications due within 5 working days, or overdue."""
    query = Application.filter(replied_on=None, outcome=None, received_on__lte=today)
    if org_ids is not None:
        query = query.filter(organization_id__in=list(org_ids))
    found = []
    for application in await query.prefetch_related("organization").order_by("id"):
        reminder = _application_reminder(application, today=today, calendar=calendar)
        if reminder is not None:
            found.append(reminder)
    return found


def _application_reminder(
    application: Application, *, today: dt.date, calendar: WorkCalendar
) -> Reminder | None:
    try:
        due = application_due(
            application.received_on,
            extension_days=application.extension_workdays,
            paused_workdays=application.paused_workdays,
            corrected_on=application.corrected_on,
            calendar=calendar,
        )
    except ValueError as exc:  # the register validates; a bad row must not hide the rest
        log.warning("application %s: no due date: %s", application.id, exc)
        return None
    left = calendar.workdays_between(today, due)
    if left > APPLICATION_NOTICE_WORKDAYS:
        return None
    received = _chinese_date(application.received_on)
    return Reminder(
        kind="application",
        org_code=application.organization.code,
        title=_short(application.request) or f"{received}收到的申请",
        due_on=due,
        message=f"依申请公开：{received}收到的申请应于{_chinese_date(due)}前答复，"
        f"{_time_left(left, '个工作日', '已超期')}。",
        application_id=application.id,
    )


def report_years(today: dt.date, month_day: str) -> list[tuple[int, dt.date]]:
    """The report years to remind of today, with their due dates."""
    years = []
    for year in (today.year - 1, today.year):
        due = annual_report_due(year, month_day=month_day)
        if (due - today).days <= ANNUAL_REPORT_NOTICE_DAYS:
            years.append((year, due))
    return years


async def annual_report_reminders(
    org_ids: Sequence[int] | None, *, today: dt.date, month_day: str
) -> list[Reminder]:
    """The year's annual report, from 30 days before its due date until marked submitted."""
    years = report_years(today, month_day)
    if not years:
        return []
    orgs = Organization.all().order_by("code")
    if org_ids is not None:
        orgs = orgs.filter(id__in=list(org_ids))
    submitted = await _submitted({year for year, _ in years}, org_ids)
    return [
        _report_reminder(org, year, due, today)
        for org in await orgs
        for year, due in years
        if (org.id, year) not in submitted
    ]


async def _submitted(years: set[int], org_ids: Sequence[int] | None) -> set[tuple[int, int]]:
    query = ReportText.filter(year__in=sorted(years), submitted=True)
    if org_ids is not None:
        query = query.filter(organization_id__in=list(org_ids))
    rows = await query.values_list("organization_id", "year")
    return {(int(org_id), int(year)) for org_id, year in rows}


def _report_reminder(org: Organization, year: int, due: dt.date, today: dt.date) -> Reminder:
    when = _time_left((due - today).days, "天", "已逾期")
    return Reminder(
        kind="annual_report",
        org_code=org.code,
        title=f"{org.name}{year}年政府信息公开工作年度报告",
        due_on=due,
        message=f"年度报告：{year}年政府信息公开工作年度报告应于{_chinese_date(due)}前公布，"
        f"数据尚未报送，{when}。",
    )


async def proactive_reminders(
    org_ids: Sequence[int] | None, *, today: dt.date, calendar: WorkCalendar
) -> list[Reminder]:
    """Items still unpublished on or after the 20th working day from 成文日期, including
    those waiting in review, rejected or saved as drafts: the legal clock runs regardless."""
    # 20 working days never fit in fewer than 20 calendar days: a safe pre-filter.
    waiting = sorted({ItemStatus.ACTIVE, *UNRELEASED})
    query = Item.filter(status__in=waiting, formed_on__lte=today - dt.timedelta(days=20)).filter(
        formed_on__not_isnull=True
    )
    if org_ids is not None:
        query = query.filter(organization_id__in=list(org_ids))
    items = await query.prefetch_related("organization").order_by("formed_on", "id")
    published = await _published({item.id for item in items})
    found = []
    for item in items:
        if item.id in published or item.formed_on is None:
            continue
        due = proactive_due(item.formed_on, calendar=calendar)
        if due <= today:
            found.append(_proactive_reminder(item, due, calendar.workdays_between(today, due)))
    return found


async def _published(item_ids: set[int]) -> set[int]:
    """Those of ``item_ids`` with a ledger row or a published delivery."""
    if not item_ids:
        return set()
    ids = sorted(item_ids)
    ledger = await Publication.filter(item_id__in=ids).values_list("item_id", flat=True)
    delivered = await Delivery.filter(item_id__in=ids, state=State.PUBLISHED).values_list(
        "item_id", flat=True
    )
    return {cast(int, item_id) for item_id in [*ledger, *delivered]}


def _proactive_reminder(item: Item, due: dt.date, left: int) -> Reminder:
    formed = _chinese_date(item.formed_on) if item.formed_on else ""
    return Reminder(
        kind="proactive",
        org_code=item.organization.code,
        title=item.title,
        due_on=due,
        message=f"主动公开：《{item.title}》成文于{formed}，应于{_chinese_date(due)}前公开，"
        f"尚未公开，{_time_left(left, '个工作日', '已超期')}。",
        item_id=item.id,
    )
