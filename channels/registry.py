"""Which channels exist and how each is built from settings."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pydantic import SecretStr

from channels.base import CHANNEL_NAMES, Channel
from channels.cms import CmsWebsite
from channels.noticeboard import NoticeBoard
from channels.website import StaticWebsite


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

    @property
    def site_dir(self) -> Path: ...

    @property
    def print_queue_dir(self) -> Path: ...


def build_channels(settings: ChannelSettings) -> dict[str, Channel]:
    """Every channel that is configured, by name.

    The website is the built-in static site unless a CMS endpoint is set. WeChat has its
    slot in ``CHANNEL_NAMES`` but is built only once an account is configured.
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
    return {"website": website, "noticeboard": board}


def unavailable_reason(name: str, channels: dict[str, Channel]) -> str | None:
    """Why ``name`` cannot be chosen for an item now, or None if it can."""
    if name not in CHANNEL_NAMES:
        return f"unknown channel {name!r}; choose from {', '.join(CHANNEL_NAMES)}"
    if name not in channels:
        return f"channel {name!r} is not configured on this server"
    return None
