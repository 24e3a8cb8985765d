from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0002_ledger_covering_index')]

    initial = False

    operations = [
        ops.CreateModel(
            name='WechatAccount',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.OneToOneField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='wechat_account', on_delete=OnDelete.CASCADE)),
                ('app_id', fields.CharField(unique=True, max_length=32)),
                ('app_secret_sealed', fields.TextField(unique=False)),
                ('original_id', fields.CharField(default='', max_length=32)),
                ('kind', fields.CharField(default='subscription', max_length=16)),
                ('mode', fields.CharField(default='broadcast', max_length=16)),
                ('tag_id', fields.IntField(null=True)),
                ('slot_time', fields.CharField(default='18:00', max_length=5)),
                ('allow_publish_fallback', fields.BooleanField(default=False)),
                ('callback_token_sealed', fields.TextField(default='', unique=False)),
                ('aes_key_sealed', fields.TextField(default='', unique=False)),
                ('author', fields.CharField(default='', max_length=16)),
                ('cover_file', fields.CharField(default='', max_length=300)),
                ('preview_openid', fields.CharField(default='', max_length=64)),
                ('welcome_text', fields.TextField(default='', unique=False)),
                ('keywords', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('default_reply', fields.TextField(default='', unique=False)),
                ('enabled', fields.BooleanField(default=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'wechat_account', 'app': 'models', 'pk_attr': 'id', 'table_description': "An organization's official account (公众号) and how Gongkai publishes to it."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WechatEvent',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('app_id', fields.CharField(max_length=32)),
                ('dedupe_key', fields.CharField(unique=True, max_length=128)),
                ('kind', fields.CharField(max_length=32)),
                ('payload', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('processed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'wechat_event', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A callback WeChat sent, stored before it is answered, so that retries dedupe here.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WechatJob',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('batch_key', fields.CharField(unique=True, max_length=32)),
                ('app_id', fields.CharField(db_index=True, max_length=32)),
                ('mode', fields.CharField(max_length=16)),
                ('local_date', fields.DateField()),
                ('delivery_ids', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('draft_media_id', fields.CharField(null=True, max_length=128)),
                ('commit_started_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('msg_id', fields.CharField(null=True, db_index=True, max_length=32)),
                ('msg_data_id', fields.CharField(null=True, max_length=32)),
                ('publish_id', fields.CharField(null=True, db_index=True, max_length=32)),
                ('article_id', fields.CharField(null=True, max_length=128)),
                ('status', fields.CharField(default='drafting', max_length=16)),
                ('platform_status', fields.CharField(default='', max_length=64)),
                ('article_urls', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('fail_idx', fields.JSONField(default=list, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('total_count', fields.IntField(null=True)),
                ('filter_count', fields.IntField(null=True)),
                ('sent_count', fields.IntField(null=True)),
                ('error_count', fields.IntField(null=True)),
                ('last_polled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('finished_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'wechat_job', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One commit to WeChat for a batch of deliveries: a broadcast or a free publish.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WechatMedia',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('app_id', fields.CharField(max_length=32)),
                ('sha256', fields.CharField(max_length=64)),
                ('kind', fields.CharField(max_length=16)),
                ('media_id', fields.CharField(null=True, max_length=128)),
                ('url', fields.CharField(null=True, max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'wechat_media', 'app': 'models', 'unique_together': (('app_id', 'sha256', 'kind'),), 'pk_attr': 'id', 'table_description': 'An image uploaded once per account, found again by its content hash.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='WechatToken',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('app_id', fields.CharField(unique=True, max_length=32)),
                ('token', fields.TextField(default='', unique=False)),
                ('expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('lock_owner', fields.CharField(null=True, max_length=64)),
                ('lock_expires_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'wechat_token', 'app': 'models', 'pk_attr': 'id', 'table_description': 'The one access_token every worker shares, and the lock that guards refreshing it.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='Delivery',
            name='batch_key',
            field=fields.CharField(null=True, db_index=True, max_length=32),
        ),
        ops.AddField(
            model_name='Delivery',
            name='priority',
            field=fields.SmallIntField(default=0),
        ),
        ops.AddField(
            model_name='Item',
            name='priority',
            field=fields.SmallIntField(default=0),
        ),
        ops.AddField(
            model_name='Item',
            name='urgent',
            field=fields.BooleanField(default=False),
        ),
    ]
