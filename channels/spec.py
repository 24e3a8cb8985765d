"""The shape of a channel's registration (``ChannelSpec``) and what it is built from.

The specs themselves are listed in ``channels.registry``; a channel folder imports this
module to describe itself without importing the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, SecretStr

from channels.accounts import AccountSpec, Sealer
from channels.base import Channel

if TYPE_CHECKING:  # channels.wechat registers itself with this module's ChannelSpec
    from channels.wechat.state import AccountDirectory, JobStore
    from channels.wechat.tokens import MediaStore, TokenStore

ReportBucket = Literal["website", "wechat", "other"]
BUCKET_LABELS: dict[ReportBucket, str] = {
    "website": "政府网站",
    "wechat": "政务微信",
    "other": "其他方式",
}


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
    channel: dict[str, dict[str, Any]]

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


@dataclass(frozen=True)
class BuildContext:
    """What a channel may be built from: settings, its options section, shared stores."""

    settings: ChannelSettings
    options: BaseModel | None = None
    wechat: WechatStoreSet | None = None
    sealer: Sealer | None = None


@dataclass(frozen=True, kw_only=True)
class ChannelSpec:
    """One channel as the rest of the system sees it.

    ``bucket`` is where its publications count in the annual report (None: nowhere);
    a channel may still say per publication that one does not count (``Committed.counted``).
    ``settings_keys`` are the flat settings the first channels read; ``options`` is the
    model of a newer channel's ``[channel.<name>]`` section. ``account`` describes the
    per-organization settings form and store, when the channel has one; ``models`` names
    the modules of its tables (their migrations are in storage/migrations).
    """

    name: str
    label: str
    bucket: ReportBucket | None
    build: Callable[[BuildContext], Channel | None]
    chosen_by_default: bool = False
    settings_keys: tuple[str, ...] = ()
    options: type[BaseModel] | None = None
    account: AccountSpec | None = None
    models: tuple[str, ...] = ()
