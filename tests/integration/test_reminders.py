"""GET /api/v1/reminders on both databases: what is reminded, when, and to whom.

Dates come from tests/unit/test_deadlines.py, where they are counted by hand: a request
received 2025-09-25 is due 2025-10-29 (国庆+中秋 10/1–10/8 off, 9/28 and 10/11 worked),
and so is an item formed that day. Working days from 10/24 (Fri) to 10/29 (Wed): 10/27,
10/28, 10/29, that is 3.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from bot.deadlines import WorkCalendar
from storage.models import Organization
from storage.register_models import Application, ReportText
from storage.tokens import create_token
from tests.integration.conftest import Api

RECEIVED, DUE = "2025-09-25", "2025-10-29"


async def _org(code: str) -> Organization:
    return await Organization.get(code=code)


async def _application(code: str, **fields: Any) -> Application:
    values: dict[str, Any] = {
        "received_on": dt.date.fromisoformat(RECEIVED),
        "channel": "网络",
        "applicant_type": "自然人",
        "request": "申请公开本乡2024年农村低保资金发放明细",
        **fields,
    }
    return await Application.create(organization=await _org(code), **values)


async def _get(api: Api, headers: dict[str, str], **params: str) -> dict[str, Any]:
    response = await api.client.get("/api/v1/reminders", headers=headers, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _of(body: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r for r in body["reminders"] if r["kind"] == kind]


async def _item(api: Api, *, formed_on: str, title: str, org: str = "tiande") -> dict[str, Any]:
    """Queue an item on the website; the dispatcher has not run, so it is not yet public."""
    headers = api.tiande if org == "tiande" else api.lianhe
    data = {
        "org": org,
        "title": title,
        "body": "各村：\n\n请按要求落实。",
        "formed_on": formed_on,
        "channels": ["website"],
    }
    response = await api.client.post("/api/v1/items", json=data, headers=headers)
    assert response.status_code == 201, response.text
    item: dict[str, Any] = response.json()
    return item


class TestAccess:
    async def test_a_token_is_required(self, api: Api) -> None:
        """No bearer token, no reminders."""
        assert (await api.client.get("/api/v1/reminders")).status_code == 401

    async def test_each_township_sees_only_its_own(self, api: Api) -> None:
        """Org isolation: a township token sees its reminders; the admin sees everyone's."""
        mine = await _application("tiande")
        theirs = await _application("lianhe")
        on = {"on": "2025-10-24"}
        tiande = _of(await _get(api, api.tiande, **on), "application")
        lianhe = _of(await _get(api, api.lianhe, **on), "application")
        everyone = _of(await _get(api, api.admin, **on), "application")
        assert [r["application_id"] for r in tiande] == [mine.id]
        assert [r["application_id"] for r in lianhe] == [theirs.id]
        assert sorted(r["application_id"] for r in everyone) == sorted([mine.id, theirs.id])
        only = _of(await _get(api, api.admin, org="lianhe", **on), "application")
        assert [r["org"] for r in only] == ["lianhe"]

    async def test_another_organization_cannot_be_asked_for(self, api: Api) -> None:
        """An organization outside the token's scope gets the same 422 as an unknown one."""
        await _application("lianhe")
        response = await api.client.get(
            "/api/v1/reminders", headers=api.tiande, params={"org": "lianhe"}
        )
        assert response.status_code == 422
        assert "unknown organization 'lianhe'" in response.text

    async def test_the_notice_board_route_is_unchanged(self, api: Api) -> None:
        """/api/v1/reminders/removals still answers with its own list."""
        response = await api.client.get("/api/v1/reminders/removals", headers=api.tiande)
        assert (response.status_code, response.json()) == (200, [])


