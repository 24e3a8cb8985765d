"""The 依申请公开 desk: each application's statutory clock, reminders, fees and reply letter.

The clock is bot.deadlines' (第三十三条: 20 working days from receipt, at most 20 more with
an approved extension, third-party consultation not counted; 第三十条: a corrected request
restarts it). Outcomes are the result rows of the national table 三 (bot.annual.figures).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from bot.annual.figures import RESULT_ROWS, TABLE3_ROWS
from bot.deadlines import (
    APPLICATION_WORKDAYS,
    WorkCalendar,
    application_due,
    fee_by_count,
    fee_by_pages,
    finished_on_time,
)
from storage.register_models import Application

REMINDER_WORKDAYS = (5, 3, 1)  # remind this many working days before the due date

_LABELS = dict(TABLE3_ROWS)
# Group of each result row: (group key, group label) as the national table names them.
_GROUPS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("open", "（一）予以公开", ("open",)),
    ("partly_open", "（二）部分公开", ("partly_open",)),
    ("withheld", "（三）不予公开", tuple(k for k in RESULT_ROWS if k.startswith("withheld_"))),
    ("unable", "（四）无法提供", tuple(k for k in RESULT_ROWS if k.startswith("unable_"))),
    ("ignored", "（五）不予处理", tuple(k for k in RESULT_ROWS if k.startswith("ignored_"))),
    ("other", "（六）其他处理", tuple(k for k in RESULT_ROWS if k.startswith("other_"))),
)
GROUP_OF: dict[str, str] = {key: group for group, _, keys in _GROUPS for key in keys}
GROUP_LABELS: dict[str, str] = {group: label for group, label, _ in _GROUPS}


def outcome_label(key: str | None) -> str:
    """ "（三）不予公开：1.属于国家秘密" for a result row key; "" for None."""
    if not key:
        return ""
    group = GROUP_OF.get(key, "")
    label = _LABELS.get(key, key)
    if group in ("open", "partly_open"):
        return GROUP_LABELS[group]
    return f"{GROUP_LABELS.get(group, '')}：{label}"


OUTCOME_CHOICES: tuple[tuple[str, str], ...] = tuple((k, outcome_label(k)) for k in RESULT_ROWS)

# The 条例 articles each outcome rests on (report.md §2.4), quoted in the 告知书.
BASIS: dict[str, str] = {
    "open": "第三十六条第（二）项",
    "partly_open": "第三十七条",
    "withheld_state_secret": "第十四条",
    "withheld_law": "第十四条",
    "withheld_three_safety": "第十四条",
    "withheld_third_party": "第十五条",
    "withheld_internal": "第十六条第一款",
    "withheld_process": "第十六条第二款",
    "withheld_case_file": "第十六条第二款",
    "withheld_query": "第三十六条第（七）项",
    "unable_not_held": "第三十六条第（四）项",
    "unable_needs_making": "第三十八条",
    "unable_unclear": "第三十条",
    "ignored_petition": "第三十九条第一款",
    "ignored_repeat": "第三十六条第（六）项",
    "ignored_publication": "第三十九条第二款",
    "ignored_excessive": "第三十五条",
    "ignored_confirm": "第三十六条",
    "other_no_correction": "第三十条",
    "other_unpaid": "第四十二条",
    "other_other": "",
}

_LETTER_TITLES: dict[str, str] = {
    "open": "政府信息公开申请答复告知书（予以公开）",
    "partly_open": "政府信息公开申请答复告知书（部分公开）",
    "withheld": "政府信息公开申请答复告知书（不予公开）",
    "unable": "政府信息公开申请答复告知书（无法提供）",
    "ignored": "政府信息公开申请答复告知书（不予处理）",
    "other": "政府信息公开申请处理告知书",
}

_LETTER_BODIES: dict[str, str] = {
    "open": "经审查，您申请获取的政府信息属于公开范围，本机关决定予以公开，现将该信息提供给您。",
    "partly_open": "经审查，您申请获取的政府信息中有部分内容属于不予公开的范围，本机关对可以公开的"
    "部分作区分处理后予以提供，对不予公开的部分说明理由如下：{reason}。",
    "withheld": "经审查，您申请获取的政府信息{reason}，根据《中华人民共和国政府信息公开条例》"
    "{basis}的规定，本机关决定不予公开。",
    "unable": "经审查，{reason}，根据《中华人民共和国政府信息公开条例》{basis}的规定，"
    "本机关无法提供。",
    "ignored": "经审查，您的申请{reason}，根据《中华人民共和国政府信息公开条例》{basis}的规定，"
    "本机关不予处理。",
    "other": "经审查，{reason}。",
}

_REASONS: dict[str, str] = {
    "withheld_state_secret": "属于国家秘密",
    "withheld_law": "属于法律、行政法规禁止公开的信息",
    "withheld_three_safety": "公开后可能危及国家安全、公共安全、经济安全、社会稳定",
    "withheld_third_party": "涉及商业秘密、个人隐私等，公开会对第三方合法权益造成损害",
    "withheld_internal": "属于人事管理、后勤管理、内部工作流程等内部事务信息",
    "withheld_process": "属于讨论记录、过程稿、磋商信函、请示报告等过程性信息",
    "withheld_case_file": "属于行政执法案卷信息",
    "withheld_query": "属于法律、行政法规对信息的获取有特别规定的行政查询事项，请按相关规定办理",
    "unable_not_held": "本机关不掌握您申请获取的政府信息",
    "unable_needs_making": "您申请获取的政府信息需要本机关对现有政府信息进行加工、分析，"
    "本机关没有现成信息",
    "unable_unclear": "您补正后的申请内容仍不明确",
    "ignored_petition": "属于以政府信息公开申请的形式进行信访、投诉、举报等活动",
    "ignored_repeat": "属于重复申请",
    "ignored_publication": "要求提供的是政府公报、报刊、书籍等公开出版物",
    "ignored_excessive": "属于无正当理由大量、反复申请",
    "ignored_confirm": "要求行政机关确认或者重新出具已获取的信息",
    "other_no_correction": "您无正当理由逾期未补正申请，视为放弃申请，本机关不再处理",
    "other_unpaid": "您逾期未按收费通知要求缴纳信息处理费，本机关不再处理该政府信息公开申请",
    "other_other": "您的申请已按其他方式处理",
}

Standing = Literal["open", "due_soon", "overdue", "answered", "answered_extended", "late"]
STANDING_LABELS: dict[str, str] = {
    "open": "办理中",
    "due_soon": "即将到期",
    "overdue": "已超期",
    "answered": "按时办结",
    "answered_extended": "延期办结",
    "late": "逾期",
}


@dataclass(frozen=True, slots=True)
class Clock:
    """An application's deadline as the desk shows it."""

    start: dt.date  # receipt, or the corrected request's arrival (补正)
    due: dt.date  # 20 working days (+ pause), before any extension
    extended_due: dt.date | None  # with the approved extension
    final_due: dt.date
    left: int | None  # working days from today to the final due date (open only)
    standing: Standing

    @property
    def label(self) -> str:
        return STANDING_LABELS[self.standing]


