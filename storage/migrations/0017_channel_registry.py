from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

# A ledger row may be proof of publication without counting as 公开 (a message to an
# internal group): publication.counted, and the covering index of the tally takes it in.

class Migration(migrations.Migration):
    dependencies = [('models', '0015_indexes')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Publication',
            name='counted',
            field=fields.BooleanField(default=True),
        ),
        ops.RemoveIndex(
            model_name='Publication',
            name=None,
            fields=['organization_id', 'local_date', 'lineage_id', 'channel', 'normative'],
        ),
        ops.AddIndex(
            model_name='Publication',
            index=Index(
                fields=['organization_id', 'local_date', 'lineage_id', 'channel', 'normative', 'counted']
            ),
        ),
    ]
