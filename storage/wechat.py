"""WeChat state in the database: accounts (secrets sealed), the shared token, media, jobs.

These classes implement the stores the WeChat channel asks for (``channels.wechat``),
so every worker process shares one token, one upload record and one job record.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from channels.base import TemporaryError
from channels.wechat.state import PAUSING_ERROR, AccountConfig, JobRecord
from channels.wechat.tokens import MediaKind, StoredMedia, StoredToken
from storage import outbox
from storage.crypto import SecretBox
from storage.delivery import State
from storage.models import Delivery, Organization
from storage.wechat_models import (
    WechatAccount,
    WechatCallbackNonce,
    WechatJob,
    WechatMedia,
    WechatPreviewRecipient,
    WechatTitle,
    WechatToken,
)

FINAL_JOB_STATES = ("finished", "failed")
LOCK_SECONDS = 30.0
LOCK_WAIT_SECONDS = 20.0


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class DatabaseTokenStore:
    """One token row per account; refreshing is guarded by a compare-and-set row lock."""

    def __init__(self, *, owner: str) -> None:
        self._owner = owner

    async def get(self, appid: str) -> StoredToken | None:
        row = await WechatToken.get_or_none(app_id=appid)
        if row is None or not row.token or row.expires_at is None:
            return None
        return StoredToken(row.token, row.expires_at)

    async def put(self, appid: str, token: StoredToken) -> None:
        await self._row(appid)
        await WechatToken.filter(app_id=appid).update(
            token=token.token, expires_at=token.expires_at
        )

    @asynccontextmanager
    async def lock(self, appid: str) -> AsyncIterator[None]:
        await self._row(appid)
        me = f"{self._owner}/{secrets.token_hex(4)}"
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while not await self._try_lock(appid, me):
            if time.monotonic() > deadline:
                raise TemporaryError(
                    "微信 access_token 刷新锁等待超时，稍后重试", code="token_lock"
                )
            await asyncio.sleep(0.2)
        try:
            yield
        finally:
            await WechatToken.filter(app_id=appid, lock_owner=me).update(
                lock_owner=None, lock_expires_at=None
            )

    async def claim_force(self, appid: str, interval: float) -> bool:
        """Take the right to force a token refresh now: False if any worker did within
        ``interval`` seconds."""
        await self._row(appid)
        now = _now()
        due = Q(forced_at=None) | Q(forced_at__lt=now - dt.timedelta(seconds=interval))
        return await WechatToken.filter(Q(app_id=appid) & due).update(forced_at=now) == 1

    async def _try_lock(self, appid: str, me: str) -> bool:
        now = _now()
        free = Q(lock_owner=None) | Q(lock_expires_at__lt=now)
        changed = await WechatToken.filter(Q(app_id=appid) & free).update(
            lock_owner=me, lock_expires_at=now + dt.timedelta(seconds=LOCK_SECONDS)
        )
        return changed == 1

    async def _row(self, appid: str) -> None:
        if await WechatToken.exists(app_id=appid):
            return
        with contextlib.suppress(IntegrityError):  # another worker created it first
            await WechatToken.create(app_id=appid)


class DatabaseMediaStore:
    """Uploads remembered by (account, content hash, kind)."""

    async def get(self, appid: str, sha256: str, kind: MediaKind) -> StoredMedia | None:
        row = await WechatMedia.get_or_none(app_id=appid, sha256=sha256, kind=kind)
        return None if row is None else StoredMedia(row.media_id, row.url)

    async def put(self, appid: str, sha256: str, kind: MediaKind, media: StoredMedia) -> None:
        # The same bytes recorded by another worker first: either record will do.
        with contextlib.suppress(IntegrityError):
            await WechatMedia.create(
                app_id=appid, sha256=sha256, kind=kind, media_id=media.media_id, url=media.url
            )


class DatabaseJobStore:
    """Job records keyed by batch key (the clientmsgid)."""

    async def get(self, batch_key: str) -> JobRecord | None:
        row = await WechatJob.get_or_none(batch_key=batch_key)
        return None if row is None else _record(row)

    async def find(
        self,
        *,
        msg_id: str | None = None,
        publish_id: str | None = None,
        app_id: str | None = None,
    ) -> JobRecord | None:
        """The job with this msg_id or publish_id, on ``app_id``'s account when given."""
        query = (
            WechatJob.filter(msg_id=msg_id) if msg_id else WechatJob.filter(publish_id=publish_id)
        )
        if app_id:
            query = query.filter(app_id=app_id)
        row = await query.first()
        return None if row is None else _record(row)

    async def save(self, job: JobRecord) -> None:
        """Create or update; a finished or failed job is final and never overwritten (a
        poll that read it earlier must not undo what a callback event recorded)."""
        values = asdict(job)
        key = values.pop("batch_key")
        open_job = WechatJob.filter(batch_key=key).exclude(status__in=FINAL_JOB_STATES)
        if await open_job.update(**values):
            return
        if not await WechatJob.exists(batch_key=key):
            await WechatJob.create(batch_key=key, **values)

    async def fill_reach(self, job: JobRecord) -> None:
        """Add a late event's counts and URLs to a job that was confirmed without them
        (the one change a final job accepts), and the URLs to its deliveries."""
        await WechatJob.filter(batch_key=job.batch_key, total_count=None).update(
            total_count=job.total_count,
            filter_count=job.filter_count,
            sent_count=job.sent_count,
            error_count=job.error_count,
            article_urls=job.article_urls,
        )
        for delivery_id, url in zip(job.delivery_ids, job.article_urls, strict=False):
            await outbox.fill_missing_url(delivery_id, url)

    async def mark_polled(
        self, batch_key: str, *, now: dt.datetime, interval: dt.timedelta
    ) -> bool:
        before = now - interval
        never = Q(last_polled_at=None) & Q(commit_started_at__lte=before)
        stale = Q(last_polled_at__lte=before)
        changed = await WechatJob.filter(Q(batch_key=batch_key) & (never | stale)).update(
            last_polled_at=now
        )
        return changed == 1

    async def broadcasts_since(self, app_id: str, since: dt.date) -> int:
        """Broadcasts accepted by WeChat for this account on or after ``since`` (quotas)."""
        return await WechatJob.filter(
            app_id=app_id, mode="broadcast", msg_id__isnull=False, local_date__gte=since
        ).count()


