from tortoise import migrations
from tortoise.migrations import operations as ops

class Migration(migrations.Migration):
    dependencies = [('models', '0005_registers')]

    initial = False

    operations = [
        ops.AlterModelOptions(
            name='DeliveryAttempt',
            options={'table': 'delivery_attempt', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Append-only: one row per try of a delivery, with the step it reached.'},
        ),
    ]
