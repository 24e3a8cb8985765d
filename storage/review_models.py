"""The 保密审查 record: who signed off what for which item revision, and when."""

from __future__ import annotations

from typing import Any

from tortoise import fields

from storage.model_base import Model
from storage.models import Item


class Review(Model):
    """One review decision on one item revision, with the checklist and the scan findings.

    Rows are only ever added: approved, rejected, forced (emergency publishing with a
    written reason) and post_review (the later review a forced item owes).
    """

    id = fields.IntField(primary_key=True)
    item: fields.ForeignKeyRelation[Item] = fields.ForeignKeyField(
        "models.Item", related_name="reviews", on_delete=fields.RESTRICT
    )
    item_id: int
    reviewer_id = fields.IntField(null=True)  # the console user, null for an API token
    reviewer_token_id = fields.IntField(null=True)  # the API token, null for a console user
    reviewer_name = fields.CharField(max_length=100)
    decision = fields.CharField(max_length=16, db_index=True)
    # {"保密": true, ...} and, per check, when it was ticked (ISO 8601, UTC).
    checks: dict[str, bool] = fields.JSONField(default=dict)
    checked_at: dict[str, str] = fields.JSONField(default=dict)
    findings: list[dict[str, Any]] = fields.JSONField(default=list)  # the scan at review time
    override_reason = fields.TextField(default="")  # why flagged content may go out anyway
    comment = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "review"
        indexes = (("item_id",),)
