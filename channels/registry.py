"""The channel registry: one ``ChannelSpec`` per channel, the only list of channels there is.

Everything that needs to know which channels exist reads it: the API's channel names,
the console's checkboxes, labels and settings pages, the report's buckets (政府网站 /
政务微信 / 其他方式), the contract suite and the example configuration. Adding a channel
is one folder under ``channels/`` and one entry in ``SPECS``.

A spec's ``build`` gets a ``BuildContext`` and returns the channel, or ``None`` when the
server is not set up for it. Channel options of channels added after the first three live
in one settings section each (``[channel.<name>]`` in the TOML file, or the JSON variable
``GONGKAI_CHANNEL``), validated by the spec's ``options`` model when the channels are built.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from pydantic import BaseModel, ValidationError

from channels.accounts import AccountSpec, Sealer
from channels.base import Channel, ConfigurationError
from channels.noticeboard import NoticeBoard
from channels.spec import (
    BUCKET_LABELS,
    BuildContext,
    ChannelSettings,
    ChannelSpec,
    ReportBucket,
    WechatStoreSet,
)
from channels.website import StaticWebsite
from channels.wechat import SPEC as WECHAT
from channels.wecom_robot import SPEC as WECOM_ROBOT

__all__ = [
    "BUCKET_LABELS",
    "CHANNEL_LABELS",
    "CHANNEL_NAMES",
    "DEFAULT_CHANNELS",
    "MODEL_MODULES",
    "SPECS",
    "BuildContext",
    "ChannelSettings",
    "ChannelSpec",
    "ReportBucket",
    "account_specs",
    "bucket_channels",
    "build_channels",
    "channel_options",
    "example_env",
    "example_toml",
    "spec",
    "unavailable_reason",
]


def _website(ctx: BuildContext) -> Channel:
    settings = ctx.settings
    if settings.cms_url:
        from channels.cms import CmsWebsite  # httpx loads only where a CMS is set up

        return CmsWebsite(
            settings.cms_url,
            secret=settings.cms_secret.get_secret_value(),
            timeout=settings.cms_timeout_seconds,
            idempotent=settings.cms_idempotent,
        )
    return StaticWebsite(settings.site_dir, base_url=settings.site_base_url.rstrip("/"))


def _noticeboard(ctx: BuildContext) -> Channel:
    return NoticeBoard(
        ctx.settings.print_queue_dir,
        font_path=ctx.settings.pdf_font_path,
        printer_command=ctx.settings.printer_command,
        posting_period_days=ctx.settings.posting_period_days,
    )


SPECS: tuple[ChannelSpec, ...] = (
    ChannelSpec(
        name="website",
        label="政府网站",
        bucket="website",
        build=_website,
        chosen_by_default=True,
        settings_keys=(
            "site_base_url",
            "cms_url",
            "cms_secret",
            "cms_timeout_seconds",
            "cms_idempotent",
        ),
    ),
    ChannelSpec(
        name="noticeboard",
        label="公开栏",
        bucket="other",
        build=_noticeboard,
        chosen_by_default=True,
        settings_keys=("posting_period_days", "printer_command", "pdf_font_path"),
    ),
    WECHAT,
    WECOM_ROBOT,
)

CHANNEL_NAMES: tuple[str, ...] = tuple(spec.name for spec in SPECS)
CHANNEL_LABELS: dict[str, str] = {spec.name: spec.label for spec in SPECS}
DEFAULT_CHANNELS: tuple[str, ...] = tuple(s.name for s in SPECS if s.chosen_by_default)
MODEL_MODULES: tuple[str, ...] = tuple(module for s in SPECS for module in s.models)


def spec(name: str) -> ChannelSpec:
    """The spec of a registered channel; KeyError for an unknown name."""
    for candidate in SPECS:
        if candidate.name == name:
            return candidate
    raise KeyError(name)


def bucket_channels(bucket: ReportBucket) -> tuple[str, ...]:
    """The channels whose publications count in one bucket of the annual report."""
    return tuple(s.name for s in SPECS if s.bucket == bucket)


def account_specs() -> list[tuple[str, AccountSpec]]:
    """The channels with per-organization settings pages, by name."""
    return [(s.name, s.account) for s in SPECS if s.account is not None]


def channel_options(settings: ChannelSettings) -> dict[str, BaseModel]:
    """Each optioned channel's ``[channel.<name>]`` section, validated; a bad one stops the
    start with the field and its limit named."""
    unknown = sorted(set(settings.channel) - set(CHANNEL_NAMES))
    if unknown:
        raise ConfigurationError(f"channel settings for unknown channels: {', '.join(unknown)}")
    found: dict[str, BaseModel] = {}
    for s in SPECS:
        if s.options is None:
            continue
        try:
            found[s.name] = s.options.model_validate(settings.channel.get(s.name, {}))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ConfigurationError(f"channel.{s.name}.{where}: {first['msg']}") from exc
    return found


def build_channels(
    settings: ChannelSettings,
    *,
    wechat: WechatStoreSet | None = None,
    sealer: Sealer | None = None,
) -> dict[str, Channel]:
    """Every channel this server is set up for, by name."""
    options = channel_options(settings)
    built: dict[str, Channel] = {}
    for s in SPECS:
        ctx = BuildContext(settings, options.get(s.name), wechat=wechat, sealer=sealer)
        channel = s.build(ctx)
        if channel is not None:
            built[s.name] = channel
    return built


def unavailable_reason(name: str, channels: Mapping[str, Channel]) -> str | None:
    """Why ``name`` cannot be chosen for an item now, or None if it can."""
    if name not in CHANNEL_NAMES:
        return f"unknown channel {name!r}; choose from {', '.join(CHANNEL_NAMES)}"
    if name not in channels:
        return f"channel {name!r} is not configured on this server"
    return None


def example_toml() -> str:
    """The ``[channel.<name>]`` sections of the example settings file, with defaults."""
    blocks = []
    for s in SPECS:
        if s.options is None:
            continue
        lines = [f"# {s.label}: [channel.{s.name}]", f"[channel.{s.name}]"]
        for key, info in s.options.model_fields.items():
            lines.append(f"{key} = {_toml_value(info.default)}  # {info.description or ''}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n" if blocks else ""


def example_env() -> str:
    """The commented ``GONGKAI_CHANNEL`` line of the example environment file (defaults)."""
    sections = {s.name: s.options().model_dump() for s in SPECS if s.options is not None}
    # Single quotes: systemd and bash both read the file, and the JSON has double quotes.
    return "#GONGKAI_CHANNEL='" + json.dumps(sections, separators=(",", ":")) + "'\n"


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)
