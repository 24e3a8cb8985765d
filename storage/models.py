"""Tortoise models: organizations, items, deliveries, their attempt log and the ledger.

Timestamps are aware UTC. Business dates (the ledger's local_date, an item's
成文日期) are plain dates in Asia/Shanghai.
"""

from __future__ import annotations

from tortoise import fields

from storage.model_base import Model


class Organization(Model):
    """A publishing body (发布机构), parent links a township to its county."""

    id = fields.IntField(primary_key=True)
    code = fields.CharField(max_length=32, unique=True)
    name = fields.CharField(max_length=100)
    # How the report names its own area: 全乡, 全镇, 全县… Empty: derived from name.
    area_word = fields.CharField(max_length=16, default="")
    # The first year it reports on (政府信息公开年度报告): 补录 cannot date items before it.
    first_report_year = fields.SmallIntField(default=2008)
    parent: fields.ForeignKeyNullableRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="children", null=True, on_delete=fields.RESTRICT
    )
    parent_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "organization"
        indexes = (("parent_id",),)  # a county's townships, for rollups and scopes


class ApiToken(Model):
    """A bearer token for the HTTP API, stored only as its SHA-256."""

    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=100)
    token_hash = fields.CharField(max_length=64, unique=True)
    # Null means a platform administrator's token: every organization.
    organization: fields.ForeignKeyNullableRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="tokens", null=True, on_delete=fields.CASCADE
    )
    organization_id: int | None
    # The same roles as console users: editor (编辑), reviewer (审核) or admin (管理员) in its
    # organization and those under it. A platform token (no organization) acts as admin.
    role = fields.CharField(max_length=16, default="editor")
    # A trusted system (an OA) that does its own recorded 保密审查: its items skip review.
    # Only the platform operator sets it (gongkai token create --review-exempt).
    review_exempt = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_token"


class IndexCounter(Model):
    """The last 索引号 sequence number used by an organization in a year."""

    id = fields.IntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="index_counters", on_delete=fields.CASCADE
    )
    organization_id: int
    year = fields.IntField()
    last_number = fields.IntField(default=0)

    class Meta:
        table = "index_counter"
        unique_together = (("organization", "year"),)


class Item(Model):
    """One revision of a piece of government information (政府信息)."""

    id = fields.IntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="items", on_delete=fields.RESTRICT
    )
    organization_id: int
    index_no = fields.CharField(max_length=64)  # 索引号, shared by all revisions
    lineage_id = fields.IntField(null=True, db_index=True)  # id of the first revision
    revision = fields.IntField(default=1)
    supersedes: fields.ForeignKeyNullableRelation[Item] = fields.ForeignKeyField(
        "models.Item", related_name="superseded_by", null=True, on_delete=fields.RESTRICT
    )
    supersedes_id: int | None
    title = fields.CharField(max_length=200)
    body_md = fields.TextField()
    body_html = fields.TextField()
    summary = fields.CharField(max_length=500, default="")  # 内容概述
    category = fields.CharField(max_length=50, default="")  # 主题分类
    doc_number = fields.CharField(max_length=100, default="")  # 文号
    normative = fields.BooleanField(default=False)  # 规范性文件
    formed_on = fields.DateField(null=True)  # 成文日期
    publish_at = fields.DatetimeField()
    channels: list[str] = fields.JSONField(default=list)
    status = fields.CharField(max_length=16, default="active", db_index=True)
    author = fields.CharField(max_length=100, default="")  # display name (or API token name)
    author_user_id = fields.IntField(null=True)  # the console user who wrote it: review gate
    author_token_id = fields.IntField(null=True)  # the API token that wrote it: review gate
    priority = fields.SmallIntField(default=0)  # higher goes first in a WeChat broadcast
    urgent = fields.BooleanField(default=False)  # may use the day's broadcast at once
    imported = fields.BooleanField(default=False)  # 补录: published before Gongkai
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    deliveries: fields.ReverseRelation[Delivery]

    class Meta:
        table = "item"
        unique_together = (("organization", "index_no", "revision"),)
        # The API's list (newest publish_at first), the console's (newest created first),
        # the dashboard's day; and the revision chain.
        indexes = (
            ("organization_id", "publish_at"),
            ("organization_id", "created_at"),
            ("supersedes_id",),
        )


