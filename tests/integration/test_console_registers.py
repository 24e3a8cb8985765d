"""The console's 依申请公开 desk and report registers over HTTP, on both databases: the
statutory clock, reminders, replies and their 告知书, register pages with roles and audit,
spreadsheet import (dry run, all-or-nothing commit), table 三 as totals, drafted texts."""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Sequence

import docx
import httpx
from openpyxl import Workbook, load_workbook

from bot.annual.collect import collect
from bot.applications import DeskReminder, send_reminders
from bot.deadlines import application_due
from storage import users
from storage.console_models import AuditEvent, User
from storage.ledger import local_today
from storage.models import Item
from storage.register_models import (
    Application,
    Case,
    NormativeDocument,
    ReportText,
    Response,
    Table3Entry,
)
from tests.integration.console_world import PASSWORD, World, csrf_of, post_form, world

__all__ = ["world"]  # the fixture


async def county_editor(world: World) -> None:
    """sl_editor, an editor of the county shulan (the world's people are townships')."""
    user = await User.create(
        username="sl_editor",
        display_name="孙编辑",
        password_hash=await users.hash_password(PASSWORD),
    )
    await users.set_role(user, world.orgs["shulan"], "editor")


async def post(
    client: httpx.AsyncClient, path: str, *, csrf_from: str = "/console/applications", **data: str
) -> httpx.Response:
    return await post_form(client, path, csrf_from=csrf_from, **data)


def _received_for(world: World, left: int) -> dt.date:
    """A receipt day whose reply is due ``left`` working days from today."""
    calendar, today = world.runtime.calendar, local_today()
    for back in range(0, 90):
        day = today - dt.timedelta(days=back)
        due = application_due(day, calendar=calendar)
        if calendar.workdays_between(today, due) == left:
            return day
    raise AssertionError(f"no receipt day leaves {left} working days")


