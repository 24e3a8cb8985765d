"""Settings: read once at start from ``GONGKAI_*`` variables and an optional TOML file.

Precedence (highest first): explicit arguments, environment, the TOML file named by
``GONGKAI_CONFIG``, then the defaults below.
"""

from __future__ import annotations

import ipaddress
import os
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class Settings(BaseSettings):
    """Everything configurable about one Gongkai process."""

    model_config = SettingsConfigDict(env_prefix="GONGKAI_", extra="ignore")

    data_dir: Path = Field(default_factory=lambda: Path.cwd() / "data")
    database_url: str = ""  # empty: SQLite file inside data_dir
    log_format: Literal["text", "json"] = "text"  # json: one object per line, with ids
    # Files workers write and the web process serves (the static site, its page state, the
    # print queue); on several machines, one folder every node mounts. Empty: data_dir.
    shared_dir: str = ""

    # Dispatcher and retry policy.
    worker_id: str = ""  # empty: hostname:pid
    dispatch_interval_seconds: float = Field(default=1.0, gt=0)
    dispatch_batch: int = Field(default=20, ge=1, le=500)
    dispatch_concurrency: int = Field(default=4, ge=1, le=64)
    lease_seconds: float = Field(default=120.0, ge=1)
    reap_interval_seconds: float = Field(default=15.0, gt=0)
    sweep_interval_seconds: float = Field(default=60.0, gt=0)
    max_attempts: int = Field(default=8, ge=1)
    backoff_base_seconds: float = Field(default=5.0, gt=0)
    backoff_cap_seconds: float = Field(default=3600.0, gt=0)
    configuration_pause_seconds: float = Field(default=900.0, gt=0)
    shutdown_grace_seconds: float = Field(default=20.0, ge=0)

    # Content limits checked when an item is queued.
    max_body_bytes: int = 500_000

    # Website channel: the built-in static site, or an external CMS when cms_url is set.
    site_base_url: str = "http://127.0.0.1:8000/site"
    cms_url: str = ""
    cms_secret: SecretStr = SecretStr("")
    cms_timeout_seconds: float = Field(default=10.0, gt=0)
    cms_idempotent: bool = True  # the CMS honours Idempotency-Key, so a repeat is safe

    # Notice board.
    posting_period_days: int = Field(default=30, ge=1, le=3650)
    printer_command: str = ""  # e.g. "lp -d township-hp"; empty: print queue only
    pdf_font_path: Path = Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")

    # WeChat: per-organization accounts are configured with `gongkai wechat configure`.
    wechat_api_base: str = "https://api.weixin.qq.com/cgi-bin/"
    wechat_timeout_seconds: float = Field(default=10.0, gt=0)
    wechat_slot_window_minutes: int = Field(default=120, ge=5, le=1440)
    wechat_poll_interval_seconds: float = Field(default=600.0, ge=0)
    wechat_image_max_bytes: int = Field(default=1_000_000, ge=1000)
    wechat_images_allowed: bool = True  # fetch http(s) body images and re-host them
    # Networks (CIDR) that user-typed addresses such as body images may reach although
    # they are loopback, private, link-local, CGNAT…: empty, only public addresses.
    outbound_allowed_networks: list[str] = Field(default_factory=list)
    secret_key: SecretStr = SecretStr("")  # Fernet key; empty: <data_dir>/secret.key
    # Options of the newer channels, one section each ([channel.<name>] in the TOML file;
    # GONGKAI_CHANNEL as JSON), validated by the channel's spec (channels.registry).
    channel: dict[str, dict[str, Any]] = Field(default_factory=dict)

    # Staff console: signed session cookies and the sign-in rate limit.
    session_secret: SecretStr = SecretStr("")  # empty: derived from the server key
    session_idle_minutes: float = Field(default=30.0, gt=0)
    session_max_hours: float = Field(default=12.0, gt=0)
    console_login_max_failures: int = Field(default=5, ge=1)
    console_login_max_failures_per_ip: int = Field(default=20, ge=1)
    console_login_window_seconds: int = Field(default=900, ge=1)

    # The edge (bot.web.edge): proxies whose X-Forwarded-For is believed (addresses or
    # CIDR networks; empty: none, the socket peer is the client), whether /docs, /redoc and
    # /openapi.json are open without a token, and the largest request body accepted.
    trusted_proxies: list[str] = Field(default_factory=list)
    api_docs_public: bool = False
    max_request_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)

    # Statutory clocks (bot.deadlines): working-day overrides for years chinese_calendar
    # lacks (TOML or JSON with "holidays" and "workdays" date lists), and the MM-DD day
    # in year Y+1 by which the annual report for year Y is due.
    calendar_overrides: Path | None = None
    annual_report_due: str = Field(default="01-31", pattern=r"^\d\d-\d\d$")

    # 保密审查: words the automatic scan flags (besides ID, phone and card numbers), given
    # here and/or in a UTF-8 file with one word per line (# starts a comment).
    review_words: list[str] = Field(default_factory=list)
    review_words_file: Path | None = None

    @field_validator("database_url")
    @classmethod
    def _known_scheme(cls, value: str) -> str:
        if value and not value.startswith(("sqlite://", "postgres://", "postgresql://")):
            raise ValueError("database_url must start with sqlite://, postgres:// or postgresql://")
        return value

    @field_validator("outbound_allowed_networks")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{network!r} is not a network such as 10.0.0.0/8") from None
        return [network.strip() for network in value]

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: list[str]) -> list[str]:
        for proxy in value:
            try:
                ipaddress.ip_network(proxy.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{proxy!r} is not an address or network") from None
        return [proxy.strip() for proxy in value]

    @field_validator("annual_report_due")
    @classmethod
    def _real_month_day(cls, value: str) -> str:
        month, day = (int(part) for part in value.split("-"))
        date(2001, month, day)  # a common year: raises for 02-30, and for 02-29 (not yearly)
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = os.environ.get("GONGKAI_CONFIG")
        if toml_path:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(toml_path)))
        return tuple(sources)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url.replace("postgresql://", "postgres://", 1)
        return f"sqlite://{self.data_dir / 'gongkai.sqlite3'}"

    @property
    def uses_postgres(self) -> bool:
        return self.effective_database_url.startswith("postgres://")

    @property
    def site_dir(self) -> Path:
        return self._files_dir / "site"

    @property
    def print_queue_dir(self) -> Path:
        return self._files_dir / "printqueue"

    @property
    def _files_dir(self) -> Path:
        return Path(self.shared_dir) if self.shared_dir else self.data_dir

    def effective_worker_id(self) -> str:
        return self.worker_id or f"{os.uname().nodename}:{os.getpid()}"

    def ensure_dirs(self) -> None:
        for path in (self.data_dir, self.site_dir, self.print_queue_dir):
            path.mkdir(parents=True, exist_ok=True)


def load_settings(**overrides: Any) -> Settings:
    """Build the settings once; the composition root passes them on from there."""
    return Settings(**overrides)
