"""What WeChat tells us through the callback: job results and follower messages.

Nothing here knows about HTTP (``bot.web.wechat_callback`` does). Every callback is
stored first (``record``) under a dedupe key, so WeChat's retries are recognised; job
events are applied afterwards (``process_pending``), so an event stored just before a
crash is still applied by the next run. Applying is idempotent: a job that reached a
final state is never changed again.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from tortoise.exceptions import IntegrityError

from bot.dispatcher import Dispatcher
from channels.wechat import PUBLISH_FAILURES
from channels.wechat.state import AccountConfig, JobRecord
from storage.delivery import State
from storage.items import ItemStatus
from storage.models import Delivery
from storage.wechat import DatabaseJobStore
from storage.wechat_models import WechatEvent

log = logging.getLogger("gongkai.wechat.events")

MASS_KIND, PUBLISH_KIND = "masssendjobfinish", "publishjobfinish"
JOB_KINDS = (MASS_KIND, PUBLISH_KIND)
FINAL = ("finished", "failed")
MASS_AUDIT = {
    10001: "广告",
    20001: "政治",
    20002: "色情",
    20004: "社会事件",
    20006: "违法犯罪",
    20008: "欺诈",
    20013: "版权",
    22000: "互推",
    21000: "其他",
}
DEFAULT_KEYWORDS = ("公开", "最新")
LATEST_COUNT = 5
TITLE_CHARS = 40  # a text reply is capped near 2048 bytes; five long titles would pass it
PENDING_BATCH = 200
# How long a job event that names no known job is kept to be matched (a lost answer's
# msg_id is learnt on the repeat within WeChat's 24 h dedupe window).
EARLY_EVENT_KEEP = dt.timedelta(days=2)
_AUDIT_RE = re.compile(r"err\((\d+)\)")


@dataclass(frozen=True)
class MassEvent:
    """A MASSSENDJOBFINISH: how a broadcast ended."""

    msg_id: str
    status: str
    total_count: int
    filter_count: int
    sent_count: int
    error_count: int
    article_urls: tuple[str, ...] = ()


@dataclass(frozen=True)
class PublishEvent:
    """A PUBLISHJOBFINISH: how a free publish ended."""

    publish_id: str
    publish_status: int
    article_id: str | None = None
    article_urls: tuple[str, ...] = ()
    fail_idx: tuple[int, ...] = ()


JobEvent = MassEvent | PublishEvent


def _as_list(value: Any) -> list[Any]:
    """xmltodict gives one repeated element as a value and several as a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _urls_by_index(items: Any, index: str, url: str) -> tuple[str, ...]:
    rows = [row for row in _as_list(items) if isinstance(row, Mapping) and row.get(url)]
    rows.sort(key=lambda row: int(row.get(index) or 0))
    return tuple(str(row[url]) for row in rows)


def parse_publish_event(raw: Mapping[str, Any]) -> PublishEvent:
    """Read a PUBLISHJOBFINISH from the parsed XML (the message or its PublishEventInfo)."""
    info = raw.get("PublishEventInfo", raw)
    detail = info.get("article_detail") or {}
    return PublishEvent(
        publish_id=str(info["publish_id"]),
        publish_status=int(info["publish_status"]),
        article_id=str(info["article_id"]) if info.get("article_id") else None,
        article_urls=_urls_by_index(detail.get("item"), "idx", "article_url"),
        fail_idx=tuple(int(i) for i in _as_list(info.get("fail_idx")) if i is not None),
    )


def mass_event(msg: Any) -> MassEvent:
    """Read a MASSSENDJOBFINISH from wechatpy's event plus its ArticleUrlResult."""
    result = msg._data.get("ArticleUrlResult") or {}
    items = (result.get("ResultList") or {}).get("item")
    return MassEvent(
        msg_id=str(msg.id),
        status=str(msg.status or ""),
        total_count=msg.total_count,
        filter_count=msg.filter_count,
        sent_count=msg.sent_count,
        error_count=msg.error_count,
        article_urls=_urls_by_index(items, "ArticleIdx", "ArticleUrl"),
    )


def job_event(kind: str, raw: Mapping[str, Any]) -> JobEvent:
    """Rebuild a stored job event from its raw payload."""
    if kind == MASS_KIND:
        from wechatpy.events import MassSendJobFinishEvent  # wechatpy loads on the first event

        return mass_event(MassSendJobFinishEvent(dict(raw)))
    return parse_publish_event(raw)


def kind_of(raw: Mapping[str, Any]) -> str:
    """``text``, ``image``… for messages; the lower-case event name for events."""
    msg_type = str(raw.get("MsgType") or "").lower()
    if msg_type == "event":
        return str(raw.get("Event") or "").lower()[:32]
    return msg_type[:32]


