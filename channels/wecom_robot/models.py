"""The robot of each organization's 企业微信 group: its webhook key, sealed at rest."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class WecomRobotAccount(Model):
    """One organization's group robot, the key sealed with the server key."""

    id = fields.IntField(primary_key=True)
    organization: fields.OneToOneRelation[Model] = fields.OneToOneField(
        "models.Organization", related_name="wecom_robot", on_delete=fields.CASCADE
    )
    organization_id: int
    group_name = fields.CharField(max_length=50)
    key_sealed = fields.TextField()
    msg_type = fields.CharField(max_length=16, default="markdown")
    counts_in_report = fields.BooleanField(default=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "wecom_robot_account"
