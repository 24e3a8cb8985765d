"""Business behaviour of the WeChat emulator: tokens, common checks, quotas, faults, routing.

Endpoint handlers for materials, drafts, free publish and mass send live in
``tests.fakes.wechat_endpoints``; this module holds the state they share.
"""

from __future__ import annotations

import copy
import email.policy
import json
import secrets
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from email.parser import BytesParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.wechat_callbacks import CallbackPush, CallbackPusher
from tests.fakes.wechat_state import (
    TOKEN_RE,
    ApiError,
    Call,
    CallbackMode,
    Clock,
    Draft,
    EmulatorConfig,
    Fault,
    Kind,
    MassJob,
    Material,
    PublishJob,
    Token,
    Upload,
    api_name,
    error_body,
    new_token,
)

JSON_CT = "application/json; encoding=utf-8"
TOKEN_APIS = ("token", "stable_token")
MASS_APIS = ("message/mass/sendall", "message/mass/send", "message/mass/preview")

# name -> (required method, body kind); "ANY" accepts GET and POST.
ENDPOINTS: dict[str, tuple[str, str]] = {
    "media/uploadimg": ("POST", "multipart"),
    "material/add_material": ("POST", "multipart"),
    "material/del_material": ("POST", "json"),
    "material/add_news": ("POST", "none"),
    "draft/add": ("POST", "json"),
    "draft/get": ("POST", "json"),
    "draft/update": ("POST", "json"),
    "draft/delete": ("POST", "json"),
    "draft/count": ("ANY", "none"),
    "draft/batchget": ("POST", "json"),
    "freepublish/submit": ("POST", "json"),
    "freepublish/get": ("POST", "json"),
    "freepublish/getarticle": ("POST", "json"),
    "freepublish/delete": ("POST", "json"),
    "freepublish/batchget": ("POST", "json"),
    "message/mass/sendall": ("POST", "json"),
    "message/mass/send": ("POST", "json"),
    "message/mass/preview": ("POST", "json"),
    "message/mass/get": ("POST", "json"),
    "message/mass/delete": ("POST", "json"),
    "openapi/quota/get": ("POST", "json"),
}


@dataclass
class Reply:
    """What the HTTP layer sends back (or how it misbehaves)."""

    payload: dict[str, Any] | None
    status: int = 200
    raw: bytes | None = None
    content_type: str = JSON_CT
    drop: bool = False
    delay: float = 0.0

    @property
    def errcode(self) -> int | None:
        """Return the JSON errcode, if any."""
        if self.payload is None:
            return None
        code = self.payload.get("errcode")
        return code if isinstance(code, int) else None


@dataclass
class Request:
    """A parsed business request handed to an endpoint handler."""

    name: str
    method: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    data: dict[str, Any]


def parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[str, bytes]]:
    """Return ``{field: (filename, data)}`` of a multipart/form-data body."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not message.is_multipart():
        return {}
    parts: dict[str, tuple[str, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            parts[name] = (part.get_filename() or "", payload)
    return parts


class WeChatCore:
    """All emulator state behind one re-entrant lock, plus the request pipeline."""

    def __init__(
        self,
        appid: str,
        secret: str,
        kind: Kind = "subscription",
        *,
        config: EmulatorConfig | None = None,
        callback_url: str | None = None,
        callback_token: str | None = None,
        aes_key: str | None = None,
        callback_mode: CallbackMode | None = None,
        gh_id: str | None = None,
        admin_openid: str = "o_emulator_admin_000000000000",
    ) -> None:
        self.appid = appid
        self.secret = secret
        self.kind: Kind = kind
        self.gh_id = gh_id or "gh_" + secrets.token_hex(6)
        self.admin_openid = admin_openid
        self._initial_config = copy.deepcopy(config or EmulatorConfig())
        self.config = copy.deepcopy(self._initial_config)
        self.clock = Clock()
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self.pusher: CallbackPusher | None = None
        if callback_url:
            mode: CallbackMode = callback_mode or ("safe" if aes_key else "plain")
            self.pusher = CallbackPusher(
                appid=appid,
                gh_id=self.gh_id,
                url=callback_url,
                token=callback_token or "",
                aes_key=aes_key,
                mode=mode,
                config=lambda: self.config,
                stopping=self._stopping,
            )
        self._push_threads: list[threading.Thread] = []
        self._handlers: dict[str, Callable[[Request], dict[str, Any]]] = {}
        self._clear_state()

    # ----------------------------------------------------------------- state

    def _clear_state(self) -> None:
        self.calls: list[Call] = []
        self.token_calls: list[Call] = []
        self.tokens: dict[str, Token] = {}
        self.current: dict[str, Token | None] = {"token": None, "stable": None}
        self.last_force_at: float | None = None
        self.force_count: Counter[date] = Counter()
        self.uploads: list[Upload] = []
        self.materials: dict[str, Material] = {}
        self.drafts: dict[str, Draft] = {}
        self.deleted_drafts: dict[str, Draft] = {}
        self.publish_jobs: dict[str, PublishJob] = {}
        self.articles: dict[str, str] = {}  # article_id -> publish_id
        self.mass_jobs: dict[int, MassJob] = {}
        self.previews: list[dict[str, Any]] = []
        self.dedupe: dict[str, tuple[int, float]] = {}
        self.awaiting_admin: dict[str, Request] = {}
        self.confirmed_sends: set[str] = set()
        self.poisoned: set[str] = set()
        self.daily_used: Counter[tuple[date, str]] = Counter()
        self.minute_used: Counter[tuple[int, str]] = Counter()
        self.daily_limits: dict[str, int] = {}
        self.minute_limits: dict[str, int] = {}
        self.denied: dict[str, bool] = {}
        self.mass_success: Counter[date] = Counter()
        self.follower_month: dict[str, list[int]] = {}
        self.tags: dict[int, tuple[str, int]] = {2: ("星标组", 10), 100: ("政务公开", 500)}
        self.publish_outcomes: deque[tuple[int, list[int]]] = deque()
        self.mass_outcomes: deque[tuple[str, int]] = deque()
        self.faults: list[Fault] = []
        self.callbacks: list[CallbackPush] = []
        self._pending_pushes: list[CallbackPush] = []
        self._serial = 0

    def next_serial(self) -> int:
        """Return a process-unique increasing number for ids."""
        self._serial += 1
        return self._serial

    # -------------------------------------------------------------- pipeline

    def dispatch(
        self, method: str, target: str, headers: dict[str, str], body: bytes, client_ip: str
    ) -> Reply:
        """Handle one ``/cgi-bin/...`` request: record it, apply faults, route it."""
        split = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        name = api_name(split.path)
        try:
            parsed: Any = json.loads(body) if body else None
        except ValueError:
            parsed = None
        with self._lock:
            call = Call(method, split.path, query, body, parsed, self.clock.now())
            self.calls.append(call)
            if name in TOKEN_APIS:
                self.token_calls.append(call)
            fault = self._take_fault(name)
            if fault is not None and fault.invalidate_token:
                self.supersede_token()  # the call then meets WeChat's own 40001
                reply = self._route(name, method, query, headers, body, client_ip)
            elif fault is not None and not (fault.after or fault.delay):
                reply = self._fault_reply(fault, None)
            else:
                reply = self._route(name, method, query, headers, body, client_ip)
                if fault is not None:
                    reply = self._fault_reply(fault, reply)
            call.status, call.errcode = reply.status, reply.errcode
            call.fault = fault.describe() if fault is not None else None
        self.run_due()
        return reply

    def _take_fault(self, name: str) -> Fault | None:
        for fault in self.faults:
            if fault.times > 0 and fault.path in (name, "*"):
                if fault.skip > 0:
                    fault.skip -= 1
                    return None
                fault.times -= 1
                fault.fired += 1
                return fault
        return None

    @staticmethod
    def _fault_reply(fault: Fault, performed: Reply | None) -> Reply:
        if fault.delay and performed is not None and fault.errcode is None and not fault.drop:
            reply = copy.copy(performed)
            reply.delay = fault.delay
            if fault.http_status is not None:
                reply.status, reply.payload = fault.http_status, {"error": "emulated"}
            return reply
        if fault.drop:
            return Reply(None, status=0, drop=True, delay=fault.delay)
        if fault.body is not None:
            content_type = fault.content_type or "text/plain"
            return Reply(
                None,
                status=fault.http_status or 200,
                raw=fault.body,
                content_type=content_type,
                delay=fault.delay,
            )
        if fault.http_status is not None:
            text = f"<html><body>{fault.http_status} emulated</body></html>".encode()
            return Reply(
                None,
                status=fault.http_status,
                raw=text,
                content_type="text/html",
                delay=fault.delay,
            )
        payload = error_body(fault.errcode if fault.errcode is not None else -1, fault.errmsg)
        return Reply(payload, content_type=fault.content_type or JSON_CT, delay=fault.delay)

    def _route(
        self,
        name: str,
        method: str,
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
        client_ip: str,
    ) -> Reply:
        try:
            if name == "token":
                return Reply(self._classic_token(query, client_ip))
            if name == "stable_token":
                return Reply(self._stable_token(method, body, client_ip))
            if name not in ENDPOINTS or name not in self._handlers:
                return Reply(error_body(404, "invalid url domain or path"), status=404)
            data = self._common_checks(name, method, query, body)
            request = Request(name, method, query, headers, body, data)
            return Reply(self._handlers[name](request))
        except ApiError as exc:
            return Reply(error_body(exc.errcode, exc.errmsg, **exc.extra))

    def _common_checks(
        self, name: str, method: str, query: dict[str, str], body: bytes
    ) -> dict[str, Any]:
        """Apply the spec's common checks, in order; return the parsed JSON body."""
        token = query.get("access_token", "")
        if not token:
            raise ApiError(41001)
        record = self.tokens.get(token)
        now = self.clock.now()
        superseded = record is not None and record.dead_at is not None and now >= record.dead_at
        if (record is None and TOKEN_RE.match(token)) or superseded or token in self.poisoned:
            raise ApiError(40001)
        if record is None:
            raise ApiError(40014)
        if now >= record.expires_at:
            raise ApiError(42001)
        if not self.allowed(name):
            raise ApiError(48001)
        want, kind = ENDPOINTS[name]
        if want == "POST" and method != "POST":
            raise ApiError(43002)
        data: dict[str, Any] = {}
        if kind == "json":
            if not body.strip():
                raise ApiError(44002)
            try:
                parsed = json.loads(body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise ApiError(47001) from exc
            if not isinstance(parsed, dict):
                raise ApiError(47001)
            data = parsed
        self._charge(name)
        return data

    def allowed(self, name: str) -> bool:
        """Tell whether the account may call ``name`` (longest matching prefix wins)."""
        best, verdict = -1, True
        for prefix, allowed in self.denied.items():
            if name.startswith(prefix) and len(prefix) > best:
                best, verdict = len(prefix), allowed
        return verdict

    # ---------------------------------------------------------------- quotas

    def daily_limit(self, name: str) -> int:
        """Return the daily call quota of an API."""
        if name in self.daily_limits:
            return self.daily_limits[name]
        defaults = {
            "token": self.config.token_daily_limit,
            "stable_token": 500000,
            "freepublish/submit": self.config.publish_daily_limit,
            "freepublish/get": self.config.publish_get_daily_limit,
            "message/mass/preview": self.config.preview_daily_limit,
        }
        return defaults.get(name, self.config.default_daily_limit)

    def minute_limit(self, name: str) -> int | None:
        """Return the per-minute quota of an API, if it has one."""
        if name in self.minute_limits:
            return self.minute_limits[name]
        return self.config.mass_minute_limit if name in MASS_APIS else None

    def used_today(self, name: str) -> int:
        """Return how many quota-charged calls ``name`` had on the current Beijing day."""
        return self.daily_used[(self.clock.day(), name)]

    def _charge(self, name: str) -> None:
        day_key = (self.clock.day(), name)
        if self.daily_used[day_key] >= self.daily_limit(name):
            raise ApiError(45009)
        minute = self.minute_limit(name)
        minute_key = (self.clock.minute(), name)
        if minute is not None and self.minute_used[minute_key] >= minute:
            raise ApiError(45011)
        self.daily_used[day_key] += 1
        self.minute_used[minute_key] += 1

    # ---------------------------------------------------------------- tokens

    def _check_app(self, grant_type: Any, appid: Any, secret: Any, client_ip: str) -> None:
        if grant_type != "client_credential":
            raise ApiError(40002)
        if not appid:
            raise ApiError(41002)
        if appid != self.appid:
            raise ApiError(40013)
        if not secret:
            raise ApiError(41004)
        if secret != self.secret:
            raise ApiError(self.config.secret_errcode)
        whitelist = self.config.ip_whitelist
        if whitelist is not None and client_ip not in whitelist:
            raise ApiError(40164, f"invalid ip {client_ip}, not in whitelist")

    def _mint(self, source: str) -> Token:
        now = self.clock.now()
        token = Token(
            new_token(),
            "stable" if source == "stable" else "token",
            now,
            now + self.config.token_ttl,
        )
        self.tokens[token.value] = token
        self.current[source] = token
        return token

    def _classic_token(self, query: dict[str, str], client_ip: str) -> dict[str, Any]:
        self._check_app(query.get("grant_type"), query.get("appid"), query.get("secret"), client_ip)
        self._charge("token")
        now = self.clock.now()
        previous = self.current["token"]
        if previous is not None:
            grace_end = min(previous.expires_at, now + self.config.token_grace)
            previous.dead_at = (
                grace_end if previous.dead_at is None else min(previous.dead_at, grace_end)
            )
        token = self._mint("token")
        return {"access_token": token.value, "expires_in": self.config.token_ttl}

    def _stable_token(self, method: str, body: bytes, client_ip: str) -> dict[str, Any]:
        if method != "POST":
            raise ApiError(43002)
        if not body.strip():
            raise ApiError(44002)
        try:
            data = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(47001) from exc
        if not isinstance(data, dict):
            raise ApiError(47001)
        self._check_app(data.get("grant_type"), data.get("appid"), data.get("secret"), client_ip)
        self._charge("stable_token")
        now = self.clock.now()
        current = self.current["stable"]
        live = current is not None and current.dead_at is None and now < current.expires_at
        if data.get("force_refresh") is True:
            recent = (
                self.last_force_at is not None
                and now - self.last_force_at < self.config.stable_force_interval
            )
            if live and recent and current is not None:
                return {"access_token": current.value, "expires_in": current.remaining(now)}
            day = self.clock.day()
            if self.force_count[day] >= self.config.stable_force_daily_limit:
                raise ApiError(45009)
            self.force_count[day] += 1
            self.last_force_at = now
            if current is not None:
                current.dead_at = now
            return self._stable_reply(self._mint("stable"), now)
        if live and current is not None and current.remaining(now) >= self.config.token_grace:
            return self._stable_reply(current, now)
        return self._stable_reply(self._mint("stable"), now)  # old one lives to its expiry

    @staticmethod
    def _stable_reply(token: Token, now: float) -> dict[str, Any]:
        return {"access_token": token.value, "expires_in": token.remaining(now)}

    def supersede_token(self, source: str | None = None, *, grace: float = 0.0) -> list[str]:
        """Another process refreshed: current token(s) die after ``grace`` s (then 40001)."""
        with self._lock:
            minted = []
            for src in (source,) if source else ("token", "stable"):
                old = self.current.get(src)
                if old is None:
                    continue
                old.dead_at = self.clock.now() + grace
                minted.append(self._mint(src).value)
            return minted

    def poison_token(self) -> str | None:
        """The current stable token answers 40001 on every business API although it has
        not expired, and normal-mode stable_token keeps returning it: only a
        ``force_refresh`` replaces it. Return the poisoned token."""
        with self._lock:
            token = self.current.get("stable")
            if token is None:
                return None
            self.poisoned.add(token.value)
            return token.value

    def expire_token(self, source: str | None = None) -> None:
        """Make the current token(s) expire now (then 42001)."""
        with self._lock:
            for src in (source,) if source else ("token", "stable"):
                token = self.current.get(src)
                if token is not None:
                    token.expires_at = self.clock.now()

    # ------------------------------------------------------------- lifecycle

    def run_due(self) -> None:
        """Finish jobs whose time has come and start their callback pushes."""
        raise NotImplementedError  # provided by the endpoint mixin
