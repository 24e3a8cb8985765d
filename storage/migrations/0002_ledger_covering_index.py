from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.RemoveIndex(
            model_name='Publication',
            name=None,
            fields=['organization_id', 'local_date'],
        ),
        ops.AddIndex(
            model_name='Publication',
            index=Index(fields=['organization_id', 'local_date', 'lineage_id', 'channel', 'normative']),
        ),
    ]
