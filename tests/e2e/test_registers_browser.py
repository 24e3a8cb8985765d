"""A year of the 依申请公开 desk in a real browser (Debian's chromium via Playwright) against
`gongkai serve`, ending with the 2021-format annual report read back with python-docx.

A clerk of 天德乡 registers three applications around the 2025 Spring Festival (holiday
28 January to 4 February, make-up working days 26 January and 8 February), replies to one
late and one on time, imports 40 applications from an .xlsx (one row wrong, fixed after the
dry run), fills in the written sections and downloads the report. Table 三's cells must be
what was entered, counted here independently of the report engine.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import docx
import pytest
from openpyxl import Workbook, load_workbook

from bot.applications import OUTCOME_CHOICES
from tests.e2e.service import Service, gongkai
from tests.e2e.test_console_browser import PASSWORD, Browser, Page, browser, expect

__all__ = ["browser"]  # the fixture

pytestmark = pytest.mark.slow
YEAR = 2025
KINDS = ("自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他")
COLUMNS = (*KINDS, "总计")
OUTCOME_LABELS = dict(OUTCOME_CHOICES)
# The three applications at the desk: received, channel, applicant, reply day and outcome.
DESK = (
    (dt.date(YEAR, 1, 24), "当面", "自然人", "张三", dt.date(YEAR, 4, 10), "open"),  # late
    (dt.date(YEAR, 1, 26), "网络", "商业企业", "某某公司", dt.date(YEAR, 2, 20), "unable_not_held"),
    (dt.date(YEAR, 2, 5), "信函", "自然人", "李四", None, None),  # still open on 31 December
)
IMPORT_OUTCOMES = ("open", "partly_open", "unable_not_held", "ignored_repeat", None)
BAD_ROW = 17  # the spreadsheet row (the header is row 1) with an unknown applicant category


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    data = tmp_path_factory.mktemp("registers-browser")
    env = {
        **os.environ,
        "GONGKAI_DATA_DIR": str(data / "data"),
        "GONGKAI_DATABASE_URL": "",
        "GONGKAI_SHUTDOWN_GRACE_SECONDS": "5",
    }
    gongkai(["init", "--demo"], env)
    running = Service(env, data / "serve.log")
    yield running
    running.terminate()


def _signed_in(browser: Browser, service: Service, username: str) -> Page:
    context = browser.new_context(
        viewport={"width": 1366, "height": 900}, locale="zh-CN", accept_downloads=True
    )
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{service.base}/console/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("您好")
    return page


def _register_at_desk(page: Page, service: Service) -> None:
    for received, channel, kind, name, replied, outcome in DESK:
        page.goto(f"{service.base}/console/applications?year={YEAR}")
        page.get_by_label("收到申请日期").fill(received.isoformat())
        page.get_by_label("申请方式").select_option(channel)
        page.get_by_label("申请人类别").select_option(kind)
        page.get_by_label("申请人姓名或名称").fill(name)
        page.get_by_label("申请内容").fill(f"{name}申请公开{YEAR}年春节期间值班安排")
        page.get_by_role("button", name="登记", exact=True).click()
        expect(page).to_have_url(re.compile(r"/console/applications/\d+$"))
        expect(page.get_by_text("已登记，应于").first).to_be_visible()
        if replied is None:
            continue
        page.get_by_label("答复日期").fill(replied.isoformat())
        page.get_by_label("办理结果").select_option(outcome)
        page.get_by_role("button", name="保存答复").click()
        expect(page.get_by_text("逾期" if name == "张三" else "按时办结").first).to_be_visible()


def _import_rows() -> list[dict[str, str | dt.date | None]]:
    """40 applications across the year; one row of them has a category the table lacks."""
    rows = []
    for n in range(40):
        received = dt.date(YEAR, 3 + n % 9, 2 + n % 20)
        outcome = IMPORT_OUTCOMES[n % len(IMPORT_OUTCOMES)]
        rows.append(
            {
                "received_on": received,
                "channel": ("网络", "当面", "信函", "传真")[n % 4],
                "applicant_type": KINDS[n % len(KINDS)],
                "applicant_name": f"申请人{n + 1}",
                "request": f"申请公开第{n + 1}项信息",
                "outcome": outcome,
                "replied_on": received + dt.timedelta(days=7) if outcome else None,
            }
        )
    return rows


def _workbook(template: bytes, rows: Sequence[Mapping[str, object]], bad: bool) -> bytes:
    """The downloaded template filled in: its header row names the columns."""
    sheet = load_workbook(io.BytesIO(template)).active
    assert sheet is not None
    headers = [str(cell.value or "") for cell in sheet[1]]
    labels = {
        "received_on": "收到申请日期", "channel": "申请方式", "applicant_type": "申请人类别",
        "applicant_name": "申请人姓名或名称", "request": "申请内容", "outcome": "办理结果",
        "replied_on": "答复日期",
    }  # fmt: skip
    book = Workbook()
    out = book.active
    assert out is not None
    out.append(headers)
    for number, row in enumerate(rows, start=2):
        values: dict[str, object] = {labels[k]: v for k, v in row.items()}
        if row["outcome"]:
            values["办理结果"] = OUTCOME_LABELS[str(row["outcome"])]
        if bad and number == BAD_ROW:
            values["申请人类别"] = "个体户"
        out.append([values.get(header) for header in headers])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _upload(page: Page, body: bytes, name: str) -> None:
    page.get_by_label("Excel 文件（.xlsx）").set_input_files(
        {"name": name, "mimeType": "application/octet-stream", "buffer": body}
    )
    page.get_by_role("button", name="上传并检查").click()


def _import(page: Page, service: Service, rows: Sequence[Mapping[str, object]]) -> None:
    page.goto(f"{service.base}/console/registers/applications/import")
    template = page.request.get(f"{service.base}/console/registers/applications/template.xlsx")
    assert template.ok
    _upload(page, _workbook(template.body(), rows, bad=True), "applications.xlsx")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("没有保存任何数据")
    problem = page.locator("#dry-run .error").first
    expect(problem).to_contain_text(f"第 {BAD_ROW} 行")
    expect(problem).to_contain_text("申请人类别")
    expect(page.locator("#commit")).to_have_count(0)
    _upload(page, _workbook(template.body(), rows, bad=False), "applications.xlsx")
    expect(page.get_by_role("status")).to_contain_text("共 40 行，全部正确")
    page.get_by_role("button", name="确认导入 40 行").click()
    expect(page).to_have_url(re.compile(r"/console/applications$"))
    expect(page.get_by_text("已导入 40 行").first).to_be_visible()


def _write_texts(page: Page, service: Service) -> None:
    page.goto(f"{service.base}/console/registers/texts?year={YEAR}")
    page.get_by_label("一、总体情况（基本工作情况）").fill(
        "（一）依申请公开。春节期间安排专人值守，收到的申请均已登记。\n（二）监督保障。全年开展自查两次。"
    )
    page.get_by_label("存在的主要问题及改进情况").fill("一是答复时限把握不严，有一件申请逾期答复。")
    page.get_by_label("其他需要报告的事项").fill("无。")
    page.get_by_label("成文日期").fill(f"{YEAR + 1}-01-20")
    page.get_by_role("button", name="保存").click()
    expect(page.get_by_text(f"{YEAR}年度报告文字已保存").first).to_be_visible()


def _expected_table3(rows: Sequence[Mapping[str, object]]) -> dict[str, Counter[str]]:
    """Table 三 counted from the entries: 一 received, result rows, 四 carried to next year."""
    table: dict[str, Counter[str]] = {}
    entries: list[Mapping[str, object]] = [
        {"applicant_type": kind, "outcome": outcome, "replied_on": replied}
        for _received, _channel, kind, _name, replied, outcome in DESK
    ]
    entries.extend(rows)
    for entry in entries:
        kind = str(entry["applicant_type"])
        rows_of = ["new", str(entry["outcome"]) if entry["replied_on"] else "carried_out"]
        if entry["replied_on"]:
            rows_of.append("total")
        for row in rows_of:
            table.setdefault(row, Counter())[kind] += 1
            table[row]["总计"] += 1
    return table


def _table3_cells(body: bytes) -> dict[str, dict[str, str]]:
    """Table 三 of the .docx: each row's label (its most specific one) → column → text."""
    document = docx.Document(io.BytesIO(body))
    table = next(t for t in document.tables if t.cell(0, 3).text == "申请人情况")
    header = [cell.text for cell in table.rows[1].cells[3:]]
    header[1:6] = [cell.text for cell in table.rows[2].cells[4:9]]
    assert header == list(COLUMNS)
    cells = {}
    for row in table.rows[3:]:
        texts = [cell.text for cell in row.cells]
        cells[texts[2]] = dict(zip(COLUMNS, texts[3:], strict=True))
    return cells


