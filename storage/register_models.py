"""The registers behind the annual report: what it counts beyond publishing.

Values that the report prints are stored as its labels (当面, 自然人, 规章…); table 三
outcomes are the row keys of bot.annual.figures.TABLE3_ROWS. Money is Decimal:
元 with 2 places, 万元 with 4. Dates are Asia/Shanghai business dates.
"""

from __future__ import annotations

from tortoise import fields

from storage.model_base import Model
from storage.models import Organization

APPLICATION_CHANNELS = ("当面", "网络", "信函", "传真", "其他")
APPLICANT_TYPES = ("自然人", "商业企业", "科研机构", "社会公益组织", "法律服务机构", "其他")
RESPONSE_KINDS = ("hotspot", "interpretation", "other")
DOCUMENT_KINDS = ("规章", "行政规范性文件")
DOCUMENT_VALIDITY = ("有效", "失效", "废止")
FEE_BASES = ("", "按件", "按量")  # none, 按件计收 or 按量计收 (国办函〔2020〕109号)
CASE_KINDS = ("review", "suit_direct", "suit_after_review")
CASE_OUTCOMES = ("upheld", "corrected", "other", "pending")
ORG_LEVELS = ("township", "county", "city", "province", "department")


class Application(Model):
    """A request for disclosure (依申请公开) and how it was answered."""

    id = fields.IntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="applications", on_delete=fields.RESTRICT
    )
    organization_id: int
    received_on = fields.DateField(db_index=True)
    channel = fields.CharField(max_length=8)  # 当面, 网络, 信函, 传真, 其他
    applicant_type = fields.CharField(max_length=16)  # 自然人 or a 法人或其他组织 kind
    request = fields.TextField()
    # A table 三 result row key; null while the request is still open.
    outcome = fields.CharField(max_length=32, null=True)
    replied_on = fields.DateField(null=True)
    extension_workdays = fields.SmallIntField(default=0)  # approved extension, 0..20
    paused_workdays = fields.SmallIntField(default=0)  # third-party consultation, excluded
    corrected_on = fields.DateField(null=True)  # a corrected request restarts the clock
    fee_yuan = fields.DecimalField(max_digits=12, decimal_places=2, default=0)
    replies_already_public = fields.BooleanField(default=False)  # 属于已主动公开范围
    applicant_name = fields.CharField(max_length=100, default="")  # for the 告知书
    reply_note = fields.TextField(default="")  # what the reply says beyond its outcome
    fee_basis = fields.CharField(max_length=8, default="")  # "", 按件 or 按量
    fee_pages = fields.IntField(default=0)  # pages supplied, for 按量
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "application"


class Response(Model):
    """A response to public concern or a policy interpretation (回应解读)."""

    id = fields.IntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="responses", on_delete=fields.RESTRICT
    )
    organization_id: int
    kind = fields.CharField(max_length=16)  # hotspot, interpretation, other
    title = fields.CharField(max_length=200)
    channel = fields.CharField(max_length=32, default="")  # 新闻发布会, 政府网站, 政务微信…
    occurred_on = fields.DateField(db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "response"


class NormativeDocument(Model):
    """A 规章 or 行政规范性文件 the organization made, and its repeal if any."""

    id = fields.IntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="normative_documents", on_delete=fields.RESTRICT
    )
    organization_id: int
    kind = fields.CharField(max_length=16)  # 规章 or 行政规范性文件
    title = fields.CharField(max_length=200)
    doc_number = fields.CharField(max_length=100, default="")  # 文号
    issued_on = fields.DateField(db_index=True)
    repealed_on = fields.DateField(null=True)
    validity = fields.CharField(max_length=8, default="有效")  # 有效, 失效 or 废止
    item_id = fields.IntField(null=True, db_index=True)  # the item that published it
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "normative_document"


