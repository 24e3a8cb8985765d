"""Where each entry of the static site sits: numbered pages of fixed size, per list.

An organization's site has one list of everything (``all``), one per year (``y2024``) and
one per 主题分类 (``c<slug>``). An entry takes the next slot (``seq``) of each of its
lists when first published and keeps it through revisions; page ``n`` of a list holds
slots ``(n-1)*PAGE_SIZE`` to ``n*PAGE_SIZE-1``. Publishing therefore touches one page per
list, never the older ones, and costs the same for the 1,000th item as for the 20th.

State lives under ``state_dir/<org>/`` (outside the public tree: it remembers withdrawn
items): ``meta.json`` (name, counters, years, categories), ``entries/<lineage>.json``
(an entry and its slots) and ``lists/<list>/<page>.json`` (the entries on one page).
Callers hold the site lock while they use a ``SitePages``.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from channels.base import ConfigurationError

__all__ = ["PAGE_SIZE", "Entry", "SitePages", "list_keys"]

PAGE_SIZE = 50
Entry = dict[str, Any]


def list_keys(entry: Mapping[str, Any], slug: str) -> list[str]:
    """The lists an entry appears on: everything, its year, its category."""
    return ["all", f"y{str(entry['publish_date'])[:4]}", f"c{slug}"]


def _dump(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return None
    except ValueError as exc:
        message = f"网站状态文件损坏，请检查 {path}（可用 gongkai site rebuild 重建）"
        raise ConfigurationError(message) from exc


class SitePages:
    """The page state of one organization's site, read and written through ``write``."""

    def __init__(self, state: Path, *, write: Any, page_size: int = PAGE_SIZE) -> None:
        self._state = state
        self._page_size = page_size
        self._write = write  # write_atomic(path, bytes): the caller's fsynced replace
        self.meta: dict[str, Any] = _read_json(state / "meta.json") or {
            "org_name": "",
            "updated": "",
            "counters": {},
            "categories": {},
        }
        self._pages: dict[tuple[str, int], dict[str, Entry]] = {}
        self.touched: set[tuple[str, int]] = set()

    @staticmethod
    def reset(state: Path) -> None:
        """Forget every list and counter (before a full rebuild); entries stay, so the
        rebuild knows which items were public before."""
        for name in ("lists", "meta.json"):
            path = state / name
            if path.is_dir():
                shutil.rmtree(path)
            else:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

    def entry(self, lineage_id: int) -> Entry | None:
        found: Entry | None = _read_json(self._state / "entries" / f"{lineage_id}.json")
        return found

    def entry_ids(self) -> list[int]:
        folder = self._state / "entries"
        return sorted(int(p.stem) for p in folder.glob("*.json")) if folder.is_dir() else []

    def place(self, entry: Entry, keys: list[str], old: Entry | None) -> None:
        """Put ``entry`` on its lists, keeping the slots it already has on the same lists."""
        slots: dict[str, int] = dict(old.get("slots", {})) if old else {}
        for key in [k for k in slots if k not in keys]:
            self._drop(key, slots.pop(key), entry["lineage_id"])
        public = {k: v for k, v in entry.items() if k != "slots"}
        for key in keys:
            if key not in slots:
                slots[key] = self._next_slot(key)
            self.page(key, self._page_of(slots[key]))[str(slots[key])] = public
            self.touched.add((key, self._page_of(slots[key])))
        entry["slots"] = slots
        self._save_entry(entry)

    def remove(self, entry: Entry) -> None:
        """Take ``entry`` off every list (withdrawal); a republication gets new slots."""
        for key, seq in entry.get("slots", {}).items():
            self._drop(key, seq, entry["lineage_id"])
        entry["slots"] = {}
        self._save_entry(entry)

    def page(self, key: str, number: int) -> dict[str, Entry]:
        """The entries on page ``number`` of list ``key``, by slot."""
        if (key, number) not in self._pages:
            found = _read_json(self._state / "lists" / key / f"{number}.json")
            self._pages[key, number] = found or {}
        return self._pages[key, number]

    def last_page(self, key: str) -> int:
        return max(1, self._page_of(int(self.meta["counters"].get(key, 0)) - 1))

    def list_names(self) -> list[str]:
        return sorted(self.meta["counters"])

    def newest(self, key: str, count: int) -> list[Entry]:
        """Up to ``count`` public entries of list ``key``, newest slot first."""
        found: list[Entry] = []
        for number in range(self.last_page(key), 0, -1):
            page = self.page(key, number)
            found += [page[s] for s in sorted(page, key=int, reverse=True)]
            if len(found) >= count:
                break
        return found[:count]

    def save(self) -> None:
        """Write the touched pages and the meta file."""
        for key, number in sorted(self.touched):
            path = self._state / "lists" / key / f"{number}.json"
            self._write(path, _dump(self.page(key, number)))
        self._write(self._state / "meta.json", _dump(self.meta))

    def walk(self) -> Iterator[tuple[str, int]]:
        """Every page of every list (for a full rebuild)."""
        for key in self.list_names():
            for number in range(1, self.last_page(key) + 1):
                yield key, number

    def _page_of(self, seq: int) -> int:
        return seq // self._page_size + 1

    def _next_slot(self, key: str) -> int:
        counters: dict[str, int] = self.meta["counters"]
        seq = counters.get(key, 0)
        counters[key] = seq + 1
        return seq

    def _drop(self, key: str, seq: int, lineage_id: int) -> None:
        page = self.page(key, self._page_of(seq))
        held = page.get(str(seq))
        if held is not None and held["lineage_id"] == lineage_id:
            del page[str(seq)]
        self.touched.add((key, self._page_of(seq)))

    def _save_entry(self, entry: Entry) -> None:
        path = self._state / "entries" / f"{entry['lineage_id']}.json"
        self._write(path, _dump(entry))
