"""One suite every channel passes: the promises of channels/base.py, checked for real."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from channels.base import Channel, Confirmable, Publishable, Withdrawable, Withdrawal
from channels.cms import CmsWebsite
from channels.contract import ContractSubject, SubjectFactory, packaged_subjects
from channels.noticeboard import NoticeBoard
from channels.registry import CHANNEL_NAMES
from channels.website import StaticWebsite
from channels.wechat import WeChatChannel
from channels.wechat.tokens import MemoryMediaStore, MemoryTokenStore
from tests.fakes.cms import FakeCms
from tests.fakes.wechat import FakeWeChat
from tests.fakes.wechat_stores import MemoryAccounts, MemoryJobStore, account

FONT = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")


Subject = ContractSubject


def _pub(key: str = "a" * 32, delivery_id: int = 1) -> Publishable:
    return Publishable(
        delivery_id=delivery_id,
        idempotency_key=key,
        org_code="tiande",
        org_name="天德乡人民政府",
        item_id=delivery_id,
        lineage_id=delivery_id,
        revision=1,
        index_no=f"tiande/2026-{delivery_id:05d}",
        title="关于春耕生产的通知",
        body_md="正文",
        body_html="<p>正文</p>",
        summary="",
        category="工作动态",
        doc_number="天德发〔2026〕1号",
        normative=False,
        formed_on=dt.date(2026, 3, 1),
        publish_date=dt.date(2026, 3, 2),
    )


async def _static(tmp_path: Path) -> AsyncIterator[Subject]:
    site = tmp_path / "site"
    channel = StaticWebsite(site, base_url="http://127.0.0.1:8000/site")

    def copies(pub: Publishable) -> int:
        return len(list(site.glob(f"{pub.org_code}/items/{pub.lineage_id}.html")))

    yield Subject(channel, copies)


async def _cms(tmp_path: Path) -> AsyncIterator[Subject]:
    with FakeCms.start("contract-secret") as cms:
        channel = CmsWebsite(cms.url, secret="contract-secret", timeout=5)

        def copies(pub: Publishable) -> int:
            return sum(1 for item in cms.created.values() if item["id_key"] == pub.idempotency_key)

        yield Subject(channel, copies)
        await channel.aclose()


async def _board(tmp_path: Path) -> AsyncIterator[Subject]:
    queue = tmp_path / "printqueue"
    channel = NoticeBoard(queue, font_path=FONT)

    def copies(pub: Publishable) -> int:
        return len(list(queue.glob(f"{pub.org_code}/{pub.idempotency_key}.pdf")))

    yield Subject(channel, copies)


async def _wechat(tmp_path: Path) -> AsyncIterator[Subject]:
    with FakeWeChat.start(
        appid="wx00aa11bb22cc33dd", secret="contract-secret", kind="service", mass_delay=0.01
    ) as wx:
        channel = WeChatChannel(
            accounts=MemoryAccounts(account("tiande", "wx00aa11bb22cc33dd", "contract-secret")),
            jobs=MemoryJobStore(),
            tokens=MemoryTokenStore(),
            media=MemoryMediaStore(),
            api_base=wx.api_base,
            timeout=5,
            font_path=FONT,
            slot_window=dt.timedelta(hours=2),
            poll_interval=dt.timedelta(0),
        )

        def copies(pub: Publishable) -> int:
            return sum(
                1
                for job in wx.sent_mass()
                for idx, article in enumerate(job.articles, start=1)
                if article["title"] == pub.title
                and article.get("author") is not None
                and idx not in job.deleted_idx
                and 0 not in job.deleted_idx
                and job.clientmsgid == pub.idempotency_key
            )

        yield Subject(channel, copies)
        await channel.aclose()


# The first channels' subjects live here; newer channels ship theirs in their own folder
# (channels/<name>/testing.py). Either way every registered channel is covered.
KEPT_HERE: dict[str, dict[str, SubjectFactory]] = {
    "website": {"static-website": _static, "cms-website": _cms},
    "noticeboard": {"noticeboard": _board},
    "wechat": {"wechat": _wechat},
}


def _factories() -> dict[str, SubjectFactory]:
    found: dict[str, SubjectFactory] = {}
    for name in CHANNEL_NAMES:
        found.update(KEPT_HERE.get(name) or packaged_subjects(name))
    return found


FACTORIES = _factories()


def test_every_registered_channel_has_a_contract_subject() -> None:
    """A channel added to the registry cannot skip the contract suite."""
    missing = [n for n in CHANNEL_NAMES if not (KEPT_HERE.get(n) or packaged_subjects(n))]
    assert missing == []


@pytest.fixture(params=sorted(FACTORIES))
async def subject(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Subject]:
    async for made in FACTORIES[request.param](tmp_path):
        yield made


class TestContract:
    async def test_satisfies_the_protocol(self, subject: Subject) -> None:
        """The channel has every method and attribute of the contract, and a known name."""
        assert isinstance(subject.channel, Channel)
        assert subject.channel.name in CHANNEL_NAMES
        assert isinstance(subject.channel.commit_repeatable, bool)
        if isinstance(subject.channel, Confirmable):
            assert isinstance(subject.channel.polls_confirmation, bool)

    async def test_prepare_makes_nothing_public(self, subject: Subject) -> None:
        """prepare may be repeated freely because nothing is public after it."""
        pub = _pub()
        first = await subject.channel.prepare(pub)
        second = await subject.channel.prepare(pub)
        assert first == second
        assert subject.public_copies(pub) == 0

    async def test_commit_makes_it_public_once(self, subject: Subject) -> None:
        """One commit makes exactly one public copy."""
        pub = _pub()
        prepared = await subject.channel.prepare(pub)
        result = await subject.channel.commit(replace(pub, prepared=prepared), prepared)
        assert result.external_id
        assert subject.public_copies(pub) == 1

    async def test_repeatable_commit_is_harmless_when_repeated(self, subject: Subject) -> None:
        """A channel that says its commit is repeatable really publishes once on a repeat."""
        if not subject.channel.commit_repeatable:
            pytest.skip("this channel's commit is not repeatable; the dispatcher never repeats it")
        pub = _pub()
        prepared = await subject.channel.prepare(pub)
        first = await subject.channel.commit(pub, prepared)
        second = await subject.channel.commit(pub, prepared)
        assert first.external_id == second.external_id
        assert subject.public_copies(pub) == 1

    async def test_different_deliveries_do_not_collide(self, subject: Subject) -> None:
        """Two deliveries with different keys are two publications."""
        one, two = _pub("a" * 32, 1), _pub("b" * 32, 2)
        for pub in (one, two):
            await subject.channel.commit(pub, await subject.channel.prepare(pub))
        assert (subject.public_copies(one), subject.public_copies(two)) == (1, 1)

    async def test_withdraw_takes_it_down_and_reports_in_words(self, subject: Subject) -> None:
        """After withdraw nothing is public, and the report says what was and was not undone."""
        if not isinstance(subject.channel, Withdrawable):
            pytest.skip("this channel cannot withdraw; staff get a note to act by hand")
        pub = _pub()
        result = await subject.channel.commit(pub, await subject.channel.prepare(pub))
        withdrawal = await subject.channel.withdraw(
            replace(pub, external_id=result.external_id, url=result.url)
        )
        assert isinstance(withdrawal, Withdrawal)
        assert withdrawal.undone
        assert all(
            isinstance(line, str) and line for line in withdrawal.undone + withdrawal.not_undone
        )
        assert subject.public_copies(pub) == 0

    async def test_check_answers_in_words(self, subject: Subject) -> None:
        """The 'test connection' button gets a readable status."""
        status = await subject.channel.check()
        assert isinstance(status, str)
        assert status
