"""In-memory job and account stores for running the WeChat channel without a database."""

from __future__ import annotations

import dataclasses
import datetime as dt

from channels.wechat.state import AccountConfig, JobRecord


class MemoryJobStore:
    """Job records in a dict, with the same quota count as the database store."""

    def __init__(self) -> None:
        self.jobs: dict[str, JobRecord] = {}

    async def get(self, batch_key: str) -> JobRecord | None:
        job = self.jobs.get(batch_key)
        return None if job is None else dataclasses.replace(job)

    async def save(self, job: JobRecord) -> None:
        current = self.jobs.get(job.batch_key)
        if current is None or current.status not in ("finished", "failed"):
            self.jobs[job.batch_key] = dataclasses.replace(job)

    async def mark_polled(
        self, batch_key: str, *, now: dt.datetime, interval: dt.timedelta
    ) -> bool:
        job = self.jobs.get(batch_key)
        if job is None:
            return False
        last = job.last_polled_at or job.commit_started_at
        if last is not None and now - last < interval:
            return False
        job.last_polled_at = now
        return True

    async def broadcasts_since(self, app_id: str, since: dt.date) -> int:
        return sum(
            1
            for job in self.jobs.values()
            if job.app_id == app_id
            and job.mode == "broadcast"
            and job.msg_id
            and job.local_date >= since
        )


class MemoryAccounts:
    """A fixed set of accounts by organization code."""

    def __init__(self, *accounts: AccountConfig) -> None:
        self.accounts = {account.org_code: account for account in accounts}

    async def account(self, org_code: str) -> AccountConfig | None:
        return self.accounts.get(org_code)

    async def wechat_title(self, item_id: int) -> str | None:
        return None

    async def pause(self, app_id: str, reason: str) -> None:
        self._set_pause(app_id, reason)

    async def resume(self, app_id: str) -> None:
        self._set_pause(app_id, "")

    def _set_pause(self, app_id: str, reason: str) -> None:
        for code, found in list(self.accounts.items()):
            if found.app_id == app_id:
                self.accounts[code] = dataclasses.replace(found, paused_reason=reason)


def account(org_code: str, app_id: str, secret: str, **changes: object) -> AccountConfig:
    """An account with sensible defaults for tests (slot open now, broadcast to all)."""
    now = dt.datetime.now(dt.timezone(dt.timedelta(hours=8)))
    base = AccountConfig(
        org_code=org_code,
        org_name="天德乡人民政府",
        app_id=app_id,
        api_base="",
        secret=secret,
        kind="service",
        mode="broadcast",
        tag_id=None,
        slot_time=(now - dt.timedelta(minutes=1)).time().replace(second=0, microsecond=0),
        allow_publish_fallback=False,
        author="",
        cover_file="",
        original_id="",
        callback_token="",
        aes_key="",
        preview_openid="",
        welcome_text="",
        keywords=(),
        default_reply="",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]