class TestDesk:
    async def test_register_clock_extend_pause_correct_and_reply(self, world: World) -> None:
        calendar = world.runtime.calendar
        received = local_today() - dt.timedelta(days=40)
        async with world.login("td_editor") as c:
            r = await post(
                c, "/console/applications", received_on=received.isoformat(), channel="信函",
                applicant_type="商业企业", applicant_name="某某公司", request="2024年征地补偿标准",
            )  # fmt: skip
            assert r.status_code == 303, r.text
            app = await Application.get(organization_id=world.orgs["tiande"].id)
            assert (app.channel, app.applicant_type, app.applicant_name) == (
                "信函", "商业企业", "某某公司"
            )  # fmt: skip
            page = await c.get(r.headers["location"])
            due = application_due(received, calendar=calendar)
            assert due.isoformat() in page.text
            assert "已超期" in page.text  # 40 calendar days is more than 20 working days
            detail = f"/console/applications/{app.id}"

            r = await post(c, f"{detail}/extend", csrf_from=detail, extension_workdays="21")
            assert r.status_code == 400
            assert "不能大于 20" in r.text
            r = await post(c, f"{detail}/extend", csrf_from=detail, extension_workdays="20")
            assert r.status_code == 303
            start = received + dt.timedelta(days=2)
            end = received + dt.timedelta(days=8)
            r = await post(
                c, f"{detail}/pause", csrf_from=detail,
                pause_from=start.isoformat(), pause_to=end.isoformat(),
            )  # fmt: skip
            assert r.status_code == 303
            paused = calendar.workdays_between(start - dt.timedelta(days=1), end)
            corrected = received + dt.timedelta(days=3)
            r = await post(
                c, f"{detail}/correct", csrf_from=detail, corrected_on=corrected.isoformat()
            )
            assert r.status_code == 303
            await app.refresh_from_db()
            assert (app.extension_workdays, app.paused_workdays) == (20, paused)
            assert app.corrected_on == corrected
            final = application_due(
                received, extension_days=20, paused_workdays=paused, corrected_on=corrected,
                calendar=calendar,
            )  # fmt: skip
            assert final.isoformat() in (await c.get(detail)).text

            # Replied one working day after the extended due date: 逾期, and counted as such.
            replied = calendar.add_workdays(final, 1)
            if replied > local_today():
                replied = local_today()
            r = await post(
                c, f"{detail}/reply", csrf_from=detail, replied_on=replied.isoformat(),
                outcome="withheld_third_party", reply_note="", fee_basis="按量", fee_pages="45",
            )  # fmt: skip
            assert r.status_code == 303, r.text
            await app.refresh_from_db()
            assert app.outcome == "withheld_third_party"
            assert str(app.fee_yuan) in ("150.00", "150")  # 15 pages beyond 30 at 10 元
            shown = (await c.get(detail)).text
            assert "（三）不予公开：4.保护第三方合法权益" in shown
            if replied > final:
                assert "逾期" in shown
            letter = await c.get(f"{detail}/letter.docx")
            assert letter.status_code == 200
            text = "\n".join(p.text for p in docx.Document(io.BytesIO(letter.content)).paragraphs)
            assert "不予公开" in text
            assert "第十五条" in text
            assert "某某公司：" in text
            assert "天德乡人民政府" in text
            assert "150" in text

            r = await post(c, f"{detail}/cases", csrf_from=detail, case_kind="review",
                           case_received_on=replied.isoformat())  # fmt: skip
            assert r.status_code == 303
            case = await Case.get(application_id=app.id)
            assert case.kind == "review"
            assert case.outcome == "pending"

        actions = await AuditEvent.filter(organization_id=world.orgs["tiande"].id).values_list(
            "action", flat=True
        )
        for action in ("created", "extended", "paused", "corrected", "replied"):
            assert f"register.{action}" in actions  # type: ignore[comparison-overlap]  # tortoise types flat values_list rows as tuples

    async def test_bad_input_stores_nothing_and_names_the_field(self, world: World) -> None:
        async with world.login("td_editor") as c:
            r = await post(c, "/console/applications", received_on="2099-01-01", channel="电报",
                           applicant_type="自然人", request="")  # fmt: skip
            assert r.status_code == 400
            assert "必须填写" in r.text
            assert await Application.all().count() == 0
            r = await post(c, "/console/applications", received_on="2099-01-01", channel="网络",
                           applicant_type="自然人", request="x")  # fmt: skip
            assert r.status_code == 400
            assert "不能晚于" in r.text
            assert await Application.all().count() == 0

    async def test_roles_and_organizations(self, world: World) -> None:
        app = await Application.create(
            organization=world.orgs["tiande"], received_on=local_today(), channel="网络",
            applicant_type="自然人", request="村务公开",
        )  # fmt: skip
        async with world.login("td_reviewer") as c:
            page = await c.get(f"/console/applications/{app.id}")
            assert page.status_code == 200
            assert "村务公开" in page.text
            assert "登记答复" not in page.text
            r = await post(c, f"/console/applications/{app.id}/extend",
                           csrf_from="/console/applications", extension_workdays="5")  # fmt: skip
            assert r.status_code == 403
        async with world.login("lh_editor") as c:
            assert (await c.get(f"/console/applications/{app.id}")).status_code == 404
            r = await post(c, f"/console/applications/{app.id}/delete")
            assert r.status_code == 404
        assert await Application.filter(id=app.id).exists()

    async def test_dashboard_reminds_at_five_three_and_one_working_days(self, world: World) -> None:
        org = world.orgs["tiande"]
        for left, what in [(5, "五日"), (4, "四日"), (3, "三日"), (1, "一日"), (8, "八日")]:
            await Application.create(
                organization=org, received_on=_received_for(world, left), channel="网络",
                applicant_type="自然人", applicant_name=what, request=f"申请{what}",
            )  # fmt: skip
        async with world.login("td_editor") as c:
            page = (await c.get("/console/")).text
            assert "还剩5个工作日（5日提醒）" in page
            assert "还剩3个工作日（3日提醒）" in page
            assert "还剩1个工作日（1日提醒）" in page
            assert "还剩4个工作日。" in page  # listed, but not one of the reminder days
            assert "八日" not in page
            listing = (await c.get("/console/applications")).text
            assert "本周到期" in listing


