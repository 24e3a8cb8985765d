"""What the WeChat channel remembers between calls, and the stores it needs for that.

The channel defines these; ``storage.wechat`` implements them on the database, so every
worker process sees the same accounts and the same job records.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol

PAUSING_ERROR = "48001"  # no permission for an API: pause the account, tell the dashboard


@dataclass
class JobRecord:
    """What one commit to WeChat has reached; saved before and after every call."""

    batch_key: str
    app_id: str
    mode: str
    local_date: dt.date
    delivery_ids: list[int] = field(default_factory=list)
    urgent: bool = False
    draft_media_id: str | None = None
    commit_started_at: dt.datetime | None = None
    msg_id: str | None = None
    msg_data_id: str | None = None
    publish_id: str | None = None
    article_id: str | None = None
    status: str = "drafting"  # drafting, sent, finished, failed
    platform_status: str = ""
    article_urls: list[str] = field(default_factory=list)
    fail_idx: list[int] = field(default_factory=list)
    total_count: int | None = None
    filter_count: int | None = None
    sent_count: int | None = None
    error_count: int | None = None
    last_polled_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None


@dataclass(frozen=True)
class AccountConfig:
    """One organization's account, secrets opened; never logged (the repr hides them)."""

    org_code: str
    org_name: str
    app_id: str
    api_base: str
    secret: str = field(repr=False)
    kind: str
    mode: str
    tag_id: int | None
    slot_time: dt.time
    allow_publish_fallback: bool
    author: str
    cover_file: str
    original_id: str
    callback_token: str = field(repr=False)
    aes_key: str = field(repr=False)
    preview_openid: str
    welcome_text: str
    keywords: tuple[str, ...]
    default_reply: str
    paused_reason: str = ""  # set after 48001: deliveries wait until settings or a test
    title_limit: int = 32  # title/author/digest counted in limit_unit (see channels.wechat.content)
    limit_unit: str = "chars"


class JobStore(Protocol):
    """Job records keyed by batch key (also the broadcast's clientmsgid)."""

    async def get(self, batch_key: str) -> JobRecord | None: ...

    async def save(self, job: JobRecord) -> None: ...

    async def broadcasts_since(self, app_id: str, since: dt.date) -> int: ...

    async def mark_polled(
        self, batch_key: str, *, now: dt.datetime, interval: dt.timedelta
    ) -> bool:
        """Claim the right to poll WeChat about this job now: False if any worker polled
        it (or sent it) less than ``interval`` ago, so polling quotas are shared."""
        ...


class AccountDirectory(Protocol):
    """Each organization's account, with its secrets opened."""

    async def account(self, org_code: str) -> AccountConfig | None: ...

    async def wechat_title(self, item_id: int) -> str | None:
        """The WeChat title a clerk set for this item, if any."""
        ...

    async def pause(self, app_id: str, reason: str) -> None:
        """Stop the account's deliveries (WeChat refused an API for lack of permission)
        until an administrator changes its settings or tests it."""
        ...

    async def resume(self, app_id: str) -> None:
        """Lift a pause and let the deliveries that waited for it go now."""
        ...
