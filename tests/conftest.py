"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from ``GONGKAI_TEST_PG_URL`` (default: the local ``test`` database), in
a database of its own made for each pytest process and dropped at the end.
When it cannot be reached the PostgreSQL half is skipped, unless ``GONGKAI_REQUIRE_PG=1``
(set by .ci/run), which turns that into a failure so CI can never skip it silently.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from bot.settings import Settings
from storage.db import close_database, open_database

BASE_PG_URL = os.environ.get("GONGKAI_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/test")
# Each pytest process gets a database of its own, made from the base one, so two runs on
# one machine (a developer's and CI's, or several at once) never empty each other's tables.
_SESSION_DB = f"{urlsplit(BASE_PG_URL).path.lstrip('/')}_run{os.getpid()}"
PG_URL = urlunsplit(urlsplit(BASE_PG_URL)._replace(path=f"/{_SESSION_DB}"))
_pg_state: dict[str, bool] = {}
_sqlite_template: dict[str, Path] = {}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _create_session_database() -> None:
    """Create this run's database; drop those left by runs that were killed."""
    base = await asyncpg.connect(BASE_PG_URL, timeout=5)
    try:
        prefix = _SESSION_DB.rsplit("_run", 1)[0] + "_run"
        for row in await base.fetch(
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", prefix
        ):
            suffix = row["datname"][len(prefix) :]
            if suffix.isdigit() and not _pid_alive(int(suffix)):
                await base.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
        await base.execute(f'DROP DATABASE IF EXISTS "{_SESSION_DB}" WITH (FORCE)')
        await base.execute(f'CREATE DATABASE "{_SESSION_DB}"')
    finally:
        await base.close()


async def _drop_session_database() -> None:
    base = await asyncpg.connect(BASE_PG_URL, timeout=5)
    try:
        await base.execute(f'DROP DATABASE IF EXISTS "{_SESSION_DB}" WITH (FORCE)')
    finally:
        await base.close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _pg_state.get("created"):
        asyncio.run(_drop_session_database())


async def _prepare_postgres() -> None:
    """Create this run's database once, then empty its tables before each test."""
    try:
        if not _pg_state.get("created"):
            await _create_session_database()
            _pg_state["created"] = True
            return  # a new database is empty
        conn = await asyncpg.connect(PG_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("GONGKAI_REQUIRE_PG") == "1":
            pytest.fail(f"PostgreSQL required but unreachable at {BASE_PG_URL}: {exc}")
        pytest.skip(f"PostgreSQL unreachable at {BASE_PG_URL}: {exc}")
    try:
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'tortoise_migrations'"
        )
        names = ", ".join(f'"{row["tablename"]}"' for row in tables)
        if names:  # every table the migrations made, so no test sees another's rows
            await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


async def _migrated_sqlite(path: Path, factory: pytest.TempPathFactory) -> None:
    """Copy a migrated, empty SQLite file to ``path``: applying the migrations takes
    Tortoise seconds, copying the file a millisecond."""
    template = _sqlite_template.get("path")
    if template is None:
        template = factory.mktemp("sqlite-template") / "gongkai.sqlite3"
        await open_database(f"sqlite://{template}")
        await close_database()
        _sqlite_template["path"] = template
    shutil.copyfile(template, path)


@pytest.fixture(params=["sqlite", "postgres"])
async def db_url(
    request: pytest.FixtureRequest, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """An empty, migrated database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "data" / "gongkai.sqlite3"  # where ``settings`` points the app
        path.parent.mkdir(parents=True, exist_ok=True)
        await _migrated_sqlite(path, tmp_path_factory)
        return f"sqlite://{path}"
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
