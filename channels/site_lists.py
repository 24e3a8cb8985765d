"""The static site's list pages: each list's numbered pages, its front page and the feed,
rendered from ``channels.site_pages`` state (see ``channels.website`` for the layout)."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jinja2

from channels.site_pages import Entry, SitePages

__all__ = ["FEED_SIZE", "UNCATEGORIZED", "ListRenderer", "remove_lists"]

FEED_SIZE = 50
UNCATEGORIZED = "未分类"


def _now_text() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def _year(entry: Entry) -> int:
    return int(str(entry["publish_date"])[:4])


def _newest_first(entries: list[Entry]) -> list[Entry]:
    return sorted(entries, key=lambda e: (e["publish_date"], e["lineage_id"]), reverse=True)


def _by_year(entries: list[Entry]) -> list[tuple[int, list[Entry]]]:
    groups: dict[int, list[Entry]] = {}
    for entry in _newest_first(entries):
        groups.setdefault(_year(entry), []).append(entry)
    return sorted(groups.items(), reverse=True)


class ListRenderer:
    """Writes list pages and the feed with the site's templates and atomic writes."""

    def __init__(
        self, env: jinja2.Environment, *, base_url: str, write: Callable[[Path, bytes], None]
    ) -> None:
        self._env = env
        self._base_url = base_url
        self._write_bytes = write

    def render_touched(self, org_dir: Path, pages: SitePages) -> None:
        """Rewrite the pages a change touched, their lists' front pages and the feed."""
        for key, number in sorted(pages.touched):
            self._write_page(org_dir, pages, key, number)
        for key in sorted({key for key, _ in pages.touched}):
            self._write_list_index(org_dir, pages, key)
        self._write_feed(org_dir, pages)

    def render_all(self, org_dir: Path, pages: SitePages) -> None:
        """Write every page of every list (a full rebuild)."""
        for key, number in pages.walk():
            self._write_page(org_dir, pages, key, number)
        for key in pages.list_names():
            self._write_list_index(org_dir, pages, key)
        self._write_feed(org_dir, pages)

    def _write_page(self, org_dir: Path, pages: SitePages, key: str, number: int) -> None:
        """Page ``number`` of a list: its own entries only, so it never depends on newer ones."""
        front, pages_dir = _list_place(key)
        root = "../" * (pages_dir.count("/") + 1)
        self._write(
            org_dir / pages_dir / f"{number}.html",
            "site_index.html",
            **self._list_context(pages, key, f"（第{number}页）"),
            root=root,
            groups=_by_year(list(pages.page(key, number).values())),
            older=f"{number - 1}.html" if number > 1 else "",
            latest=root + front,
            years=[],
            categories=[],
        )

    def _write_list_index(self, org_dir: Path, pages: SitePages, key: str) -> None:
        """A list's front page: its newest two pages (never fewer than a page of entries)."""
        front, pages_dir = _list_place(key)
        root = "../" * front.count("/")
        last = pages.last_page(key)
        shown = [e for n in (last, last - 1) if n >= 1 for e in pages.page(key, n).values()]
        years = sorted((int(k[1:]) for k in pages.list_names() if k.startswith("y")), reverse=True)
        categories = sorted((name, slug) for slug, name in pages.meta["categories"].items())
        self._write(
            org_dir / front,
            "site_index.html",
            **self._list_context(pages, key, ""),
            root=root,
            groups=_by_year(shown),
            older=f"{root}{pages_dir}/{last - 2}.html" if last > 2 else "",
            latest="",
            years=years if key == "all" else [],
            categories=categories if key == "all" else [],
        )

    def _list_context(self, pages: SitePages, key: str, suffix: str) -> dict[str, Any]:
        org_name = str(pages.meta["org_name"])
        if key == "all":
            heading = f"{org_name} 政府信息公开"
        elif key.startswith("y"):
            heading = f"{key[1:]}年"
        else:
            heading = str(pages.meta["categories"].get(key[1:], UNCATEGORIZED))
        return {"org_name": org_name, "heading": heading + suffix}

    def _write_feed(self, org_dir: Path, pages: SitePages) -> None:
        self._write(
            org_dir / "atom.xml",
            "atom.xml",
            org_url=f"{self._base_url}/{org_dir.name}",
            org_name=str(pages.meta["org_name"]),
            updated=pages.meta["updated"] or _now_text(),
            entries=pages.newest("all", FEED_SIZE),
        )

    def _write(self, path: Path, template: str, **context: Any) -> None:
        self._write_bytes(path, self._env.get_template(template).render(**context).encode("utf-8"))


def remove_lists(org_dir: Path) -> None:
    """Delete every list page of an organization (not its item pages) before a rebuild."""
    if not org_dir.is_dir():
        return
    for child in org_dir.iterdir():
        if child.is_dir() and (child.name.isdigit() or child.name in ("page", "category")):
            shutil.rmtree(child)


def _list_place(key: str) -> tuple[str, str]:
    """A list's front page and the folder of its numbered pages, both under the org folder."""
    if key == "all":
        return "index.html", "page"
    if key.startswith("y"):
        return f"{key[1:]}/index.html", f"{key[1:]}/page"
    return f"category/{key[1:]}.html", f"category/{key[1:]}/page"
