"""The report's consistency rules: every figure that appears twice agrees, across sections,
tables and formats, for a year collected from the ledger and the registers."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest

from bot import publishing
from bot.annual.collect import collect
from bot.annual.document import Document, Heading, Paragraph, Table
from bot.annual.figures import AnnualFigures
from bot.annual.formats import render
from bot.annual.validate import validate
from bot.deadlines import WorkCalendar
from bot.publishing import ItemInput
from storage.ledger import BUSINESS_TZ
from storage.models import Organization
from storage.register_models import (
    AdminDecisionCount,
    Application,
    Case,
    NormativeDocument,
)
from tests.integration.helpers import make_org

pytestmark = pytest.mark.usefixtures("database")

CALENDAR = WorkCalendar()
YEAR = 2024


async def _year_of_work(org: Organization) -> None:
    """Items (one 规范性文件 that the register does not list), register entries, applications
    replied on time, extended and late, one carried in and one carried out, and a case."""
    records = [
        (
            ItemInput(
                org=org,
                title=f"信息{n}",
                body="正文",
                normative=n == 0,
                formed_on=dt.date(YEAR, 3, 1),
                channels=[channel],
            ),
            dt.datetime(YEAR, 3, 5 + n, 10, tzinfo=BUSINESS_TZ),
        )
        for n, channel in enumerate(["website", "wechat", "wechat", "website"])
    ]
    await publishing.import_published(records, max_body_bytes=10_000)
    await NormativeDocument.create(
        organization=org, kind="行政规范性文件", title="登记的文件", issued_on=dt.date(YEAR, 6, 1)
    )
    await NormativeDocument.create(
        organization=org,
        kind="行政规范性文件",
        title="废止的文件",
        issued_on=dt.date(YEAR - 2, 6, 1),
        repealed_on=dt.date(YEAR, 9, 1),
    )
    applications = [
        # (received, replied, extension, fee, kind)
        (dt.date(YEAR, 3, 4), dt.date(YEAR, 3, 8), 0, "100", "自然人"),  # on time
        (dt.date(YEAR, 4, 1), dt.date(YEAR, 5, 15), 20, "0", "商业企业"),  # extended
        (dt.date(YEAR, 6, 3), dt.date(YEAR, 8, 30), 0, "0", "自然人"),  # late
        (dt.date(YEAR - 1, 12, 20), dt.date(YEAR, 1, 10), 0, "0", "其他"),  # carried in
        (dt.date(YEAR, 12, 20), None, 0, "0", "自然人"),  # carried out
    ]
    for received, replied, extension, fee, kind in applications:
        await Application.create(
            organization=org,
            received_on=received,
            replied_on=replied,
            outcome="open" if replied else None,
            extension_workdays=extension,
            fee_yuan=Decimal(fee),
            channel="网络",
            applicant_type=kind,
            request="申请",
        )
    await AdminDecisionCount.create(organization=org, year=YEAR, licensing=5, penalty=2)
    await Case.create(
        organization=org,
        kind="review",
        received_on=dt.date(YEAR, 5, 1),
        outcome="upheld",
        closed_on=dt.date(YEAR, 7, 1),
    )


def _text(document: Document) -> str:
    lines = []
    for block in document.blocks:
        if isinstance(block, Heading):
            lines.append(block.text)
        elif isinstance(block, Paragraph):
            lines.append(block.lead + block.text)
    return "\n".join(lines)


def _number(pattern: str, text: str) -> int:
    found = re.search(pattern, text)
    assert found, f"{pattern!r} not in the report"
    return int(found.group(1))


def _table(document: Document, key: str) -> Table:
    return next(b for b in document.blocks if isinstance(b, Table) and b.key == key)


def _row(table: Table, label: str) -> list[str]:
    """The value cells of the body row whose first listed cell (a label) is ``label``."""
    for row in table.rows:
        texts = [cell.text for cell in row]
        if label in texts:
            return texts[texts.index(label) + 1 :]
    raise AssertionError(f"no row {label!r} in {table.key}")


async def _figures() -> AnnualFigures:
    org = await make_org()
    await _year_of_work(org)
    return await collect(org, YEAR, calendar=CALENDAR)


async def test_normative_documents_come_from_one_register() -> None:
    """制发规范性文件 in section 一's sentence = table 二's 行政规范性文件 (both formats): the
    register's entry plus the item marked 规范性文件 that no entry lists."""
    figures = await _figures()
    national = render(figures, "2021")
    issued = _number(r"制发规范性文件(\d+)件", _text(national))
    assert issued == 2
    assert _row(_table(national, "table2"), "行政规范性文件") == ["2", "1", "2"]
    trial = render(figures, "2019")
    published = _number(r"主动公开规范性文件信息(\d+)条", _text(trial))
    assert _row(_table(trial, "table2"), "规范性文件")[:2] == [str(issued), str(published)]
    assert _number(r"制发规范性文件(\d+)件", _text(render(figures, "seed"))) == issued


async def test_every_figure_printed_twice_agrees() -> None:
    figures = await _figures()
    seed, national = _text(render(figures, "seed")), render(figures, "2021")
    overview = _text(national)
    for text in (seed, overview):  # total and its channel split
        total = _number(r"主动公开信息(\d+)条", text)
        assert total == _number(r"在公开的(\d+)条信息中", text) == 4
        parts = re.findall(r"公开政府信息数为?(\d+)条", text)
        assert sum(map(int, parts)) == total
    table3 = _table(national, "table3")
    received = int(_row(table3, "一、本年新收政府信息公开申请数量")[-1])
    assert _number(r"共收到政府信息公开申请(\d+)件", seed) == received == 4
    channels = re.search(r"其中，(.*?)。", seed[seed.index("共收到政府信息公开申请") :])
    assert channels
    assert sum(int(n) for n in re.findall(r"(\d+)件", channels.group(1))) == received
    on_time = _number(r"按时办结(\d+)件", seed)
    extended = _number(r"延期办结(\d+)件", seed)
    late = _number(r"逾期办结(\d+)件", seed)
    assert (on_time, extended, late) == (2, 1, 1)
    assert on_time + extended + late == int(_row(table3, "（七）总计")[-1])
    fee = _number(r"依申请公开信息收取费用(\d+)元", seed)
    assert _number(r"共收取信息处理费(\d+)元", overview) == fee == 100
    reviews = _number(r"收到政府信息公开行政复议案件(\d+)件", seed)
    assert int(_table(national, "table4").rows[3][4].text) == reviews == 1
    for fmt in ("seed", "2019", "2021"):
        assert [f for f in validate(figures, fmt) if f.severity == "error"] == [], fmt
