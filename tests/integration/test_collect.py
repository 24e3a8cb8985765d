"""AnnualFigures collected from the ledger and the registers, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from decimal import Decimal
from typing import Any

import pytest

from bot import publishing
from bot.annual.collect import TABLE3_COLUMNS, collect, collect_rollup, report_text
from bot.annual.figures import (
    APPLICANT_COLUMNS,
    RESULT_ROWS,
    TABLE3_ROWS,
    TOTAL_COLUMN,
    AnnualFigures,
    CaseCounts,
    DocumentCounts,
)
from bot.deadlines import WorkCalendar, application_due
from bot.publishing import ItemInput
from storage.ledger import BUSINESS_TZ, local_today
from storage.models import Organization
from storage.register_models import (
    AdminDecisionCount,
    Application,
    Case,
    Complaint,
    InstitutionalFacts,
    NormativeDocument,
    ReportText,
    Response,
)
from tests.integration.helpers import make_org
from tests.seed import SEED_REPORT as SEED

pytestmark = pytest.mark.usefixtures("database")

CALENDAR = WorkCalendar()
SEED_URL = "http://218.27.140.5/zwdtSjgl/index.htm"
SEED_CONTACT = (
    "舒兰市天德乡政务公开办公室，地址：舒兰市天德乡庆丰街内，邮编：132622，"
    "电话：0432-68383016，传真：68383015邮箱：tiandexiang@126.com"
)


def _seed_part(first: str, last: str) -> str:
    """The seed's paragraphs from the one starting with ``first`` to the one with ``last``."""
    lines = [line.strip() for line in SEED.read_text(encoding="utf-8").splitlines()]
    lines = [line for line in lines if line]
    start = next(i for i, line in enumerate(lines) if line.startswith(first))
    end = next(i for i, line in enumerate(lines) if line.startswith(last))
    return "\n".join(lines[start : end + 1])


async def _import(org: Organization, rows: list[tuple[str, bool, dt.datetime, dt.date]]) -> None:
    records = [
        (
            ItemInput(
                org=org,
                title=f"信息{n}",
                body="正文",
                normative=normative,
                formed_on=formed,
                channels=[channel],
            ),
            at,
        )
        for n, (channel, normative, at, formed) in enumerate(rows)
    ]
    await publishing.import_published(records, max_body_bytes=10_000)


def _at(year: int, month: int, day: int) -> dt.datetime:
    return dt.datetime(year, month, day, 10, tzinfo=BUSINESS_TZ)


async def _seed_ledger(org: Organization) -> None:
    """The seed's 2016: website 1, WeChat 8, notice board 1, two normative (制发 3)."""
    rows = [("website", True, _at(2016, 3, 1), dt.date(2016, 3, 1))]
    rows += [
        ("wechat", n == 2, _at(2016, n + 2, 10), dt.date(2016, n + 2, 1)) for n in range(2, 10)
    ]
    rows.append(("noticeboard", False, _at(2016, 12, 30), dt.date(2016, 12, 1)))
    rows.append(("website", True, _at(2017, 1, 5), dt.date(2016, 12, 20)))
    await _import(org, rows)


def _zero_table3() -> dict[str, dict[str, int]]:
    return {key: dict.fromkeys(TABLE3_COLUMNS, 0) for key, _ in TABLE3_ROWS}


async def _application(
    org: Organization, received: dt.date, replied: dt.date | None = None, **extra: Any
) -> Application:
    values: dict[str, Any] = {"channel": "网络", "applicant_type": "自然人", "request": "申请"}
    if replied is not None:
        values["outcome"] = "open"
    values.update(extra)
    return await Application.create(
        organization=org, received_on=received, replied_on=replied, **values
    )


