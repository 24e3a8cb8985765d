"""Shared stores for WeChat access tokens and uploaded media, in memory or in Redis.

Every worker of one account must use the same token (see docs/wechat.md §1.3), so the
token store also offers a lock: only the holder fetches a new token, the others wait and
then read what it stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from channels.base import TemporaryError

MediaKind = Literal["uploadimg", "image"]

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""


@dataclass(frozen=True, slots=True)
class StoredToken:
    """An access token and the aware UTC time it stops working; the repr hides the token."""

    token: str = field(repr=False)
    expires_at: dt.datetime

    def remaining(self, now: dt.datetime | None = None) -> float:
        """Return the seconds this token is still valid (negative once expired)."""
        return (self.expires_at - (now or dt.datetime.now(dt.UTC))).total_seconds()


@dataclass(frozen=True, slots=True)
class StoredMedia:
    """What WeChat returned for one uploaded image: a permanent media_id and/or a URL."""

    media_id: str | None
    url: str | None


class TokenStore(Protocol):
    """Where all workers of all processes keep each account's current access token."""

    async def get(self, appid: str) -> StoredToken | None: ...

    async def put(self, appid: str, token: StoredToken) -> None: ...

    def lock(self, appid: str) -> AbstractAsyncContextManager[None]: ...

    async def claim_force(self, appid: str, interval: float) -> bool:
        """Take the right to force-refresh the token now; False if anyone did within
        ``interval`` seconds (WeChat allows 20 forced refreshes a day)."""
        ...


class MediaStore(Protocol):
    """Remembers uploads by content hash so each image goes to an account only once."""

    async def get(self, appid: str, sha256: str, kind: MediaKind) -> StoredMedia | None: ...

    async def put(self, appid: str, sha256: str, kind: MediaKind, media: StoredMedia) -> None: ...


class MemoryTokenStore:
    """A token store for a single process (tests, one-worker deployments)."""

    def __init__(self) -> None:
        self._tokens: dict[str, StoredToken] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._forced: dict[str, float] = {}

    def __repr__(self) -> str:
        return f"MemoryTokenStore(appids={sorted(self._tokens)!r})"

    async def get(self, appid: str) -> StoredToken | None:
        """Return the stored token for ``appid``, if any."""
        return self._tokens.get(appid)

    async def put(self, appid: str, token: StoredToken) -> None:
        """Store ``token`` as the current token of ``appid``."""
        self._tokens[appid] = token

    async def claim_force(self, appid: str, interval: float) -> bool:
        """Take the right to force-refresh now, at most once per ``interval`` seconds."""
        last = self._forced.get(appid)
        if last is not None and time.monotonic() - last < interval:
            return False
        self._forced[appid] = time.monotonic()
        return True

    @asynccontextmanager
    async def lock(self, appid: str) -> AsyncIterator[None]:
        """Hold the per-account lock of this process."""
        async with self._locks.setdefault(appid, asyncio.Lock()):
            yield


class RedisTokenStore:
    """A token store shared through Redis, locked with SET NX PX and a compare-and-delete."""

    def __init__(
        self,
        redis_url: str,
        *,
        prefix: str = "gongkai:wechat:",
        lock_ttl: float = 30.0,
        lock_wait: float = 20.0,
        poll_interval: float = 0.05,
    ) -> None:
        self._redis = aioredis.Redis.from_url(redis_url)
        self._prefix = prefix
        self._lock_ttl_ms = int(lock_ttl * 1000)
        self._lock_wait = lock_wait
        self._poll = poll_interval

    def __repr__(self) -> str:
        return f"RedisTokenStore(prefix={self._prefix!r})"  # the URL may hold a password

    async def get(self, appid: str) -> StoredToken | None:
        """Return the stored token for ``appid``, if any."""
        try:
            raw = await self._redis.get(f"{self._prefix}token:{appid}")
        except RedisError as exc:
            raise _unavailable(exc) from exc
        if raw is None:
            return None
        data = json.loads(raw)
        return StoredToken(data["token"], dt.datetime.fromisoformat(data["expires_at"]))

    async def put(self, appid: str, token: StoredToken) -> None:
        """Store ``token`` until it expires."""
        ttl_ms = int(token.remaining() * 1000)
        if ttl_ms <= 0:
            return
        value = json.dumps({"token": token.token, "expires_at": token.expires_at.isoformat()})
        try:
            await self._redis.set(f"{self._prefix}token:{appid}", value, px=ttl_ms)
        except RedisError as exc:
            raise _unavailable(exc) from exc

    async def claim_force(self, appid: str, interval: float) -> bool:
        """Take the right to force-refresh now, shared by every process (SET NX EX)."""
        key = f"{self._prefix}forced:{appid}"
        try:
            return bool(await self._redis.set(key, "1", nx=True, px=int(interval * 1000)))
        except RedisError as exc:
            raise _unavailable(exc) from exc

    @asynccontextmanager
    async def lock(self, appid: str) -> AsyncIterator[None]:
        """Hold the account's lock across processes; wait at most ``lock_wait`` seconds."""
        key, owner = f"{self._prefix}lock:{appid}", secrets.token_hex(16)
        deadline = time.monotonic() + self._lock_wait
        try:
            while not await self._redis.set(key, owner, nx=True, px=self._lock_ttl_ms):
                if time.monotonic() >= deadline:
                    raise TemporaryError("微信：等待令牌锁超时，稍后重试", code="token_lock")
                await asyncio.sleep(self._poll)
        except RedisError as exc:
            raise _unavailable(exc) from exc
        try:
            yield
        finally:
            with contextlib.suppress(RedisError):  # the lock then expires after lock_ttl
                await self._redis.eval(_RELEASE, 1, key, owner)

    async def aclose(self) -> None:
        """Close the Redis connection pool."""
        await self._redis.aclose()


class MemoryMediaStore:
    """A media store for a single process."""

    def __init__(self) -> None:
        self._media: dict[tuple[str, str, str], StoredMedia] = {}

    async def get(self, appid: str, sha256: str, kind: MediaKind) -> StoredMedia | None:
        """Return what an earlier upload of this content returned, if any."""
        return self._media.get((appid, sha256, kind))

    async def put(self, appid: str, sha256: str, kind: MediaKind, media: StoredMedia) -> None:
        """Remember the result of uploading this content."""
        self._media[(appid, sha256, kind)] = media


def _unavailable(exc: RedisError) -> TemporaryError:
    """Describe a Redis failure without its connection details."""
    return TemporaryError(f"微信：令牌存储（Redis）不可用（{type(exc).__name__}）", code="redis")
