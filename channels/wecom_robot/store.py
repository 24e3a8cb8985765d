"""Where the channel finds each organization's robot, and where its settings are kept.

The channel sees only ``RobotDirectory``; ``DatabaseRobots`` (the tortoise table, keys
sealed) and ``MemoryRobots`` (tests, the contract suite) provide it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel

from channels.accounts import AccountInputError, Sealer
from channels.wecom_robot.models import WecomRobotAccount
from channels.wecom_robot.settings import RobotSettingsIn, RobotSettingsOut


@dataclass(frozen=True)
class Robot:
    """One organization's robot, with its key opened."""

    group_name: str
    key: str
    msg_type: str = "markdown"
    counts_in_report: bool = True


class RobotDirectory(Protocol):
    async def robot(self, org_code: str) -> Robot | None: ...


class MemoryRobots:
    """Robots held in memory, by organization code."""

    def __init__(self, **robots: Robot) -> None:
        self._robots = dict(robots)

    async def robot(self, org_code: str) -> Robot | None:
        return self._robots.get(org_code)


class DatabaseRobots:
    """The robots in the database; keys are sealed with the server key."""

    def __init__(self, sealer: Sealer) -> None:
        self._sealer = sealer

    def __repr__(self) -> str:
        return "DatabaseRobots(<keys sealed>)"

    async def robot(self, org_code: str) -> Robot | None:
        row = await WecomRobotAccount.get_or_none(organization__code=org_code)
        if row is None:
            return None
        return Robot(
            group_name=row.group_name,
            key=self._sealer.open(row.key_sealed),
            msg_type=row.msg_type,
            counts_in_report=row.counts_in_report,
        )

    async def read(self, organization_id: int) -> BaseModel | None:
        row = await WecomRobotAccount.get_or_none(organization_id=organization_id)
        return None if row is None else _out(row)

    async def write(self, organization_id: int, data: BaseModel) -> BaseModel:
        """Create or change the robot; a blank key keeps the stored one."""
        if not isinstance(data, RobotSettingsIn):
            raise TypeError(f"expected RobotSettingsIn, got {type(data).__name__}")
        row = await WecomRobotAccount.get_or_none(organization_id=organization_id)
        key = data.key or ""
        if row is None and not key:
            raise AccountInputError("key", "required when the robot is first configured")
        values: dict[str, Any] = {
            "group_name": data.group_name,
            "msg_type": data.msg_type,
            "counts_in_report": data.counts_in_report,
        }
        if key:
            values["key_sealed"] = self._sealer.seal(key)
        if row is None:
            row = await WecomRobotAccount.create(organization_id=organization_id, **values)
        else:
            await row.update_from_dict(values).save()
        return _out(row)


def _out(row: WecomRobotAccount) -> RobotSettingsOut:
    return RobotSettingsOut(
        group_name=row.group_name,
        msg_type=row.msg_type,
        counts_in_report=row.counts_in_report,
        key_set=bool(row.key_sealed),
    )
