"""The 企业微信 group robot channel: posts each item to the organization's group.

A webhook post cannot carry an idempotency key and cannot be recalled, so the commit is
not repeatable (a lost answer goes to ``uncertain`` for a person to look in the group)
and the channel is not ``Withdrawable``. Whether the post counts in the annual report is
the organization's choice for its robot (a 村民群 does, a cadres' group does not).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from typing import Any, ClassVar

from channels.base import Committed, ConfigurationError, Deferred, PermanentError, Publishable
from channels.wecom_robot.client import RobotApi
from channels.wecom_robot.limiter import Clock, RobotRateLimit
from channels.wecom_robot.message import message_for
from channels.wecom_robot.store import Robot, RobotDirectory

EMPTY_TEXT: dict[str, Any] = {"msgtype": "text", "text": {"content": ""}}


class WecomRobotChannel:
    name: ClassVar[str] = "wecom_robot"
    commit_repeatable = False  # a repeated post is a second message in the group

    def __init__(
        self,
        *,
        robots: RobotDirectory,
        api_base: str,
        timeout: float,
        per_minute: int = 20,
        clock: Clock | None = None,
    ) -> None:
        self._robots = robots
        self._api = RobotApi(api_base, timeout=timeout)
        self._limit = RobotRateLimit(per_minute, clock=clock or (lambda: dt.datetime.now(dt.UTC)))
        self._api_base = api_base

    async def account(self, org_code: str) -> Robot:
        """The organization's robot; ConfigurationError when it has none."""
        robot = await self._robots.robot(org_code)
        if robot is None:
            raise ConfigurationError(f"{org_code} 尚未设置企业微信群机器人（渠道设置）")
        return robot

    async def validate(self, pub: Publishable) -> list[tuple[str, str]]:
        """Refused when queued, not at publish: an organization without a robot."""
        if await self._robots.robot(pub.org_code) is None:
            return [
                ("channels", f"{pub.org_name} 尚未设置企业微信群机器人，不能选择企业微信群渠道")
            ]
        return []

    async def prepare(self, pub: Publishable) -> dict[str, Any]:
        """The message to post, and its digest; nothing is sent."""
        robot = await self.account(pub.org_code)
        message = message_for(pub, robot.msg_type)
        digest = hashlib.sha256(json.dumps(message, sort_keys=True).encode()).hexdigest()
        return {"message": message, "sha256": digest}

    async def commit(self, pub: Publishable, prepared: Mapping[str, Any]) -> Committed:
        """Post the prepared message, within the robot's 20 messages a minute."""
        robot = await self.account(pub.org_code)
        message = prepared.get("message")
        if not isinstance(message, dict):
            raise PermanentError("没有准备好的群消息，请重试发布", code="not_prepared")
        wait_until = self._limit.next_free(robot.key)
        if wait_until is not None:
            raise Deferred("群机器人每分钟最多发送 20 条消息，稍后自动发送", until=wait_until)
        self._limit.record(robot.key)
        await self._api.send(robot.key, message)
        return Committed(external_id=f"wecom:{pub.idempotency_key}", counted=robot.counts_in_report)

    async def check(self) -> str:
        return f"企业微信群机器人接口：{self._api_base}（各机构的机器人请在本机构的渠道设置中测试）"

    async def check_account(self, org_code: str) -> str:
        """Test the key without posting: an empty message is refused (44004) only after the
        platform has accepted the key; an unknown key is refused with 93000."""
        robot = await self.account(org_code)
        try:
            await self._api.send(robot.key, EMPTY_TEXT)
        except PermanentError as error:
            if error.code == "44004":
                return f"群机器人“{robot.group_name}”的密钥有效（测试未向群里发送消息）"
            raise
        return f"群机器人“{robot.group_name}”可以连接"

    async def aclose(self) -> None:
        await self._api.aclose()