class TestSeed:
    async def test_the_seeds_2016_figures_match_the_oracle(self) -> None:
        """report.md §7.1: every figure of the seed, from the ledger and (empty) registers."""
        org = await make_org()
        await _seed_ledger(org)
        basic = _seed_part("2016年以来", "3.扩大政务公开")
        problems = _seed_part("2016年我乡政府信息公开", "四是要突出重点")
        await ReportText.create(
            organization=org,
            year=2016,
            basic_situation=basic,
            problems=problems,
            publication_url=SEED_URL,
            contact=SEED_CONTACT,
            title_org_name="舒兰市人民政府",
            submitted=True,
        )
        figures = await collect(org, 2016, calendar=CALENDAR)
        assert figures == AnnualFigures(
            org_code="tiande",
            org_name="天德乡人民政府",
            year=2016,
            level="township",
            area_word="全乡",
            title_org_name="舒兰市人民政府",
            active_total=10,
            normative_published=2,
            normative_issued=3,
            ch_website=1,
            ch_wechat=8,
            ch_other=1,
            apps_by_channel={"当面": 0, "网络": 0, "信函": 0, "传真": 0, "其他": 0},
            # 制发规范性文件 3件 and table 二's 本年制发 come from one register (the items
            # marked 规范性文件 count as its entries until linked).
            normative_docs=DocumentCounts(issued=3, in_force=3),
            table3=_zero_table3(),
            basic_situation=basic,
            problems=problems,
            publication_url=SEED_URL,
            contact=SEED_CONTACT,
            generated_on=local_today(),  # the sign-off's date: the seed has no report date
        )
        assert figures.apps_received() == 0
        assert figures.reviews.total + figures.suits_direct.total + figures.complaints == 0

    async def test_a_year_without_texts_starts_from_the_previous_years(self) -> None:
        """2017 has no texts yet: its figures carry copies of 2016's, and nothing is stored."""
        org = await make_org()
        await ReportText.create(
            organization=org, year=2016, problems="2016年的问题", contact="办公室", submitted=True
        )
        figures = await collect(org, 2017, calendar=CALENDAR)
        assert (figures.problems, figures.contact) == ("2017年的问题", "办公室")  # year moved on
        assert await ReportText.filter(year=2017).count() == 0
        own = await ReportText.create(organization=org, year=2017, problems="2017年的问题")
        assert (await collect(org, 2017, calendar=CALENDAR)).problems == own.problems
        assert (await collect(org, 2016, calendar=CALENDAR)).problems == "2016年的问题"


class TestTable3:
    async def test_every_row_and_column_keeps_the_sums(self) -> None:
        """Non-zero cells everywhere: 总计 row and column sums and 一+二 = （七）+四 all hold."""
        org = await make_org()
        expected: dict[tuple[str, str], int] = {}
        rows: list[Application] = []
        for (i, outcome), (j, kind) in itertools.product(
            enumerate(RESULT_ROWS), enumerate(APPLICANT_COLUMNS)
        ):
            n = (i + j) % 3 + 1
            expected[outcome, kind] = n
            received = dt.date(2023, 1 + (i + j) % 11, 3)
            rows += [
                Application(
                    organization=org,
                    received_on=received,
                    replied_on=received + dt.timedelta(days=7),
                    outcome=outcome,
                    channel=("当面", "网络", "信函", "传真", "其他")[(i + j) % 5],
                    applicant_type=kind,
                    request="申请",
                )
                for _ in range(n)
            ]
        for j, kind in enumerate(APPLICANT_COLUMNS):  # 二 and 四 in every column
            common = {"organization": org, "applicant_type": kind, "channel": "信函"}
            rows += [
                Application(received_on=dt.date(2022, 12, 28), request="结转", **common)
                for _ in range(j + 1)
            ]
            rows.append(Application(received_on=dt.date(2023, 12, 29), request="未结", **common))
        await Application.bulk_create(rows)
        table = (await collect(org, 2023, calendar=CALENDAR)).table3

        for (outcome, kind), n in expected.items():
            assert table[outcome][kind] == n, (outcome, kind)
        assert all(table[key][column] > 0 for key, _ in TABLE3_ROWS for column in TABLE3_COLUMNS)
        for column in TABLE3_COLUMNS:
            col = {key: table[key][column] for key, _ in TABLE3_ROWS}
            assert col["total"] == sum(col[key] for key in RESULT_ROWS), column
            assert col["new"] + col["carried_in"] == col["total"] + col["carried_out"], column
        for key, _ in TABLE3_ROWS:
            assert table[key][TOTAL_COLUMN] == sum(table[key][c] for c in APPLICANT_COLUMNS), key
        assert (table["carried_in"][TOTAL_COLUMN], table["carried_out"][TOTAL_COLUMN]) == (21, 27)

    async def test_applications_carried_across_the_year_boundary(self) -> None:
        """Open on 31 Dec: 四 of that year and 二 of the next, until the year it is answered."""
        org = await make_org()
        await _application(org, dt.date(2016, 12, 20), dt.date(2017, 1, 10))  # answered next year
        await _application(org, dt.date(2016, 12, 30), dt.date(2016, 12, 31))  # within 2016
        await _application(org, dt.date(2016, 11, 1))  # never answered
        await _application(org, dt.date(2017, 12, 31), dt.date(2018, 1, 2))  # next year's
        cells = ("new", "carried_in", "total", "carried_out")
        by_year = {}
        for year in (2015, 2016, 2017, 2018):
            table = (await collect(org, year, calendar=CALENDAR)).table3
            by_year[year] = tuple(table[key][TOTAL_COLUMN] for key in cells)
        assert by_year == {
            2015: (0, 0, 0, 0),
            2016: (3, 0, 1, 2),
            2017: (1, 2, 1, 2),
            2018: (0, 2, 1, 1),
        }

    async def test_on_time_extended_late_fees_and_channels(self) -> None:
        """按时/延期办结 follow bot.deadlines; fees and 已主动公开 count the year's replies."""
        org = await make_org()
        received = dt.date(2023, 9, 20)  # the clock runs across National Day
        due = application_due(received, calendar=CALENDAR)
        extended_due = application_due(received, extension_days=10, calendar=CALENDAR)
        await _application(org, received, due, channel="当面", fee_yuan=Decimal("100.00"))
        await _application(
            org, received, extended_due, extension_workdays=10, replies_already_public=True
        )
        await _application(
            org, received, extended_due + dt.timedelta(days=1), extension_workdays=10
        )
        await _application(org, received, channel="传真")  # still open: no 办结, no fee
        figures = await collect(org, 2023, calendar=CALENDAR)
        assert (figures.apps_on_time, figures.apps_extended) == (1, 1)
        assert figures.replies_already_public == 1
        assert figures.fees_collected_yuan == Decimal("100.00")
        assert figures.apps_by_channel == {"当面": 1, "网络": 2, "信函": 0, "传真": 1, "其他": 0}
        assert figures.apps_received() == 4


