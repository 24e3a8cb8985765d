from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise.fields.base import OnDelete
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0004_wechat_api_base')]

    initial = False

    operations = [
        ops.CreateModel(
            name='AdminDecisionCount',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='decision_counts', on_delete=OnDelete.RESTRICT)),
                ('year', fields.IntField()),
                ('licensing', fields.IntField(default=0)),
                ('penalty', fields.IntField(default=0)),
                ('enforcement', fields.IntField(default=0)),
                ('admin_fees_wan', fields.DecimalField(default=0, max_digits=14, decimal_places=4)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'admin_decision_count', 'app': 'models', 'unique_together': (('organization', 'year'),), 'pk_attr': 'id', 'table_description': "One year's 行政许可, 行政处罚 and 行政强制 decisions and 行政事业性收费 (万元)."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Application',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='applications', on_delete=OnDelete.RESTRICT)),
                ('received_on', fields.DateField(db_index=True)),
                ('channel', fields.CharField(max_length=8)),
                ('applicant_type', fields.CharField(max_length=16)),
                ('request', fields.TextField(unique=False)),
                ('outcome', fields.CharField(null=True, max_length=32)),
                ('replied_on', fields.DateField(null=True)),
                ('extension_workdays', fields.SmallIntField(default=0)),
                ('paused_workdays', fields.SmallIntField(default=0)),
                ('corrected_on', fields.DateField(null=True)),
                ('fee_yuan', fields.DecimalField(default=0, max_digits=12, decimal_places=2)),
                ('replies_already_public', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'application', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A request for disclosure (依申请公开) and how it was answered.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Case',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='cases', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharField(max_length=20)),
                ('received_on', fields.DateField(db_index=True)),
                ('outcome', fields.CharField(default='pending', max_length=16)),
                ('closed_on', fields.DateField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'disclosure_case', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A 行政复议 or 行政诉讼 about disclosure, and its outcome.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Complaint',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='complaints', on_delete=OnDelete.RESTRICT)),
                ('received_on', fields.DateField(db_index=True)),
                ('summary', fields.TextField(unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'complaint', 'app': 'models', 'pk_attr': 'id', 'table_description': "A report or complaint (举报投诉) about the organization's disclosure work."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='InstitutionalFacts',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='institutional_facts', on_delete=OnDelete.RESTRICT)),
                ('year', fields.IntField()),
                ('dedicated_units', fields.IntField(default=0)),
                ('reading_points', fields.IntField(default=0)),
                ('staff_full_time', fields.IntField(default=0)),
                ('staff_part_time', fields.IntField(default=0)),
                ('funds_wan', fields.DecimalField(default=0, max_digits=14, decimal_places=4)),
                ('meetings', fields.IntField(default=0)),
                ('trainings', fields.IntField(default=0)),
                ('trainees', fields.IntField(default=0)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'institutional_facts', 'app': 'models', 'unique_together': (('organization', 'year'),), 'pk_attr': 'id', 'table_description': "One year's 机构建设, 保障经费, 会议和培训 figures."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='NormativeDocument',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='normative_documents', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharField(max_length=16)),
                ('title', fields.CharField(max_length=200)),
                ('doc_number', fields.CharField(default='', max_length=100)),
                ('issued_on', fields.DateField(db_index=True)),
                ('repealed_on', fields.DateField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'normative_document', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A 规章 or 行政规范性文件 the organization made, and its repeal if any.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ReportText',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='report_texts', on_delete=OnDelete.RESTRICT)),
                ('year', fields.IntField()),
                ('basic_situation', fields.TextField(default='', unique=False)),
                ('problems', fields.TextField(default='', unique=False)),
                ('other_matters', fields.TextField(default='', unique=False)),
                ('publication_url', fields.CharField(default='', max_length=500)),
                ('contact', fields.TextField(default='', unique=False)),
                ('level', fields.CharField(default='', max_length=16)),
                ('area_word', fields.CharField(default='', max_length=16)),
                ('title_org_name', fields.CharField(default='', max_length=100)),
                ('report_date', fields.DateField(null=True)),
                ('submitted', fields.BooleanField(default=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'report_text', 'app': 'models', 'unique_together': (('organization', 'year'),), 'pk_attr': 'id', 'table_description': "One year's narrative sections and preamble facts, and whether its data is submitted."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Response',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('organization', fields.ForeignKeyField('models.Organization', source_field='organization_id', db_constraint=True, to_field='id', related_name='responses', on_delete=OnDelete.RESTRICT)),
                ('kind', fields.CharField(max_length=16)),
                ('title', fields.CharField(max_length=200)),
                ('channel', fields.CharField(default='', max_length=32)),
                ('occurred_on', fields.DateField(db_index=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'response', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A response to public concern or a policy interpretation (回应解读).'},
            bases=['Model'],
        ),
    ]
