from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

# Every foreign key and filter the API, the console and the report use gets an index, so
# no page or report reads a whole large table (tests/integration/test_query_plans.py).
# delivery.batch_key was declared db_index=True in 0003, but AddField does not create
# indexes: it is made here with plain SQL, which both databases accept.

class Migration(migrations.Migration):
    dependencies = [('models', '0014_registers_desk')]

    initial = False

    operations = [
        ops.AddIndex(model_name='Delivery', index=Index(fields=['item_id'])),
        ops.AddIndex(model_name='DeliveryAttempt', index=Index(fields=['delivery_id'])),
        ops.AddIndex(model_name='Publication', index=Index(fields=['item_id'])),
        ops.AddIndex(model_name='Item', index=Index(fields=['organization_id', 'publish_at'])),
        ops.AddIndex(model_name='Item', index=Index(fields=['organization_id', 'created_at'])),
        ops.AddIndex(model_name='Item', index=Index(fields=['supersedes_id'])),
        ops.AddIndex(model_name='Organization', index=Index(fields=['parent_id'])),
        ops.AddIndex(model_name='Review', index=Index(fields=['item_id'])),
        ops.RunSQL(
            "CREATE INDEX IF NOT EXISTS idx_delivery_batch_key ON delivery (batch_key)",
            reverse_sql="DROP INDEX IF EXISTS idx_delivery_batch_key",
        ),
    ]
