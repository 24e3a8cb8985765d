"""Statutory clocks in China's working days, checked against dates counted by hand.

Every expected date below was counted on paper from the State Council's holiday notices
(as carried by chinese_calendar), not computed by the code under test. Counting starts on
the day after receipt; "wd N" marks the N-th working day.

2024 (the State Council notice of October 2023):
  元旦 1月1日; 春节 2月10日(六)—17日(六) off, 2月4日(日) and 2月18日(日) worked;
  清明 4月4—6日 off, 4月7日(日) worked; 劳动节 5月1—5日 off, 4月28日(日), 5月11日(六) worked;
  端午 6月10日; 中秋 9月15—17日 off, 9月14日(六) worked;
  国庆 10月1—7日 off, 9月29日(日) and 10月12日(六) worked.
2025 (notice of November 2024, with 春节 and 劳动节 one day longer):
  元旦 1月1日; 春节 1月28日(二)—2月4日(二) off, 1月26日(日) and 2月8日(六) worked;
  清明 4月4—6日; 劳动节 5月1—5日 off, 4月27日(日) worked; 端午 5月31日—6月2日;
  国庆+中秋 10月1日(三)—8日(三) off, 9月28日(日) and 10月11日(六) worked.
2026 (notice of November 2025):
  元旦 1月1—3日 off, 1月4日(日) worked; 春节 2月15日(日)—23日(一) off, 2月14日(六) and
  2月28日(六) worked; 清明 4月4—6日; 劳动节 5月1—5日 off, 5月9日(六) worked;
  端午 6月19—21日; 中秋 9月25—27日; 国庆 10月1日(四)—7日(三) off, 9月20日(日) and
  10月10日(六) worked.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from bot.deadlines import (
    WorkCalendar,
    annual_report_due,
    application_due,
    fee_by_count,
    fee_by_pages,
    finished_on_time,
    proactive_due,
    receipt_date,
)
from bot.settings import Settings

D = dt.date


@pytest.fixture
def cal() -> WorkCalendar:
    """The calendar as shipped: chinese_calendar, no overrides."""
    return WorkCalendar()


class TestWorkdays:
    @pytest.mark.parametrize(
        ("day", "working"),
        [
            (D(2024, 2, 4), True),  # Sunday, 春节 make-up
            (D(2024, 2, 12), False),  # Monday, 春节
            (D(2024, 10, 12), True),  # Saturday, 国庆 make-up
            (D(2025, 2, 8), True),  # Saturday, 春节 make-up
            (D(2025, 10, 8), False),  # Wednesday, 国庆+中秋
            (D(2025, 10, 9), True),  # Thursday, back at work
            (D(2026, 2, 28), True),  # Saturday, 春节 make-up
            (D(2026, 9, 25), False),  # Friday, 中秋
            (D(2025, 3, 8), False),  # an ordinary Saturday
        ],
    )
    def test_holidays_and_make_up_days(self, cal: WorkCalendar, day: D, working: bool) -> None:
        """Statutory holidays are off and 调休 weekend days are working days."""
        assert cal.is_workday(day) is working
        assert cal.warnings == []

    def test_counting_starts_the_day_after(self, cal: WorkCalendar) -> None:
        """Day 1 is the first working day after the start; 0 days is the start itself."""
        assert cal.add_workdays(D(2025, 3, 3), 0) == D(2025, 3, 3)
        assert cal.add_workdays(D(2025, 3, 3), 1) == D(2025, 3, 4)
        assert cal.add_workdays(D(2025, 3, 7), 1) == D(2025, 3, 10)  # Friday → Monday
        with pytest.raises(ValueError, match="n must be 0 or more"):
            cal.add_workdays(D(2025, 3, 3), -1)

    def test_workdays_between_inverts_add_workdays(self, cal: WorkCalendar) -> None:
        """Working days in (a, b]: the count add_workdays stepped over, negative backwards."""
        start = D(2025, 1, 22)
        for n in (0, 1, 5, 8, 20, 40):
            end = cal.add_workdays(start, n)
            assert cal.workdays_between(start, end) == n
            assert cal.workdays_between(end, start) == -n
        # 2025-01-27 (Mon) to 2025-02-05 (Wed): only 2月5日 counts; 1月28日—2月4日 are 春节.
        assert cal.workdays_between(D(2025, 1, 27), D(2025, 2, 5)) == 1


class TestApplicationDue:
    @pytest.mark.parametrize(
        ("received", "due"),
        [
            # 2024 春节. Received Thu 2/1. wd1 2/2(五); 2/3(六) off; wd2 2/4(日, make-up);
            # wd3–7 2/5–2/9; 2/10–2/17 春节; wd8 2/18(日, make-up); wd9–13 2/19–2/23;
            # wd14–18 2/26–3/1; wd19 3/4; wd20 3/5(二).
            (D(2024, 2, 1), D(2024, 3, 5)),
            # 2024 国庆. Received Mon 9/23. wd1–4 9/24–9/27; 9/28(六) off; wd5 9/29(日,
            # make-up); wd6 9/30; 10/1–10/7 国庆; wd7–10 10/8–10/11; wd11 10/12(六, make-up);
            # wd12–16 10/14–10/18; wd17–20 10/21–10/24(四).
            (D(2024, 9, 23), D(2024, 10, 24)),
            # 2025 春节. Received Wed 1/22. wd1–2 1/23–1/24; 1/25(六) off; wd3 1/26(日,
            # make-up); wd4 1/27; 1/28–2/4 春节; wd5–7 2/5–2/7; wd8 2/8(六, make-up);
            # wd9–13 2/10–2/14; wd14–18 2/17–2/21; wd19 2/24; wd20 2/25(二).
            (D(2025, 1, 22), D(2025, 2, 25)),
            # 2025 国庆. Received Thu 9/25. wd1 9/26; 9/27(六) off; wd2 9/28(日, make-up);
            # wd3–4 9/29–9/30; 10/1–10/8 国庆+中秋; wd5–6 10/9–10/10; wd7 10/11(六, make-up);
            # wd8–12 10/13–10/17; wd13–17 10/20–10/24; wd18–20 10/27–10/29(三).
            (D(2025, 9, 25), D(2025, 10, 29)),
            # 2026 春节. Received Mon 2/9. wd1–4 2/10–2/13; wd5 2/14(六, make-up);
            # 2/15–2/23 春节; wd6–9 2/24–2/27; wd10 2/28(六, make-up); wd11–15 3/2–3/6;
            # wd16–20 3/9–3/13(五).
            (D(2026, 2, 9), D(2026, 3, 13)),
            # 2026 国庆. Received Fri 9/18. 9/19(六) off; wd1 9/20(日, make-up); wd2–5
            # 9/21–9/24; 9/25–9/27 中秋; wd6–8 9/28–9/30; 10/1–10/7 国庆; wd9–10 10/8–10/9;
            # wd11 10/10(六, make-up); wd12–16 10/12–10/16; wd17–20 10/19–10/22(四).
            (D(2026, 9, 18), D(2026, 10, 22)),
        ],
    )
    def test_twenty_working_days_across_long_holidays(
        self, cal: WorkCalendar, received: D, due: D
    ) -> None:
        """20 working days skip 春节 and 国庆 and count their make-up weekend days."""
        assert application_due(received, calendar=cal) == due

    @pytest.mark.parametrize(
        ("received", "due"),
        [
            # 除夕 2024-02-09 (Fri) was a working day. Received that day: 2/10–2/17 春节;
            # wd1 2/18(日, make-up); wd2–6 2/19–2/23; wd7–11 2/26–3/1; wd12–16 3/4–3/8;
            # wd17–20 3/11–3/14(四).
            (D(2024, 2, 9), D(2024, 3, 14)),
            # Received Mon 2024-09-30, the eve of 国庆: 10/1–10/7 off; wd1–4 10/8–10/11;
            # wd5 10/12(六, make-up); wd6–10 10/14–10/18; wd11–15 10/21–10/25;
            # wd16–20 10/28–11/1(五).
            (D(2024, 9, 30), D(2024, 11, 1)),
            # Received Mon 2025-01-27, the eve of 除夕 (1/28 is off): 1/28–2/4 春节;
            # wd1–3 2/5–2/7; wd4 2/8(六, make-up); wd5–9 2/10–2/14; wd10–14 2/17–2/21;
            # wd15–19 2/24–2/28; wd20 3/3(一).
            (D(2025, 1, 27), D(2025, 3, 3)),
        ],
    )
    def test_receipt_on_the_eve_of_a_holiday(self, cal: WorkCalendar, received: D, due: D) -> None:
        """A request received the last working day before a holiday starts counting after it."""
        assert application_due(received, calendar=cal) == due

    def test_due_date_can_fall_on_a_make_up_sunday(self, cal: WorkCalendar) -> None:
        """Received Mon 2025-09-01: wd1–4 9/2–9/5, wd5–19 9/8–9/26, wd20 9/28 (Sunday, make-up)."""
        assert application_due(D(2025, 9, 1), calendar=cal) == D(2025, 9, 28)

    def test_correction_restarts_the_clock(self, cal: WorkCalendar) -> None:
        """第三十条: the day the corrected request arrives, not the first receipt, starts it."""
        first = application_due(D(2025, 9, 1), calendar=cal)
        corrected = application_due(D(2025, 9, 1), corrected_on=D(2025, 9, 25), calendar=cal)
        assert (first, corrected) == (D(2025, 9, 28), D(2025, 10, 29))  # as counted above

    def test_extension_adds_working_days(self, cal: WorkCalendar) -> None:
        """An approved extension adds its working days after the 20th."""
        # Received 2025-09-25 (wd20 = 10/29): +5 → 10/30, 10/31, 11/3, 11/4, 11/5;
        # +20 → wd21–22 10/30–10/31, wd23–37 11/3–11/21, wd38–40 11/24–11/26.
        assert application_due(D(2025, 9, 25), extension_days=5, calendar=cal) == D(2025, 11, 5)
        assert application_due(D(2025, 9, 25), extension_days=20, calendar=cal) == D(2025, 11, 26)

    def test_third_party_consultation_is_not_counted(self, cal: WorkCalendar) -> None:
        """Working days spent consulting a third party are added back, with or without extension."""
        # Received 2025-09-25, 10 days paused: wd21–22 10/30–10/31, wd23–27 11/3–11/7,
        # wd28–30 11/10–11/12. With +20 as well, from wd40 = 11/26: wd41–42 11/27–11/28,
        # wd43–47 12/1–12/5, wd48–50 12/8–12/10.
        assert application_due(D(2025, 9, 25), paused_workdays=10, calendar=cal) == D(2025, 11, 12)
        due = application_due(D(2025, 9, 25), extension_days=20, paused_workdays=10, calendar=cal)
        assert due == D(2025, 12, 10)

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"extension_days": 21}, "extension_days"),
            ({"extension_days": -1}, "extension_days"),
            ({"paused_workdays": -1}, "paused_workdays"),
            ({"corrected_on": D(2025, 9, 24)}, "corrected_on"),
        ],
    )
    def test_out_of_range_inputs_name_the_field(
        self, cal: WorkCalendar, kwargs: dict[str, object], field: str
    ) -> None:
        """An extension over 20, a negative count or a correction before receipt is refused."""
        with pytest.raises(ValueError, match=rf"^{field}:"):
            application_due(D(2025, 9, 25), calendar=cal, **kwargs)  # type: ignore[arg-type]


class TestFinishedOnTime:
    # Received 2025-09-25: due 10/29; with +5 extension due 11/5 (counted above).
    @pytest.mark.parametrize(
        ("replied", "extension", "result"),
        [
            (D(2025, 9, 25), 0, (True, False)),  # on the spot
            (D(2025, 10, 29), 0, (True, False)),  # the last day
            (D(2025, 10, 30), 0, (False, False)),  # one day late, no extension
            (D(2025, 10, 20), 5, (True, False)),  # extension approved but not needed
            (D(2025, 11, 5), 5, (False, True)),  # the extended last day
            (D(2025, 11, 6), 5, (False, False)),  # late even with the extension
        ],
    )
    def test_on_time_extended_or_late(
        self, cal: WorkCalendar, replied: D, extension: int, result: tuple[bool, bool]
    ) -> None:
        """按时办结 by the 20th working day, 延期办结 by the extended one, else neither."""
        got = finished_on_time(D(2025, 9, 25), replied, extension_days=extension, calendar=cal)
        assert got == result

    def test_pause_and_correction_move_the_on_time_line(self, cal: WorkCalendar) -> None:
        """A reply on 2025-10-29 is on time for a request corrected on 9/25, late for 9/1."""
        assert finished_on_time(D(2025, 9, 1), D(2025, 10, 29), calendar=cal) == (False, False)
        assert finished_on_time(
            D(2025, 9, 1), D(2025, 10, 29), corrected_on=D(2025, 9, 25), calendar=cal
        ) == (True, False)
        assert finished_on_time(
            D(2025, 9, 25), D(2025, 11, 12), paused_workdays=10, calendar=cal
        ) == (True, False)

    def test_bad_inputs_name_the_field(self, cal: WorkCalendar) -> None:
        """A reply before receipt, or an extension over 20, is refused even when on time."""
        with pytest.raises(ValueError, match=r"^replied_on:"):
            finished_on_time(D(2025, 9, 25), D(2025, 9, 24), calendar=cal)
        with pytest.raises(ValueError, match=r"^extension_days:"):
            finished_on_time(D(2025, 9, 25), D(2025, 9, 26), extension_days=30, calendar=cal)


def test_proactive_due_counts_from_the_day_after_formed(cal: WorkCalendar) -> None:
    """第二十六条: 20 working days after 成文日期, the formed day itself not counted."""
    # 成文 Sun 2024-02-04 (a make-up day): wd1–5 2/5–2/9; 2/10–2/17 春节; wd6 2/18(日);
    # wd7–11 2/19–2/23; wd12–16 2/26–3/1; wd17–20 3/4–3/7(四).
    assert proactive_due(D(2024, 2, 4), calendar=cal) == D(2024, 3, 7)


class TestBeyondTheCalendar:
    # 2099 is far past chinese_calendar's data. Its 10月1日 is a Thursday.

    def test_an_unknown_year_falls_back_to_weekends_and_warns(self, cal: WorkCalendar) -> None:
        """No crash: weekends off, no holidays, and one warning naming the year."""
        # Received Wed 2099-09-30: wd1–2 10/1–10/2, wd3–7 10/5–10/9, wd8–12 10/12–10/16,
        # wd13–17 10/19–10/23, wd18–20 10/26–10/28(三).
        assert application_due(D(2099, 9, 30), calendar=cal) == D(2099, 10, 28)
        assert cal.is_workday(D(2099, 10, 3)) is False  # a Saturday
        assert len(cal.warnings) == 1
        assert "2099年" in cal.warnings[0]

    @pytest.mark.parametrize("suffix", [".json", ".toml"])
    def test_an_override_file_supplies_the_year(self, tmp_path: Path, suffix: str) -> None:
        """The file's holidays and make-up days decide a year the package lacks, silently."""
        # The file: 国庆 10/1(四)–10/7(三) off, 9/27(日) and 10/10(六) worked.
        # Received Wed 2099-09-30: 10/1–10/7 off; wd1–2 10/8–10/9; wd3 10/10(六, make-up);
        # wd4–8 10/12–10/16; wd9–13 10/19–10/23; wd14–18 10/26–10/30; wd19–20 11/2–11/3(二).
        holidays = [f"2099-10-0{day}" for day in range(1, 8)]
        workdays = ["2099-09-27", "2099-10-10"]
        path = tmp_path / f"calendar{suffix}"
        if suffix == ".json":
            path.write_text(json.dumps({"holidays": holidays, "workdays": workdays}))
        else:  # TOML's own date literals
            path.write_text(
                f"holidays = [{', '.join(holidays)}]\nworkdays = [{', '.join(workdays)}]\n"
            )
        cal = WorkCalendar.from_settings(Settings(calendar_overrides=path))
        assert application_due(D(2099, 9, 30), calendar=cal) == D(2099, 11, 3)
        assert cal.is_workday(D(2099, 9, 27)) is True
        assert cal.warnings == []

    def test_an_override_wins_over_the_package(self) -> None:
        """A late State Council change can be entered for a year the package already has."""
        cal = WorkCalendar(holidays=[D(2025, 10, 9)], workdays=[D(2025, 10, 12)])
        assert cal.is_workday(D(2025, 10, 9)) is False
        assert cal.is_workday(D(2025, 10, 12)) is True
        # The package still answers the rest of the year: a holiday, a make-up Saturday.
        assert cal.is_workday(D(2025, 10, 8)) is False
        assert cal.is_workday(D(2025, 10, 11)) is True

    @pytest.mark.parametrize(
        ("content", "words"),
        [
            ('{"holidays": ["2099-13-01"]}', "'2099-13-01' is not a date"),
            ('{"holiday": []}', "unknown key 'holiday'"),
            ('{"holidays": "2099-10-01"}', "holidays must be a list"),
            ('{"holidays": ["2099-10-01"], "workdays": ["2099-10-01"]}', "as holiday and as"),
            ("[1, 2]", "expected a table/object"),
            ("{", "calendar override file"),
        ],
    )
    def test_a_broken_override_file_is_refused(
        self, tmp_path: Path, content: str, words: str
    ) -> None:
        """A bad override is a configuration error at start-up, with the entry named."""
        path = tmp_path / "calendar.json"
        path.write_text(content)
        with pytest.raises(ValueError, match=words):
            WorkCalendar.from_file(path)

    def test_no_override_configured(self) -> None:
        """Without GONGKAI_CALENDAR_OVERRIDES the package alone answers."""
        cal = WorkCalendar.from_settings(Settings())
        assert cal.is_workday(D(2025, 2, 8)) is True