class TestApplications:
    async def test_reminded_from_five_working_days_before_the_due_date(self, api: Api) -> None:
        """Not on 10/21 (6 working days left); from 10/22 (5 left), as the console's desk;
        overdue after 10/29."""
        application = await _application("tiande")
        assert _of(await _get(api, api.tiande, on="2025-10-21"), "application") == []
        [first] = _of(await _get(api, api.tiande, on="2025-10-22"), "application")
        assert "还剩5个工作日" in first["message"]
        [soon] = _of(await _get(api, api.tiande, on="2025-10-24"), "application")
        assert soon["due_on"] == DUE
        assert soon["application_id"] == application.id
        assert soon["item_id"] is None
        assert soon["title"] == "申请公开本乡2024年农村低保资金发放明细"
        assert "2025年9月25日收到的申请应于2025年10月29日前答复，还剩3个工作日" in soon["message"]
        [today] = _of(await _get(api, api.tiande, on=DUE), "application")
        assert "今天到期" in today["message"]
        [late] = _of(await _get(api, api.tiande, on="2025-10-30"), "application")
        assert "已超期1个工作日" in late["message"]

    async def test_answered_or_closed_requests_are_not_reminded(self, api: Api) -> None:
        """A recorded reply or outcome closes the request."""
        await _application("tiande", replied_on=dt.date(2025, 10, 20), outcome="granted")
        await _application("tiande", outcome="withdrawn")
        assert _of(await _get(api, api.tiande, on="2025-10-28"), "application") == []

    async def test_extension_pause_and_correction_move_the_reminder(self, api: Api) -> None:
        """Hand-counted due dates: corrected on 9/25 → 10/29, +5 → 11/5, 10 paused → 11/12."""
        await _application("tiande", extension_workdays=5)
        await _application("tiande", paused_workdays=10)
        await _application(
            "tiande", received_on=dt.date(2025, 9, 1), corrected_on=dt.date(2025, 9, 25)
        )

        async def due_dates(on: str) -> list[str]:
            return [r["due_on"] for r in _of(await _get(api, api.tiande, on=on), "application")]

        assert await due_dates("2025-10-28") == [DUE]
        # From Fri 10/31, 11/5 is 3 working days away (11/3, 11/4, 11/5); 11/12 is 8.
        assert await due_dates("2025-10-31") == [DUE, "2025-11-05"]
        # From Fri 11/7, 11/12 is 3 working days away (11/10, 11/11, 11/12).
        assert await due_dates("2025-11-07") == [DUE, "2025-11-05", "2025-11-12"]

    async def test_a_year_beyond_the_calendar_warns_instead_of_failing(self, api: Api) -> None:
        """2099 is not in chinese_calendar: weekends only, and the answer says so."""
        await _application("tiande", received_on=dt.date(2099, 9, 30))
        body = await _get(api, api.tiande, on="2099-10-26")
        assert [r["due_on"] for r in _of(body, "application")] == ["2099-10-28"]
        assert any("2099年" in warning for warning in body["calendar_warnings"])

    async def test_the_configured_override_file_is_used(self, api: Api, tmp_path: Path) -> None:
        """With 国庆 2099 in the override file the due date moves to 11/3 and nothing warns."""
        path = tmp_path / "calendar.json"
        holidays = [f"2099-10-0{day}" for day in range(1, 8)]
        path.write_text(json.dumps({"holidays": holidays, "workdays": ["2099-10-10"]}))
        api.runtime.settings.calendar_overrides = path
        api.runtime.calendar = WorkCalendar.from_settings(api.runtime.settings)  # read at start
        await _application("tiande", received_on=dt.date(2099, 9, 30))
        body = await _get(api, api.tiande, on="2099-10-30")
        assert [r["due_on"] for r in _of(body, "application")] == ["2099-11-03"]
        assert body["calendar_warnings"] == []


