"""The audit log's hash chain: each row carries the hash of the row before it.

A row's ``hash`` is SHA-256 over the previous row's hash and the row's canonical fields
(``CHAINED_FIELDS``, the one list of what a row's hash covers). Rows are chained in
insertion (id) order; writers take a lock first so two writers never chain onto the same
row: on PostgreSQL a transaction-scoped advisory lock, on SQLite the database's write lock
(a no-op write). Either lock is held until the caller's transaction ends.

Changing or deleting a row is refused by triggers (migration 0011); if someone bypasses
them, ``verify`` names the first row whose link no longer holds. Deleting rows at the end
leaves a shorter chain that is still intact: compare ``head`` with a copy kept elsewhere.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from storage.console_models import AuditEvent

__all__ = ["CHAINED_FIELDS", "GENESIS", "ChainReport", "append", "link_hash", "verify"]

# What a row's hash covers, in this order. A new audit column enters the hash only with a
# new hash scheme (old rows keep theirs): add it here and to the migration that adds it.
CHAINED_FIELDS = (
    "at",
    "user_id",
    "username",
    "token_id",
    "organization_id",
    "action",
    "target",
    "detail",
    "ip",
    "outcome",
)
GENESIS = "0" * 64  # the "previous hash" of the first row
_LOCK_KEY = 0x61_75_64_69_74  # "audit": the advisory lock every audit writer takes


def _plain(value: Any) -> Any:
    """JSON values as a JSON column gives them back: integral floats become ints (jsonb
    keeps 1e20 as 100000000000000000000), mapping keys become strings."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _canonical_value(name: str, value: Any) -> Any:
    if name == "at":
        if isinstance(value, str):
            value = dt.datetime.fromisoformat(value)
        if not isinstance(value, dt.datetime):
            raise TypeError(f"audit 'at' must be a datetime, not {type(value).__name__}")
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if name == "detail":
        if isinstance(value, str | bytes):
            value = json.loads(value)
        return _plain(value or {})
    return value


def canonical(row: Mapping[str, Any]) -> bytes:
    """The bytes a row's hash covers: its chained fields as sorted, compact JSON."""
    fields = {name: _canonical_value(name, row.get(name)) for name in CHAINED_FIELDS}
    text = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8")


def link_hash(prev_hash: str, row: Mapping[str, Any]) -> str:
    """SHA-256 (hex) over the previous row's hash, a newline and the row's canonical bytes."""
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + canonical(row)).hexdigest()


def _fields_of(event: AuditEvent) -> dict[str, Any]:
    return {name: getattr(event, name, None) for name in CHAINED_FIELDS}


async def _lock(conn: BaseDBAsyncClient) -> None:
    """Serialize chain writers until the surrounding transaction ends."""
    if conn.capabilities.dialect == "postgres":
        await conn.execute_query("SELECT pg_advisory_xact_lock($1)", [_LOCK_KEY])
    else:
        # Takes SQLite's write lock now, before the head is read (no row matches).
        await conn.execute_query("DELETE FROM audit_event WHERE 0")


async def append(event: AuditEvent, using_db: BaseDBAsyncClient | None = None) -> AuditEvent:
    """Chain ``event`` onto the newest row and insert it, inside ``using_db``'s transaction
    when given (the lock is then held until that transaction commits)."""
    event.detail = _plain(event.detail or {})
    context = using_db._in_transaction() if using_db is not None else in_transaction()
    async with context as conn:
        await _lock(conn)
        head = (
            await AuditEvent.all()
            .using_db(conn)
            .order_by("-id")
            .limit(1)
            .values_list("hash", flat=True)
        )
        event.prev_hash = str(head[0]) if head else GENESIS
        event.hash = link_hash(event.prev_hash, _fields_of(event))
        await event.save(using_db=conn)
    return event


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What ``verify`` found: the rows checked, the newest hash, and the first broken link."""

    rows: int
    head: str
    broken_id: int | None = None
    problem: str = ""

    @property
    def intact(self) -> bool:
        return self.broken_id is None


async def verify(batch: int = 1000) -> ChainReport:
    """Walk the chain in id order; stop at the first row whose link does not hold."""
    prev, last_id, rows = GENESIS, 0, 0
    while True:
        page = await AuditEvent.filter(id__gt=last_id).order_by("id").limit(batch)
        if not page:
            return ChainReport(rows=rows, head=prev)
        for event in page:
            if event.prev_hash != prev:
                problem = (
                    "its prev_hash does not match the row before it "
                    "(a row was removed or inserted out of order)"
                )
                return ChainReport(rows, prev, event.id, problem)
            if event.hash != link_hash(event.prev_hash, _fields_of(event)):
                problem = "its hash does not match its contents (the row was changed)"
                return ChainReport(rows, prev, event.id, problem)
            prev, last_id, rows = event.hash, event.id, rows + 1
