"""Idempotency keys: the first answer to a request, kept per caller and key for 24 hours.

``claim`` runs inside the transaction that will create things. It inserts the key first,
so a concurrent repeat waits on the key's unique index (PostgreSQL) or on the database
lock (SQLite) until the first transaction ends, then finds the stored answer. The answer
is written in the same transaction as what it describes: a key is never stored without
its answer, and an answer never without the rows it reports.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from tortoise import fields
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from storage.model_base import Model

LIFETIME = dt.timedelta(hours=24)
MAX_KEY_LENGTH = 255


class IdempotencyKey(Model):
    """The first answer to a request sent with an Idempotency-Key, per caller and key."""

    id = fields.IntField(primary_key=True)
    scope = fields.CharField(max_length=64)  # who: "token:<id>" (or "name:<token name>")
    key = fields.CharField(max_length=MAX_KEY_LENGTH)
    request_hash = fields.CharField(max_length=64)  # method, path and canonical JSON body
    status_code = fields.IntField(null=True)
    response: Any = fields.JSONField(null=True)
    created_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "idempotency_key"
        unique_together = (("scope", "key"),)


def request_hash(method: str, path: str, body: Any) -> str:
    """The same request, whatever the key order or spacing of its JSON body."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Stored:
    """An earlier answer under the same key: replay it if ``same_request``, else refuse."""

    same_request: bool
    status_code: int | None
    response: Any


@dataclass(frozen=True, slots=True)
class Slot:
    """A key this request now holds, inside its transaction."""

    id: int
    conn: BaseDBAsyncClient

    async def answer(self, status_code: int, response: Any) -> None:
        await (
            IdempotencyKey.filter(id=self.id)
            .using_db(self.conn)
            .update(status_code=status_code, response=response)
        )

    async def give_up(self) -> None:
        """The request failed: forget the key so a repeat runs again."""
        await IdempotencyKey.filter(id=self.id).using_db(self.conn).delete()


async def claim(
    conn: BaseDBAsyncClient, *, scope: str, key: str, digest: str, now: dt.datetime
) -> Slot | Stored:
    """Hold ``key`` for this request in ``conn``'s transaction, or return what it stored."""
    await IdempotencyKey.filter(created_at__lt=now - LIFETIME).using_db(conn).delete()
    for _ in range(2):
        found = await IdempotencyKey.get_or_none(scope=scope, key=key, using_db=conn)
        if found is not None:
            return Stored(found.request_hash == digest, found.status_code, found.response)
        try:
            async with in_transaction(conn.connection_name):  # a savepoint inside conn's
                row = await IdempotencyKey.create(
                    scope=scope, key=key, request_hash=digest, created_at=now, using_db=conn
                )
        except IntegrityError:
            continue  # a concurrent first request committed it meanwhile: read it
        return Slot(row.id, conn)
    raise RuntimeError(f"idempotency key {key!r} neither stored nor found")