class TestOtherRegisters:
    async def test_documents_decisions_responses_cases_complaints_and_facts(self) -> None:
        """Every register lands in its figures, counted by the year's rules."""
        org = await make_org()
        add = NormativeDocument.create
        await add(organization=org, kind="行政规范性文件", title="a", issued_on=dt.date(2022, 5, 1))
        await add(
            organization=org,
            kind="行政规范性文件",
            title="b",
            issued_on=dt.date(2020, 1, 1),
            repealed_on=dt.date(2023, 6, 1),
        )
        await add(organization=org, kind="行政规范性文件", title="c", issued_on=dt.date(2023, 2, 1))
        await add(organization=org, kind="规章", title="d", issued_on=dt.date(2024, 1, 5))
        await AdminDecisionCount.create(
            organization=org,
            year=2023,
            licensing=213,
            penalty=5,
            enforcement=2,
            admin_fees_wan=Decimal("1.2500"),
        )
        for kind, title in [("hotspot", "水价"), ("hotspot", "水价"), ("interpretation", "解读")]:
            await Response.create(
                organization=org, kind=kind, title=title, occurred_on=dt.date(2023, 3, 1)
            )
        await Response.create(
            organization=org, kind="other", title="x", occurred_on=dt.date(2022, 1, 1)
        )
        cases: list[tuple[str, str, dt.date | None]] = [
            ("review", "upheld", dt.date(2023, 5, 1)),
            ("review", "corrected", dt.date(2024, 1, 9)),  # closed after 31 Dec: 尚未审结
            ("suit_direct", "other", dt.date(2023, 8, 1)),
            ("suit_after_review", "pending", None),
        ]
        for kind, outcome, closed in cases:
            await Case.create(
                organization=org,
                kind=kind,
                outcome=outcome,
                received_on=dt.date(2023, 4, 1),
                closed_on=closed,
            )
        await Complaint.create(organization=org, received_on=dt.date(2023, 7, 7), summary="s")
        await InstitutionalFacts.create(
            organization=org,
            year=2023,
            staff_full_time=1,
            staff_part_time=3,
            funds_wan=Decimal("2.5"),
            meetings=4,
            trainings=2,
            trainees=30,
        )
        f = await collect(org, 2023, calendar=CALENDAR)
        assert f.normative_docs == DocumentCounts(issued=1, repealed=1, in_force=2)
        assert f.rules == DocumentCounts()
        assert (f.licensing_decisions, f.penalty_decisions, f.enforcement_decisions) == (213, 5, 2)
        assert f.admin_fees_wan == Decimal("1.25")
        assert (f.hotspot_responses, f.responses_total) == (1, 3)
        assert (f.interpretation_articles, f.other_responses) == (1, 2)
        assert f.reviews == CaseCounts(upheld=1, pending=1)
        assert f.suits_direct == CaseCounts(other=1)
        assert f.suits_after_review == CaseCounts(pending=1)
        assert f.complaints == 1
        assert (f.staff_full_time, f.staff_part_time, f.funds_wan) == (1, 3, Decimal("2.5"))
        assert (f.meetings, f.trainings, f.trainees) == (4, 2, 30)
        assert (await collect(org, 2024, calendar=CALENDAR)).rules.in_force == 1


