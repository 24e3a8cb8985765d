"""Behaviour of the built-in static website channel."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import errno
import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from channels.base import (
    Channel,
    Committed,
    ConfigurationError,
    PermanentError,
    Publishable,
    TemporaryError,
)
from channels.website import StaticWebsite, category_slug, translate_os_error

BASE_URL = "https://gk.example.gov.cn/site"
ATOM = "{http://www.w3.org/2005/Atom}"


def make_pub(lineage_id: int = 1, revision: int = 1, **changes: Any) -> Publishable:
    """Build a Publishable for tests; keyword arguments override fields."""
    pub = Publishable(
        delivery_id=lineage_id * 100 + revision,
        idempotency_key=f"website:{lineage_id}:{revision}",
        org_code="xz001",
        org_name="青山镇人民政府",
        item_id=lineage_id * 10 + revision,
        lineage_id=lineage_id,
        revision=revision,
        index_no=f"11330100-2024-{lineage_id:05d}",
        title=f"关于做好第{lineage_id}批春耕备耕工作的通知",
        body_md="正文",
        body_html="<p>各村（社区）：<strong>请认真落实</strong>。</p>",
        summary="部署春耕备耕工作。",
        category="农业、林业、水利",
        doc_number="青政发〔2024〕3号",
        normative=False,
        formed_on=dt.date(2024, 3, 1),
        publish_date=dt.date(2024, 3, 5),
    )
    return dataclasses.replace(pub, **changes)


@pytest.fixture
def site(tmp_path: Path) -> StaticWebsite:
    return StaticWebsite(tmp_path / "site", base_url=BASE_URL + "/")


@pytest.fixture
def org_dir(tmp_path: Path) -> Path:
    return tmp_path / "site" / "xz001"


async def publish(site: StaticWebsite, pub: Publishable) -> Committed:
    """Run prepare then commit, as the dispatcher does."""
    return await site.commit(pub, await site.prepare(pub))


def read(path: Path) -> str:
    return path.read_text("utf-8")


def manifest(org_dir: Path) -> dict[str, Any]:
    state = org_dir.parent.parent / "site-state" / org_dir.name
    data: dict[str, Any] = json.loads(read(state / "manifest.json"))
    return data


def parse_xml(path: Path) -> ET.Element:
    """Parse a file this test wrote itself, so plain ElementTree is fine."""
    return ET.fromstring(path.read_bytes())  # noqa: S314 - our own output, not untrusted


def snapshot(directory: Path) -> dict[Path, bytes]:
    """Return the bytes of every file under ``directory``."""
    return {p: p.read_bytes() for p in directory.rglob("*") if p.is_file()}


class TestContract:
    def test_satisfies_channel_protocol(self, site: StaticWebsite) -> None:
        """StaticWebsite is a Channel named website whose commits may be repeated."""
        assert isinstance(site, Channel)
        assert site.name == "website"
        assert site.commit_repeatable is True

    async def test_prepare_makes_nothing_public(self, site: StaticWebsite, tmp_path: Path) -> None:
        """prepare returns the page path and digest without writing any file."""
        prepared = await site.prepare(make_pub())
        assert prepared["path"] == "xz001/items/1.html"
        assert re.fullmatch(r"[0-9a-f]{64}", prepared["sha256"])
        assert not (tmp_path / "site").exists()
        json.dumps(prepared)

    async def test_commit_returns_path_and_url(self, site: StaticWebsite) -> None:
        """commit returns the relative page path and its absolute URL under base_url."""
        committed = await publish(site, make_pub(lineage_id=7))
        assert committed.external_id == "xz001/items/7.html"
        assert committed.url == f"{BASE_URL}/xz001/items/7.html"
        assert await site.poll(make_pub(lineage_id=7)) is None

    async def test_unsafe_org_code_is_configuration_error(self, site: StaticWebsite) -> None:
        """An org_code that is not a plain directory name is rejected as misconfiguration."""
        with pytest.raises(ConfigurationError):
            await publish(site, make_pub(org_code="../etc"))


class TestItemPage:
    async def test_page_has_title_metadata_and_body(
        self, site: StaticWebsite, org_dir: Path
    ) -> None:
        """The page shows the title, every metadata row, the summary and the body HTML."""
        await publish(site, make_pub())
        html = read(org_dir / "items" / "1.html")
        assert '<html lang="zh-CN">' in html
        assert '<meta charset="utf-8">' in html
        assert 'name="viewport"' in html
        assert "<h1>关于做好第1批春耕备耕工作的通知</h1>" in html
        for label, value in [
            ("索引号", "11330100-2024-00001"),
            ("发布机构", "青山镇人民政府"),
            ("成文日期", "2024-03-01"),
            ("发布日期", "2024-03-05"),
            ("文号", "青政发〔2024〕3号"),
            ("主题分类", "农业、林业、水利"),
        ]:
            assert f"<tr><th>{label}</th><td>{value}</td></tr>" in html
        assert "内容概述" in html
        assert "部署春耕备耕工作。" in html
        assert "<p>各村（社区）：<strong>请认真落实</strong>。</p>" in html
        assert "<link" not in html
        assert "<script" not in html

    async def test_summary_section_omitted_when_empty(
        self, site: StaticWebsite, org_dir: Path
    ) -> None:
        """Without a summary the 内容概述 block is left out, and a missing 成文日期 shows a dash."""
        await publish(site, make_pub(summary="", formed_on=None, doc_number=""))
        html = read(org_dir / "items" / "1.html")
        assert "内容概述" not in html
        assert "<tr><th>成文日期</th><td>—</td></tr>" in html
        assert "<tr><th>文号</th><td>—</td></tr>" in html

    async def test_markup_in_text_fields_is_escaped(
        self, site: StaticWebsite, org_dir: Path
    ) -> None:
        """Title, category and summary are escaped, so injected markup stays inert."""
        attack = '<script>alert("x")</script><img src=x onerror=alert(1)>'
        await publish(site, make_pub(title="通知" + attack, category=attack, summary=attack))
        for page in [org_dir / "items" / "1.html", org_dir / "index.html"]:
            html = read(page)
            assert "<script>" not in html
            assert "<img src=x" not in html
            assert "&lt;script&gt;" in html
        category_page = org_dir / "category" / f"{category_slug(attack)}.html"
        assert "<script>" not in read(category_page)
        parse_xml(org_dir / "atom.xml")

    async def test_chinese_is_written_as_utf8_text(
        self, site: StaticWebsite, org_dir: Path
    ) -> None:
        """Chinese text is stored as UTF-8 characters, not as numeric entities."""
        await publish(site, make_pub())
        raw = (org_dir / "items" / "1.html").read_bytes()
        assert "青山镇人民政府".encode() in raw
        assert b"&#" not in raw
        assert "青山镇人民政府" in manifest(org_dir)["org_name"]


class TestWrites:
    async def test_no_temp_files_left_behind(self, site: StaticWebsite, tmp_path: Path) -> None:
        """After commits and a withdrawal only final files remain in the site tree."""
        await publish(site, make_pub(1))
        await publish(site, make_pub(2))
        await site.withdraw(make_pub(1))
        leftovers = [p for p in (tmp_path / "site").rglob("*") if p.name.endswith(".tmp")]
        assert leftovers == []

    async def test_commit_leaves_other_item_pages_untouched(
        self, site: StaticWebsite, org_dir: Path
    ) -> None:
        """Publishing one item does not rewrite the page of another item."""
        await publish(site, make_pub(1))
        other = org_dir / "items" / "1.html"
        os.utime(other, ns=(1_000_000_000, 1_000_000_000))
        await publish(site, make_pub(2, category="财政信息"))
        assert other.stat().st_mtime_ns == 1_000_000_000

    async def test_commit_leaves_unrelated_year_and_category_untouched(
        self, site: StaticWebsite, org_dir: Path
    ) -> None:
        """Publishing in 2024 does not rewrite the 2023 year page or other categories."""
        await publish(site, make_pub(1, publish_date=dt.date(2023, 6, 1), category="财政信息"))
        pages = [
            org_dir / "2023" / "index.html",
            org_dir / "category" / f"{category_slug('财政信息')}.html",
        ]
        for page in pages:
            os.utime(page, ns=(1_000_000_000, 1_000_000_000))
        await publish(site, make_pub(2))
        assert [p.stat().st_mtime_ns for p in pages] == [1_000_000_000, 1_000_000_000]

    async def test_repeat_commit_is_harmless(self, site: StaticWebsite, org_dir: Path) -> None:
        """Committing the same delivery twice returns the same result and keeps one entry."""
        pub = make_pub()
        first = await publish(site, pub)
        before = snapshot(org_dir)
        second = await publish(site, pub)
        assert first == second
        assert list(manifest(org_dir)["entries"]) == ["1"]
        assert snapshot(org_dir) == before

    async def test_newer_revision_overwrites(self, site: StaticWebsite, org_dir: Path) -> None:
        """A newer revision of the same lineage replaces the page and the manifest entry."""
        await publish(site, make_pub(revision=1))
        await publish(site, make_pub(revision=2, title="修订后的通知"))
        assert "修订后的通知" in read(org_dir / "items" / "1.html")
        entry = manifest(org_dir)["entries"]["1"]
        assert (entry["revision"], entry["title"]) == (2, "修订后的通知")

    async def test_older_revision_does_not_overwrite(
        self, site: StaticWebsite, org_dir: Path
    ) -> None:
        """A late commit of an older revision leaves the newer page in place."""
        await publish(site, make_pub(revision=3, title="第三版"))
        committed = await publish(site, make_pub(revision=2, title="第二版"))
        assert committed.url == f"{BASE_URL}/xz001/items/1.html"
        assert "第三版" in read(org_dir / "items" / "1.html")
        assert manifest(org_dir)["entries"]["1"]["revision"] == 3

    async def test_concurrent_commits_all_reach_the_manifest(self, tmp_path: Path) -> None:
        """Commits racing from separate channel instances all land in the manifest and index."""
        sites = [StaticWebsite(tmp_path / "site", base_url=BASE_URL) for _ in range(4)]
        pubs = [make_pub(n) for n in range(1, 21)]
        await asyncio.gather(*(publish(sites[n % 4], pub) for n, pub in enumerate(pubs)))
        org_dir = tmp_path / "site" / "xz001"
        assert sorted(map(int, manifest(org_dir)["entries"])) == list(range(1, 21))
        index = read(org_dir / "index.html")
        assert all(f'href="items/{n}.html"' in index for n in range(1, 21))


class TestIndexes:
    async def test_org_index_lists_newest_first_by_year(
        self, site: StaticWebsite, org_dir: Path
    ) -> None:
        """The org index lists items newest first under year headings with year links."""
        await publish(site, make_pub(1, title="旧通知", publish_date=dt.date(2023, 12, 1)))
        await publish(site, make_pub(2, title="新通知", publish_date=dt.date(2024, 1, 2)))
        index = read(org_dir / "index.html")
        assert index.index("新通知") < index.index("旧通知")
        assert index.index("2024年</h2>") < index.index("2023年</h2>")
        assert 'href="2023/index.html"' in index
        assert "新通知" not in read(org_dir / "2023" / "index.html")
        assert 'href="../items/2.html"' in read(org_dir / "2024" / "index.html")

    async def test_category_page_uses_safe_slug_linked_from_index(
        self, site: StaticWebsite, org_dir: Path
    ) -> None:
        """Each 主题分类 gets an ASCII file name that the index and item page link to."""
        await publish(site, make_pub(category="财政信息/预决算"))
        slug = category_slug("财政信息/预决算")
        assert re.fullmatch(r"[0-9a-f]+", slug)
        page = org_dir / "category" / f"{slug}.html"
        assert "财政信息/预决算" in read(page)
        assert 'href="../items/1.html"' in read(page)
        assert f'href="category/{slug}.html"' in read(org_dir / "index.html")
        assert f'href="../category/{slug}.html"' in read(org_dir / "items" / "1.html")

    async def test_atom_feed_is_valid_with_absolute_urls(
        self, site: StaticWebsite, org_dir: Path
    ) -> None:
        """atom.xml parses as Atom with the newest 50 entries and absolute links."""
        for n in range(1, 56):
            await publish(site, make_pub(n, publish_date=dt.date(2024, 1, 1) + dt.timedelta(n)))
        feed = parse_xml(org_dir / "atom.xml")
        assert feed.tag == f"{ATOM}feed"
        for tag in ("id", "title", "updated", "author"):
            assert feed.find(f"{ATOM}{tag}") is not None
        entries = feed.findall(f"{ATOM}entry")
        assert len(entries) == 50
        first_link = entries[0].find(f"{ATOM}link")
        assert first_link is not None
        assert first_link.get("href") == f"{BASE_URL}/xz001/items/55.html"
        assert entries[0].findtext(f"{ATOM}title") == "关于做好第55批春耕备耕工作的通知"
        for entry in entries:
            assert dt.datetime.fromisoformat(entry.findtext(f"{ATOM}updated") or "").tzinfo


class TestWithdraw:
    async def test_withdraw_removes_page_and_listings(
        self, site: StaticWebsite, org_dir: Path
    ) -> None:
        """Withdrawal deletes the page, drops it from every index and the feed, and says so."""
        await publish(site, make_pub(1))
        await publish(site, make_pub(2))
        withdrawal = await site.withdraw(make_pub(1))
        assert not (org_dir / "items" / "1.html").exists()
        assert manifest(org_dir)["entries"]["1"]["withdrawn"] is True
        slug = category_slug("农业、林业、水利")
        for page in ["index.html", "2024/index.html", f"category/{slug}.html", "atom.xml"]:
            assert "items/1.html" not in read(org_dir / page)
            assert "items/2.html" in read(org_dir / page)
        assert withdrawal.undone
        assert withdrawal.not_undone

    async def test_withdraw_twice_is_harmless(self, site: StaticWebsite) -> None:
        """Withdrawing something already withdrawn reports that nothing was left to remove."""
        await publish(site, make_pub())
        await site.withdraw(make_pub())
        again = await site.withdraw(make_pub())
        assert again.undone
        assert again.not_undone == []

    async def test_withdrawing_a_replaced_revision_keeps_the_page(
        self, site: StaticWebsite, org_dir: Path
    ) -> None:
        """Withdrawing an older revision leaves the newer revision's page public."""
        await publish(site, make_pub(revision=2))
        await site.withdraw(make_pub(revision=1))
        assert (org_dir / "items" / "1.html").exists()

    async def test_older_revision_cannot_resurrect_withdrawn_item(
        self, site: StaticWebsite, org_dir: Path
    ) -> None:
        """A late commit of an older revision after withdrawal is refused permanently."""
        await publish(site, make_pub(revision=2))
        await site.withdraw(make_pub(revision=2))
        with pytest.raises(PermanentError):
            await publish(site, make_pub(revision=1))
        assert not (org_dir / "items" / "1.html").exists()


