"""The audit log is tamper-evident, on both databases: every row is hash-chained to the one
before, triggers refuse UPDATE and DELETE, and `gongkai audit verify` names the first broken
link of a chain someone changed behind the triggers' back."""

# ruff: noqa: S608 - the tampering SQL is the test's own, with integer ids
from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tortoise.transactions import in_transaction

from bot.settings import Settings
from storage import audit
from storage.audit_chain import GENESIS, link_hash, verify
from storage.console_models import AuditEvent
from storage.db import close_database, connection, is_postgres, open_database

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def events(settings: Settings) -> AsyncIterator[list[AuditEvent]]:
    """Twelve chained rows: some alone, some inside a caller's transaction, some at once."""
    settings.ensure_dirs()
    await open_database(settings.effective_database_url)
    try:
        written = [await audit.record("login.succeeded", username="td_admin", ip="10.0.0.1")]
        async with in_transaction() as conn:
            written.append(
                await audit.record(
                    "item.approved",
                    user_id=3,
                    username="李审核",
                    organization_id=2,
                    target="item:7 关于春耕的通知",
                    detail={"checks": {"保密": True}, "score": 1.0, "n": [1, 2.5]},
                    using_db=conn,
                )
            )
        written += await asyncio.gather(
            *(audit.record("item.viewed", username=f"u{i}", target=f"item:{i}") for i in range(10))
        )
        yield sorted(written, key=lambda event: event.id)  # the chain's order
    finally:
        await close_database()


def gongkai_audit_verify(settings: Settings) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "GONGKAI_DATA_DIR": str(settings.data_dir),
        "GONGKAI_DATABASE_URL": settings.effective_database_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "bot", "audit", "verify"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_every_row_is_chained_and_verify_says_intact(
    settings: Settings, events: list[AuditEvent]
) -> None:
    rows = await AuditEvent.all().order_by("id")
    assert len(rows) == 12
    assert rows[0].prev_hash == GENESIS
    for before, row in itertools.pairwise(rows):
        assert row.prev_hash == before.hash  # concurrent writers never forked the chain
    report = await verify()
    assert report.intact
    assert report.rows == 12
    assert report.head == rows[-1].hash

    done = gongkai_audit_verify(settings)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("audit chain intact: 12 rows"), done.stdout


async def test_the_database_refuses_update_and_delete(events: list[AuditEvent]) -> None:
    conn = connection()
    for sql in (
        "UPDATE audit_event SET username = 'someone else'",
        "DELETE FROM audit_event WHERE id = (SELECT MAX(id) FROM audit_event)",
    ):
        with pytest.raises(Exception, match="append-only"):
            await conn.execute_query(sql)
    assert await AuditEvent.all().count() == 12
    assert (await verify()).intact


async def _behind_the_triggers(sql: str) -> None:
    """What an intruder with the table owner's rights could do: switch the triggers off."""
    conn = connection()
    if is_postgres(conn):
        await conn.execute_script(
            "ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only;"
            f"{sql};"
            "ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only;"
        )
    else:
        await conn.execute_script(
            f"DROP TRIGGER audit_event_no_update; DROP TRIGGER audit_event_no_delete;{sql};"
        )


async def test_a_changed_row_is_reported(settings: Settings, events: list[AuditEvent]) -> None:
    changed = events[1]
    await _behind_the_triggers(
        f"UPDATE audit_event SET target = 'item:8 别的通知' WHERE id = {changed.id}"
    )
    report = await verify()
    assert report.broken_id == changed.id
    assert report.rows == 1
    assert "changed" in report.problem

    done = gongkai_audit_verify(settings)
    assert done.returncode == 1, done.stdout
    assert f"audit chain broken at row {changed.id}" in done.stderr, done.stderr


async def test_a_removed_row_is_reported_at_the_next(
    settings: Settings, events: list[AuditEvent]
) -> None:
    removed, following = events[3], events[4]
    await _behind_the_triggers(f"DELETE FROM audit_event WHERE id = {removed.id}")
    report = await verify()
    assert report.broken_id == following.id
    assert "removed" in report.problem

    done = gongkai_audit_verify(settings)
    assert done.returncode == 1
    assert f"audit chain broken at row {following.id}" in done.stderr, done.stderr


async def test_a_row_rewritten_with_a_fresh_hash_still_breaks_the_next_link(
    events: list[AuditEvent],
) -> None:
    """Recomputing the changed row's own hash does not help: the next row names the old one."""
    row = events[5]
    fields = {
        "at": row.at,
        "user_id": None,
        "username": "nobody",
        "token_id": row.token_id,
        "organization_id": None,
        "action": row.action,
        "target": row.target,
        "detail": row.detail,
        "ip": row.ip,
        "outcome": row.outcome,
    }
    forged = link_hash(row.prev_hash, fields)
    await _behind_the_triggers(
        f"UPDATE audit_event SET username = 'nobody', hash = '{forged}' WHERE id = {row.id}"
    )
    report = await verify()
    assert report.broken_id == events[6].id
