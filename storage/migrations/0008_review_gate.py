from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0007_console_accounts')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Review',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('item', fields.ForeignKeyField('models.Item', source_field='item_id', db_constraint=True, to_field='id', related_name='reviews', on_delete=OnDelete.RESTRICT)),
                ('reviewer_id', fields.IntField(null=True)),
                ('reviewer_name', fields.CharField(max_length=100)),
                ('decision', fields.CharField(db_index=True, max_length=16)),
                ('checks', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('checked_at', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('findings', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('override_reason', fields.TextField(default='', unique=False)),
                ('comment', fields.TextField(default='', unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'review', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One review decision on one item revision, with the checklist and the scan findings.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='ApiToken',
            name='review_exempt',
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name='Item',
            name='author_user_id',
            field=fields.IntField(null=True),
        ),
    ]
