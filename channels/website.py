"""The built-in static website: the 政府信息公开 column as plain HTML files and an Atom feed.

Layout under ``site_dir/<org_code>/``: ``items/<lineage_id>.html``, ``index.html``,
``<year>/index.html``, ``category/<slug>.html`` and ``atom.xml``. Indexes are rendered
from ``state_dir/<org_code>/manifest.json`` (outside the public tree: it remembers
withdrawn items), which is changed only under an exclusive ``flock`` because several
worker processes may publish for the same organization at once.
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
from collections.abc import Callable, Iterator, Mapping
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

P = ParamSpec("P")
T = TypeVar("T")
Entry = dict[str, Any]

TEMPLATE_DIR = Path(__file__).with_name("templates")
FEED_SIZE = 50
UNCATEGORIZED = "未分类"
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


def _load_manifest(path: Path) -> dict[str, Any]:
    """Read an organization's manifest, or an empty one if the site is new."""
    try:
        data: dict[str, Any] = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return {"org_name": "", "updated": _now(), "entries": {}}
    except ValueError as exc:
        raise ConfigurationError(f"网站清单文件损坏，请检查 {path}") from exc
    return data


def _dump(data: Mapping[str, Any]) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def _year(entry: Entry) -> int:
    return int(str(entry["publish_date"])[:4])


def _category(pub: Publishable) -> str:
    return pub.category.strip() or UNCATEGORIZED


def _live(manifest: Mapping[str, Any]) -> list[Entry]:
    """Return the entries still public, newest first."""
    entries = [e for e in manifest["entries"].values() if not e["withdrawn"]]
    return sorted(entries, key=lambda e: (e["publish_date"], e["lineage_id"]), reverse=True)


def _by_year(entries: list[Entry]) -> list[tuple[int, list[Entry]]]:
    groups: dict[int, list[Entry]] = {}
    for entry in entries:
        groups.setdefault(_year(entry), []).append(entry)
    return sorted(groups.items(), reverse=True)


class StaticWebsite:
    """Publishes items as static pages under ``site_dir`` served from ``base_url``."""

    name: ClassVar[str] = "website"
    commit_repeatable: bool = True
    polls_confirmation: bool = False  # a written file is public at once

    def __init__(self, site_dir: Path, *, base_url: str, state_dir: Path | None = None) -> None:
        self._site_dir = Path(site_dir)
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
            manifest = _load_manifest(self._state_for(org_dir) / "manifest.json")
            old: Entry | None = manifest["entries"].get(str(pub.lineage_id))
            if old is not None and old["revision"] > pub.revision:
                if old["withdrawn"]:
                    raise PermanentError(f"该信息的第{old['revision']}版已撤回，不再发布旧版本")
                return  # a newer revision is already public; this one must not replace it
            write_atomic(org_dir / "items" / f"{pub.lineage_id}.html", page)
            entry = self._entry(pub, old)
            manifest["entries"][str(pub.lineage_id)] = entry
            manifest["org_name"] = pub.org_name
            self._save_and_render(org_dir, manifest, [e for e in (old, entry) if e])

    def _withdraw_locked(self, pub: Publishable) -> Withdrawal:
        org_dir = self._org_dir(pub.org_code)
        with _locked(self._state_for(org_dir) / "site.lock"):
            manifest = _load_manifest(self._state_for(org_dir) / "manifest.json")
            entry: Entry | None = manifest["entries"].get(str(pub.lineage_id))
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
            self._save_and_render(org_dir, manifest, [entry])
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

    def _save_and_render(
        self, org_dir: Path, manifest: dict[str, Any], touched: list[Entry]
    ) -> None:
        """Persist the manifest, then rewrite only the index pages the touched entries are on."""
        manifest["updated"] = max(manifest["updated"], *(e["updated"] for e in touched))
        write_atomic(self._state_for(org_dir) / "manifest.json", _dump(manifest))
        live = _live(manifest)
        org_name = str(manifest["org_name"])
        self._write(
            org_dir / "index.html",
            "site_index.html",
            org_name=org_name,
            heading=f"{org_name} 政府信息公开",
            root="",
            groups=_by_year(live),
            years=[year for year, _ in _by_year(live)],
            categories=[
                (name, category_slug(name)) for name in sorted({e["category"] for e in live})
            ],
        )
        for year in {_year(e) for e in touched}:
            chosen = [e for e in live if _year(e) == year]
            self._write_sublist(org_dir / str(year) / "index.html", org_name, f"{year}年", chosen)
        for name in {e["category"] for e in touched}:
            chosen = [e for e in live if e["category"] == name]
            path = org_dir / "category" / f"{category_slug(name)}.html"
            self._write_sublist(path, org_name, name, chosen)
        org_url = f"{self._base_url}/{org_dir.name}"
        self._write(
            org_dir / "atom.xml",
            "atom.xml",
            org_url=org_url,
            org_name=org_name,
            updated=manifest["updated"],
            entries=live[:FEED_SIZE],
        )

    def _write_sublist(self, path: Path, org_name: str, heading: str, entries: list[Entry]) -> None:
        """Write a year or category page, which sits one directory below the org index."""
        self._write(
            path,
            "site_index.html",
            org_name=org_name,
            heading=heading,
            root="../",
            groups=_by_year(entries),
            years=[],
            categories=[],
        )

    def _write(self, path: Path, template: str, **context: Any) -> None:
        text = self._env.get_template(template).render(**context)
        write_atomic(path, text.encode("utf-8"))
