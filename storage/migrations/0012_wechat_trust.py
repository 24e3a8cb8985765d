from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0011_audit_chain')]

    initial = False

    operations = [
        ops.CreateModel(
            name='WechatPreviewRecipient',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='wechat_preview_recipients', on_delete=OnDelete.CASCADE)),
                ('openid', fields.CharField(max_length=64)),
                ('name', fields.CharField(default='', max_length=32)),
                ('added_by', fields.CharField(default='', max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'wechat_preview_recipient', 'app': 'models', 'unique_together': (('organization', 'openid'),), 'pk_attr': 'id', 'table_description': 'An openid an administrator registered to receive previews of items not yet\n    released: a reviewer phone, used before signing the 保密审查.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WechatCallbackNonce',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('app_id', fields.CharField(max_length=32)),
                ('timestamp', fields.CharField(max_length=16)),
                ('nonce', fields.CharField(max_length=64)),
                ('received_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'wechat_callback_nonce', 'app': 'models', 'unique_together': (('app_id', 'timestamp', 'nonce'),), 'pk_attr': 'id', 'table_description': 'A (timestamp, nonce) pair a signed callback used, kept while its signature would\n    still be accepted, so a replayed request is recognised and refused.'},
            bases=['Model'],
        ),
    ]
