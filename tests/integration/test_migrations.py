"""The models and the migrations agree: Tortoise's autodetector, the code behind
`make migration NAME=…`, finds nothing to write."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tortoise.context import TortoiseContext
from tortoise.migrations.autodetector import MigrationAutodetector
from tortoise.migrations.operations import AlterModelOptions

from storage.db import tortoise_config

# Migration 0012 recorded these two models' whole multi-line docstrings as their table
# descriptions (a comment, not schema); the models now give the first line only. A new
# migration that records the short form removes them from this list.
DESCRIPTION_ONLY_DRIFT = {"WechatCallbackNonce", "WechatPreviewRecipient"}


def _is_known_drift(operation: Any) -> bool:
    return (
        isinstance(operation, AlterModelOptions)
        and operation.name in DESCRIPTION_ONLY_DRIFT
        and "table_description" in operation.options
    )


def _describe(operation: Any) -> str:
    return f"{type(operation).__name__} {vars(operation)}"


async def test_the_models_need_no_new_migration(tmp_path: Path) -> None:
    config = tortoise_config(f"sqlite://{tmp_path / 'autodetect.sqlite3'}")
    async with TortoiseContext() as ctx:
        await ctx.init(config=config)
        assert ctx.apps is not None
        writers = await MigrationAutodetector(ctx.apps, config["apps"]).changes()
    pending = [op for writer in writers for op in writer.operations if not _is_known_drift(op)]
    assert pending == [], "models changed without a migration (make migration NAME=…):\n" + (
        "\n".join(_describe(op) for op in pending)
    )