def dedupe_key(app_id: str, raw: Mapping[str, Any]) -> str:
    """WeChat's retry identity: MsgId for messages, sender + time for events.

    Job events add the job id, so two jobs finishing in the same second stay apart.
    """
    kind = kind_of(raw)
    if kind == MASS_KIND:
        return f"{app_id}:mass:{raw.get('MsgID')}:{raw.get('CreateTime')}"
    if kind == PUBLISH_KIND:
        info = raw.get("PublishEventInfo") or {}
        return f"{app_id}:publish:{info.get('publish_id')}:{raw.get('CreateTime')}"
    if raw.get("MsgId"):
        return f"{app_id}:msg:{raw['MsgId']}"
    return f"{app_id}:{kind}:{raw.get('FromUserName')}:{raw.get('CreateTime')}"[:128]


async def record(app_id: str, dedupe_key: str, kind: str, payload: Mapping[str, Any]) -> bool:
    """Store a callback; False when it was already stored (a WeChat retry).

    Only job events wait for ``process_pending``; anything else is handled on receipt.
    """
    done = None if kind in JOB_KINDS else dt.datetime.now(dt.UTC)
    try:
        await WechatEvent.create(
            app_id=app_id,
            dedupe_key=dedupe_key,
            kind=kind,
            payload=dict(payload),
            processed_at=done,
        )
    except IntegrityError:
        return False
    return True


async def apply_job_event(
    event: JobEvent, jobs: DatabaseJobStore, *, app_id: str | None = None
) -> JobRecord | None:
    """Bring the job this event names (on ``app_id``'s account, when given) up to date;
    None when no job of ours has that id."""
    job = await _job_for(event, jobs, app_id)
    if job is None:
        log.info("WeChat job event for no job of ours (a manual send?): %s", event)
        return None
    if job.status in FINAL:
        if isinstance(event, MassEvent) and _lacks_reach(job, event):
            # Confirmed by polling before this event was matched: it still brings the
            # counts the report needs and the article URLs.
            _take_counts(job, event)
            job.article_urls = job.article_urls or list(event.article_urls)
            await jobs.fill_reach(job)
        return job
    problem = implausible(event, job)
    if problem:
        # Only a job Gongkai sent, with counts that can be true, may change anything: a
        # forged or garbled event must neither publish a delivery nor feed the report.
        log.warning("WeChat job event refused (%s), nothing changed: %s", problem, event)
        return None
    changed = (
        _apply_mass(job, event) if isinstance(event, MassEvent) else _apply_publish(job, event)
    )
    if changed:
        await jobs.save(job)
    return job


def implausible(event: JobEvent, job: JobRecord) -> str:
    """Why this event cannot be about this job as Gongkai sent it; "" when it can."""
    if isinstance(event, MassEvent):
        if job.mode != "broadcast" or job.status != "sent" or job.msg_id != event.msg_id:
            return "not a broadcast Gongkai sent"
        counts = (event.total_count, event.filter_count, event.sent_count, event.error_count)
        if any(count is None or count < 0 for count in counts):
            return "missing or negative counts"
        if event.filter_count > event.total_count or event.sent_count > event.total_count:
            return "more reached than the audience"
        if event.sent_count + event.error_count > event.total_count:
            return "more sent and failed than the audience"
        if job.total_count is not None and event.total_count > job.total_count:
            return "a larger audience than WeChat reported for this job before"
        if job.delivery_ids and len(event.article_urls) > len(job.delivery_ids):
            return "more articles than the broadcast had"
        return ""
    if job.status != "sent" or job.publish_id != event.publish_id:
        return "not a publish Gongkai sent"
    articles = len(job.delivery_ids)
    if articles and len(event.article_urls) > articles:
        return "more articles than the publish had"
    if articles and any(not 1 <= idx <= articles for idx in event.fail_idx):
        return "a failed article index outside the publish"
    return ""


async def _job_for(event: JobEvent, jobs: DatabaseJobStore, app_id: str | None) -> JobRecord | None:
    # An empty id would make find() match any job lacking that id.
    if isinstance(event, MassEvent):
        if event.msg_id in ("", "0"):
            return None
        return await jobs.find(msg_id=event.msg_id, app_id=app_id)
    return await jobs.find(publish_id=event.publish_id, app_id=app_id) if event.publish_id else None


def _lacks_reach(job: JobRecord, event: MassEvent) -> bool:
    """A broadcast finished without counts, and a plausible success event for it."""
    if job.status != "finished" or job.total_count is not None or event.status != "send success":
        return False
    return not implausible(event, replace(job, status="sent"))


def _take_counts(job: JobRecord, event: MassEvent) -> None:
    job.total_count, job.filter_count = event.total_count, event.filter_count
    job.sent_count, job.error_count = event.sent_count, event.error_count


