"""The WeChat channel: drafts, broadcasts within quota, free publish, exactly once.

Per organization account (``AccountDirectory``):

- *broadcast* mode sends a multi-article mass message (up to 8 articles) at the account's
  daily slot; an urgent item goes at once and uses the day's broadcast. A subscription
  account gets one broadcast a day, a service account four a month; when none is left the
  batch waits for the next slot (``Deferred``), or goes out by free publish if allowed.
- *publish* mode free-publishes (no push to followers).

Exactly once: *prepare* renders and uploads (repeatable; uploads are deduped by hash).
*commit* records a job under the batch key before every call: the draft's media_id, then
the time the send started. A repeat after a crash reuses the draft and the same
``clientmsgid`` (the batch key), so WeChat answers 45065 with the original msg_id, which
is adopted as success. Past WeChat's 24 h dedupe window a repeat is refused
(``OutcomeUnknown``): a person checks. *confirm* is the job event (see bot/wechat_events)
or, as a fallback, a poll no more often than ``poll_interval``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from zoneinfo import ZoneInfo

from channels.base import (
    ChannelError,
    Committed,
    ConfigurationError,
    Deferred,
    OutcomeUnknown,
    PermanentError,
    Publishable,
    Withdrawal,
)
from channels.safe_fetch import SafeFetcher
from channels.wechat.content import (
    Limits,
    Unit,
    article,
    check_article_limits,
    digest_from,
    fetch_image,
    images_dropped,
    rewrite_images,
    shorten,
    to_wechat_html,
)
from channels.wechat.state import (
    PAUSING_ERROR,
    AccountConfig,
    AccountDirectory,
    JobRecord,
    JobStore,
)
from channels.wechat.tokens import MediaStore, TokenStore

if TYPE_CHECKING:
    from channels.wechat.client import WeChatApi

log = logging.getLogger("gongkai.wechat")
BEIJING = ZoneInfo("Asia/Shanghai")
DEDUPE_WINDOW = dt.timedelta(hours=23)  # WeChat dedupes clientmsgid for 24 h; keep a margin
MONTHLY_BROADCASTS = 4  # service accounts: per follower per month
PUBLISH_FAILURES = {
    2: "原创声明失败",
    3: "常规失败",
    4: "平台审核不通过",
    5: "已被删除",
    6: "已被封禁",
}
Clock = Callable[[], dt.datetime]
PAUSE_RECHECK = dt.timedelta(minutes=15)  # a paused delivery looks again (no WeChat call)
_T = TypeVar("_T")
FIELD_LIMIT_ERRORS = {"45003": "微信标题", "45110": "作者", "45004": "摘要"}


class WeChatChannel:
    name: ClassVar[str] = "wechat"
    commit_repeatable = True  # the job record and clientmsgid make a repeat safe (see above)
    polls_confirmation = True
    batch_limit = 8

    def __init__(
        self,
        *,
        accounts: AccountDirectory,
        jobs: JobStore,
        tokens: TokenStore,
        media: MediaStore,
        api_base: str,
        timeout: float,
        font_path: Path,
        slot_window: dt.timedelta,
        poll_interval: dt.timedelta,
        images_allowed: bool = True,
        image_max_bytes: int = 1_000_000,
        outbound_allowed_networks: Sequence[str] = (),
        clock: Clock | None = None,
    ) -> None:
        self._accounts, self._jobs = accounts, jobs
        self._tokens, self._media = tokens, media
        self._api_base, self._timeout, self._font = api_base, timeout, font_path
        self._slot_window, self._poll_interval = slot_window, poll_interval
        self._images_allowed, self._image_max = images_allowed, image_max_bytes
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._apis: dict[tuple[str, str, str], WeChatApi] = {}
        self._fetcher = SafeFetcher(
            allowed_networks=outbound_allowed_networks, timeout=timeout, max_bytes=image_max_bytes
        )

    async def account(self, org_code: str) -> AccountConfig:
        found = await self._accounts.account(org_code)
        if found is None:
            raise ConfigurationError(f"{org_code} 尚未配置微信公众号（gongkai wechat configure）")
        return found

    def api(self, account: AccountConfig) -> WeChatApi:
        """One client per account (and secret and address, so a change takes effect)."""
        base = account.api_base or self._api_base
        key = (account.app_id, account.secret, base)
        from channels.wechat.client import WeChatApi  # wechatpy loads on the first call

        if key not in self._apis:
            self._apis[key] = WeChatApi(
                appid=account.app_id,
                secret=account.secret,
                api_base=base,
                tokens=self._tokens,
                media=self._media,
                timeout=self._timeout,
            )
        return self._apis[key]

    # -- the contract --------------------------------------------------------------

    async def validate(self, pub: Publishable) -> list[tuple[str, str]]:
        """Problems WeChat would reject, found when the item is queued. A long title, author
        or summary is never one: WeChat gets a shortened form (or the clerk's 微信标题)."""
        account = await self._accounts.account(pub.org_code)
        if account is None:
            return [("channels", f"{pub.org_name} 尚未配置微信公众号，不能选择微信渠道")]
        problems = check_article_limits(
            title=pub.title,
            author="",
            digest="",
            content_html=to_wechat_html(pub.body_html),
            source_url=pub.source_url or "",
            limits=limits_of(account),
        )
        return [
            ("body" if f == "content" else f, m)
            for f, m in problems
            if f != "title" or not pub.title.strip()
        ]

    async def wechat_title(self, account: AccountConfig, pub: Publishable) -> str:
        """The clerk's 微信标题 for the item, else the title shortened to the account's limit."""
        chosen = await self._accounts.wechat_title(pub.item_id)
        limits = limits_of(account)
        return chosen or shorten(pub.title, limits.title, limits.unit)

    async def prepare(self, pub: Publishable) -> dict[str, Any]:
        account = await self.account(pub.org_code)
        return await self._unless_paused(account, lambda: self._prepare(account, pub))

    async def _prepare(self, account: AccountConfig, pub: Publishable) -> dict[str, Any]:
        api = self.api(account)
        html = to_wechat_html(pub.body_html)
        notes: list[str] = []
        if self._images_allowed:
            html, notes = await rewrite_images(
                html, fetch=self._fetch, upload=api.upload_body_image
            )
        thumb = await api.upload_cover(*self._cover(account))
        limits = limits_of(account)
        draft = article(
            title=await self.wechat_title(account, pub),
            content=html,
            thumb_media_id=thumb,
            author=shorten(self._author(account, pub), limits.author, limits.unit),
            digest=shorten(digest_from(pub.summary, pub.body_md), limits.digest, limits.unit),
            content_source_url=pub.source_url or "",
        )
        problems = check_article_limits(
            title=draft["title"],
            author=draft["author"],
            digest=draft["digest"],
            content_html=html,
            source_url=draft["content_source_url"],
            limits=limits,
        )
        if problems:
            raise PermanentError("；".join(message for _field, message in problems))
        return {"article": draft, "notes": notes}

    async def commit(self, pub: Publishable, prepared: Mapping[str, Any]) -> Committed:
        result = (await self.commit_batch([pub], [prepared]))[0]
        if isinstance(result, ChannelError):
            raise result
        return result

    async def commit_batch(
        self, pubs: Sequence[Publishable], prepared: Sequence[Mapping[str, Any]]
    ) -> list[Committed | ChannelError]:
        # A delivery committed on its own is a batch of one under its own key.
        key = pubs[0].batch_key or pubs[0].idempotency_key
        account = await self.account(pubs[0].org_code)
        job = await self._jobs.get(key)
        done = job is not None and bool(job.msg_id or job.publish_id or job.article_id)
        if job is not None and done and any(p.delivery_id not in job.delivery_ids for p in pubs):
            # A delivery held out of this batch's send (see _without_refused) and retried
            # after the clerk's fix: it is not part of what went out; regroup it.
            raise Deferred("重新编组，等待下一次微信发送", until=self._clock())
        if job is None or not done:
            try:
                job = await self._unless_paused(
                    account, lambda: self._commit(key, job, account, pubs, prepared)
                )
            except PermanentError as exc:
                if exc.code not in FIELD_LIMIT_ERRORS or len(pubs) < 2:
                    raise
                return await self._without_refused(key, account, pubs, prepared, exc)
        return [_committed(job, _position(job, pub)) for pub in pubs]

    async def _without_refused(
        self,
        key: str,
        account: AccountConfig,
        pubs: Sequence[Publishable],
        prepared: Sequence[Mapping[str, Any]],
        refusal: PermanentError,
    ) -> list[Committed | ChannelError]:
        """WeChat refused a field of one article (45003 title, 45110 author, 45004 digest)
        without saying which: find it with one-article drafts (deleted at once), send the
        others, and hold only the refused item with one clear message."""
        api = self.api(account)
        refused = [
            index
            for index, ready in enumerate(prepared)
            if not await _fits_wechat(api, dict(ready["article"]))
        ]
        if not refused or len(refused) == len(pubs):
            raise refusal
        keep = [index for index in range(len(pubs)) if index not in refused]
        job = await self._jobs.get(key)
        if job is not None:
            job.delivery_ids = [pubs[index].delivery_id for index in keep]
            await self._jobs.save(job)
        sent = await self._unless_paused(
            account,
            lambda: self._commit(
                key, job, account, [pubs[i] for i in keep], [prepared[i] for i in keep]
            ),
        )
        held = PermanentError(
            f"微信不接受这条信息的{FIELD_LIMIT_ERRORS[refusal.code or '']}（{refusal.code}），"
            "同批其他信息已照常发出。请在信息页缩短“微信标题”（或作者、摘要）后点“重试”",
            code=refusal.code,
        )
        return [
            held if index in refused else _committed(sent, _position(sent, pub))
            for index, pub in enumerate(pubs)
        ]

    async def _commit(
        self,
        key: str,
        job: JobRecord | None,
        account: AccountConfig,
        pubs: Sequence[Publishable],
        prepared: Sequence[Mapping[str, Any]],
    ) -> JobRecord:
        job = job or await self._new_job(key, account, pubs)
        articles = [
            # The clerk may have changed the 微信标题 since the item was prepared.
            {**ready["article"], "title": await self.wechat_title(account, pub)}
            for pub, ready in zip(pubs, prepared, strict=True)
        ]
        try:
            await self._send(job, account, articles)
        except (Deferred, PermanentError):
            # Nothing went out (waiting regroups the batch under a new key, a refusal
            # ends it): its draft would only pile up in the account's 草稿箱.
            if job.draft_media_id:
                await _discard_draft(self.api(account), job.draft_media_id)
                job.draft_media_id = None
                await self._jobs.save(job)
            raise
        return job

    async def _unless_paused(self, account: AccountConfig, work: Callable[[], Awaitable[_T]]) -> _T:
        """Run ``work`` unless the account is paused; a 48001 (no permission) pauses it:
        retrying a configuration error every 15 minutes only fills the log."""
        if account.paused_reason:
            raise self._paused(account.paused_reason)
        try:
            return await work()
        except ConfigurationError as exc:
            if exc.code != PAUSING_ERROR:
                raise
            await self._accounts.pause(account.app_id, str(exc))
            raise self._paused(str(exc)) from exc

    def _paused(self, reason: str) -> Deferred:
        return Deferred(
            f"{reason}。本公众号的微信发布已暂停：请管理员在“渠道设置”中修改公众号设置"
            "或点“测试连接”，之后自动恢复",
            until=self._clock() + PAUSE_RECHECK,
            code=PAUSING_ERROR,
        )

    async def poll(self, pub: Publishable) -> Committed | None:
        job = await self._jobs.get(pub.batch_key or pub.idempotency_key)
        if job is None:
            return None
        claimed = job.status == "sent" and await self._jobs.mark_polled(
            job.batch_key, now=self._clock(), interval=self._poll_interval
        )
        if claimed:
            await self._refresh(job, await self.account(pub.org_code))
        index = (
            job.delivery_ids.index(pub.delivery_id) if pub.delivery_id in job.delivery_ids else 0
        )
        if job.status == "failed" or index + 1 in job.fail_idx:
            raise PermanentError(
                f"微信拒绝发布：{job.platform_status or '未说明原因'}",
                code=job.platform_status[:32] or None,
            )
        if job.status != "finished":
            return None
        url = job.article_urls[index] if index < len(job.article_urls) else None
        return Committed(external_id=job.msg_id or job.article_id or job.publish_id, url=url)

    async def withdraw(self, pub: Publishable) -> Withdrawal:
        job = await self._jobs.get(pub.batch_key or pub.idempotency_key)
        if job is None:
            return Withdrawal(not_undone=["找不到对应的微信发送记录，请在公众号后台人工删除"])
        api = self.api(await self.account(pub.org_code))
        index = (
            job.delivery_ids.index(pub.delivery_id) + 1
            if pub.delivery_id in job.delivery_ids
            else 0
        )
        if job.msg_id:
            await api.mass_delete(job.msg_id, article_idx=index)
            return Withdrawal(
                undone=["已删除群发文章，粉丝打开将显示“已删除”"],
                not_undone=["已推送到粉丝手机的消息通知无法撤回"],
            )
        if job.article_id:
            await api.freepublish_delete(job.article_id, index=index)
            return Withdrawal(undone=["已删除发布的文章"])
        return Withdrawal(not_undone=["微信尚未确认发布，无法删除；请在公众号后台核对"])

    async def check(self) -> str:
        return "微信渠道已启用；各单位公众号请用“测试连接”逐一检查"

    async def check_account(self, org_code: str) -> str:
        """The 'test connection' button: the token (and the IP WeChat saw), then each API
        publishing needs, read-only, with advice in Chinese. Raises ConfigurationError with
        the whole report when something the account's mode needs is missing."""
        account = await self.account(org_code)
        await self._accounts.resume(account.app_id)  # a test is the administrator's "retry"
        api = self.api(account)
        await api.verify_credentials()  # 40164 names the IP WeChat saw
        lines = [f"令牌正常：{account.app_id}（本服务器的出口 IP 在白名单中）"]
        needed_missing = False
        for name, needed, probe, advice in self._permission_checks(account, api):
            try:
                await probe()
            except ConfigurationError as exc:
                if exc.code != PAUSING_ERROR:
                    raise
                lines.append(f"{name}：没有权限（48001）。{advice}")
                needed_missing = needed_missing or needed
            else:
                lines.append(f"{name}：正常")
        limit, used, remain = await api.quota("/cgi-bin/message/mass/sendall")
        lines.append(f"今日群发接口调用 {used}/{limit}，剩余 {remain}")
        report = "\n".join(lines)
        if needed_missing:
            raise ConfigurationError(report, code=PAUSING_ERROR)
        return "连接正常：" + report

    def _permission_checks(
        self, account: AccountConfig, api: WeChatApi
    ) -> list[tuple[str, bool, Callable[[], Awaitable[object]], str]]:
        broadcast = account.mode == "broadcast"
        publish = not broadcast or account.allow_publish_fallback
        return [
            (
                "草稿箱接口（draft）",
                True,
                api.draft_count,
                "公众号未认证或未开通草稿箱接口：请在微信公众平台完成微信认证后再测试。",
            ),
            (
                "发布接口（freepublish）",
                publish,
                lambda: api.freepublish_batchget(0, 1),
                "2025 年 7 月起未认证的账号不能调用发布接口：请完成微信认证"
                + ("，或关闭“额度用完时改用发布”。" if broadcast else "，或改用“群发”方式。"),
            ),
            (
                "群发接口（mass）",
                broadcast,
                api.mass_permitted,
                "未认证的订阅号不能群发：请完成微信认证，或改用“发布”方式（不推送给粉丝）。",
            ),
        ]

    async def preview(self, pub: Publishable, prepared: Mapping[str, Any], openid: str) -> None:
        """Send one article to a reviewer's phone before the real broadcast."""
        api = self.api(await self.account(pub.org_code))
        draft = await api.draft_add([dict(prepared["article"])])
        try:
            await api.preview(draft, openid)
        finally:
            await _discard_draft(api, draft)  # the clerks' 草稿箱 is not Gongkai's scratchpad

    async def dropped_images(self, body_html: str) -> list[str]:
        """The body images a send would leave out, and why, found before submission."""
        if not self._images_allowed:
            return []
        return await images_dropped(to_wechat_html(body_html), fetch=self._fetch)

    async def aclose(self) -> None:
        for api in self._apis.values():
            await api.aclose()
        await self._fetcher.aclose()

    # -- steps of a commit ------------------------------------------------------------

    async def _new_job(
        self, key: str, account: AccountConfig, pubs: Sequence[Publishable]
    ) -> JobRecord:
        now = self._clock()
        mode = account.mode
        if mode == "broadcast":
            if not any(p.urgent for p in pubs):
                self._wait_for_slot(account, now)
            if await self._quota_used_up(account, now):
                if not account.allow_publish_fallback:
                    raise self._no_quota(account, now, urgent=any(p.urgent for p in pubs))
                mode = "publish"
        job = JobRecord(
            batch_key=key,
            app_id=account.app_id,
            mode=mode,
            local_date=now.astimezone(BEIJING).date(),
            delivery_ids=[p.delivery_id for p in pubs],
            urgent=any(p.urgent for p in pubs),
        )
        await self._jobs.save(job)
        return job

    async def _send(
        self, job: JobRecord, account: AccountConfig, articles: list[dict[str, Any]]
    ) -> None:
        api = self.api(account)
        if job.draft_media_id is None:
            job.draft_media_id = await api.draft_add(articles)
            await self._jobs.save(job)
        now = self._clock()
        if job.commit_started_at and now - job.commit_started_at > DEDUPE_WINDOW:
            raise OutcomeUnknown("微信发送结果未知，且已超过 24 小时去重期，请在公众号后台核对")
        repeated = job.commit_started_at is not None
        job.commit_started_at = job.commit_started_at or now
        await self._jobs.save(job)
        try:
            if job.mode == "broadcast":
                await self._broadcast(job, account, api)
            else:
                await self._publish(job, api)
        except PermanentError as exc:
            raise _unknown_if_maybe_sent(job, exc, repeated=repeated) from exc

    async def _broadcast(self, job: JobRecord, account: AccountConfig, api: WeChatApi) -> None:
        from channels.wechat.errors import NoQuotaError

        try:
            sent = await api.sendall(
                job.draft_media_id or "", tag_id=account.tag_id, clientmsgid=job.batch_key
            )
        except NoQuotaError:
            if not account.allow_publish_fallback:
                job.commit_started_at = None  # nothing was sent; a later batch starts afresh
                await self._jobs.save(job)
                used_up = "微信群发额度已用完（45028）"
                raise self._no_quota(
                    account, self._clock(), urgent=job.urgent, reason=used_up
                ) from None
            job.mode = "publish"
            await self._jobs.save(job)
            await self._publish(job, api)
            return
        job.msg_id, job.msg_data_id, job.status = sent.msg_id, sent.msg_data_id, "sent"
        await self._jobs.save(job)

    async def _publish(self, job: JobRecord, api: WeChatApi) -> None:
        job.publish_id = await api.freepublish_submit(job.draft_media_id or "")
        job.status = "sent"
        await self._jobs.save(job)

    async def _refresh(self, job: JobRecord, account: AccountConfig) -> None:
        api = self.api(account)
        job.last_polled_at = self._clock()  # already claimed by mark_polled
        if job.msg_id:
            status = await api.mass_get(job.msg_id)
            if status == "SEND_SUCCESS":
                job.status, job.finished_at = "finished", self._clock()
            elif status in ("SEND_FAIL", "DELETE"):
                job.status, job.platform_status = "failed", f"群发失败（{status}）"
        elif job.publish_id:
            result = await api.freepublish_get(job.publish_id)
            if result.status == 0:
                job.status, job.finished_at = "finished", self._clock()
                job.article_id, job.article_urls = result.article_id, result.article_urls
                job.fail_idx = result.fail_idx
            elif result.status in PUBLISH_FAILURES:
                job.status = "failed"
                job.platform_status = f"{PUBLISH_FAILURES[result.status]}（{result.status}）"
        await self._jobs.save(job)

    # -- time, quota, content ---------------------------------------------------------

    def _wait_for_slot(self, account: AccountConfig, now: dt.datetime) -> None:
        local = now.astimezone(BEIJING)
        slots = [
            dt.datetime.combine(local.date() - dt.timedelta(days=back), account.slot_time, BEIJING)
            for back in (0, 1)
        ]  # a window may pass midnight
        if not any(slot <= local < slot + self._slot_window for slot in slots):
            raise Deferred(
                f"等待群发时段 {account.slot_time:%H:%M}", until=self._next_slot(account, now)
            )

    def _no_quota(
        self, account: AccountConfig, now: dt.datetime, *, urgent: bool, reason: str = ""
    ) -> Deferred:
        """Wait for the quota: an ordinary batch until the next slot, an urgent one until
        the quota comes back (00:00 Beijing, or the 1st of next month for a service
        account), not a day later at the slot."""
        if not urgent:
            until = self._next_slot(account, now, after_quota=True)
            text = f"{reason}，顺延到下一群发时段" if reason else _quota_message(account)
            return Deferred(text, until=until)
        local = now.astimezone(BEIJING).date()
        day = local + dt.timedelta(days=1)
        if account.kind == "service":
            day = (local.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        until = dt.datetime.combine(day, dt.time(), BEIJING).astimezone(dt.UTC)
        used_up = reason or _quota_message(account).split("，")[0]
        return Deferred(
            f"{used_up}，紧急信息在北京时间 {day:%m月%d日} 0 点额度恢复后立即群发", until=until
        )

    def _next_slot(
        self, account: AccountConfig, now: dt.datetime, *, after_quota: bool = False
    ) -> dt.datetime:
        local = now.astimezone(BEIJING)
        day = local.date()
        if after_quota and account.kind == "service":
            day = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
        slot = dt.datetime.combine(day, account.slot_time, BEIJING)
        if slot <= local:
            slot += dt.timedelta(days=1)
        return slot.astimezone(dt.UTC)

    async def _quota_used_up(self, account: AccountConfig, now: dt.datetime) -> bool:
        today = now.astimezone(BEIJING).date()
        if account.kind == "service":
            used = await self._jobs.broadcasts_since(account.app_id, today.replace(day=1))
            return used >= MONTHLY_BROADCASTS
        return await self._jobs.broadcasts_since(account.app_id, today) >= 1

    def _author(self, account: AccountConfig, pub: Publishable) -> str:
        return (account.author or pub.org_name)[:16]

    def _cover(self, account: AccountConfig) -> tuple[bytes, str]:
        if account.cover_file and Path(account.cover_file).is_file():
            return Path(account.cover_file).read_bytes(), Path(account.cover_file).name
        from channels.wechat.cover import default_cover  # Pillow loads on the first cover

        return default_cover(account.org_name, font_path=self._font), "cover.jpg"

    async def _fetch(self, url: str) -> bytes:
        return await fetch_image(url, fetcher=self._fetcher)


def _unknown_if_maybe_sent(job: JobRecord, exc: PermanentError, *, repeated: bool) -> ChannelError:
    """A refusal that may mean "already sent" goes to a person, never to ``failed``.

    45065 without a msg_id says WeChat has this send already; 40007 on a repeat says the
    draft is gone, which is what a send that went out does to it (WeChat may check the
    draft before clientmsgid). Neither may be recorded as failed, nor sent again.
    """
    if not (exc.code == "45065" or (repeated and exc.code == "40007")):
        return exc
    started = job.commit_started_at or dt.datetime.now(dt.UTC)
    what = "群发" if job.mode == "broadcast" else "发布"
    evidence = (
        f"草稿 {job.draft_media_id} 已于 {started.astimezone(BEIJING):%Y-%m-%d %H:%M}（北京时间）"
        f"提交{what}（clientmsgid {job.batch_key}），再次提交时微信回答：{exc}"
    )
    return OutcomeUnknown(
        f"微信{what}结果无法确定，很可能已经发出。{evidence}。请在公众号后台“发表记录”核对："
        "已发出请标记为已发布，确实没有发出再重新发送；系统不会自动再发一次",
        code=exc.code,
    )


async def _fits_wechat(api: WeChatApi, one: dict[str, Any]) -> bool:
    """Whether WeChat accepts this article's fields, asked with a draft deleted at once."""
    try:
        draft = await api.draft_add([one])
    except PermanentError as exc:
        if exc.code in FIELD_LIMIT_ERRORS:
            return False
        raise
    await _discard_draft(api, draft)
    return True


async def _discard_draft(api: WeChatApi, media_id: str) -> None:
    """Delete a draft Gongkai made and no longer needs; a failure only leaves it behind."""
    try:
        await api.draft_delete(media_id)
    except ChannelError as exc:
        log.warning("WeChat draft %s not deleted: %s", media_id, exc)


def limits_of(account: AccountConfig) -> Limits:
    """The account's field limits: the title as set; author (16) and digest (128) at their
    documented sizes, counted in the same unit as the title."""
    unit: Unit = "bytes" if account.limit_unit == "bytes" else "chars"
    return Limits(title=account.title_limit, unit=unit)


def _quota_message(account: AccountConfig) -> str:
    if account.kind == "service":
        return f"本月群发次数已用完（{MONTHLY_BROADCASTS} 次），顺延到下月首个群发时段"
    return "今日群发次数已用完，顺延到明天的群发时段"


def _position(job: JobRecord, pub: Publishable) -> int:
    """The delivery's article index (0-based) in its job."""
    ids = job.delivery_ids
    return ids.index(pub.delivery_id) if pub.delivery_id in ids else 0


def _committed(job: JobRecord, index: int) -> Committed:
    url = job.article_urls[index] if index < len(job.article_urls) else None
    return Committed(
        external_id=job.msg_id or job.publish_id or job.article_id,
        url=url,
        needs_confirmation=job.status != "finished",
    )