class AdminDecisionCount(Model):
    """One year's 行政许可, 行政处罚 and 行政强制 decisions and 行政事业性收费 (万元)."""

    id = fields.IntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="decision_counts", on_delete=fields.RESTRICT
    )
    organization_id: int
    year = fields.IntField()
    licensing = fields.IntField(default=0)
    penalty = fields.IntField(default=0)
    enforcement = fields.IntField(default=0)
    admin_fees_wan = fields.DecimalField(max_digits=14, decimal_places=4, default=0)
    # The 2019 format's table 二 (null: not entered, printed blank as the template wants).
    other_services = fields.IntField(null=True)  # 其他对外管理服务事项 处理决定数量
    licensing_prev = fields.IntField(null=True)  # 上一年项目数量
    licensing_change = fields.IntField(null=True)  # 本年增/减
    other_services_prev = fields.IntField(null=True)
    other_services_change = fields.IntField(null=True)
    penalty_prev = fields.IntField(null=True)
    penalty_change = fields.IntField(null=True)
    enforcement_prev = fields.IntField(null=True)
    enforcement_change = fields.IntField(null=True)
    fees_prev = fields.IntField(null=True)
    fees_change = fields.IntField(null=True)
    procurement_projects = fields.IntField(null=True)  # 政府集中采购 采购项目数量
    procurement_amount_wan = fields.DecimalField(max_digits=14, decimal_places=4, null=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "admin_decision_count"
        unique_together = (("organization", "year"),)


class Case(Model):
    """A 行政复议 or 行政诉讼 about disclosure, and its outcome."""

    id = fields.IntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="cases", on_delete=fields.RESTRICT
    )
    organization_id: int
    kind = fields.CharField(max_length=20)  # review, suit_direct, suit_after_review
    received_on = fields.DateField(db_index=True)
    outcome = fields.CharField(max_length=16, default="pending")  # upheld, corrected, other
    closed_on = fields.DateField(null=True)
    application_id = fields.IntField(null=True, db_index=True)  # the request it followed
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "disclosure_case"


class Complaint(Model):
    """A report or complaint (举报投诉) about the organization's disclosure work."""

    id = fields.IntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="complaints", on_delete=fields.RESTRICT
    )
    organization_id: int
    received_on = fields.DateField(db_index=True)
    summary = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "complaint"


class InstitutionalFacts(Model):
    """One year's 机构建设, 保障经费, 会议和培训 figures."""

    id = fields.IntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="institutional_facts", on_delete=fields.RESTRICT
    )
    organization_id: int
    year = fields.IntField()
    dedicated_units = fields.IntField(default=0)
    reading_points = fields.IntField(default=0)
    staff_full_time = fields.IntField(default=0)
    staff_part_time = fields.IntField(default=0)
    funds_wan = fields.DecimalField(max_digits=14, decimal_places=4, default=0)
    meetings = fields.IntField(default=0)
    trainings = fields.IntField(default=0)
    trainees = fields.IntField(default=0)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "institutional_facts"
        unique_together = (("organization", "year"),)


class ReportText(Model):
    """One year's narrative sections and preamble facts, and whether its data is submitted."""

    id = fields.IntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="report_texts", on_delete=fields.RESTRICT
    )
    organization_id: int
    year = fields.IntField()
    basic_situation = fields.TextField(default="")
    problems = fields.TextField(default="")
    other_matters = fields.TextField(default="")
    publication_url = fields.CharField(max_length=500, default="")
    contact = fields.TextField(default="")
    level = fields.CharField(max_length=16, default="")  # empty: inferred from the name
    area_word = fields.CharField(max_length=16, default="")  # empty: the organization's
    title_org_name = fields.CharField(max_length=100, default="")  # empty: its name
    report_date = fields.DateField(null=True)
    # The organization has entered all its data for the year (the county rollup lists the rest).
    submitted = fields.BooleanField(default=False)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "report_text"
        unique_together = (("organization", "year"),)


class Table3Entry(Model):
    """Table 三 entered as totals (a township that keeps its applications on paper).

    ``cells`` maps a table 三 row key to its six applicant columns; when present the report
    prints these numbers instead of counting the application register, and says so.
    """

    id = fields.IntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="table3_entries", on_delete=fields.RESTRICT
    )
    organization_id: int
    year = fields.IntField()
    cells: dict[str, dict[str, int]] = fields.JSONField(default=dict)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "table3_entry"
        unique_together = (("organization", "year"),)