class TestReminderHook:
    async def test_hooks_get_the_five_three_one_day_reminders_on_working_days(
        self, world: World
    ) -> None:
        """A notification hook receives, once a working day, the applications exactly 5, 3 or
        1 working days from their due date or due that day; not 4 or 8, and nothing on a day
        off (the dashboard shows every one within 5 days)."""
        calendar = world.runtime.calendar
        today = local_today() + dt.timedelta(days=30)
        while not calendar.is_workday(today):
            today += dt.timedelta(days=1)
        org = world.orgs["tiande"]
        for left in (8, 5, 4, 3, 1, 0):
            received = next(
                today - dt.timedelta(days=back)
                for back in range(90)
                if calendar.workdays_between(
                    today, application_due(today - dt.timedelta(days=back), calendar=calendar)
                )
                == left
            )
            await Application.create(
                organization=org, received_on=received, channel="网络",
                applicant_type="自然人", applicant_name=f"剩{left}日", request="申请",
            )  # fmt: skip
        received_by_hook: list[list[str]] = []

        async def hook(reminders: Sequence[DeskReminder]) -> None:
            received_by_hook.append([r.application.applicant_name for r in reminders])

        sent = await send_reminders([hook], today=today, calendar=calendar)
        assert received_by_hook == [["剩0日", "剩1日", "剩3日", "剩5日"]]
        assert [r.left for r in sent] == [0, 1, 3, 5]
        day_off = today + dt.timedelta(days=1)
        while calendar.is_workday(day_off):
            day_off += dt.timedelta(days=1)
        assert await send_reminders([hook], today=day_off, calendar=calendar) == []
        assert len(received_by_hook) == 1


class TestRegisters:
    async def test_response_document_decisions_and_audit(self, world: World) -> None:
        org = world.orgs["tiande"]
        today = local_today().isoformat()
        async with world.login("td_editor") as c:
            src = "/console/registers/responses"
            r = await post(c, src, csrf_from=src, kind="政策解读", title="春耕补贴解读",
                           channel="政务微信", occurred_on=today)  # fmt: skip
            assert r.status_code == 303, r.text
            assert (await Response.get(organization_id=org.id)).kind == "interpretation"
            r = await post(c, src, csrf_from=src, kind="政策解读", title="", occurred_on=today)
            assert r.status_code == 400
            assert "必须填写" in r.text

            src = "/console/registers/documents"
            doc = {"kind": "行政规范性文件", "title": "村规民约指导意见", "issued_on": today}
            r = await post(c, src, csrf_from=src, validity="废止", **doc)
            assert r.status_code == 400
            assert "废止或失效日期" in r.text
            r = await post(c, src, csrf_from=src, kind="行政规范性文件", title="村规民约指导意见",
                           doc_number="天政发〔2025〕1号", issued_on=today)  # fmt: skip
            assert r.status_code == 303

            year = local_today().year
            src = f"/console/registers/decisions?year={year}"
            r = await post(c, f"/console/registers/decisions/year/{year}", csrf_from=src,
                           licensing="213", penalty="5", enforcement="2", admin_fees_wan="0.35",
                           licensing_prev="")  # fmt: skip
            assert r.status_code == 303, r.text
            page = (await c.get(src)).text
            assert 'value="213"' in page
        async with world.login("td_reviewer") as c:
            src = "/console/registers/responses"
            assert (await c.get(src)).status_code == 200
            r = await post(c, src, csrf_from=src, kind="政策解读", title="x", occurred_on=today)
            assert r.status_code == 403
        actions = await AuditEvent.filter(organization_id=org.id).values_list("action", flat=True)
        assert actions.count("register.created") == 3  # type: ignore[arg-type]  # tortoise types flat values_list rows as tuples

    async def test_a_normative_item_links_to_its_register_entry(self, world: World) -> None:
        org = world.orgs["tiande"]
        doc = await NormativeDocument.create(
            organization=org, kind="行政规范性文件", title="旧标题", doc_number="天政发〔2025〕2号",
            issued_on=local_today(),
        )  # fmt: skip
        item = await Item.create(
            organization=org, index_no="x-1", title="关于印发秸秆禁烧办法的通知", body_md="正文",
            body_html="<p>正文</p>", doc_number="天政发〔2025〕2号", normative=True,
            formed_on=local_today(), publish_at=dt.datetime.now(dt.UTC), status="active",
        )  # fmt: skip
        async with world.login("td_editor") as c:
            src = "/console/registers/documents"
            page = (await c.get(src)).text
            assert "关于印发秸秆禁烧办法的通知" in page
            assert "登记到台账" in page
            r = await post(c, f"{src}/link/{item.id}", csrf_from=src)
            assert r.status_code == 303
            await doc.refresh_from_db()
            assert doc.item_id == item.id
            page = (await c.get(src)).text
            assert f'href="/console/items/{item.id}"' in page
            assert "登记到台账" not in page


