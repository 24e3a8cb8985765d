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


def state_dir(org_dir: Path) -> Path:
    return org_dir.parent.parent / "site-state" / org_dir.name


def meta(org_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(read(state_dir(org_dir) / "meta.json"))
    return data


def entry(org_dir: Path, lineage_id: int) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(read(state_dir(org_dir) / "entries" / f"{lineage_id}.json"))
    return data


def entry_ids(org_dir: Path) -> list[int]:
    return sorted(int(p.stem) for p in (state_dir(org_dir) / "entries").glob("*.json"))


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
        assert "青山镇人民政府" in meta(org_dir)["org_name"]


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
        assert entry_ids(org_dir) == [1]
        assert snapshot(org_dir) == before

    async def test_newer_revision_overwrites(self, site: StaticWebsite, org_dir: Path) -> None:
        """A newer revision of the same lineage replaces the page and the stored entry."""
        await publish(site, make_pub(revision=1))
        await publish(site, make_pub(revision=2, title="修订后的通知"))
        assert "修订后的通知" in read(org_dir / "items" / "1.html")
        stored = entry(org_dir, 1)
        assert (stored["revision"], stored["title"]) == (2, "修订后的通知")

    async def test_older_revision_does_not_overwrite(
        self, site: StaticWebsite, org_dir: Path
    ) -> None:
        """A late commit of an older revision leaves the newer page in place."""
        await publish(site, make_pub(revision=3, title="第三版"))
        committed = await publish(site, make_pub(revision=2, title="第二版"))
        assert committed.url == f"{BASE_URL}/xz001/items/1.html"
        assert "第三版" in read(org_dir / "items" / "1.html")
        assert entry(org_dir, 1)["revision"] == 3

    async def test_concurrent_commits_all_reach_the_state(self, tmp_path: Path) -> None:
        """Commits racing from separate channel instances all land in the state and index."""
        sites = [StaticWebsite(tmp_path / "site", base_url=BASE_URL) for _ in range(4)]
        pubs = [make_pub(n) for n in range(1, 21)]
        await asyncio.gather(*(publish(sites[n % 4], pub) for n, pub in enumerate(pubs)))
        org_dir = tmp_path / "site" / "xz001"
        assert entry_ids(org_dir) == list(range(1, 21))
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
        assert entry(org_dir, 1)["withdrawn"] is True
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
        """The page state and lock file live outside the served folder."""
        pub = make_pub()
        await publish(site, pub)
        await site.withdraw(pub)
        public = {p.name for p in org_dir.rglob("*")}
        assert "meta.json" not in public
        assert not any(name.endswith(".json") for name in public)
        assert not any(name.startswith(".") for name in public)


def broken_links(org_dir: Path) -> list[str]:
    """Every relative href in the org's HTML pages whose target file does not exist."""
    broken = []
    for page in org_dir.rglob("*.html"):
        for href in re.findall(r'href="([^"#]+)"', read(page)):
            if "://" in href:
                continue
            target = (page.parent / href).resolve()
            if not target.is_file():
                broken.append(f"{page.relative_to(org_dir)} -> {href}")
    return broken


def listed(page: Path) -> set[int]:
    """The item ids a list page links to."""
    return {int(n) for n in re.findall(r'href="(?:\.\./)*items/(\d+)\.html"', read(page))}


def changed(before: dict[Path, bytes], after: dict[Path, bytes], root: Path) -> set[str]:
    return {
        str(p.relative_to(root))
        for p in before.keys() | after.keys()
        if before.get(p) != after.get(p)
    }


class TestPagination:
    """With pages of 5, 13 items fill pages 1 and 2 and start page 3 of every list."""

    @pytest.fixture
    async def big_site(self, tmp_path: Path) -> StaticWebsite:
        site = StaticWebsite(tmp_path / "site", base_url=BASE_URL, page_size=5)
        for n in range(1, 14):
            await publish(site, make_pub(n, publish_date=dt.date(2024, 1, 1) + dt.timedelta(n)))
        return site

    async def test_front_page_shows_the_newest_two_pages_and_links_to_older(
        self, big_site: StaticWebsite, org_dir: Path
    ) -> None:
        """index.html lists items 6-13 and links to page 1, which lists items 1-5."""
        assert listed(org_dir / "index.html") == set(range(6, 14))
        assert 'href="page/1.html"' in read(org_dir / "index.html")
        assert listed(org_dir / "page" / "1.html") == set(range(1, 6))
        assert listed(org_dir / "page" / "3.html") == set(range(11, 14))
        slug = category_slug("农业、林业、水利")
        assert listed(org_dir / "2024" / "page" / "1.html") == set(range(1, 6))
        assert listed(org_dir / "category" / slug / "page" / "2.html") == set(range(6, 11))
        assert f'href="../category/{slug}/page/1.html"' in read(
            org_dir / "category" / f"{slug}.html"
        )
        assert broken_links(org_dir) == []

    async def test_the_next_item_rewrites_only_its_own_pages(
        self, big_site: StaticWebsite, org_dir: Path, tmp_path: Path
    ) -> None:
        """Item 14 writes its page, page 3 and the front page of each list, and the feed."""
        before = snapshot(tmp_path / "site")
        await publish(big_site, make_pub(14, publish_date=dt.date(2024, 6, 1)))
        slug = category_slug("农业、林业、水利")
        assert changed(before, snapshot(tmp_path / "site"), org_dir) == {
            "items/14.html",
            "index.html",
            "page/3.html",
            "2024/index.html",
            "2024/page/3.html",
            f"category/{slug}.html",
            f"category/{slug}/page/3.html",
            "atom.xml",
        }

    async def test_withdrawing_an_old_item_rewrites_only_its_pages(
        self, big_site: StaticWebsite, org_dir: Path, tmp_path: Path
    ) -> None:
        """Withdrawing item 5 removes it from page 1 of each list (and the feed, which holds
        all 13); no other list page changes."""
        before = snapshot(tmp_path / "site")
        await big_site.withdraw(make_pub(5))
        slug = category_slug("农业、林业、水利")
        assert changed(before, snapshot(tmp_path / "site"), org_dir) == {
            "items/5.html",
            "atom.xml",
            "page/1.html",
            "2024/page/1.html",
            f"category/{slug}/page/1.html",
        }
        assert listed(org_dir / "page" / "1.html") == set(range(1, 6)) - {5}
        assert broken_links(org_dir) == []

    async def test_withdrawing_from_the_feed_refills_it_from_older_items(
        self, big_site: StaticWebsite, org_dir: Path
    ) -> None:
        """After the newest is withdrawn, the feed lists the rest, read across pages."""
        await big_site.withdraw(make_pub(13))
        links = [
            e.find(f"{ATOM}link").get("href")  # type: ignore[union-attr]
            for e in parse_xml(org_dir / "atom.xml").findall(f"{ATOM}entry")
        ]
        assert links == [f"{BASE_URL}/xz001/items/{n}.html" for n in range(12, 0, -1)]
        assert 13 not in listed(org_dir / "index.html")

    async def test_a_revision_keeps_its_place(self, big_site: StaticWebsite, org_dir: Path) -> None:
        """A new revision of item 2 is shown on page 1 with its new title, not as a new item."""
        await publish(big_site, make_pub(2, revision=2, title="第二批修订"))
        assert "第二批修订" in read(org_dir / "page" / "1.html")
        assert 2 not in listed(org_dir / "index.html")

    async def test_moving_to_another_category_leaves_the_old_one(
        self, big_site: StaticWebsite, org_dir: Path
    ) -> None:
        """A revision in another category drops the item from the old category's page."""
        await publish(big_site, make_pub(7, revision=2, category="财政信息"))
        old = category_slug("农业、林业、水利")
        assert 7 not in listed(org_dir / "category" / old / "page" / "1.html")
        assert listed(org_dir / "category" / f"{category_slug('财政信息')}.html") == {7}
        assert broken_links(org_dir) == []


class TestRebuild:
    async def test_rebuild_regenerates_what_is_public_and_drops_the_rest(
        self, tmp_path: Path, org_dir: Path
    ) -> None:
        """A rebuild from 11 of 12 items removes the 12th's page and lists the rest, with
        the progress reported per item."""
        site = StaticWebsite(tmp_path / "site", base_url=BASE_URL, page_size=5)
        pubs = [make_pub(n) for n in range(1, 13)]
        for pub in pubs:
            await publish(site, pub)
        (org_dir / "page" / "1.html").unlink()  # damage the site
        done: list[int] = []
        await site.rebuild("xz001", [p for p in pubs if p.lineage_id != 12], progress=done.append)
        assert done == list(range(1, 12))
        assert not (org_dir / "items" / "12.html").exists()
        assert listed(org_dir / "page" / "1.html") == set(range(1, 6))
        assert listed(org_dir / "index.html") == set(range(6, 12))
        assert entry(org_dir, 12)["withdrawn"] is True
        assert broken_links(org_dir) == []
        with pytest.raises(PermanentError):  # nor can a late older revision bring it back
            await publish(site, make_pub(12, revision=0))

    async def test_a_site_written_before_pagination_is_converted(
        self, site: StaticWebsite, org_dir: Path
    ) -> None:
        """An old manifest.json is turned into pages on the next publication."""
        state = state_dir(org_dir)
        state.mkdir(parents=True)
        old = {
            str(n): {
                "lineage_id": n,
                "title": f"旧条目{n}",
                "revision": 1,
                "publish_date": "2023-05-01",
                "category": "财政信息",
                "index_no": "",
                "summary": "",
                "path": f"items/{n}.html",
                "withdrawn": n == 2,
                "updated": "2023-05-01T00:00:00+00:00",
            }
            for n in (1, 2, 3)
        }
        manifest = {"org_name": "青山镇人民政府", "updated": "2023-05-01T00:00:00+00:00"}
        (state / "manifest.json").write_text(json.dumps({**manifest, "entries": old}), "utf-8")
        await publish(site, make_pub(4))
        assert listed(org_dir / "index.html") == {1, 3, 4}
        assert listed(org_dir / "2023" / "index.html") == {1, 3}
        assert not (state / "manifest.json").exists()
