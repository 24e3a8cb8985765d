"""The JSON shapes of the HTTP API. Field names here are a contract with other systems."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from bot.web.text_rules import StrictInput
from channels.registry import CHANNEL_NAMES, DEFAULT_CHANNELS

if TYPE_CHECKING:
    ChannelName = str
else:  # the registry's names, as an enum in the OpenAPI schema
    ChannelName = Literal[CHANNEL_NAMES]
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
OrgCode = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$"
    ),
]


class _Strict(StrictInput):
    """Request bodies: unknown fields, control and bidi characters are refused (422)."""


class ItemFields(_Strict):
    org: OrgCode
    title: Title
    body: str = Field(min_length=1)
    summary: str = Field(default="", max_length=500)
    category: str = Field(default="", max_length=50)
    doc_number: str = Field(default="", max_length=100)
    normative: bool = False
    formed_on: dt.date | None = None
    priority: int = Field(default=0, ge=0, le=9)  # higher first in a WeChat broadcast
    urgent: bool = False  # WeChat: send at once, using the day's broadcast


class ItemIn(ItemFields):
    channels: list[ChannelName] = Field(
        default=list(DEFAULT_CHANNELS), min_length=1, max_length=len(CHANNEL_NAMES)
    )
    publish_at: AwareDatetime | None = None


class ImportItemIn(ItemFields):
    published_at: AwareDatetime
    published_channels: list[ChannelName] = Field(min_length=1, max_length=len(CHANNEL_NAMES))


class ImportIn(_Strict):
    items: list[ImportItemIn] = Field(min_length=1, max_length=5000)


class OrgIn(_Strict):
    code: OrgCode
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    parent: OrgCode | None = None
    area_word: str = Field(default="", max_length=16)


class OrgOut(BaseModel):
    code: str
    name: str
    parent: str | None
    area_word: str


class RetryIn(_Strict):
    channel: ChannelName | None = None


class WithdrawIn(_Strict):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class PostedIn(_Strict):
    location: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    posted_by: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
    ]
    posted_on: dt.date | None = None
    period_days: int | None = Field(default=None, ge=1, le=3650)


class AttemptOut(BaseModel):
    number: int
    step: str
    outcome: str
    error_code: str | None
    error_message: str | None
    started_at: dt.datetime
    duration_ms: int


class PostingOut(BaseModel):
    location: str
    posted_by: str
    posted_on: dt.date
    period_days: int
    take_down_on: dt.date
    removal_requested_at: dt.datetime | None
    removed_at: dt.datetime | None


class ReachOut(BaseModel):
    """What WeChat reported for the broadcast that carried this delivery."""

    msg_id: str | None
    publish_id: str | None
    status: str
    total: int | None
    filtered: int | None
    sent: int | None
    errors: int | None


class DeliveryOut(BaseModel):
    id: int
    channel: str
    state: str
    attempts: int
    url: str | None
    last_error: str | None
    last_error_code: str | None
    external_id: str | None
    next_attempt_at: dt.datetime | None
    published_at: dt.datetime | None
    withdraw_note: str | None
    posting: PostingOut | None = None
    wechat: ReachOut | None = None
    dropped_images: list[str] = []  # body images the channel left out, and why
    attempt_log: list[AttemptOut] = []


class ItemOut(BaseModel):
    id: int
    org: str
    index_no: str
    revision: int
    title: str
    summary: str
    category: str
    doc_number: str
    normative: bool
    formed_on: dt.date | None
    publish_at: dt.datetime
    channels: list[str]
    status: str
    progress: str
    imported: bool
    author: str
    created_at: dt.datetime
    deliveries: list[DeliveryOut]


class ItemPage(BaseModel):
    total: int
    items: list[ItemOut]


class ChannelReportOut(BaseModel):
    org: str
    year: int
    total: int
    normative: int
    normative_issued: int
    website: int
    wechat: int
    other: int
    wechat_followers_reached: int
    wechat_audience: int
    backfilled_items: int  # of ``total``: items entered by 补录, not published through Gongkai
    paragraphs: list[str]


class ReminderOut(BaseModel):
    delivery_id: int
    item_id: int
    org: str
    title: str
    location: str
    take_down_on: dt.date
    reason: Literal["period_ended", "withdrawn"]


class ResolveIn(_Strict):
    outcome: Literal["published", "retry"]


class PreviewIn(_Strict):
    openid: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


Checks = dict[str, bool]  # {"保密": true, "个人信息": true, "敏感词与错别字": true, "导向": true}


class ApproveIn(_Strict):
    checks: Checks = Field(default_factory=dict)
    override_reason: str = Field(default="", max_length=1000)  # required if the scan flags
    comment: str = Field(default="", max_length=2000)


class RejectIn(_Strict):
    comment: str = Field(default="", max_length=2000)


class ForcePublishIn(_Strict):
    reason: str = Field(default="", max_length=1000)


class PostReviewIn(_Strict):
    checks: Checks = Field(default_factory=dict)
    comment: str = Field(default="", max_length=2000)


class FindingOut(BaseModel):
    field: str
    kind: str
    text: str
    start: int
    end: int
    message: str


class ScanOut(BaseModel):
    findings: list[FindingOut]
    html: dict[str, str]  # each scanned field as escaped HTML, findings inside <mark>


class ReviewOut(BaseModel):
    id: int
    decision: str
    reviewer_name: str
    checks: dict[str, bool]
    checked_at: dict[str, str]
    findings: list[FindingOut]
    override_reason: str
    comment: str
    created_at: dt.datetime


class ReviewedOut(BaseModel):
    item: ItemOut
    review: ReviewOut


class PendingReviewsOut(BaseModel):
    in_review: list[ItemOut]
    post_review: list[ItemOut]  # force-published, still owing their post review