class TestReceiptDate:
    day1, day2, day3 = D(2025, 3, 3), D(2025, 3, 4), D(2025, 3, 5)

    @pytest.mark.parametrize(
        ("channel", "expected"),
        [
            ("当面", day1),  # the day handed in
            ("信函", day2),  # the day signed for
            ("网络", day3),  # the day both sides confirmed
            ("传真", day3),
            ("其他", day3),
            ("online", day3),  # English aliases
        ],
    )
    def test_each_channel_uses_its_own_day(self, channel: str, expected: D) -> None:
        """第三十一条: 当面 handed in, 信函 signed for, 网络/传真 confirmed by both sides."""
        got = receipt_date(channel, handed_in=self.day1, signed_for=self.day2, confirmed=self.day3)
        assert got == expected

    def test_an_ordinary_letter_uses_the_confirmation_day(self) -> None:
        """A letter needing no signature: the day the office confirmed it with the applicant."""
        got = receipt_date("信函", handed_in=None, signed_for=None, confirmed=self.day3)
        assert got == self.day3

    @pytest.mark.parametrize(
        ("channel", "field"),
        [
            ("当面", "handed_in"),
            ("信函", "signed_for"),
            ("网络", "confirmed"),
            ("传真", "confirmed"),
        ],
    )
    def test_a_missing_day_is_named(self, channel: str, field: str) -> None:
        """Without the day its channel needs, the error names that field."""
        with pytest.raises(ValueError, match=rf"^{field}: required"):
            receipt_date(channel, handed_in=None, signed_for=None, confirmed=None)

    def test_an_unknown_channel_is_named(self) -> None:
        with pytest.raises(ValueError, match=r"^channel: unknown channel '邮件'"):
            receipt_date("邮件", handed_in=self.day1, signed_for=None, confirmed=None)


