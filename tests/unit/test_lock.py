"""The pinned requirements (what `make` installs) cover every dependency pyproject.toml
declares: a dependency added without `make lock` fails here, not on a clean machine."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    """The normalised project name of a requirement such as ``uvicorn[standard]>=0.30``."""
    found = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert found, requirement
    return re.sub(r"[-_.]+", "-", found.group(0)).lower()


def _pinned(lock: str) -> set[str]:
    lines = (ROOT / "requirements" / lock).read_text().splitlines()
    return {_name(line) for line in lines if "==" in line and not line.startswith("#")}


def _declared() -> tuple[list[str], list[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project["dependencies"], project["optional-dependencies"]["dev"]


def test_the_service_lock_pins_every_runtime_dependency() -> None:
    runtime, _ = _declared()
    assert {_name(r) for r in runtime} - _pinned("base.txt") == set(), "run `make lock`"


def test_the_test_lock_pins_every_dependency() -> None:
    runtime, dev = _declared()
    assert {_name(r) for r in runtime + dev} - _pinned("dev.txt") == set(), "run `make lock`"


def test_the_locks_name_no_local_index() -> None:
    """A lock must install on a clean machine that reaches only the package registries."""
    for lock in ("base.txt", "dev.txt"):
        text = (ROOT / "requirements" / lock).read_text()
        assert not re.search(r"^\s*(--|-[fi] )|file://", text, flags=re.MULTILINE), lock
