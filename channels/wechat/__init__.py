"""政务微信: the WeChat official account channel and everything it needs but persistence.

``channel`` is the channel (drafts, broadcasts within quota, free publish, exactly once);
``client`` and ``sdk`` talk to WeChat's API, ``errors`` maps its error codes; ``content``
turns an item into articles, ``cover`` draws the default cover; ``state`` and ``tokens``
are the account, job, token and media records and the store protocols the database
implements (``storage.wechat``). ``SPEC`` is its registration.
"""

from __future__ import annotations

import datetime as dt

from channels.base import Channel
from channels.spec import BuildContext, ChannelSpec
from channels.wechat.channel import (
    BEIJING,
    MONTHLY_BROADCASTS,
    PUBLISH_FAILURES,
    WeChatChannel,
    limits_of,
)

__all__ = [
    "BEIJING",
    "MONTHLY_BROADCASTS",
    "PUBLISH_FAILURES",
    "SPEC",
    "WeChatChannel",
    "limits_of",
]


def _build(ctx: BuildContext) -> Channel | None:
    """WeChat serves every organization that has an account; without stores it is off."""
    if ctx.wechat is None:
        return None
    settings, stores = ctx.settings, ctx.wechat
    return WeChatChannel(
        accounts=stores.accounts,
        jobs=stores.jobs,
        tokens=stores.tokens,
        media=stores.media,
        api_base=settings.wechat_api_base,
        timeout=settings.wechat_timeout_seconds,
        font_path=settings.pdf_font_path,
        slot_window=dt.timedelta(minutes=settings.wechat_slot_window_minutes),
        poll_interval=dt.timedelta(seconds=settings.wechat_poll_interval_seconds),
        images_allowed=settings.wechat_images_allowed,
        image_max_bytes=settings.wechat_image_max_bytes,
        outbound_allowed_networks=settings.outbound_allowed_networks,
    )


SPEC = ChannelSpec(
    name="wechat",
    label="政务微信",
    bucket="wechat",
    build=_build,
    settings_keys=("wechat_api_base", "outbound_allowed_networks"),
)