def _apply_mass(job: JobRecord, event: MassEvent) -> bool:
    _take_counts(job, event)
    if event.status == "send success":
        job.status, job.finished_at = "finished", dt.datetime.now(dt.UTC)
        job.article_urls = list(event.article_urls)
        return True
    audit = _AUDIT_RE.fullmatch(event.status)
    if audit:
        reason = MASS_AUDIT.get(int(audit.group(1)), "其他")
        job.status, job.platform_status = "failed", f"群发未通过审核：{reason}（{event.status}）"
        return True
    if event.status == "send fail":
        job.status, job.platform_status = "failed", "群发失败（send fail）"
        return True
    log.warning("MASSSENDJOBFINISH msg_id=%s: unknown status %r", event.msg_id, event.status)
    return False


def _apply_publish(job: JobRecord, event: PublishEvent) -> bool:
    status = event.publish_status
    if status == 0:
        job.status, job.finished_at = "finished", dt.datetime.now(dt.UTC)
        job.article_id, job.article_urls = event.article_id, list(event.article_urls)
        job.fail_idx = list(event.fail_idx)
        return True
    if status in PUBLISH_FAILURES:
        job.status, job.platform_status = "failed", f"{PUBLISH_FAILURES[status]}（{status}）"
        job.fail_idx = list(event.fail_idx)
        return True
    if status != 1:  # 1 = still publishing: another event follows
        log.warning("PUBLISHJOBFINISH publish_id=%s: unknown status %s", event.publish_id, status)
    return False


class _WechatJobs(Protocol):
    @property
    def jobs(self) -> DatabaseJobStore: ...


class EventRuntime(Protocol):
    """What applying job events needs of the runtime (``bot.app.Runtime`` has it); a
    protocol, so this module does not import the composition root that imports it."""

    @property
    def wechat(self) -> _WechatJobs: ...

    @property
    def dispatcher(self) -> Dispatcher: ...


async def process_pending(runtime: EventRuntime) -> int:
    """Apply stored job events not yet applied, then confirm the deliveries they finish."""
    rows = (
        await WechatEvent.filter(processed_at=None, kind__in=JOB_KINDS)
        .order_by("id")
        .limit(PENDING_BATCH)
    )
    done = 0
    for row in rows:
        if await _apply_stored(row, runtime.wechat.jobs):
            await WechatEvent.filter(id=row.id).update(processed_at=dt.datetime.now(dt.UTC))
            done += 1
    if done:
        await runtime.dispatcher.poll_confirmations()
    return done


async def _apply_stored(row: WechatEvent, jobs: DatabaseJobStore) -> bool:
    """Apply one stored event; False while it names a job id Gongkai does not know yet.

    An event can come before the answer to the send (or the answer was lost and a repeat
    learns the msg_id later from 45065): it is kept and matched on a later run, for
    ``EARLY_EVENT_KEEP``; an event for a send made outside Gongkai then expires.
    """
    try:
        event = job_event(row.kind, row.payload)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        # A payload we cannot read will not become readable: mark it done, keep it for people.
        log.warning("WeChat event %s cannot be read (%s); skipped", row.id, type(exc).__name__)
        return True
    if await _job_for(event, jobs, row.app_id) is None:
        return row.received_at < dt.datetime.now(dt.UTC) - EARLY_EVENT_KEEP
    await apply_job_event(event, jobs, app_id=row.app_id)
    return True


async def reply_for(account: AccountConfig, msg: Any) -> str:
    """The text to send back to a follower, or "" for none."""
    raw: Mapping[str, Any] = msg._data
    kind = kind_of(raw)
    if kind in ("subscribe", "subscribe_scan"):
        return account.welcome_text or _default_welcome(account)
    if kind == "text":
        content = str(raw.get("Content") or "")
        if any(word and word in content for word in _keywords(account)):
            return await latest_items_text(account.org_code, account.org_name)
        return account.default_reply
    if str(raw.get("MsgType") or "").lower() == "event":
        return ""  # unsubscribe, menu clicks…: nobody to answer
    return account.default_reply


def _keywords(account: AccountConfig) -> tuple[str, ...]:
    return account.keywords or DEFAULT_KEYWORDS


def _default_welcome(account: AccountConfig) -> str:
    words = "”或“".join(_keywords(account)[:2])
    return f"感谢关注{account.org_name}！回复“{words}”查看最新公开的政府信息。"


async def latest_items_text(org_code: str, org_name: str) -> str:
    """The organization's newest items published on the website, with their links."""
    rows = (
        await Delivery.filter(
            channel="website",
            state=State.PUBLISHED,
            url__isnull=False,
            item__organization__code=org_code,
            item__status=ItemStatus.ACTIVE,
        )
        .order_by("-published_at", "-id")
        .limit(LATEST_COUNT)
        .prefetch_related("item")
    )
    if not rows:
        return f"{org_name}暂无已公开的信息。"
    lines = [f"{n}. {_short(d.item.title)} {d.url}" for n, d in enumerate(rows, start=1)]
    return "最新公开信息：\n" + "\n".join(lines)


def _short(title: str) -> str:
    return title if len(title) <= TITLE_CHARS else title[: TITLE_CHARS - 1] + "…"
