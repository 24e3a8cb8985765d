"""README's folder table names every folder in the repository and no folder that is gone."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOT_SOURCE = {"__pycache__"}  # made by Python, never committed


def _ignored(name: str, *, at_root: bool) -> bool:
    """Whether .gitignore keeps ``name`` out (a leading "/" anchors a pattern at the root)."""
    for line in (ROOT / ".gitignore").read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#") or (pattern.startswith("/") and not at_root):
            continue
        if fnmatch.fnmatch(name, pattern.strip("/")):
            return True
    return name in NOT_SOURCE


def _folders(where: Path) -> set[str]:
    return {
        p.name
        for p in where.iterdir()
        if p.is_dir() and not p.name.startswith(".") and not _ignored(p.name, at_root=where == ROOT)
    }


def _table() -> dict[str, str]:
    """Folder (without the slash) -> its description, from README's folder table."""
    text = (ROOT / "README.md").read_text()
    rows = re.findall(r"^\| `([\w-]+)/` \| (.+) \|$", text, flags=re.MULTILINE)
    return dict(rows)


def test_the_table_lists_exactly_the_top_level_folders() -> None:
    assert set(_table()) == _folders(ROOT)


def test_the_tests_row_lists_exactly_the_test_folders() -> None:
    mentioned = set(re.findall(r"`([\w-]+)/`", _table()["tests"]))
    assert mentioned == _folders(ROOT / "tests")
