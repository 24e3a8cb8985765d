"""政务微信: the WeChat official account channel and everything it needs but persistence.

``channel`` is the channel (drafts, broadcasts within quota, free publish, exactly once);
``client`` and ``sdk`` talk to WeChat's API, ``errors`` maps its error codes; ``content``
turns an item into articles, ``cover`` draws the default cover; ``state`` and ``tokens``
are the account, job, token and media records and the store protocols the database
implements (``storage.wechat``).
"""

from __future__ import annotations

from channels.wechat.channel import (
    BEIJING,
    MONTHLY_BROADCASTS,
    PUBLISH_FAILURES,
    WeChatChannel,
    limits_of,
)

__all__ = ["BEIJING", "MONTHLY_BROADCASTS", "PUBLISH_FAILURES", "WeChatChannel", "limits_of"]
