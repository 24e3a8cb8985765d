"""The light CLI commands load neither the web app nor FastAPI (a second of start-up)."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _modules_after(statement: str) -> set[str]:
    probe = f"{statement}\nimport sys\nprint('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout
    return set(out.split())


@pytest.mark.parametrize(
    "statement",
    [
        "import bot.cli",
        # what `gongkai status` imports to answer
        "import bot.cli; from bot.web.views import load_item_out; import storage.models",
    ],
)
def test_light_commands_do_not_import_the_web_app(statement: str) -> None:
    """`gongkai --help` and `gongkai status` import neither FastAPI nor bot.web.app."""
    loaded = _modules_after(statement)
    assert "bot.cli" in loaded
    assert "fastapi" not in loaded
    assert "bot.web.app" not in loaded
    assert "bot.console" not in loaded


def test_create_app_is_still_reachable_from_the_package() -> None:
    """`from bot.web import create_app` keeps working, loaded on first use."""
    loaded = _modules_after("from bot.web import create_app")
    assert "bot.web.app" in loaded
    assert "fastapi" in loaded
