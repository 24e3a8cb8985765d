"""Stores for WeChat access tokens and uploaded media: the protocols and in-memory ones.

Every worker of one account must use the same token (see docs/wechat.md §1.3), so the
token store also offers a lock: only the holder fetches a new token, the others wait and
then read what it stored. Production uses ``storage.wechat.DatabaseTokenStore``: the
database every worker already shares (a Redis store was dropped in issue 9: it was never
wired, and it would add a service and a failure mode for nothing the database lacks).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal, Protocol

MediaKind = Literal["uploadimg", "image"]


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