def clock(app: Application, *, today: dt.date, calendar: WorkCalendar) -> Clock:
    """The statutory clock of ``app`` on ``today``."""
    common: dict[str, Any] = {
        "paused_workdays": app.paused_workdays,
        "corrected_on": app.corrected_on,
        "calendar": calendar,
    }
    due = application_due(app.received_on, **common)
    extended = (
        application_due(app.received_on, extension_days=app.extension_workdays, **common)
        if app.extension_workdays
        else None
    )
    final = extended or due
    start = app.corrected_on or app.received_on
    if app.replied_on is not None:
        on_time, in_extension = finished_on_time(
            app.received_on,
            app.replied_on,
            extension_days=app.extension_workdays,
            **common,
        )
        standing: Standing = (
            "answered" if on_time else "answered_extended" if in_extension else "late"
        )
        return Clock(start, due, extended, final, None, standing)
    left = calendar.workdays_between(today, final)
    if left < 0:
        standing = "overdue"
    elif left <= REMINDER_WORKDAYS[0]:
        standing = "due_soon"
    else:
        standing = "open"
    return Clock(start, due, extended, final, left, standing)


@dataclass(frozen=True, slots=True)
class DeskReminder:
    """An open application whose reply is due within 5 working days, or overdue."""

    application: Application
    due: dt.date
    left: int
    message: str


