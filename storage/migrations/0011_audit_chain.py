from typing import Any

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

from storage.audit_chain import CHAINED_FIELDS, GENESIS, link_hash

# The audit log becomes tamper-evident: every row carries the hash of the row before it
# (rows already there are chained in id order here), and triggers refuse UPDATE and DELETE.

_PG_TRIGGERS = """
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_event is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
"""
_PG_DROP = """
DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event;
DROP FUNCTION IF EXISTS audit_event_append_only();
"""
_SQLITE_TRIGGERS = """
CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event
BEGIN SELECT RAISE(ABORT, 'audit_event is append-only: UPDATE refused'); END;
CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event
BEGIN SELECT RAISE(ABORT, 'audit_event is append-only: DELETE refused'); END;
"""
_SQLITE_DROP = """
DROP TRIGGER IF EXISTS audit_event_no_update;
DROP TRIGGER IF EXISTS audit_event_no_delete;
"""


async def _chain_and_guard(apps: Any, schema_editor: Any) -> None:
    client = schema_editor.client
    postgres = client.capabilities.dialect == "postgres"
    columns = ", ".join(CHAINED_FIELDS)
    rows = await client.execute_query_dict(f"SELECT id, {columns} FROM audit_event ORDER BY id")
    update = (
        "UPDATE audit_event SET prev_hash = $1, hash = $2 WHERE id = $3"
        if postgres
        else "UPDATE audit_event SET prev_hash = ?, hash = ? WHERE id = ?"
    )
    prev = GENESIS
    for row in rows:
        digest = link_hash(prev, row)
        await client.execute_query(update, [prev, digest, row["id"]])
        prev = digest
    await client.execute_script(_PG_TRIGGERS if postgres else _SQLITE_TRIGGERS)


async def _unguard(apps: Any, schema_editor: Any) -> None:
    client = schema_editor.client
    postgres = client.capabilities.dialect == "postgres"
    await client.execute_script(_PG_DROP if postgres else _SQLITE_DROP)


class Migration(migrations.Migration):
    dependencies = [('models', '0010_console_sessions')]

    initial = False

    operations = [
        ops.AddField(
            model_name='AuditEvent',
            name='prev_hash',
            field=fields.CharField(default='', db_default='', max_length=64),
        ),
        ops.AddField(
            model_name='AuditEvent',
            name='hash',
            field=fields.CharField(default='', db_default='', max_length=64),
        ),
        ops.RunPython(_chain_and_guard, _unguard),
    ]
