"""企业微信 group robot (群机器人): items posted to an organization's work group.

Everything the channel needs is in this folder: the channel, its webhook client and
rate limit, the account table and store (the key sealed at rest), the settings form and a
loopback fake of the webhook API (``testing``). ``SPEC`` is its registration.
"""

from __future__ import annotations

from channels.accounts import AccountSpec, AccountStore
from channels.base import Channel, ConfigurationError
from channels.spec import BuildContext, ChannelSpec
from channels.wecom_robot.channel import WecomRobotChannel
from channels.wecom_robot.settings import (
    FORM_FIELDS,
    RobotOptions,
    RobotSettingsIn,
    RobotSettingsOut,
)
from channels.wecom_robot.store import DatabaseRobots

__all__ = ["SPEC", "WecomRobotChannel"]


def _store(ctx: BuildContext) -> AccountStore:
    if ctx.sealer is None:
        raise ConfigurationError("企业微信群机器人需要服务器密钥来加密机器人密钥")
    return DatabaseRobots(ctx.sealer)


def _build(ctx: BuildContext) -> Channel | None:
    """Built wherever the server key is at hand (the database-backed robots need it)."""
    if ctx.sealer is None or not isinstance(ctx.options, RobotOptions):
        return None
    return WecomRobotChannel(
        robots=DatabaseRobots(ctx.sealer),
        api_base=ctx.options.api_base,
        timeout=ctx.options.timeout_seconds,
        per_minute=ctx.options.per_minute,
    )


SPEC = ChannelSpec(
    name="wecom_robot",
    label="企业微信群",
    bucket="other",
    build=_build,
    options=RobotOptions,
    account=AccountSpec(
        title="企业微信群机器人",
        input_model=RobotSettingsIn,
        output_model=RobotSettingsOut,
        fields=FORM_FIELDS,
        store=_store,
        audit_label="修改企业微信群机器人设置",
        example={
            "group_name": "天德乡村民群",
            "key": "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa",
            "msg_type": "markdown",
            "counts_in_report": True,
        },
    ),
    models=("channels.wecom_robot.models",),
)