def _xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(["收到申请日期", "申请方式", "申请人类别", "申请人姓名或名称", "申请内容"])
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


async def _upload(c: httpx.AsyncClient, key: str, data: bytes) -> httpx.Response:
    token = await csrf_of(c, f"/console/registers/{key}/import")
    files = {"file": ("applications.xlsx", data, "application/octet-stream")}
    return await c.post(f"/console/registers/{key}/import", data={"csrf_token": token}, files=files)


class TestSpreadsheets:
    async def test_template_dry_run_and_all_or_nothing_commit(self, world: World) -> None:
        day = (local_today() - dt.timedelta(days=10)).isoformat()
        rows: list[list[object]] = [
            [day, "网络", "自然人", f"申请人{i}", f"申请{i}"] for i in range(40)
        ]
        rows[1][1] = "电报"  # row 3 of the sheet, column B
        async with world.login("td_editor") as c:
            template = await c.get("/console/registers/applications/template.xlsx")
            assert template.status_code == 200
            headers = [cell.value for cell in load_workbook(io.BytesIO(template.content)).active[1]]
            assert headers[:3] == ["收到申请日期", "申请方式", "申请人类别"]

            r = await _upload(c, "applications", _xlsx(rows))
            assert r.status_code == 422
            assert "第 3 行第 B 列「申请方式」" in r.text
            assert "只能填写" in r.text
            assert "确认导入" not in r.text
            assert await Application.all().count() == 0

            rows[1][1] = "信函"
            r = await _upload(c, "applications", _xlsx(rows))
            assert r.status_code == 200
            assert "全部正确" in r.text
            payload = re.search(r'name="payload" value="([^"]+)"', r.text)
            assert payload
            token = await csrf_of(c, "/console/registers/applications/import")
            r = await c.post(
                "/console/registers/applications/import",
                data={"csrf_token": token, "payload": payload.group(1), "action": "commit",
                      "filename": "applications.xlsx"},
            )  # fmt: skip
            assert r.status_code == 303
        assert await Application.filter(organization_id=world.orgs["tiande"].id).count() == 40
        assert await Application.filter(channel="信函").count() == 1
        event = await AuditEvent.get(action="register.imported")
        assert event.detail["rows"] == 40

    async def test_a_bad_header_names_its_column(self, world: World) -> None:
        book = Workbook()
        book.active.append(["收到日期", "申请方式"])
        buffer = io.BytesIO()
        book.save(buffer)
        async with world.login("td_editor") as c:
            r = await _upload(c, "applications", buffer.getvalue())
            assert r.status_code == 422
            assert "第 1 行第 A 列「收到日期」不是依申请公开表的栏目" in r.text
            assert "缺少必填栏目「申请内容」" in r.text


