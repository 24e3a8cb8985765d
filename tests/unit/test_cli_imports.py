"""The light CLI commands load neither the web app nor FastAPI (a second of start-up)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


# What the web process needs only when a report, a notice, a WeChat call, an item body or
# an outbound request is handled, or only on PostgreSQL: loaded at start, they cost an
# idle SQLite `gongkai serve` about 35 MB.
HEAVY_UNTIL_USED = (
    "wechatpy",
    "docx",
    "reportlab",
    "PIL",
    "markdown_it",
    "requests",
    "httpx",
    "asyncpg",
    "tortoise.migrations.api",
)


def test_web_start_does_not_import_what_it_needs_only_when_used(tmp_path: Path) -> None:
    """What `gongkai serve` runs before the first request on SQLite: the app and every
    channel."""
    statement = (
        "from bot.settings import load_settings\n"
        "from bot.web.app import create_app\n"
        "from bot.app import open_channels\n"
        f"settings = load_settings(data_dir={str(tmp_path)!r}, database_url='')\n"
        "create_app(settings)\n"
        "channels = open_channels(settings)\n"
        "assert {'website', 'noticeboard', 'wechat'} <= set(channels), channels\n"
    )
    loaded = _modules_after(statement)
    assert "bot.web.app" in loaded
    assert [name for name in HEAVY_UNTIL_USED if name in loaded] == []