class TestRollup:
    async def test_a_county_sums_its_townships_and_names_who_has_not_submitted(self) -> None:
        """Two townships add up in the county's figures; the one not yet submitted is listed."""
        county = await make_org("shulan", "舒兰市人民政府")
        tiande = await make_org("tiande", "天德乡人民政府", parent=county)
        lianhe = await make_org("lianhe", "联合乡人民政府", parent=county)
        for org, complaints in ((tiande, 2), (lianhe, 1)):
            await _application(org, dt.date(2023, 3, 1), dt.date(2023, 3, 10))
            for _ in range(complaints):
                await Complaint.create(
                    organization=org, received_on=dt.date(2023, 5, 5), summary="s"
                )
            await _import(org, [("website", False, _at(2023, 4, 1), dt.date(2023, 4, 1))])
        await InstitutionalFacts.create(organization=tiande, year=2023, funds_wan=Decimal("1.5"))
        await InstitutionalFacts.create(organization=lianhe, year=2023, funds_wan=Decimal("0.25"))
        await ReportText.create(organization=tiande, year=2023, submitted=True)
        await ReportText.create(organization=lianhe, year=2023, submitted=False)
        await ReportText.create(organization=county, year=2023, problems="全市的问题")

        submitted_only, missing = await collect_rollup(county, 2023, calendar=CALENDAR)
        assert missing == ["联合乡人民政府"] == submitted_only.rollup_missing
        assert not submitted_only.rollup_counts_missing
        assert (submitted_only.complaints, submitted_only.active_total) == (2, 1)
        assert submitted_only.funds_wan == Decimal("1.5")

        figures, missing = await collect_rollup(
            county, 2023, calendar=CALENDAR, include_unsubmitted=True
        )
        assert missing == ["联合乡人民政府"]
        assert figures.rollup_counts_missing
        assert (figures.org_code, figures.level, figures.problems) == (
            "shulan",
            "county",
            "全市的问题",
        )
        assert (figures.complaints, figures.active_total, figures.ch_website) == (3, 2, 2)
        assert figures.table3["new"] == {**dict.fromkeys(TABLE3_COLUMNS, 0), "自然人": 2, "总计": 2}
        assert (figures.apps_on_time, figures.funds_wan) == (2, Decimal("1.75"))
        assert figures.apps_by_channel["网络"] == 2
        township = await collect(tiande, 2023, calendar=CALENDAR)
        assert (township.complaints, township.table3["new"][TOTAL_COLUMN]) == (2, 1)

    async def test_a_township_with_no_text_at_all_is_listed(self) -> None:
        """No ReportText row for the year means not submitted."""
        county = await make_org("shulan", "舒兰市人民政府")
        await make_org("tiande", "天德乡人民政府", parent=county)
        _figures, missing = await collect_rollup(county, 2023, calendar=CALENDAR)
        assert missing == ["天德乡人民政府"]


class TestDrafts:
    async def _seed_texts(self) -> tuple[Organization, Organization]:
        county = await make_org("shulan", "舒兰市人民政府")
        tiande = await make_org("tiande", "天德乡人民政府", parent=county)
        await ReportText.create(
            organization=tiande,
            year=2016,
            basic_situation=_seed_part("2016年以来", "3.扩大政务公开"),
            problems=_seed_part("2016年我乡政府信息公开", "四是要突出重点"),
            contact=SEED_CONTACT,
            title_org_name="舒兰市人民政府",
            submitted=True,
        )
        return county, tiande

    async def test_a_2025_draft_of_the_seed_moves_every_year(self) -> None:
        _county, tiande = await self._seed_texts()
        draft = await report_text(tiande, 2025)
        assert draft.pk is None
        text = draft.basic_situation + draft.problems
        assert draft.basic_situation.startswith("2025年以来，")
        assert "2026年，我乡将针对存在的问题" in draft.problems
        assert not re.search(r"201[5-7]年", text)
        assert draft.title_org_name == ""  # the seed's title quirk is not carried on
        assert "舒兰市" in text  # its own county, rightly kept

    async def test_a_town_drafting_from_a_township_sibling_speaks_for_itself(self) -> None:
        county, _tiande = await self._seed_texts()
        xinan = await make_org("xinan", "新安镇人民政府", parent=county)
        draft = await report_text(xinan, 2025)
        text = draft.basic_situation + draft.problems
        assert "天德" not in text
        assert not re.search(r"我乡|全乡|乡党委|乡政府", text)
        assert "2025年以来，在镇党委、镇政府的正确领导" in draft.basic_situation
        assert "2026年，我镇将" in draft.problems
        assert "新安镇网站建设" in draft.basic_situation
        assert (draft.contact, draft.title_org_name) == ("", "")
