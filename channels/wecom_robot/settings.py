"""The robot's settings as the API and the console's 渠道设置 page take and show them."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from channels.accounts import FormField

DEFAULT_API_BASE = "https://qyapi.weixin.qq.com/cgi-bin/webhook/"
MSG_TYPES = (
    ("markdown", "Markdown 消息（标题、摘要和链接）"),
    ("news", "图文消息（卡片，需网站链接）"),
)


class RobotOptions(BaseModel):
    """The server's ``[channel.wecom_robot]`` section."""

    model_config = ConfigDict(extra="forbid")

    api_base: str = Field(
        default=DEFAULT_API_BASE,
        pattern=r"^https?://",
        description="webhook base address; send?key=… is appended (企业微信接口地址)",
    )
    timeout_seconds: float = Field(default=10.0, gt=0, le=120, description="HTTP timeout")
    per_minute: int = Field(
        default=20, ge=1, le=20, description="messages per robot per minute (platform: 20)"
    )


class RobotSettingsIn(BaseModel):
    """An organization's robot; the key is write-only and kept when omitted."""

    model_config = ConfigDict(extra="forbid")

    group_name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)
    ]
    key: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{8,64}$")] | None = Field(
        default=None, repr=False
    )
    msg_type: Literal["markdown", "news"] = "markdown"
    counts_in_report: bool = True


class RobotSettingsOut(BaseModel):
    group_name: str
    msg_type: str
    counts_in_report: bool
    key_set: bool


FORM_FIELDS = (
    FormField("group_name", "群名称", help="例如：某某村村民群、乡机关干部群。"),
    FormField(
        "key",
        "机器人 Webhook 密钥（key）",
        kind="secret",
        help="在群聊“群机器人”中复制 Webhook 地址，填写其中 key= 后面的部分。",
    ),
    FormField("msg_type", "消息样式", kind="select", options=MSG_TYPES),
    FormField(
        "counts_in_report",
        "计入年度报告“其他方式”公开数（面向群众的群，如村民群，请勾选；内部干部群不要勾选）",
        kind="checkbox",
    ),
)
