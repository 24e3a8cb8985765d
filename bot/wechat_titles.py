"""An item's 微信标题: what WeChat gets as the title, the rule it must meet, and storing it.

One definition for the API (``/api/v1/items/{id}/wechat-title``) and the console's item
and review pages, so both accept and refuse the same titles with the same message.
"""

from __future__ import annotations

from dataclasses import dataclass

from channels.wechat import limits_of
from channels.wechat.content import Limits, measure, shorten
from channels.wechat.state import AccountConfig
from storage.models import Item, Organization
from storage.wechat import DatabaseAccounts
from storage.wechat_models import WechatTitle


@dataclass(frozen=True)
class TitleView:
    """The title WeChat gets (the clerk's, else the shortened form) against the limit."""

    title: str
    chosen: bool
    limit: int
    unit: str  # "chars" or "bytes", the account's setting

    @property
    def length(self) -> int:
        return measure(self.title, "bytes" if self.unit == "bytes" else "chars")

    @property
    def unit_label(self) -> str:
        return unit_label(self.unit)


def unit_label(unit: str) -> str:
    return "字节" if unit == "bytes" else "个字符"


def tidy(title: str) -> str:
    """The title as stored: runs of spaces and line breaks become one space."""
    return " ".join(title.split())


def title_problem(title: str, limits: Limits) -> str | None:
    """Why WeChat would refuse this (tidied) title, naming the limit; None when it fits.
    An empty title is no problem: it means "use the shortened form"."""
    length = measure(title, limits.unit)
    if title and length > limits.title:
        return f"微信标题最多 {limits.title} {unit_label(limits.unit)}（当前 {length}）"
    return None


async def title_of(item_id: int, item_title: str, account: AccountConfig) -> TitleView:
    chosen = await WechatTitle.get_or_none(item_id=item_id)
    limits = limits_of(account)
    title = chosen.title if chosen else shorten(item_title, limits.title, limits.unit)
    return TitleView(title=title, chosen=chosen is not None, limit=limits.title, unit=limits.unit)


async def account_for(accounts: DatabaseAccounts, item: Item) -> AccountConfig | None:
    """The WeChat account an item's 微信标题 is measured against: only for items that go
    to WeChat, of an organization that has an account."""
    if "wechat" not in item.channels:
        return None
    organization = await Organization.get(id=item.organization_id)
    return await accounts.account(organization.code)


async def item_view(accounts: DatabaseAccounts, item: Item) -> TitleView | None:
    """The item's 微信标题 as the console shows it; None unless it goes to WeChat."""
    account = await account_for(accounts, item)
    return None if account is None else await title_of(item.id, item.title, account)


async def save_title(item_id: int, title: str, *, set_by: str) -> None:
    """Store the clerk's title (checked with ``title_problem`` first); empty clears it.
    Call inside the audited change."""
    if title:
        await WechatTitle.update_or_create(
            defaults={"title": title, "set_by": set_by}, item_id=item_id
        )
    else:
        await WechatTitle.filter(item_id=item_id).delete()