class TestAnnualReportDue:
    def test_default_and_configured_days(self) -> None:
        """The report for year Y is due in Y+1: 1月31日 by default, or the county's day."""
        assert annual_report_due(2025) == D(2026, 1, 31)
        assert annual_report_due(2025, month_day="02-20") == D(2026, 2, 20)
        assert annual_report_due(2025, month_day=Settings().annual_report_due) == D(2026, 1, 31)

    @pytest.mark.parametrize("month_day", ["02-29", "02-30", "13-01", "0131", "x"])
    def test_a_bad_day_is_refused(self, month_day: str) -> None:
        """02-29 is refused too: it would not exist every year."""
        with pytest.raises(ValueError, match=r"^month_day:"):
            annual_report_due(2025, month_day=month_day)

    def test_the_setting_is_checked_at_start(self) -> None:
        with pytest.raises(ValueError, match="annual_report_due"):
            Settings(annual_report_due="02-30")


class TestFees:
    # 国办函〔2020〕109号, 超额累进. 按件, per request by its place in the applicant's month:
    # 1–10 free, 11–30 100 元, 31–40 200 元, 41–50 300 元 ...
    @pytest.mark.parametrize(
        ("index", "yuan"),
        [(1, 0), (10, 0), (11, 100), (30, 100), (31, 200), (40, 200), (41, 300), (51, 400)],
    )
    def test_by_count(self, index: int, yuan: int) -> None:
        """Each band of requests costs its own per-request fee."""
        assert fee_by_count(index) == yuan

    # 按量 (第五条), each band priced on the pages within it: ≤30 free; 31–100 10 元/页;
    # 101–200 20 元/页; 201+ 40 元/页. So 100 p = 70×10 = 700; 101 p = 700 + 20 = 720;
    # 200 p = 700 + 100×20 = 2700; 201 p = 2700 + 40 = 2740; 500 p = 2700 + 300×40 = 14700;
    # 501 p = 14740.
    @pytest.mark.parametrize(
        ("pages", "yuan"),
        [
            (0, 0),
            (30, 0),
            (31, 10),
            (100, 700),
            (101, 720),
            (200, 2700),
            (201, 2740),
            (500, 14700),
            (501, 14740),
        ],
    )
    def test_by_pages(self, pages: int, yuan: int) -> None:
        """Each band of pages is priced on the pages within it (超额累进)."""
        assert fee_by_pages(pages) == yuan

    def test_bad_counts_name_the_field(self) -> None:
        with pytest.raises(ValueError, match=r"^request_index_in_month:"):
            fee_by_count(0)
        with pytest.raises(ValueError, match=r"^pages:"):
            fee_by_pages(-1)
