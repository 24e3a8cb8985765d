"""Which channels exist and how each is built from settings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Protocol

from pydantic import SecretStr

from channels.base import CHANNEL_NAMES, Channel
from channels.cms import CmsWebsite
from channels.noticeboard import NoticeBoard
from channels.website import StaticWebsite
from channels.wechat import WeChatChannel
from channels.wechat_state import AccountDirectory, JobStore
from channels.wechat_tokens import MediaStore, TokenStore


class ChannelSettings(Protocol):
    """The settings the channels read (``bot.settings.Settings`` provides them)."""

    site_base_url: str
    cms_url: str
    cms_secret: SecretStr
    cms_timeout_seconds: float
    cms_idempotent: bool
    posting_period_days: int
    printer_command: str
    pdf_font_path: Path
    wechat_api_base: str
    wechat_timeout_seconds: float
    wechat_slot_window_minutes: int
    wechat_poll_interval_seconds: float
    wechat_images_allowed: bool
    wechat_image_max_bytes: int
    outbound_allowed_networks: list[str]

    @property
    def site_dir(self) -> Path: ...

    @property
    def print_queue_dir(self) -> Path: ...


class WechatStoreSet(Protocol):
    """The shared state the WeChat channel keeps (``bot.app.WechatStores`` provides it)."""

    @property
    def accounts(self) -> AccountDirectory: ...

    @property
    def jobs(self) -> JobStore: ...

    @property
    def tokens(self) -> TokenStore: ...

    @property
    def media(self) -> MediaStore: ...


def build_channels(
    settings: ChannelSettings, *, wechat: WechatStoreSet | None = None
) -> dict[str, Channel]:
    """Every channel that is configured, by name.

    The website is the built-in static site unless a CMS endpoint is set. WeChat serves
    every organization that has an account; without shared stores it is left out.
    """
    website: Channel
    if settings.cms_url:
        website = CmsWebsite(
            settings.cms_url,
            secret=settings.cms_secret.get_secret_value(),
            timeout=settings.cms_timeout_seconds,
            idempotent=settings.cms_idempotent,
        )
    else:
        website = StaticWebsite(settings.site_dir, base_url=settings.site_base_url.rstrip("/"))
    board = NoticeBoard(
        settings.print_queue_dir,
        font_path=settings.pdf_font_path,
        printer_command=settings.printer_command,
        posting_period_days=settings.posting_period_days,
    )
    channels: dict[str, Channel] = {"website": website, "noticeboard": board}
    if wechat is not None:
        channels["wechat"] = WeChatChannel(
            accounts=wechat.accounts,
            jobs=wechat.jobs,
            tokens=wechat.tokens,
            media=wechat.media,
            api_base=settings.wechat_api_base,
            timeout=settings.wechat_timeout_seconds,
            font_path=settings.pdf_font_path,
            slot_window=dt.timedelta(minutes=settings.wechat_slot_window_minutes),
            poll_interval=dt.timedelta(seconds=settings.wechat_poll_interval_seconds),
            images_allowed=settings.wechat_images_allowed,
            image_max_bytes=settings.wechat_image_max_bytes,
            outbound_allowed_networks=settings.outbound_allowed_networks,
        )
    return channels


def unavailable_reason(name: str, channels: dict[str, Channel]) -> str | None:
    """Why ``name`` cannot be chosen for an item now, or None if it can."""
    if name not in CHANNEL_NAMES:
        return f"unknown channel {name!r}; choose from {', '.join(CHANNEL_NAMES)}"
    if name not in channels:
        return f"channel {name!r} is not configured on this server"
    return None
