from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.fields.base import OnDelete
from tortoise.indexes import Index

# A ledger row may be proof of publication without counting as 公开 (a message to an
# internal group): publication.counted, and the covering index of the tally takes it in.
# The 企业微信 group robot keeps one robot per organization (channels/wecom_robot/models.py).

class Migration(migrations.Migration):
    dependencies = [('models', '0016_wechat_live')]

    initial = False

    operations = [
        ops.CreateModel(
            name='WecomRobotAccount',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.OneToOneField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='wecom_robot', on_delete=OnDelete.CASCADE)),
                ('group_name', fields.CharField(max_length=50)),
                ('key_sealed', fields.TextField(unique=False)),
                ('msg_type', fields.CharField(default='markdown', max_length=16)),
                ('counts_in_report', fields.BooleanField(default=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'wecom_robot_account', 'app': 'models', 'pk_attr': 'id', 'table_description': "One organization's group robot, the key sealed with the server key."},
            bases=['Model'],
        ),
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