class Delivery(Model):
    """One item on one channel. Only storage.outbox changes these rows."""

    id = fields.IntField(primary_key=True)
    item: fields.ForeignKeyRelation[Item] = fields.ForeignKeyField(
        "models.Item", related_name="deliveries", on_delete=fields.RESTRICT
    )
    item_id: int
    channel = fields.CharField(max_length=16)
    state = fields.CharField(max_length=16, default="pending")
    step = fields.CharField(max_length=16, default="prepare")
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(null=True)
    lease_owner = fields.CharField(max_length=100, null=True)
    lease_expires_at = fields.DatetimeField(null=True)
    idempotency_key = fields.CharField(max_length=64)
    # Deliveries committed together (a multi-article WeChat broadcast) share this key.
    # Its index is made by migration 0015 (AddField in 0003 did not create it).
    batch_key = fields.CharField(max_length=32, null=True, db_index=True)
    priority = fields.SmallIntField(default=0)  # the item's, copied: claims never join
    prepared: dict[str, object] = fields.JSONField(default=dict)
    external_id = fields.CharField(max_length=200, null=True)
    url = fields.CharField(max_length=500, null=True)
    last_error = fields.TextField(null=True)
    last_error_code = fields.CharField(max_length=32, null=True)
    published_at = fields.DatetimeField(null=True)
    withdrawn_at = fields.DatetimeField(null=True)
    withdraw_note = fields.TextField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    attempt_log: fields.ReverseRelation[DeliveryAttempt]

    class Meta:
        table = "delivery"
        unique_together = (("channel", "idempotency_key"),)
        indexes = (("state", "next_attempt_at"), ("item_id",))


class DeliveryAttempt(Model):
    """Append-only: one row per try of a delivery, with the step it reached."""

    id = fields.IntField(primary_key=True)
    delivery: fields.ForeignKeyRelation[Delivery] = fields.ForeignKeyField(
        "models.Delivery", related_name="attempt_log", on_delete=fields.RESTRICT
    )
    delivery_id: int
    number = fields.IntField()
    step = fields.CharField(max_length=16)
    outcome = fields.CharField(max_length=16)
    error_code = fields.CharField(max_length=32, null=True)
    error_message = fields.TextField(null=True)
    worker = fields.CharField(max_length=100, default="")
    started_at = fields.DatetimeField()
    duration_ms = fields.IntField(default=0)

    class Meta:
        table = "delivery_attempt"
        indexes = (("delivery_id",),)


class Publication(Model):
    """The ledger: one row each time a delivery becomes published. Never updated."""

    id = fields.BigIntField(primary_key=True)
    organization: fields.ForeignKeyRelation[Organization] = fields.ForeignKeyField(
        "models.Organization", related_name="publications", on_delete=fields.RESTRICT
    )
    organization_id: int
    item: fields.ForeignKeyRelation[Item] = fields.ForeignKeyField(
        "models.Item", related_name="publications", on_delete=fields.RESTRICT
    )
    item_id: int
    lineage_id = fields.IntField()  # revisions of one item count once
    # Unique: a delivery enters the ledger once, whatever retries or crashes happen.
    delivery: fields.OneToOneRelation[Delivery] = fields.OneToOneField(
        "models.Delivery", related_name="publication", on_delete=fields.RESTRICT
    )
    delivery_id: int
    channel = fields.CharField(max_length=16)
    normative = fields.BooleanField(default=False)
    local_date = fields.DateField()
    published_at = fields.DatetimeField()
    imported = fields.BooleanField(default=False)  # 补录: entered afterwards, not published here
    # False: published, but not 公开 (an internal group's robot): kept as proof, not counted.
    counted = fields.BooleanField(default=True)

    class Meta:
        table = "publication"
        # Covers the tally query: PostgreSQL answers it from the index alone.
        indexes = (
            ("organization_id", "local_date", "lineage_id", "channel", "normative", "counted"),
            ("item_id",),
        )


class Posting(Model):
    """A notice-board posting confirmed by staff, with its 公示期 and removal."""

    id = fields.IntField(primary_key=True)
    delivery: fields.OneToOneRelation[Delivery] = fields.OneToOneField(
        "models.Delivery", related_name="posting", on_delete=fields.RESTRICT
    )
    delivery_id: int
    location = fields.CharField(max_length=200)
    posted_by = fields.CharField(max_length=100)
    posted_on = fields.DateField()
    period_days = fields.IntField()
    take_down_on = fields.DateField()
    removal_requested_at = fields.DatetimeField(null=True)
    removed_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "posting"
