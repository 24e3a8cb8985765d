from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

# Issue 9 (WeChat on a real account): the shared rate limit of forced token refreshes,
# the pause of an account's deliveries after 48001 (no permission for an API), the
# per-account title limit and the WeChat titles clerks choose.

class Migration(migrations.Migration):
    dependencies = [('models', '0015_indexes')]

    initial = False

    operations = [
        ops.CreateModel(
            name='WechatTitle',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('item_id', fields.IntField(unique=True)),
                ('title', fields.CharField(max_length=128)),
                ('set_by', fields.CharField(default='', max_length=64)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'wechat_title', 'app': 'models', 'pk_attr': 'id', 'table_description': 'The title a clerk chose for an item on WeChat, when the item title is too long.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='WechatAccount',
            name='callback_verified_at',
            field=fields.DatetimeField(null=True),
        ),
        ops.AddField(
            model_name='WechatAccount',
            name='last_test_at',
            field=fields.DatetimeField(null=True),
        ),
        ops.AddField(
            model_name='WechatAccount',
            name='last_test_ok',
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name='WechatAccount',
            name='last_test_message',
            field=fields.TextField(default=''),
        ),
        ops.AddField(
            model_name='WechatJob',
            name='urgent',
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name='WechatAccount',
            name='title_limit',
            field=fields.IntField(default=32),
        ),
        ops.AddField(
            model_name='WechatAccount',
            name='limit_unit',
            field=fields.CharField(default='chars', max_length=8),
        ),
        ops.AddField(
            model_name='WechatToken',
            name='forced_at',
            field=fields.DatetimeField(null=True),
        ),
        ops.AddField(
            model_name='WechatAccount',
            name='paused_reason',
            field=fields.TextField(default=''),
        ),
        ops.AddField(
            model_name='WechatAccount',
            name='paused_at',
            field=fields.DatetimeField(null=True),
        ),
    ]
