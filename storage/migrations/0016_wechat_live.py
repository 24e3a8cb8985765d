from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

# Issue 9 (WeChat on a real account): the shared rate limit of forced token refreshes,
# and the pause of an account's deliveries after 48001 (no permission for an API).

class Migration(migrations.Migration):
    dependencies = [('models', '0015_indexes')]

    initial = False

    operations = [
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