def _record(row: WechatJob) -> JobRecord:
    names = JobRecord.__dataclass_fields__
    return JobRecord(**{name: getattr(row, name) for name in names})


class DatabaseAccounts:
    """Reads accounts for the channel and the callback endpoint, opening sealed secrets."""

    def __init__(self, box: SecretBox) -> None:
        self._box = box

    async def account(self, org_code: str) -> AccountConfig | None:
        row = await WechatAccount.get_or_none(
            organization__code=org_code, enabled=True
        ).prefetch_related("organization")
        return None if row is None else self._config(row)

    async def by_app_id(self, app_id: str) -> AccountConfig | None:
        row = await WechatAccount.get_or_none(app_id=app_id).prefetch_related("organization")
        return None if row is None else self._config(row)

    def _config(self, row: WechatAccount) -> AccountConfig:
        hour, minute = (int(part) for part in row.slot_time.split(":"))
        return AccountConfig(
            org_code=row.organization.code,
            org_name=row.organization.name,
            app_id=row.app_id,
            api_base=row.api_base,
            secret=self._box.open(row.app_secret_sealed),
            kind=row.kind,
            mode=row.mode,
            tag_id=row.tag_id,
            slot_time=dt.time(hour, minute),
            allow_publish_fallback=row.allow_publish_fallback,
            author=row.author,
            cover_file=row.cover_file,
            original_id=row.original_id,
            callback_token=self._open(row.callback_token_sealed),
            aes_key=self._open(row.aes_key_sealed),
            preview_openid=row.preview_openid,
            welcome_text=row.welcome_text,
            keywords=tuple(row.keywords or ()),
            default_reply=row.default_reply,
            paused_reason=row.paused_reason,
            title_limit=row.title_limit,
            limit_unit=row.limit_unit,
        )

    async def wechat_title(self, item_id: int) -> str | None:
        row = await WechatTitle.get_or_none(item_id=item_id)
        return None if row is None else row.title

    async def pause(self, app_id: str, reason: str) -> None:
        """Record why the account's deliveries wait (the first reason is kept)."""
        await WechatAccount.filter(app_id=app_id, paused_reason="").update(
            paused_reason=reason, paused_at=_now()
        )

    async def resume(self, app_id: str) -> None:
        """Lift the pause and make the deliveries that waited for it due now."""
        row = await WechatAccount.get_or_none(app_id=app_id)
        if row is None:
            return
        await WechatAccount.filter(id=row.id).update(paused_reason="", paused_at=None)
        await release_paused(row.organization_id)

    def _open(self, sealed: str) -> str:
        return self._box.open(sealed) if sealed else ""

    async def configure(self, org: Organization, **settings: Any) -> WechatAccount:
        """Create or change an organization's account; secrets given in plain are sealed."""
        for secret_name in ("app_secret", "callback_token", "aes_key"):
            if settings.get(secret_name):
                settings[f"{secret_name}_sealed"] = self._box.seal(settings.pop(secret_name))
            else:
                settings.pop(secret_name, None)  # unchanged: never overwritten by a blank
        row = await WechatAccount.get_or_none(organization_id=org.id)
        if row is None:
            return await WechatAccount.create(organization=org, **settings)
        # Changed settings are the administrator's answer to a pause: try again now.
        await WechatAccount.filter(id=row.id).update(**settings, paused_reason="", paused_at=None)
        if row.paused_reason:
            await release_paused(org.id)
        return await WechatAccount.get(id=row.id)