class TestTable3AndTexts:
    async def test_grid_is_checked_then_used_by_the_report(self, world: World) -> None:
        org = world.orgs["tiande"]
        year = local_today().year
        src = f"/console/registers/table3?year={year}"
        async with world.login("td_editor") as c:
            r = await post(c, f"/console/registers/table3/{year}", csrf_from=src,
                           **{"c_new_自然人": "3", "c_open_自然人": "2"})  # fmt: skip
            assert r.status_code == 400
            assert "表三「自然人」列" in r.text
            assert "3 ≠ 2" in r.text
            assert not await Table3Entry.exists()
            r = await post(c, f"/console/registers/table3/{year}", csrf_from=src,
                           **{"c_new_自然人": "3", "c_open_自然人": "2",
                              "c_carried_out_自然人": "1", "c_new_商业企业": "x"})  # fmt: skip
            assert r.status_code == 400
            assert "表三「一、本年新收政府信息公开申请数量」行「商业企业」列" in r.text
            r = await post(c, f"/console/registers/table3/{year}", csrf_from=src,
                           **{"c_new_自然人": "3", "c_open_自然人": "2",
                              "c_carried_out_自然人": "1"})  # fmt: skip
            assert r.status_code == 303
        figures = await collect(org, year, calendar=world.runtime.calendar)
        assert figures.cell("new", "自然人") == 3
        assert figures.cell("total", "总计") == 2
        assert figures.table3_as_totals

    async def test_draft_updates_years_and_names(self, world: World) -> None:
        org = world.orgs["tiande"]
        await ReportText.create(
            organization=org, year=2016,
            basic_situation="2016年以来，在舒兰市政务公开办公室的精心指导下，天德乡人民政府……",
            problems="2017年，我乡将继续做好天德乡政务公开工作。",
        )  # fmt: skip
        year = local_today().year
        async with world.login("td_editor") as c:
            page = (await c.get(f"/console/registers/texts?year={year}")).text
            assert f"{year}年以来" in page
            assert "2016年" not in page
            assert f"{year + 1}年，我乡将" in page
            assert "draft-note" in page

    async def test_a_township_without_texts_drafts_from_a_sibling_with_its_own_names(
        self, world: World
    ) -> None:
        await ReportText.create(
            organization=world.orgs["tiande"], year=2016, publication_url="http://tiande.example",
            basic_situation="2016年以来，天德乡人民政府在舒兰市的指导下，全乡……天德乡将继续努力。",
        )  # fmt: skip
        year = local_today().year
        async with world.login("lh_editor") as c:
            page = (await c.get(f"/console/registers/texts?year={year}")).text
            assert f"{year}年以来，联合乡人民政府在舒兰市的指导下" in page
            assert "联合乡将继续努力" in page
            assert "天德乡" not in page
            assert "http://tiande.example" not in page


class TestReportPage:
    async def test_errors_block_the_printable_downloads(self, world: World) -> None:
        """A 信息处理费 of 0.35 元 (万元 typed into a 元 field) is an error: the page says the
        downloads are blocked and names it; .docx is refused, the data file is not."""
        year = local_today().year - 1
        await Application.create(
            organization=world.orgs["tiande"], received_on=dt.date(year, 3, 4),
            replied_on=dt.date(year, 3, 8), outcome="open", channel="网络",
            applicant_type="自然人", request="申请", fee_yuan="0.35",
        )  # fmt: skip
        async with world.login("td_editor") as c:
            page = await c.get(f"/console/report?year={year}&format=2021")
            assert 'id="download-blocked"' in page.text
            assert "信息处理费0.35元不可能" in page.text
            refused = await c.get(f"/console/report/{year}/annual.docx?format=2021")
            assert refused.status_code == 409
            assert "改正后才能下载" in refused.text
            assert "信息处理费" in refused.text
            data = await c.get(f"/console/report/{year}/annual.json?format=2021")
            assert data.status_code == 200
            assert data.json()["valid"] is False
            await Application.filter(organization_id=world.orgs["tiande"].id).update(fee_yuan=100)
            docx_file = await c.get(f"/console/report/{year}/annual.docx?format=2021")
            assert docx_file.status_code == 200

    async def test_county_chooses_whether_to_sum_unsubmitted_townships(self, world: World) -> None:
        year = local_today().year - 1
        await ReportText.create(organization=world.orgs["tiande"], year=year, submitted=True)
        await Case.create(
            organization=world.orgs["lianhe"], kind="review", received_on=dt.date(year, 5, 1)
        )
        await county_editor(world)
        async with world.login("sl_editor") as c:
            page = await c.get(f"/console/report?year={year}")
            assert 'name="include_unsubmitted"' in page.text
            missing = re.search(r'id="rollup-missing">([^<]*)<', page.text)
            assert missing
            assert "联合乡人民政府" in missing.group(1)
            assert "天德乡人民政府" not in missing.group(1)
            assert "未计入汇总" in missing.group(1)
            left_out = await c.get(f"/console/report/{year}/annual.docx?format=2021")
            text = "\n".join(p.text for p in docx.Document(io.BytesIO(left_out.content)).paragraphs)
            assert "联合乡人民政府尚未提交" in text
            assert "其数据未计入本报告汇总" in text
            data = await c.get(f"/console/report/{year}/annual.json?include_unsubmitted=true")
            assert data.json()["figures"]["reviews"]["total"] == 1
            assert data.json()["rollup"]["missing_counted"] is True
            page = await c.get(f"/console/report?year={year}&include_unsubmitted=true")
            assert "include_unsubmitted=true" in page.text
            assert "其现有数据已计入汇总" in page.text
