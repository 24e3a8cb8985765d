"""Section 二 of the annual report, computed from the ledger, word for word as the seed."""

from __future__ import annotations

import datetime as dt

import pytest

from bot import publishing
from bot.annual.collect import collect
from bot.deadlines import WorkCalendar
from bot.publishing import ItemInput
from bot.report import channel_section
from storage.ledger import BUSINESS_TZ, channel_tally, items_counted
from storage.models import Organization
from storage.register_models import NormativeDocument
from tests.fakes.channel import ScriptedChannel
from tests.integration.helpers import dispatcher, make_org, queue
from tests.seed import SEED_REPORT as SEED

pytestmark = pytest.mark.usefixtures("database")


def _seed_lines() -> tuple[str, str]:
    lines = [line.strip() for line in SEED.read_text(encoding="utf-8").splitlines()]
    active = next(line for line in lines if line.startswith("（一）主动公开政府信息情况"))
    channels = next(line for line in lines if line.startswith("（二）通过不同渠道和方式公开"))
    return active, channels


def _record(
    org: Organization,
    n: int,
    channel: str,
    *,
    normative: bool = False,
    at: dt.datetime,
    formed: dt.date | None = None,
) -> tuple[ItemInput, dt.datetime]:
    data = ItemInput(
        org=org,
        title=f"2016年第{n}条信息",
        body="正文",
        normative=normative,
        formed_on=formed or at.date(),
        channels=[channel],
    )
    return data, at


def _beijing(month: int, day: int, year: int = 2016, hour: int = 10) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=BUSINESS_TZ)


async def _seed_dataset(org: Organization) -> None:
    """10 items in 2016: website 1 (normative), WeChat 8 (one normative), notice board 1,
    plus a normative document formed in 2016 but published in 2017 (制发 3, 公开 2)."""
    records = [_record(org, 1, "website", normative=True, at=_beijing(3, 1))]
    records += [
        _record(org, n, "wechat", normative=(n == 2), at=_beijing(n + 2, 10)) for n in range(2, 10)
    ]
    records.append(_record(org, 10, "noticeboard", at=_beijing(12, 31, hour=23)))
    records.append(
        _record(
            org,
            11,
            "website",
            normative=True,
            at=_beijing(1, 5, year=2017),
            formed=dt.date(2016, 12, 20),
        )
    )
    await publishing.import_published(records, max_body_bytes=10_000)


class TestSeedReport:
    async def test_seed_paragraphs_are_reproduced_exactly(self) -> None:
        """The seed's 二(一) and 二(二) sentences come out of the ledger character for character."""
        org = await make_org()
        await _seed_dataset(org)
        section = await channel_section(org, 2016)
        expected_active, expected_channels = _seed_lines()
        assert section.active_paragraph == expected_active
        assert section.channel_paragraph == expected_channels

    async def test_tally_figures_behind_the_sentences(self) -> None:
        """The 2016 tally is 10 total, 2 normative, 1/8/1 by channel, and 3 issued."""
        org = await make_org()
        await _seed_dataset(org)
        section = await channel_section(org, 2016)
        assert section.tally.as_dict() == {
            "total": 10,
            "normative": 2,
            "website": 1,
            "wechat": 8,
            "other": 1,
        }
        assert section.normative_issued == 3

    async def test_issued_count_is_the_registers_as_in_table_two(self) -> None:
        """制发规范性文件 counts the 规范性文件 register (its own entries, and the items marked
        规范性文件 that no entry lists), the source table 二 counts, not items alone."""
        org = await make_org()
        await _seed_dataset(org)
        await NormativeDocument.create(
            organization=org, kind="行政规范性文件", title="只在台账登记的文件",
            issued_on=dt.date(2016, 8, 1),
        )  # fmt: skip
        await NormativeDocument.create(
            organization=org, kind="规章", title="规章不计入", issued_on=dt.date(2016, 8, 2)
        )
        section = await channel_section(org, 2016)
        assert section.normative_issued == 4
        assert "制发规范性文件4件" in section.active_paragraph
        figures = await collect(org, 2016, calendar=WorkCalendar())
        assert figures.normative_docs.issued == section.normative_issued

    async def test_each_number_links_to_the_items_it_counts(self) -> None:
        """The lineage ids behind a channel figure are exactly the items published there."""
        org = await make_org()
        await _seed_dataset(org)
        assert len(await items_counted(org.id, 2016, channel_bucket="wechat")) == 8
        assert len(await items_counted(org.id, 2016, normative_only=True)) == 2
        assert len(await items_counted(org.id, 2017)) == 1


class TestYearBoundaries:
    async def test_late_evening_of_31_december_beijing_counts_in_that_year(self) -> None:
        """23:30 on 31 Dec in Beijing is 15:30 UTC: the item belongs to the Beijing year."""
        org = await make_org()
        late = dt.datetime(2016, 12, 31, 23, 30, tzinfo=BUSINESS_TZ)
        early = dt.datetime(2017, 1, 1, 0, 10, tzinfo=BUSINESS_TZ)  # 16:10 UTC on 31 Dec
        await publishing.import_published(
            [_record(org, 1, "website", at=late), _record(org, 2, "website", at=early)],
            max_body_bytes=10_000,
        )
        assert (await channel_tally(org.id, 2016)).total == 1
        assert (await channel_tally(org.id, 2017)).total == 1

    async def test_dispatcher_publication_uses_the_beijing_date(self) -> None:
        """A delivery published at 16:30 UTC on 31 Dec enters the ledger as 1 Jan (Beijing)."""
        org = await make_org()
        ch = ScriptedChannel()
        moment = dt.datetime(2025, 12, 31, 16, 30, tzinfo=dt.UTC)
        await queue(org, {"website": ch}, publish_at=moment)
        await dispatcher({"website": ch}, now=moment).run_until_idle()
        assert (await channel_tally(org.id, 2025)).total == 0
        assert (await channel_tally(org.id, 2026)).website == 1


class TestCounting:
    async def test_an_item_on_several_channels_counts_once_in_the_total(self) -> None:
        """不同渠道和方式公开相同信息计1条: one item on two channels is 1 total, 1 per channel."""
        org = await make_org()
        at = _beijing(5, 5)
        data = ItemInput(org=org, title="多渠道", body="正文", channels=["website", "wechat"])
        await publishing.import_published([(data, at)], max_body_bytes=10_000)
        tally = await channel_tally(org.id, 2016)
        assert (tally.total, tally.website, tally.wechat, tally.other) == (1, 1, 1, 0)

    async def test_other_organizations_are_not_counted(self) -> None:
        """A tally reads only its own organization's ledger rows."""
        org, other = await make_org(), await make_org("lianhe", "联合乡人民政府")
        await publishing.import_published(
            [_record(other, 1, "wechat", at=_beijing(4, 4))], max_body_bytes=10_000
        )
        assert (await channel_tally(org.id, 2016)).total == 0
        assert (await channel_tally(other.id, 2016)).wechat == 1

    async def test_area_word_follows_the_organization(self) -> None:
        """A town's paragraph says 全镇, and an explicit area word wins."""
        town = await Organization.create(code="zhen", name="平安镇人民政府")
        bureau = await Organization.create(code="ju", name="市场监督管理局", area_word="本局")
        assert "2016年全镇主动公开信息0条" in (await channel_section(town, 2016)).active_paragraph
        assert "2016年本局主动公开" in (await channel_section(bureau, 2016)).active_paragraph
