"""The built-in static website: the 政府信息公开 column as plain HTML files and an Atom feed.

Layout under ``site_dir/<org_code>/``: ``items/<lineage_id>.html``; three kinds of list,
each a front page showing its newest two pages and numbered pages of ``PAGE_SIZE``
entries: ``index.html`` + ``page/N.html`` (everything), ``<year>/index.html`` +
``<year>/page/N.html``, ``category/<slug>.html`` + ``category/<slug>/page/N.html``; and
``atom.xml`` (the newest ``FEED_SIZE``). A publication rewrites its item page, one
numbered page and the front page of each of its three lists, and the feed: the same work
for the 1,000th item as for the 20th (see ``channels.site_pages``). ``rebuild``
regenerates a whole site. The page state is changed only under an exclusive ``flock``
because several worker processes may publish for the same organization at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import errno
import fcntl
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, ParamSpec, TypeVar

import jinja2
from markupsafe import Markup

from channels.base import (
    ChannelError,
    Committed,
    ConfigurationError,
    PermanentError,
    Publishable,
    TemporaryError,
    Withdrawal,
)
from channels.site_lists import UNCATEGORIZED, ListRenderer, remove_lists
from channels.site_pages import PAGE_SIZE, Entry, SitePages, list_keys

P = ParamSpec("P")
T = TypeVar("T")

TEMPLATE_DIR = Path(__file__).with_name("templates")
_ORG_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_CONFIG_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR})


def category_slug(category: str) -> str:
    """Return the filesystem-safe file stem of a 主题分类: a short hash of its UTF-8 bytes."""
    return hashlib.sha256(category.encode("utf-8")).hexdigest()[:12]


def translate_os_error(exc: OSError, action: str) -> ChannelError:
    """Map an OS error to ConfigurationError (permissions, wrong path) or TemporaryError."""
    code = errno.errorcode.get(exc.errno or 0)
    message = f"{action}失败：{exc.strerror or exc}"
    if exc.errno in _CONFIG_ERRNOS:
        return ConfigurationError(message, code=code)
    return TemporaryError(message, code=code)


def _fsync_dir(directory: Path) -> None:
    """Flush a directory entry so a completed os.replace survives a power cut."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` via a fsynced temp file; leave it alone if unchanged."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        if path.read_bytes() == data:
            return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the web server must read the file
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive flock on ``lock_path`` for the duration of the block."""
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def _category(pub: Publishable) -> str:
    return pub.category.strip() or UNCATEGORIZED


class StaticWebsite:
    """Publishes items as static pages under ``site_dir`` served from ``base_url``."""

    name: ClassVar[str] = "website"
    commit_repeatable: bool = True
    polls_confirmation: bool = False  # a written file is public at once

    def __init__(
        self,
        site_dir: Path,
        *,
        base_url: str,
        state_dir: Path | None = None,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self._site_dir = Path(site_dir)
        self._page_size = page_size
        # The manifest keeps withdrawn titles: it lives outside the public tree.
        self._state_dir = Path(state_dir) if state_dir else self._site_dir.parent / "site-state"
        self._base_url = base_url.rstrip("/")
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters["xmltext"] = lambda text: _XML_ILLEGAL.sub("", str(text))
        self._lists = ListRenderer(self._env, base_url=self._base_url, write=write_atomic)

    async def prepare(self, pub: Publishable) -> dict[str, Any]:
        """Render the item page in memory and return its site-relative path and digest."""
        page = self._render_item(pub)
        return {"path": self._relative_path(pub), "sha256": hashlib.sha256(page).hexdigest()}

    async def commit(self, pub: Publishable, prepared: Mapping[str, Any]) -> Committed:
        """Write the item page, its manifest entry and the index pages it appears on."""
        page = self._render_item(pub)
        await self._in_thread("发布到网站", self._commit_locked, pub, page)
        return Committed(external_id=self._relative_path(pub), url=self._item_url(pub))

    async def poll(self, pub: Publishable) -> Committed | None:
        """Return None: a static page is public as soon as commit returns."""
        return None

    async def withdraw(self, pub: Publishable) -> Withdrawal:
        """Delete the item page and drop it from the indexes and the feed."""
        return await self._in_thread("从网站撤下", self._withdraw_locked, pub)

    async def check(self) -> str:
        """Verify that ``site_dir`` is writable and say so in one Chinese sentence."""
        try:
            await asyncio.to_thread(self._probe)
        except OSError as exc:
            message = f"网站目录 {self._site_dir} 不可写：{exc.strerror or exc}"
            raise ConfigurationError(message) from exc
        return f"网站目录 {self._site_dir} 可写，页面地址前缀 {self._base_url}"

    async def aclose(self) -> None:
        """Do nothing: the channel holds no open resources."""

    async def _in_thread(
        self, action: str, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run blocking file work off the event loop, translating OS errors."""
        try:
            return await asyncio.to_thread(func, *args, **kwargs)
        except OSError as exc:
            raise translate_os_error(exc, action) from exc

    def _probe(self) -> None:
        self._site_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=self._site_dir, prefix=".probe."):
            pass

    def _org_dir(self, org_code: str) -> Path:
        if not _ORG_CODE.fullmatch(org_code):
            raise ConfigurationError(f"机构代码 {org_code!r} 不能用作网站目录名")
        return self._site_dir / org_code

    def _relative_path(self, pub: Publishable) -> str:
        return f"{pub.org_code}/items/{pub.lineage_id}.html"

    def _item_url(self, pub: Publishable) -> str:
        return f"{self._base_url}/{self._relative_path(pub)}"

    def _render_item(self, pub: Publishable) -> bytes:
        self._org_dir(pub.org_code)
        category = _category(pub)
        html = self._env.get_template("site_item.html").render(
            pub=pub,
            body=Markup(pub.body_html),  # noqa: S704 - body_html is sanitized by nh3 upstream
            category=category,
            category_slug=category_slug(category),
            year=pub.publish_date.year,
        )
        return html.encode("utf-8")

    def _commit_locked(self, pub: Publishable, page: bytes) -> None:
        org_dir = self._org_dir(pub.org_code)
        with _locked(self._state_for(org_dir) / "site.lock"):
            pages = self._pages(org_dir)
            old = pages.entry(pub.lineage_id)
            if old is not None and old["revision"] > pub.revision:
                if old["withdrawn"]:
                    raise PermanentError(f"该信息的第{old['revision']}版已撤回，不再发布旧版本")
                return  # a newer revision is already public; this one must not replace it
            write_atomic(org_dir / "items" / f"{pub.lineage_id}.html", page)
            entry = self._entry(pub, old)
            keep = old if old is not None and not old["withdrawn"] else None
            pages.place(entry, list_keys(entry, category_slug(entry["category"])), keep)
            pages.meta["categories"][category_slug(entry["category"])] = entry["category"]
            pages.meta["org_name"] = pub.org_name
            self._save_and_render(org_dir, pages, entry["updated"])

    def _withdraw_locked(self, pub: Publishable) -> Withdrawal:
        org_dir = self._org_dir(pub.org_code)
        with _locked(self._state_for(org_dir) / "site.lock"):
            pages = self._pages(org_dir)
            entry = pages.entry(pub.lineage_id)
            if entry is not None and entry["revision"] > pub.revision and not entry["withdrawn"]:
                return Withdrawal(
                    undone=[f"网站上的旧版本已被第{entry['revision']}版替换，页面保留"]
                )
            page = org_dir / "items" / f"{pub.lineage_id}.html"
            with contextlib.suppress(FileNotFoundError):
                page.unlink()
            if entry is None or entry["withdrawn"]:
                return Withdrawal(undone=["网站上已没有这条信息，无需撤下"])
            entry.update(withdrawn=True, updated=_now())
            pages.remove(entry)
            self._save_and_render(org_dir, pages, entry["updated"])
        return Withdrawal(
            undone=[
                f"已删除网站页面 {self._relative_path(pub)}，并从目录、年度页、分类页和订阅源中移除"
            ],
            not_undone=["搜索引擎、网页快照、订阅阅读器和转载网站可能仍保留副本，需另行联系删除"],
        )

    def _state_for(self, org_dir: Path) -> Path:
        state = self._state_dir / org_dir.name
        state.mkdir(parents=True, exist_ok=True)
        return state

    def _pages(self, org_dir: Path) -> SitePages:
        state = self._state_for(org_dir)
        if not (state / "meta.json").exists() and (state / "manifest.json").exists():
            self._convert_manifest(org_dir, state)
        return SitePages(state, write=write_atomic, page_size=self._page_size)

    def _convert_manifest(self, org_dir: Path, state: Path) -> None:
        """Move a site written before pagination (one manifest of every entry) to pages."""
        manifest = json.loads((state / "manifest.json").read_text("utf-8"))
        pages = SitePages(state, write=write_atomic, page_size=self._page_size)
        pages.meta["org_name"] = manifest.get("org_name", "")
        for entry in sorted(
            manifest["entries"].values(), key=lambda e: (e["publish_date"], e["lineage_id"])
        ):
            self._place(pages, entry)
        pages.meta["updated"] = manifest.get("updated", _now())
        pages.save()
        self._lists.render_all(org_dir, pages)
        os.replace(state / "manifest.json", state / "manifest.json.converted")

    def _place(self, pages: SitePages, entry: Entry) -> None:
        """Give a new (or withdrawn) entry fresh slots on its lists; record its category."""
        if entry["withdrawn"]:
            pages.remove(entry)
            return
        slug = category_slug(entry["category"])
        pages.place(entry, list_keys(entry, slug), None)
        pages.meta["categories"][slug] = entry["category"]

    async def rebuild(
        self,
        org_code: str,
        pubs: Sequence[Publishable],
        *,
        progress: Callable[[int], None] = lambda _done: None,
    ) -> None:
        """Regenerate one organization's site from ``pubs`` (all that is public, oldest first);
        item pages not among them are removed. Publications wait for the lock meanwhile."""
        await self._in_thread("重建网站", self._rebuild_locked, org_code, pubs, progress)

    def _rebuild_locked(
        self, org_code: str, pubs: Sequence[Publishable], progress: Callable[[int], None]
    ) -> None:
        org_dir = self._org_dir(org_code)
        state = self._state_for(org_dir)
        with _locked(state / "site.lock"):
            SitePages.reset(state)
            remove_lists(org_dir)
            pages = SitePages(state, write=write_atomic, page_size=self._page_size)
            public = {pub.lineage_id for pub in pubs}
            for done, pub in enumerate(pubs, 1):
                write_atomic(org_dir / "items" / f"{pub.lineage_id}.html", self._render_item(pub))
                self._place(pages, self._entry(pub, None))
                pages.meta["org_name"] = pub.org_name
                progress(done)
            self._forget_unlisted(org_dir, pages, public)
            pages.meta["updated"] = _now()
            pages.save()
            self._lists.render_all(org_dir, pages)

    def _forget_unlisted(self, org_dir: Path, pages: SitePages, public: set[int]) -> None:
        """Delete the pages of items no longer public and mark their entries withdrawn (so a
        late commit of an older revision cannot bring them back)."""
        for page in (org_dir / "items").glob("*.html"):
            if page.stem.isdigit() and int(page.stem) not in public:
                page.unlink()
        for lineage_id in pages.entry_ids():
            entry = pages.entry(lineage_id)
            if lineage_id not in public and entry is not None and not entry["withdrawn"]:
                entry.update(withdrawn=True, updated=_now(), slots={})  # lists were reset
                pages.remove(entry)

    def _entry(self, pub: Publishable, old: Entry | None) -> Entry:
        same = old is not None and old["revision"] == pub.revision and not old["withdrawn"]
        return {
            "lineage_id": pub.lineage_id,
            "title": pub.title,
            "revision": pub.revision,
            "publish_date": pub.publish_date.isoformat(),
            "category": _category(pub),
            "index_no": pub.index_no,
            "summary": pub.summary,
            "path": f"items/{pub.lineage_id}.html",
            "withdrawn": False,
            "updated": old["updated"] if same and old else _now(),
        }

    def _save_and_render(self, org_dir: Path, pages: SitePages, updated: str) -> None:
        """Persist the touched pages, then rewrite them, their lists' first pages and the feed."""
        pages.meta["updated"] = max(str(pages.meta["updated"]), updated)
        pages.save()
        self._lists.render_touched(org_dir, pages)