class TestAnnualReport:
    async def test_reminded_within_thirty_days_until_submitted(self, api: Api) -> None:
        """The 2025 report (due 2026-01-31) is reminded from 2026-01-01 for each organization."""
        december = _of(await _get(api, api.admin, on="2025-12-31"), "annual_report")
        assert {r["due_on"] for r in december} == {"2025-01-31"}  # only the overdue 2024 one
        reminders = _of(await _get(api, api.admin, on="2026-01-05"), "annual_report")
        assert sorted(r["org"] for r in reminders) == ["lianhe", "shulan", "tiande"]
        [tiande] = _of(await _get(api, api.tiande, on="2026-01-05"), "annual_report")
        assert tiande["due_on"] == "2026-01-31"
        assert tiande["title"] == "天德乡人民政府2025年政府信息公开工作年度报告"
        assert "应于2026年1月31日前公布" in tiande["message"]
        assert "还剩26天" in tiande["message"]
        await ReportText.create(organization=await _org("tiande"), year=2025, submitted=True)
        assert _of(await _get(api, api.tiande, on="2026-01-05"), "annual_report") == []
        lianhe = _of(await _get(api, api.lianhe, on="2026-01-05"), "annual_report")
        assert [r["org"] for r in lianhe] == ["lianhe"]

    async def test_an_unsubmitted_report_stays_reminded_when_overdue(self, api: Api) -> None:
        """After its due date the reminder says how late it is, until the year ends."""
        await ReportText.create(organization=await _org("tiande"), year=2025, submitted=False)
        [late] = _of(await _get(api, api.tiande, on="2026-02-03"), "annual_report")
        assert "已逾期3天" in late["message"]
        assert _of(await _get(api, api.tiande, on="2027-01-01"), "annual_report")[0]["due_on"] == (
            "2027-01-31"
        )  # the new year brings the next report, not the old one

    async def test_the_configured_due_day_is_used(self, api: Api) -> None:
        """A county that wants township reports by 02-20 moves the window with it."""
        api.runtime.settings.annual_report_due = "02-20"
        assert _of(await _get(api, api.tiande, on="2026-01-20"), "annual_report") == []
        [soon] = _of(await _get(api, api.tiande, on="2026-01-21"), "annual_report")
        assert soon["due_on"] == "2026-02-20"


class TestProactive:
    async def test_an_unpublished_item_is_reminded_from_its_twentieth_working_day(
        self, api: Api
    ) -> None:
        """Formed 2025-09-25 and still unpublished: quiet on 10/28, reminded from 10/29."""
        item = await _item(api, formed_on=RECEIVED, title="关于秋季防火的通知")
        assert _of(await _get(api, api.tiande, on="2025-10-28"), "proactive") == []
        [due] = _of(await _get(api, api.tiande, on=DUE), "proactive")
        assert (due["item_id"], due["due_on"], due["title"]) == (
            item["id"],
            DUE,
            "关于秋季防火的通知",
        )
        assert "成文于2025年9月25日，应于2025年10月29日前公开，尚未公开，今天到期" in due["message"]
        [late] = _of(await _get(api, api.tiande, on="2025-11-03"), "proactive")
        assert "已超期3个工作日" in late["message"]  # 10/30, 10/31, 11/3
        assert _of(await _get(api, api.lianhe, on="2025-11-03"), "proactive") == []

    async def test_published_or_cancelled_items_are_not_reminded(self, api: Api) -> None:
        """An item in the ledger, or one staff cancelled, has nothing left to publish."""
        published = await _item(api, formed_on=RECEIVED, title="已发布的通知")
        await api.runtime.dispatcher.run_until_idle()
        cancelled = await _item(api, formed_on=RECEIVED, title="已撤销的通知")
        response = await api.client.post(
            f"/api/v1/items/{cancelled['id']}/cancel", headers=api.tiande
        )
        assert response.status_code == 200, response.text
        body = await _get(api, api.tiande, on="2025-11-03")
        assert [r["item_id"] for r in _of(body, "proactive")] == []
        assert published["id"] != cancelled["id"]

    async def test_everything_comes_soonest_first(self, api: Api) -> None:
        """All three kinds in one list, ordered by due date."""
        await _item(api, formed_on="2025-09-01", title="较早成文的通知")  # due 2025-09-28
        await _application("tiande")
        body = await _get(api, api.tiande, on="2025-10-29")
        assert [(r["kind"], r["due_on"]) for r in body["reminders"]] == [
            ("annual_report", "2025-01-31"),
            ("proactive", "2025-09-28"),
            ("application", DUE),
        ]
        assert body["today"] == "2025-10-29"


class TestProactiveInReview:
    async def test_an_item_waiting_in_review_is_reminded_too(self, api: Api) -> None:
        """The 20-working-day clock runs while an item waits for the 保密审查."""
        org = await _org("tiande")
        token = await create_token("未豁免令牌", org)  # its items wait for review
        data = {
            "org": "tiande",
            "title": "待审核的通知",
            "body": "正文。",
            "formed_on": RECEIVED,
            "channels": ["website"],
        }
        response = await api.client.post(
            "/api/v1/items", json=data, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.json()["status"] == "in_review"
        assert response.json()["progress"] == "in_review"
        [due] = _of(await _get(api, api.tiande, on=DUE), "proactive")
        assert (due["item_id"], due["title"]) == (response.json()["id"], "待审核的通知")
