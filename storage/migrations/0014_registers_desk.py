from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0013_idempotency')]

    initial = False

    operations = [
        ops.AddField(
            model_name='Application',
            name='applicant_name',
            field=fields.CharField(default='', max_length=100),
        ),
        ops.AddField(
            model_name='Application',
            name='reply_note',
            field=fields.TextField(default='', unique=False),
        ),
        ops.AddField(
            model_name='Application',
            name='fee_basis',
            field=fields.CharField(default='', max_length=8),
        ),
        ops.AddField(
            model_name='Application',
            name='fee_pages',
            field=fields.IntField(default=0),
        ),
        ops.AddField(
            model_name='NormativeDocument',
            name='validity',
            field=fields.CharField(default='有效', max_length=8),
        ),
        ops.AddField(
            model_name='NormativeDocument',
            name='item_id',
            field=fields.IntField(null=True, db_index=True),
        ),
        ops.AddField(
            model_name='Case',
            name='application_id',
            field=fields.IntField(null=True, db_index=True),
        ),
        *[
            ops.AddField(model_name='AdminDecisionCount', name=name, field=fields.IntField(null=True))
            for name in (
                'other_services', 'licensing_prev', 'licensing_change', 'other_services_prev',
                'other_services_change', 'penalty_prev', 'penalty_change', 'enforcement_prev',
                'enforcement_change', 'fees_prev', 'fees_change', 'procurement_projects',
            )
        ],
        ops.AddField(
            model_name='AdminDecisionCount',
            name='procurement_amount_wan',
            field=fields.DecimalField(null=True, max_digits=14, decimal_places=4),
        ),
        ops.CreateModel(
            name='Table3Entry',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='table3_entries', on_delete=OnDelete.RESTRICT)),
                ('year', fields.IntField()),
                ('cells', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'table3_entry', 'app': 'models', 'unique_together': (('organization', 'year'),), 'pk_attr': 'id', 'table_description': 'Table 三 entered as totals (a township that keeps its applications on paper).'},
            bases=['Model'],
        ),
    ]
