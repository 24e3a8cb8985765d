"""Statutory clocks of the 2019 条例 in China's working days, and the 信息处理费 bands.

Working days (工作日) exclude weekends and statutory holidays and include the weekend days
made working days by 调休; the State Council announces them yearly and ``chinese_calendar``
carries the announced years. An override file (``GONGKAI_CALENDAR_OVERRIDES``, TOML or
JSON: ``{"holidays": ["2027-01-01", ...], "workdays": ["2027-02-07", ...]}``) adds years
not yet in the package, or corrects one; its entries win over the package.

Fallback: a year neither the package nor the override file lists is counted with weekends
off and no holidays at all, and ``WorkCalendar.warnings`` records it. Deadlines in such a
year can therefore come out too early (never too late), which errs on the applicant's side.

Counting starts on the day after the starting day (收到申请之日的次日); the n-th working day
after it is the last day to act.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import chinese_calendar

if TYPE_CHECKING:
    from bot.settings import Settings

__all__ = [
    "APPLICATION_WORKDAYS",
    "MAX_EXTENSION_WORKDAYS",
    "PROACTIVE_WORKDAYS",
    "WorkCalendar",
    "annual_report_due",
    "application_due",
    "fee_by_count",
    "fee_by_pages",
    "finished_on_time",
    "proactive_due",
    "receipt_date",
]

APPLICATION_WORKDAYS = 20  # 第三十三条第二款
MAX_EXTENSION_WORKDAYS = 20  # 第三十三条第二款: 延长的期限最长不得超过20个工作日
PROACTIVE_WORKDAYS = 20  # 第二十六条

Lookup = Callable[[dt.date], bool]


class WorkCalendar:
    """China's working days: chinese_calendar, then overrides, then a warned fallback."""

    def __init__(
        self,
        *,
        holidays: Iterable[dt.date] = (),
        workdays: Iterable[dt.date] = (),
        lookup: Lookup = chinese_calendar.is_workday,
    ) -> None:
        self._holidays = frozenset(holidays)
        self._workdays = frozenset(workdays)
        both = sorted(self._holidays & self._workdays)
        if both:
            raise ValueError(f"calendar override lists {both[0]} as holiday and as workday")
        self._listed_years = {day.year for day in self._holidays | self._workdays}
        self._lookup = lookup
        self.warnings: list[str] = []
        self._warned_years: set[int] = set()

    @classmethod
    def from_file(cls, path: Path | None, *, lookup: Lookup = chinese_calendar.is_workday) -> Self:
        """A calendar with the overrides in a TOML or JSON file, or none when path is None."""
        if path is None:
            return cls(lookup=lookup)
        data = _read_override_file(path)
        return cls(
            holidays=_dates(data, "holidays", path),
            workdays=_dates(data, "workdays", path),
            lookup=lookup,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """The calendar the process is configured with (``GONGKAI_CALENDAR_OVERRIDES``)."""
        return cls.from_file(settings.calendar_overrides)

    def is_workday(self, day: dt.date) -> bool:
        """Whether ``day`` is a working day, 调休 make-up weekend days included."""
        if day in self._holidays:
            return False
        if day in self._workdays:
            return True
        try:
            return bool(self._lookup(day))
        except NotImplementedError:  # chinese_calendar: "no available data for year ..."
            if day.year not in self._listed_years:
                self._warn_fallback(day.year)
            return day.weekday() < 5

    def add_workdays(self, start: dt.date, n: int) -> dt.date:
        """The n-th working day after ``start`` (counting from the next day); start if n is 0."""
        if n < 0:
            raise ValueError(f"n must be 0 or more, not {n}")
        day = start
        while n:
            day += dt.timedelta(days=1)
            n -= self.is_workday(day)
        return day

    def workdays_between(self, a: dt.date, b: dt.date) -> int:
        """Working days d with a < d <= b; negative (the same count reversed) when b < a."""
        if b < a:
            return -self.workdays_between(b, a)
        days = (a + dt.timedelta(days=offset) for offset in range(1, (b - a).days + 1))
        return sum(self.is_workday(day) for day in days)

    def _warn_fallback(self, year: int) -> None:
        if year in self._warned_years:
            return
        self._warned_years.add(year)
        self.warnings.append(
            f"{year}年不在节假日数据中，也未在 GONGKAI_CALENDAR_OVERRIDES 中配置："
            "暂按周末休息、无法定节假日计算工作日，期限可能偏早。"
        )


def _read_override_file(path: Path) -> Mapping[str, Any]:
    """The override file's content: TOML when it ends in .toml, JSON otherwise."""
    text = path.read_text(encoding="utf-8")
    try:
        data: object = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"calendar override file {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"calendar override file {path}: expected a table/object at the top")
    unknown = sorted(set(data) - {"holidays", "workdays"})
    if unknown:
        raise ValueError(f"calendar override file {path}: unknown key {unknown[0]!r}")
    return data


def _dates(data: Mapping[str, Any], key: str, path: Path) -> list[dt.date]:
    """The ``key`` list of the override file as dates (ISO strings or TOML dates)."""
    values = data.get(key, [])
    if not isinstance(values, list):
        raise ValueError(f"calendar override file {path}: {key} must be a list of dates")
    return [_one_date(value, key, path) for value in values]


def _one_date(value: object, key: str, path: Path) -> dt.date:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise ValueError(f"calendar override file {path}: {key}: {value!r} is not a date") from None


# 第三十一条: which recorded day is the receipt day, by channel.
_CHANNEL_ALIASES = {
    "当面": "当面",
    "in_person": "当面",
    "信函": "信函",
    "post": "信函",
    "网络": "网络",
    "online": "网络",
    "传真": "传真",
    "fax": "传真",
    "其他": "其他",
    "other": "其他",
}


def receipt_date(
    channel: str,
    *,
    handed_in: dt.date | None,
    signed_for: dt.date | None,
    confirmed: dt.date | None,
) -> dt.date:
    """The receipt day (收到申请之日) of 第三十一条 for a request that came by ``channel``."""
    # 当面: the day handed in. 信函: the day the agency signed for it or, for an ordinary
    # letter needing no signature, the day receipt was confirmed with the applicant.
    # 网络 and 传真: the day both sides confirmed. 其他 (not in the 条例): confirmation too.
    kind = _CHANNEL_ALIASES.get(channel)
    if kind is None:
        raise ValueError(
            f"channel: unknown channel {channel!r}; use 当面, 网络, 信函, 传真 or 其他"
        )
    if kind == "当面":
        return _required(handed_in, "handed_in", channel)
    if kind == "信函":
        return signed_for or _required(confirmed, "signed_for", channel)
    return _required(confirmed, "confirmed", channel)


def _required(value: dt.date | None, field: str, channel: str) -> dt.date:
    if value is None:
        raise ValueError(f"{field}: required for a request received by {channel}")
    return value


def application_due(
    received_on: dt.date,
    *,
    extension_days: int = 0,
    paused_workdays: int = 0,
    corrected_on: dt.date | None = None,
    calendar: WorkCalendar,
) -> dt.date:
    """The reply due date: 20 working days after receipt or correction, plus extension and pause."""
    # 第三十条: a corrected request restarts the clock on the day it arrives.
    # 第三十三条第三款: time spent consulting third parties is not counted, so it is added.
    _check_clock(received_on, extension_days, paused_workdays, corrected_on)
    start = corrected_on or received_on
    return calendar.add_workdays(start, APPLICATION_WORKDAYS + extension_days + paused_workdays)


def _check_clock(
    received_on: dt.date, extension_days: int, paused_workdays: int, corrected_on: dt.date | None
) -> None:
    if not 0 <= extension_days <= MAX_EXTENSION_WORKDAYS:
        raise ValueError(
            f"extension_days: must be 0 to {MAX_EXTENSION_WORKDAYS} working days,"
            f" not {extension_days}"
        )
    if paused_workdays < 0:
        raise ValueError(f"paused_workdays: must be 0 or more, not {paused_workdays}")
    if corrected_on is not None and corrected_on < received_on:
        raise ValueError(f"corrected_on: {corrected_on} is before received_on {received_on}")


def finished_on_time(
    received_on: dt.date,
    replied_on: dt.date,
    *,
    extension_days: int = 0,
    paused_workdays: int = 0,
    corrected_on: dt.date | None = None,
    calendar: WorkCalendar,
) -> tuple[bool, bool]:
    """(按时办结, 延期办结) of a reply: by the unextended due date, or else by the extended one."""
    # A reply by the unextended due date is on time even if an extension was approved;
    # a later one is extended only when an extension was approved and it came by the
    # extended due date; after that it is neither (late).
    if replied_on < received_on:
        raise ValueError(f"replied_on: {replied_on} is before received_on {received_on}")
    due = partial(
        application_due,
        received_on,
        paused_workdays=paused_workdays,
        corrected_on=corrected_on,
        calendar=calendar,
    )
    extended_due = due(extension_days=extension_days)  # validates every argument
    if replied_on <= due():
        return True, False
    return False, extension_days > 0 and replied_on <= extended_due


def proactive_due(formed_on: dt.date, *, calendar: WorkCalendar) -> dt.date:
    """The last day to publish proactively: 20 working days after 成文日期 (第二十六条)."""
    return calendar.add_workdays(formed_on, PROACTIVE_WORKDAYS)


def annual_report_due(year: int, *, month_day: str = "01-31") -> dt.date:
    """The day the report for ``year`` is due, in ``year + 1`` (``month_day`` is "MM-DD")."""
    try:
        month, day = (int(part) for part in month_day.split("-"))
        dt.date(2001, month, day)  # a common year: 02-29 would not be due every year
    except ValueError:
        raise ValueError(f"month_day: {month_day!r} is not a valid MM-DD day") from None
    return dt.date(year + 1, month, day)


# 信息处理费, 国办函〔2020〕109号《政府信息公开信息处理费管理办法》, 超额累进.
_FREE_REQUESTS = 10  # 一个自然月内累计申请10件以下（含10件）的，不收费
_FIRST_BAND_END = 30  # 11—30件（含30件）的部分：100元/件
_STEP_REQUESTS = 10  # 31件以上的部分：以10件为一档，每增加一档，收费标准提高100元/件
_STEP_YUAN = 100

# 按量计收 (第五条): (pages up to and including, 元 per page for the pages in that band).
_PAGE_BANDS: tuple[tuple[int | None, int], ...] = (
    (30, 0),  # 30页以下（含30页）的，不收费
    (100, 10),  # 31—100页（含100页）的部分：10元/页
    (200, 20),  # 101—200页（含200页）的部分：20元/页
    (None, 40),  # 201页以上的部分：40元/页
)


def fee_by_count(request_index_in_month: int) -> int:
    """The 按件 fee in 元 for the applicant's n-th request in one calendar month."""
    n = request_index_in_month
    if n < 1:
        raise ValueError(f"request_index_in_month: must be 1 or more, not {n}")
    if n <= _FREE_REQUESTS:
        return 0
    if n <= _FIRST_BAND_END:
        return _STEP_YUAN
    return _STEP_YUAN * (2 + (n - _FIRST_BAND_END - 1) // _STEP_REQUESTS)


def fee_by_pages(pages: int) -> int:
    """The 按量 fee in 元 for one request of ``pages`` pages, each band priced on its part."""
    if pages < 0:
        raise ValueError(f"pages: must be 0 or more, not {pages}")
    fee, lower = 0, 0
    for upper, yuan in _PAGE_BANDS:
        top = pages if upper is None else min(pages, upper)
        fee += max(0, top - lower) * yuan
        if upper is None or pages <= upper:
            break
        lower = upper
    return fee
