"""Who may receive a WeChat preview (群发预览) of an item.

A preview puts the article on one person's phone. An item that passed the 保密审查
(released, ``active``) may go to any openid, as before. An item nobody has signed off yet
(draft, in review, rejected, or stopped before release) goes only to an openid an
administrator registered as a preview recipient of the item's organization, so unreviewed
text never reaches a member of the public: a reviewer previews on their own phone.
"""

from __future__ import annotations

from storage.items import ItemStatus
from storage.models import Item
from storage.wechat import is_preview_recipient

__all__ = ["PreviewRefused", "check_recipient"]


class PreviewRefused(Exception):
    """This openid may not receive a preview of this item."""


async def check_recipient(item: Item, openid: str) -> None:
    """Return when ``openid`` may receive a preview of ``item``; else PreviewRefused."""
    if item.status == ItemStatus.ACTIVE:
        return
    if await is_preview_recipient(item.organization_id, openid.strip()):
        return
    raise PreviewRefused(
        "this item has not passed review: its preview goes only to an openid an "
        "administrator registered as a preview recipient "
        "(/api/v1/orgs/{org}/wechat/preview-recipients)"
    )
