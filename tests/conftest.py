"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``GONGKAI_TEST_PG_URL`` (default: the local ``test`` database).
When it cannot be reached the PostgreSQL half is skipped, unless ``GONGKAI_REQUIRE_PG=1``
(set by .ci/run), which turns that into a failure so CI can never skip it silently.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from bot.settings import Settings
from storage.db import close_database, open_database

PG_URL = os.environ.get("GONGKAI_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/test")
_pg_state: dict[str, bool] = {}


async def _prepare_postgres() -> None:
    """Reset the test database's schema once per session, then empty the tables per test."""
    try:
        conn = await asyncpg.connect(PG_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("GONGKAI_REQUIRE_PG") == "1":
            pytest.fail(f"PostgreSQL required but unreachable at {PG_URL}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {PG_URL}: {exc}")
    try:
        if not _pg_state.get("reset"):
            await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
            _pg_state["reset"] = True
        else:
            tables = await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'tortoise_migrations'"
            )
            names = ", ".join(f'"{row["tablename"]}"' for row in tables)
            if names:  # every table the migrations made, so no test sees another's rows
                await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


@pytest.fixture(params=["sqlite", "postgres"])
async def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each kind (its schema is applied when first opened)."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path / 'gongkai.sqlite3'}"
    await _prepare_postgres()
    return PG_URL


@pytest.fixture
async def database(db_url: str) -> AsyncIterator[str]:
    """An open, migrated, empty database for storage-level tests."""
    await open_database(db_url)
    yield db_url
    await close_database()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Settings pointing at the test database and a private data folder."""
    return Settings(
        data_dir=tmp_path / "data",
        database_url=db_url if db_url.startswith("postgres") else "",
        site_base_url="http://127.0.0.1:8000/site",
        backoff_base_seconds=0.01,
        backoff_cap_seconds=0.05,
        worker_id="test-worker",
    )