class TestCheckAndErrors:
    async def test_check_reports_writable_directory(self, site: StaticWebsite) -> None:
        """check() returns a Chinese status line when site_dir is writable."""
        status = await site.check()
        assert "可写" in status
        await site.aclose()

    async def test_check_rejects_unusable_directory(self, tmp_path: Path) -> None:
        """check() raises ConfigurationError when site_dir cannot be a directory."""
        blocker = tmp_path / "file"
        blocker.write_text("x")
        with pytest.raises(ConfigurationError):
            await StaticWebsite(blocker / "site", base_url=BASE_URL).check()

    async def test_commit_into_unusable_directory_is_configuration_error(
        self, tmp_path: Path
    ) -> None:
        """An OS error from a wrong site_dir surfaces as ConfigurationError, not OSError."""
        blocker = tmp_path / "file"
        blocker.write_text("x")
        site = StaticWebsite(blocker, base_url=BASE_URL)
        with pytest.raises(ConfigurationError) as info:
            await publish(site, make_pub())
        assert isinstance(info.value.__cause__, OSError)

    @pytest.mark.parametrize(
        ("code", "expected"),
        [
            (errno.ENOSPC, TemporaryError),
            (errno.EIO, TemporaryError),
            (errno.EACCES, ConfigurationError),
            (errno.EROFS, ConfigurationError),
        ],
    )
    def test_os_errors_translate(self, code: int, expected: type[Exception]) -> None:
        """Disk-full style errors are temporary; permission errors are configuration errors."""
        error = translate_os_error(OSError(code, os.strerror(code)), "发布到网站")
        assert type(error) is expected
        assert "发布到网站" in str(error)


class TestPrivacy:
    async def test_nothing_private_is_in_the_public_tree(
        self, site: StaticWebsite, org_dir: Path
    ) -> None:
        """The manifest and lock file live outside the served folder."""
        pub = make_pub()
        await publish(site, pub)
        await site.withdraw(pub)
        public = {p.name for p in org_dir.rglob("*")}
        assert "manifest.json" not in public
        assert not any(name.startswith(".") for name in public)