def _cn(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def reminder_for(
    app: Application, *, today: dt.date, calendar: WorkCalendar
) -> DeskReminder | None:
    """The reminder of the 5, 3 or 1 working days before the due date (or overdue), if any."""
    if app.replied_on is not None or app.received_on > today:
        return None
    c = clock(app, today=today, calendar=calendar)
    if c.left is None or c.left > REMINDER_WORKDAYS[0]:
        return None
    who = app.applicant_name or app.applicant_type
    if c.left < 0:
        when = f"已超期{-c.left}个工作日"
    elif c.left == 0:
        when = "今天到期"
    else:
        step = f"（{c.left}日提醒）" if c.left in REMINDER_WORKDAYS else ""
        when = f"还剩{c.left}个工作日{step}"
    message = (
        f"依申请公开：{who}于{_cn(app.received_on)}提出的申请应于{_cn(c.final_due)}前答复，{when}。"
    )
    return DeskReminder(app, c.final_due, c.left, message)


async def desk_reminders(
    org_ids: Sequence[int], *, today: dt.date, calendar: WorkCalendar
) -> list[DeskReminder]:
    """Open applications of the organizations due within 5 working days, soonest first."""
    apps = await Application.filter(
        organization_id__in=list(org_ids), replied_on=None, received_on__lte=today
    ).order_by("received_on", "id")
    found = []
    for app in apps:
        try:
            reminder = reminder_for(app, today=today, calendar=calendar)
        except ValueError:  # a bad row must not hide the rest
            continue
        if reminder is not None:
            found.append(reminder)
    return sorted(found, key=lambda r: (r.due, r.application.id))


class ReminderHook(Protocol):
    """Where the day's reminders go besides the dashboard (e-mail, a group robot: a later
    issue). A hook receives them once a working day and must not raise for one bad address."""

    async def __call__(self, reminders: Sequence[DeskReminder]) -> None: ...


async def reminders_to_send(
    org_ids: Sequence[int] | None, *, today: dt.date, calendar: WorkCalendar
) -> list[DeskReminder]:
    """The reminders a notification carries ``today``: open applications exactly 5, 3 or 1
    working days before their due date, or due today. None on a day off, so that a weekend
    does not repeat Friday's reminders."""
    if not calendar.is_workday(today):
        return []
    query = Application.filter(replied_on=None, received_on__lte=today)
    if org_ids is not None:
        query = query.filter(organization_id__in=list(org_ids))
    found = []
    for app in await query.order_by("received_on", "id"):
        try:
            reminder = reminder_for(app, today=today, calendar=calendar)
        except ValueError:  # a bad row must not hide the rest
            continue
        if reminder is not None and reminder.left in (*REMINDER_WORKDAYS, 0):
            found.append(reminder)
    return sorted(found, key=lambda r: (r.due, r.application.id))


async def send_reminders(
    hooks: Sequence[ReminderHook], *, today: dt.date, calendar: WorkCalendar
) -> list[DeskReminder]:
    """Give the day's reminders (every organization's) to each hook; what was sent."""
    due = await reminders_to_send(None, today=today, calendar=calendar)
    if due:
        for hook in hooks:
            await hook(due)
    return due


async def fee_for(app: Application, basis: str, pages: int) -> int:
    """The 信息处理费 in 元 under 国办函〔2020〕109号: 按件 by the applicant's requests in the
    calendar month of receipt (this one included), 按量 by pages; none without a basis."""
    if basis == "按量":
        return fee_by_pages(pages)
    if basis != "按件":
        return 0
    month_start = app.received_on.replace(day=1)
    following = (month_start + dt.timedelta(days=32)).replace(day=1)
    if not app.applicant_name:
        return fee_by_count(1)
    earlier = (
        await Application.filter(
            organization_id=app.organization_id,
            applicant_name=app.applicant_name,
            received_on__gte=month_start,
            received_on__lt=following,
        )
        .filter(id__lt=app.id)
        .count()
        if app.id
        else 0
    )
    return fee_by_count(earlier + 1)


def letter_text(app: Application, org_name: str) -> tuple[str, list[str]]:
    """The 告知书's title and paragraphs for a replied application."""
    outcome = app.outcome or "other_other"
    group = GROUP_OF.get(outcome, "other")
    reason = app.reply_note.strip() or _REASONS.get(outcome, "")
    body = _LETTER_BODIES[group].format(reason=reason.rstrip("。"), basis=BASIS.get(outcome, ""))
    addressee = app.applicant_name or "申请人"
    paragraphs = [
        f"{addressee}：",
        f"本机关于{_cn(app.received_on)}收到您提出的政府信息公开申请，申请获取的信息为："
        f"{app.request.strip()}",
        body,
    ]
    if group == "partly_open" and app.reply_note.strip() == "":
        paragraphs[-1] = paragraphs[-1].replace("说明理由如下：。", "。")
    if app.fee_yuan:
        paragraphs.append(
            f"根据《政府信息公开信息处理费管理办法》，本申请收取信息处理费{app.fee_yuan}元。"
        )
    paragraphs.append(
        "如对本答复不服，可以在收到本告知书之日起60日内依法申请行政复议，"
        "或者在6个月内依法向人民法院提起行政诉讼。"
    )
    replied = app.replied_on or app.received_on
    paragraphs += [org_name, _cn(replied)]
    return _LETTER_TITLES[group], paragraphs


def letter_docx(app: Application, org_name: str) -> bytes:
    """The 告知书 as a .docx in the annual report's fonts (GB/T 9704 page)."""
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Mm, Pt

    from bot.annual.export_docx import (
        BODY_FONT,
        BODY_PT,
        LINE_PT,
        MARGIN_BOTTOM_MM,
        MARGIN_LEFT_MM,
        MARGIN_RIGHT_MM,
        MARGIN_TOP_MM,
        TITLE_FONT,
        TITLE_PT,
        set_fonts,
    )

    title, paragraphs = letter_text(app, org_name)
    out = docx.Document()
    section = out.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(MARGIN_TOP_MM), Mm(MARGIN_BOTTOM_MM)
    section.left_margin, section.right_margin = Mm(MARGIN_LEFT_MM), Mm(MARGIN_RIGHT_MM)
    out.core_properties.title = title
    out.core_properties.language = "zh-CN"

    def add(text: str, *, font: str, size: float, align: Any, indent: bool) -> None:
        p = out.add_paragraph()
        p.alignment = align
        p.paragraph_format.line_spacing = Pt(LINE_PT)
        if indent:
            p.paragraph_format.first_line_indent = Pt(size * 2)
        run = p.add_run(text)
        run.font.size = Pt(size)
        set_fonts(run._element.get_or_add_rPr(), font)

    add(title, font=TITLE_FONT, size=TITLE_PT, align=WD_ALIGN_PARAGRAPH.CENTER, indent=False)
    body, sign_off = paragraphs[:-2], paragraphs[-2:]
    for i, text in enumerate(body):
        add(text, font=BODY_FONT, size=BODY_PT, align=WD_ALIGN_PARAGRAPH.JUSTIFY, indent=i > 0)
    for text in sign_off:
        add(text, font=BODY_FONT, size=BODY_PT, align=WD_ALIGN_PARAGRAPH.RIGHT, indent=False)
    buffer = io.BytesIO()
    out.save(buffer)
    return buffer.getvalue()


__all__ = [
    "APPLICATION_WORKDAYS",
    "OUTCOME_CHOICES",
    "REMINDER_WORKDAYS",
    "Clock",
    "DeskReminder",
    "ReminderHook",
    "clock",
    "desk_reminders",
    "fee_for",
    "letter_docx",
    "letter_text",
    "outcome_label",
    "reminder_for",
    "reminders_to_send",
    "send_reminders",
]
