from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0008_review_gate')]

    initial = False

    operations = [
        ops.AddField(
            model_name='ApiToken',
            name='role',
            field=fields.CharField(default='editor', max_length=16),
        ),
        ops.AddField(
            model_name='Organization',
            name='first_report_year',
            field=fields.SmallIntField(default=2008),
        ),
        ops.AddField(
            model_name='Item',
            name='author_token_id',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Publication',
            name='imported',
            field=fields.BooleanField(default=False),
        ),
        ops.AddField(
            model_name='Review',
            name='reviewer_token_id',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='AuditEvent',
            name='token_id',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='AuditEvent',
            name='outcome',
            field=fields.CharField(default='ok', max_length=16),
        ),
        # Rows written before this migration: 补录 rows are marked from their item, and
        # platform tokens (no organization) act as administrators; organization tokens
        # start as editors (least privilege) until the operator issues role tokens.
        ops.RunSQL(
            "UPDATE publication SET imported = "
            "(SELECT item.imported FROM item WHERE item.id = publication.item_id)",
            reverse_sql="",
        ),
        ops.RunSQL(
            "UPDATE api_token SET role = 'admin' WHERE organization_id IS NULL",
            reverse_sql="",
        ),
    ]
