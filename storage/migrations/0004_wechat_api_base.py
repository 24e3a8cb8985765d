from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0003_wechat_and_batches')]

    initial = False

    operations = [
        ops.AddField(
            model_name='WechatAccount',
            name='api_base',
            field=fields.CharField(default='', max_length=300),
        ),
    ]
