"""Opening, migrating and closing the database, and the few raw-SQL helpers we need."""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import socket
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import OperationalError

if TYPE_CHECKING:
    import asyncpg

MODELS_MODULES = [
    "storage.models",
    "storage.wechat_models",
    "storage.register_models",
    "storage.console_models",
    "storage.review_models",
    "storage.idempotency",
]
MIGRATIONS_MODULE = "storage.migrations"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 15_000


# What a lost database looks like from here: the driver's connection errors, Tortoise's
# translations of them, and the socket's (refused, reset, timed out, host not found).
# Not OSError as a whole: a full disk or a permission error is not "database unavailable".
_DOWN_ON_ANY_DATABASE: tuple[type[Exception], ...] = (
    ConnectionError,  # refused, reset, broken pipe; includes Tortoise's DBConnectionError
    TimeoutError,  # asyncpg's connect and pool timeouts
    socket.gaierror,  # the database host's name does not resolve
    OperationalError,
)


def database_down_errors(url: str) -> tuple[type[Exception], ...]:
    """The errors that mean the database at ``url`` is unavailable: on PostgreSQL also the
    driver's own (asyncpg is loaded only there; a SQLite server never raises them)."""
    if not url.startswith("postgres"):
        return _DOWN_ON_ANY_DATABASE
    import asyncpg

    return (
        *_DOWN_ON_ANY_DATABASE,
        asyncpg.exceptions.PostgresConnectionError,
        asyncpg.exceptions.CannotConnectNowError,
        asyncpg.exceptions.InterfaceError,
    )


def tortoise_config(url: str) -> dict[str, Any]:
    """The Tortoise config dict for ``url`` (``sqlite://PATH`` or ``postgres://...``)."""
    if url.startswith("sqlite://") and "busy_timeout" not in url:
        # Several processes (web, workers) share one SQLite file: wait, don't fail, on a lock.
        url += ("&" if "?" in url else "?") + f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}"
    name = connection_name(url)
    return {
        "connections": {name: url},
        "apps": {
            "models": {
                "models": [*MODELS_MODULES, *_channel_model_modules()],
                "default_connection": name,
                "migrations": MIGRATIONS_MODULE,
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


def _channel_model_modules() -> tuple[str, ...]:
    """The tables channels keep in their own folders, as the channel registry lists them."""
    from channels.registry import MODEL_MODULES

    return MODEL_MODULES


async def open_database(url: str, *, apply_migrations: bool = True) -> None:
    """Connect, and bring the schema up to date first unless told not to."""
    config = tortoise_config(url)
    if apply_migrations:
        await _migrate_once(url, config)
    # One database per process; request tasks are not children of the lifespan task,
    # so they need the global fallback to see the ORM context.
    await Tortoise.init(config=config, _enable_global_fallback=True)


async def _migrate_once(url: str, config: dict[str, Any]) -> None:
    """Apply pending migrations; on PostgreSQL one process at a time (web and workers
    may start together), under a session advisory lock.

    Tortoise's migrate builds the schema state of every migration, which costs a process
    about 40 MB for good; a start-up with nothing to apply (the usual one) skips it, and
    does not even import it (its schema editors for every database cost 8 MB more)."""
    if not url.startswith("postgres"):
        if _unapplied(_sqlite_applied(url)):
            await _migrate(config)  # SQLite serialises writers itself
        return
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        try:
            if _unapplied(await _postgres_applied(conn)):
                await _migrate(config)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    finally:
        await conn.close()


async def _migrate(config: dict[str, Any]) -> None:
    from tortoise.migrations.api import migrate

    await migrate(config=config)


def _unapplied(applied: set[str]) -> list[str]:
    """This code's migrations (files ``NNNN_name.py``) missing from ``applied``."""
    on_disk = {path.stem for path in MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.py")}
    return sorted(on_disk - applied)


def _sqlite_applied(url: str) -> set[str]:
    path = url.removeprefix("sqlite://").split("?", 1)[0]
    if not Path(path).exists():
        return set()
    with contextlib.closing(sqlite3.connect(path)) as db:
        try:
            rows = db.execute(_APPLIED_SQL).fetchall()
        except sqlite3.OperationalError:  # no table yet: a new database
            return set()
    return {name for (name,) in rows}


async def _postgres_applied(conn: asyncpg.Connection) -> set[str]:
    import asyncpg

    try:
        rows = await conn.fetch(_APPLIED_SQL)
    except asyncpg.exceptions.UndefinedTableError:  # a new database
        return set()
    return {row["name"] for row in rows}


_APPLIED_SQL = "SELECT name FROM tortoise_migrations WHERE app = 'models'"


async def pending_migrations() -> list[str]:
    """Names of the migrations this code has and the open database has not applied."""
    try:
        rows = await connection().execute_query_dict(_APPLIED_SQL)
    except OperationalError:  # the table is missing: nothing was ever applied
        rows = []
    return [f"models.{name}" for name in _unapplied({row["name"] for row in rows})]


_MIGRATION_LOCK = 0x67_6F_6E_67  # "gong": any constant shared by all Gongkai processes


async def close_database() -> None:
    await Tortoise.close_connections()


def connection_name(url: str) -> str:
    """One connection name per dialect: Tortoise caches SQL text per connection name."""
    return "postgres" if url.startswith("postgres") else "sqlite"


def connection() -> BaseDBAsyncClient:
    from storage.models import Organization

    conn: BaseDBAsyncClient = Organization._meta.db
    return conn


def is_postgres(conn: BaseDBAsyncClient | None = None) -> bool:
    conn = conn or connection()
    return conn.capabilities.dialect == "postgres"


def _placeholders(sql: str, postgres: bool) -> str:
    if not postgres:
        return sql
    counter = iter(range(1, 10_000))
    return re.sub(r"\?", lambda _m: f"${next(counter)}", sql)


def _param(value: object, postgres: bool) -> object:
    if not postgres and isinstance(value, dt.date | dt.datetime):
        return value.isoformat()  # how Tortoise stores dates in SQLite
    return value


async def fetch_all(sql: str, *params: object) -> list[dict[str, Any]]:
    """Run a read query written with ``?`` placeholders on either dialect."""
    conn = connection()
    postgres = is_postgres(conn)
    values = [_param(p, postgres) for p in params]
    return await conn.execute_query_dict(_placeholders(sql, postgres), values)


# For `python -m tortoise -c storage.db.DEV_CONFIG makemigrations`: a scratch database.
DEV_CONFIG = tortoise_config("sqlite://data/dev-migrations.sqlite3")