def test_a_year_at_the_desk_ends_in_the_report(browser: Browser, service: Service) -> None:
    clerk = _signed_in(browser, service, "bianji")
    _register_at_desk(clerk, service)
    rows = _import_rows()
    _import(clerk, service, rows)
    _write_texts(clerk, service)

    clerk.goto(f"{service.base}/console/report?year={YEAR}")
    expect(clerk.locator("#download-blocked")).to_have_count(0)
    row = clerk.get_by_role("row", name=re.compile("2021 年新样式"))
    with clerk.expect_download() as download:
        row.get_by_role("link", name=re.compile("Word 文档")).click()
    body = Path(download.value.path()).read_bytes()
    assert download.value.suggested_filename == f"tiande-{YEAR}-annual-2021.docx"

    cells = _table3_cells(body)
    expected = _expected_table3(rows)
    labels = {
        "new": "一、本年新收政府信息公开申请数量",
        "carried_out": "四、结转下年度继续办理",
        "total": "（七）总计",
        "open": "（一）予以公开",
        "partly_open": "（二）部分公开（区分处理的，只计这一情形，不计其他情形）",
        "unable_not_held": "1.本机关不掌握相关政府信息",
        "ignored_repeat": "2.重复申请",
    }
    for key, label in labels.items():
        want = {column: str(expected.get(key, Counter())[column]) for column in COLUMNS}
        assert cells[label] == want, key
    assert cells["一、本年新收政府信息公开申请数量"]["总计"] == "43"
    assert cells["二、上年结转政府信息公开申请数量"]["总计"] == "0"

    text = "\n".join(p.text for p in docx.Document(io.BytesIO(body)).paragraphs)
    assert "（二）依申请公开。春节期间安排专人值守" in text  # the clerk's （一） moved on
    assert text.count("（一）") == 1
    assert "有一件申请逾期答复" in text
    assert text.rstrip().endswith(f"天德乡人民政府\n{YEAR + 1}年1月20日")