async def record_test(organization_id: int, *, ok: bool, message: str) -> None:
    """Keep the last "test connection" answer for the settings page."""
    await WechatAccount.filter(organization_id=organization_id).update(
        last_test_at=_now(), last_test_ok=ok, last_test_message=message[:2000]
    )


async def release_paused(organization_id: int) -> int:
    """Make the organization's WeChat deliveries that waited for a pause due now."""
    waiting = await Delivery.filter(
        channel="wechat",
        state=State.RETRY_WAIT,
        last_error_code=PAUSING_ERROR,
        item__organization_id=organization_id,
    ).only("id")
    now = _now()
    for delivery in waiting:
        await outbox.retry(delivery.id, now=now)
    return len(waiting)


async def remember_nonce(app_id: str, timestamp: str, nonce: str, *, keep: dt.timedelta) -> bool:
    """Record the (timestamp, nonce) of a signed callback; False when this account already
    received that pair (a replayed request, or WeChat re-sending an identical one).

    Pairs older than ``keep`` (by then their timestamps are refused anyway) are pruned.
    """
    now = _now()
    await WechatCallbackNonce.filter(received_at__lt=now - keep).delete()
    try:
        await WechatCallbackNonce.create(
            app_id=app_id, timestamp=timestamp, nonce=nonce, received_at=now
        )
    except IntegrityError:
        return False
    return True


async def preview_recipients(organization_id: int) -> list[WechatPreviewRecipient]:
    """The openids an administrator registered for previews of unreleased items."""
    return await WechatPreviewRecipient.filter(organization_id=organization_id).order_by("id")


async def is_preview_recipient(organization_id: int, openid: str) -> bool:
    """Whether ``openid`` is registered for the organization's previews."""
    return await WechatPreviewRecipient.exists(organization_id=organization_id, openid=openid)


async def add_preview_recipient(
    organization_id: int, openid: str, *, name: str = "", added_by: str = ""
) -> WechatPreviewRecipient | None:
    """Register an openid; None when it is registered already."""
    if await is_preview_recipient(organization_id, openid):
        return None
    try:
        return await WechatPreviewRecipient.create(
            organization_id=organization_id, openid=openid, name=name, added_by=added_by
        )
    except IntegrityError:  # registered by someone else at the same moment
        return None


async def remove_preview_recipient(
    organization_id: int, recipient_id: int
) -> WechatPreviewRecipient | None:
    """Remove one registration; the removed row, or None when there was none."""
    row = await WechatPreviewRecipient.get_or_none(id=recipient_id, organization_id=organization_id)
    if row is not None:
        await WechatPreviewRecipient.filter(id=row.id).delete()
    return row


def cover_path(data_dir: Path, org_code: str) -> Path:
    """Where an organization's uploaded cover image is kept."""
    return data_dir / "wechat" / "covers" / f"{org_code}.jpg"
