"""Data model, configuration and text rules of the loopback WeChat emulator.

Everything here is plain data plus small pure helpers; the behaviour lives in
``tests.fakes.wechat_api`` and the server in ``tests.fakes.wechat``.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, Literal

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
Kind = Literal["subscription", "service"]
CallbackMode = Literal["plain", "compat", "safe"]

ERRMSG: dict[int, str] = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40004: "invalid media type",
    40005: "invalid file type",
    40007: "invalid media_id",
    40008: "invalid message type",
    40009: "invalid image size",
    40013: "invalid appid",
    40014: "invalid access_token",
    40032: "invalid openid list size",
    40059: "invalid msg id",
    40114: "invalid index value",
    40125: "invalid appsecret",
    40130: "invalid openid list size, at least two openid",
    40152: "invalid tag id",
    40164: "invalid ip 127.0.0.1, not in whitelist",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    41005: "media data missing",
    41039: "invalid content_source_url",
    42001: "access_token expired",
    43002: "require POST method",
    44002: "empty post data",
    44003: "empty news data",
    44004: "empty content",
    45001: "media size out of limit",
    45002: "content size out of limit",
    45003: "title size out of limit",
    45004: "description size out of limit",
    45008: "article size out of limit",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit must slower retry next minute",
    45028: "has no masssend quota",
    45065: "clientmsgid exist",
    45066: "clientmsgid retry too fast",
    45067: "clientmsgid size out of limit",
    45103: "This API has been unsupported",
    45110: "author size out of limit",
    45166: "invalid content",
    47001: "data format error",
    48001: "api unauthorized",
    53501: "请勿频繁请求",
    53503: "该草稿未通过发布检查",
    53600: "Article ID 无效",
    76021: "cgi_path not found, please check",
}

TOKEN_RE = re.compile(r"^[A-Za-z0-9_\-]{32,512}$")
_ESCAPE_RE = re.compile(rb"(?<!\\)\\u([0-9a-fA-F]{4})")
_SCRIPT_RE = re.compile(r"<script\b[^>]*>.*?</script\s*>|<script\b[^>]*/?>", re.I | re.S)
_IMG_RE = re.compile(r"<img\b[^>]*>", re.I | re.S)
_SRC_RE = re.compile(r"""\bsrc\s*=\s*["']?([^"'\s>]+)""", re.I)
_TAG_RE = re.compile(r"<[^>]+>")
MMBIZ_HOSTS = ("mmbiz.qpic.cn", "mmbiz.qlogo.cn")


class ApiError(Exception):
    """A WeChat business error: becomes ``{"errcode": N, "errmsg": "... rid: ..."}``."""

    def __init__(self, errcode: int, errmsg: str | None = None, **extra: Any) -> None:
        super().__init__(errcode, errmsg)
        self.errcode = errcode
        self.errmsg = errmsg or ERRMSG.get(errcode, "emulated error")
        self.extra = extra


def rid() -> str:
    """Return a random request id in the shape WeChat appends to error messages."""
    return f"{secrets.token_hex(4)}-{secrets.token_hex(4)}-{secrets.token_hex(4)}"


def error_body(errcode: int, errmsg: str | None = None, **extra: Any) -> dict[str, Any]:
    """Return a WeChat error body with the `` rid: ...`` suffix."""
    text = errmsg or ERRMSG.get(errcode, "emulated error")
    return {"errcode": errcode, "errmsg": f"{text} rid: {rid()}", **extra}


def new_media_id() -> str:
    """Return a fresh media id (material or draft)."""
    return secrets.token_urlsafe(48)[:64]


def new_token() -> str:
    """Return a fresh access token in WeChat's alphabet."""
    return "86_" + secrets.token_urlsafe(120)[:150]


class Clock:
    """Real time plus a test-controlled offset; quotas reset on the Beijing date."""

    def __init__(self) -> None:
        self.offset = 0.0

    def now(self) -> float:
        """Return the emulated Unix time."""
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        """Move the emulated time forward."""
        self.offset += seconds

    def beijing(self) -> datetime:
        """Return the emulated time in Beijing."""
        return datetime.fromtimestamp(self.now(), tz=UTC).astimezone(BEIJING)

    def day(self) -> date:
        """Return the Beijing calendar date quotas are counted on."""
        return self.beijing().date()

    def minute(self) -> int:
        """Return the index of the current minute-quota window."""
        return int(self.now() // 60)

    def month(self) -> str:
        """Return the Beijing calendar month, ``YYYY-MM``."""
        return self.beijing().strftime("%Y-%m")


@dataclass
class EmulatorConfig:
    """Tunable limits and timings (defaults follow docs/wechat.md; unconfirmed ones too)."""

    token_ttl: int = 7200
    token_grace: int = 300
    token_daily_limit: int = 2000
    stable_force_interval: float = 30.0
    stable_force_daily_limit: int = 20
    secret_errcode: int = 40125
    ip_whitelist: list[str] | None = None
    title_limit: int = 32
    title_mode: Literal["chars", "bytes"] = "chars"
    author_limit: int = 16
    digest_limit: int = 128
    content_char_limit: int = 20000
    content_byte_limit: int = 1024 * 1024
    source_url_limit: int = 1024
    max_articles: int = 8
    uploadimg_limit: int = 1024 * 1024
    image_limit: int = 10 * 1024 * 1024
    thumb_limit: int = 64 * 1024
    publish_delay: float = 0.2
    publish_get_lag: float = 0.0
    publish_daily_limit: int = 100
    publish_get_daily_limit: int = 100
    unknown_publish_errcode: int = 40007
    mass_delay: float = 0.2
    mass_minute_limit: int = 60
    preview_daily_limit: int = 100
    subscription_mass_daily: int = 1
    service_mass_daily: int = 100
    service_month_per_follower: int = 4
    follower_count: int = 1000
    mass_error_count: int = 0
    clientmsgid_limit: int = 32
    strict_filter: bool = True
    dedupe_window: float = 86400.0
    retry_too_fast: float = 0.0
    # A repeated send whose draft WeChat already consumed may be refused for the draft
    # (40007) before clientmsgid is looked at; and 45065 may come without the msg_id.
    media_check_first: bool = False
    dedupe_without_msg_id: bool = False
    # mass/get and mass/delete refuse a msg_id sent as a string (the docs show a number).
    strict_msg_id: bool = False
    # "API 群发安全保护": a send to all waits for the administrator's confirmation in the
    # WeChat app (89505 when asked, 89504 while still waiting), see confirm_mass().
    mass_admin_confirmation: bool = False
    # Deliver job events before answering the call (with mass_delay/publish_delay 0: the
    # event of a send arrives before the answer to the send).
    events_before_answer: bool = False
    default_daily_limit: int = 10000
    callback_timeout: float = 5.0
    callback_attempts: int = 3
    callback_duplicates: int = 1

    def update(self, values: dict[str, Any]) -> None:
        """Set fields by name, coercing to the field's current type; unknown names fail."""
        known = {f.name for f in fields(self)}
        for name, value in values.items():
            if name not in known:
                raise KeyError(f"unknown emulator setting {name!r}")
            current = getattr(self, name)
            if isinstance(current, bool) or current is None or isinstance(current, list):
                setattr(self, name, value)
            else:
                setattr(self, name, type(current)(value))


@dataclass
class Token:
    """One issued access token and its life."""

    value: str
    source: Literal["token", "stable"]
    issued_at: float
    expires_at: float
    dead_at: float | None = None  # superseded: unusable from this instant (40001)

    def remaining(self, now: float) -> int:
        """Return whole seconds of life left."""
        return max(0, int(self.expires_at - now))


@dataclass
class Call:
    """One request the emulator received."""

    method: str
    path: str
    query: dict[str, str]
    body: bytes
    json: Any
    at: float
    status: int = 200
    errcode: int | None = None
    fault: str | None = None

    @property
    def name(self) -> str:
        """Return the API name relative to ``/cgi-bin/``, e.g. ``draft/add``."""
        return api_name(self.path)

    def describe(self) -> dict[str, Any]:
        """Return a JSON-safe summary for the admin endpoint."""
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "json": self.json,
            "body_size": len(self.body),
            "at": self.at,
            "status": self.status,
            "errcode": self.errcode,
            "fault": self.fault,
        }


@dataclass
class Upload:
    """An image uploaded through ``media/uploadimg`` (for article bodies)."""

    url: str
    filename: str
    size: int


@dataclass
class Material:
    """A permanent material from ``material/add_material``."""

    media_id: str
    type: str
    filename: str
    size: int
    url: str
    created_at: float


@dataclass
class Draft:
    """A draft-box entry; ``stripped`` lists the HTML removed from its content."""

    media_id: str
    articles: list[dict[str, Any]]
    created_at: float
    update_time: int
    stripped: list[str] = field(default_factory=list)


@dataclass
class PublishJob:
    """A ``freepublish/submit`` job and its eventual result."""

    publish_id: str
    msg_data_id: str
    draft_media_id: str
    articles: list[dict[str, Any]]
    submitted_at: float
    due_at: float
    final_status: int = 0
    final_fail_idx: list[int] = field(default_factory=list)
    status: int = 1
    finished: bool = False
    article_id: str | None = None
    article_urls: list[str] = field(default_factory=list)
    deleted: list[bool] = field(default_factory=list)
    update_time: int = 0


@dataclass
class MassJob:
    """A mass-send job (``sendall`` / ``send``) and its eventual result."""

    msg_id: int
    msg_data_id: int
    msgtype: str
    scope: str
    payload: dict[str, Any]
    articles: list[dict[str, Any]]
    clientmsgid: str | None
    dedupe_key: str
    submitted_at: float
    due_at: float
    total_count: int
    filter_count: int
    final_status: str = "send success"
    error_count: int = 0
    status: str = "SENDING"
    finished: bool = False
    article_urls: list[str] = field(default_factory=list)
    deleted_idx: list[int] = field(default_factory=list)


@dataclass
class Fault:
    """An injected fault for the next ``times`` calls of ``path`` (after ``skip`` pass)."""

    path: str
    times: int = 1
    skip: int = 0
    errcode: int | None = None
    errmsg: str | None = None
    http_status: int | None = None
    drop: bool = False
    delay: float = 0.0
    after: bool = False
    body: bytes | None = None
    content_type: str | None = None
    fired: int = 0
    invalidate_token: bool = False  # another process refreshes the token as the call arrives

    def describe(self) -> str:
        """Return a short label stored on the calls it hit."""
        parts = [
            f"errcode={self.errcode}" if self.errcode is not None else "",
            f"http={self.http_status}" if self.http_status else "",
            "drop" if self.drop else "",
            f"delay={self.delay}" if self.delay else "",
            "raw-body" if self.body is not None else "",
            "after-action" if self.after or self.delay else "",
            "token-invalidated" if self.invalidate_token else "",
        ]
        return " ".join(p for p in parts if p)


def api_name(path: str) -> str:
    """Normalise ``/cgi-bin/draft/add?x`` or ``draft/add`` to ``draft/add``."""
    path = path.split("?", 1)[0].strip("/")
    return path.removeprefix("cgi-bin/")


def has_cjk_escapes(body: bytes) -> bool:
    """Tell whether the raw JSON sends non-ASCII text as ``\\uXXXX`` escapes."""
    return any(int(m.group(1), 16) >= 0x80 for m in _ESCAPE_RE.finditer(body))


def measure(text: str, *, escaped: bool, mode: Literal["chars", "bytes"] = "chars") -> int:
    """Return the length WeChat counts: escaped bodies count the ``\\uXXXX`` form."""
    if escaped:
        return len(json.dumps(text, ensure_ascii=True)) - 2
    return len(text.encode("utf-8")) if mode == "bytes" else len(text)


def is_mmbiz(url: str) -> bool:
    """Tell whether an image URL is hosted on WeChat's image domain."""
    host = re.sub(r"^(https?:)?//", "", url.strip(), flags=re.I).split("/", 1)[0].lower()
    return host in MMBIZ_HOSTS


def sanitize(content: str) -> tuple[str, list[str]]:
    """Strip ``<script>`` and non-mmbiz ``<img>`` as WeChat does; return what was removed."""
    stripped: list[str] = []

    def drop_script(match: re.Match[str]) -> str:
        stripped.append(match.group(0))
        return ""

    def drop_img(match: re.Match[str]) -> str:
        src = _SRC_RE.search(match.group(0))
        if src is not None and is_mmbiz(src.group(1)):
            return match.group(0)
        stripped.append(match.group(0))
        return ""

    cleaned = _SCRIPT_RE.sub(drop_script, content)
    cleaned = _IMG_RE.sub(drop_img, cleaned)
    return cleaned, stripped


def plain_text(html: str) -> str:
    """Return the text of an HTML fragment (for the automatic digest)."""
    return re.sub(r"\s+", " ", _TAG_RE.sub("", html)).strip()


def image_format(data: bytes) -> str | None:
    """Return ``jpeg``/``png``/``gif``/``bmp`` by magic bytes, else None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if data.startswith(b"BM"):
        return "bmp"
    return None
