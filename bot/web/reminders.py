"""GET /api/v1/reminders: the statutory deadlines the caller's organizations must act on."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel

from bot.reminders import Reminder, ReminderKind, reminders
from bot.web.deps import PrincipalDep, RuntimeDep, org_for
from storage.ledger import local_today

router = APIRouter(prefix="/api/v1")


class DeadlineReminderOut(BaseModel):
    """One reminder: what, whose, due when, and a message for staff."""

    kind: ReminderKind
    org: str
    title: str
    due_on: dt.date
    message: str
    item_id: int | None
    application_id: int | None


class RemindersOut(BaseModel):
    """The reminders as of one day, and any warning about the working-day calendar."""

    today: dt.date
    reminders: list[DeadlineReminderOut]
    calendar_warnings: list[str]


def _out(reminder: Reminder) -> DeadlineReminderOut:
    return DeadlineReminderOut(
        kind=reminder.kind,
        org=reminder.org_code,
        title=reminder.title,
        due_on=reminder.due_on,
        message=reminder.message,
        item_id=reminder.item_id,
        application_id=reminder.application_id,
    )


@router.get("/reminders")
async def list_reminders(
    principal: PrincipalDep,
    runtime: RuntimeDep,
    org: str | None = None,
    on: dt.date | None = None,
) -> RemindersOut:
    """Applications near their due date, the annual report, and overdue 主动公开 items."""
    org_ids = None if principal.org_ids is None else sorted(principal.org_ids)
    if org:
        org_ids = [(await org_for(principal, org)).id]
    today = on or local_today()
    calendar = runtime.calendar
    found = await reminders(org_ids, today=today, calendar=calendar, settings=runtime.settings)
    return RemindersOut(
        today=today, reminders=[_out(r) for r in found], calendar_warnings=calendar.warnings
    )
