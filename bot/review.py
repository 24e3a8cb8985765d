"""The 保密审查 gate: nothing reaches a channel until a second person signs off the checklist.

Shared by the API and the console. An item is submitted (bot.submission: in review,
deliveries held), then
approved (released), rejected (back to its author, who edits it in place and resubmits) or,
in an emergency, force-published with a written reason, which leaves a post review to do.
Validation errors raise ``InputError`` naming the field, state conflicts ``Conflict``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from bot.dispatcher import utcnow
from bot.publishing import Conflict, InputError
from bot.review_scan import ScanFinding, load_words, scan_fields
from bot.settings import Settings
from storage import reviews as review_store
from storage.items import ItemStatus
from storage.models import Item
from storage.review_models import Review
from storage.reviews import ReviewDecision, ReviewRecord

CHECKS = ("保密", "个人信息", "敏感词与错别字", "导向")
FORCE_REASON_MIN_CHARS = 10


class SelfReview(Conflict):
    """The reviewer wrote (or force-published) the item: a second person must review it."""


@dataclass(frozen=True, slots=True)
class Reviewer:
    """Who acts: a console user (by user id) or an API token (by token id), named by name."""

    name: str
    user_id: int | None = None
    token_id: int | None = None


def review_words(settings: Settings) -> list[str]:
    """The configured word list: ``review_words`` plus the ``review_words_file``."""
    return load_words(settings.review_words, settings.review_words_file)


class TextFields(Protocol):
    """What the scan reads: an item's (or a draft's) title, summary, body and 文号."""

    @property
    def title(self) -> str: ...
    @property
    def summary(self) -> str: ...
    @property
    def body_md(self) -> str: ...
    @property
    def doc_number(self) -> str: ...


def scan_item(item: TextFields, *, words: Sequence[str]) -> list[ScanFinding]:
    """The automatic scan over the item's title, summary, body (Markdown) and 文号."""
    texts = {
        "title": item.title,
        "summary": item.summary,
        "body": item.body_md,
        "doc_number": item.doc_number,
    }
    return scan_fields(texts, words=words)


def _same(user_id: int | None, token_id: int | None, name: str, who: Reviewer) -> bool:
    """One person: by console user id when either side has one, else by token id when
    both have one, else (rows from before token ids were kept, the CLI) by name."""
    if user_id is not None or who.user_id is not None:
        return user_id == who.user_id
    if token_id is not None and who.token_id is not None:
        return token_id == who.token_id
    return name.strip() == who.name.strip()


def is_author(item: Item, reviewer: Reviewer) -> bool:
    """Whether ``reviewer`` wrote the item (and so may not review it)."""
    return _same(item.author_user_id, item.author_token_id, item.author, reviewer)


def _checked(
    checks: Mapping[str, bool], checked_at: Mapping[str, dt.datetime] | None, now: dt.datetime
) -> tuple[dict[str, bool], dict[str, str]]:
    for name in checks:
        if name not in CHECKS:
            raise InputError(f"checks.{name}", f"未知的审查项；审查项为：{'、'.join(CHECKS)}")
    for name in CHECKS:
        if name not in checks:
            raise InputError(f"checks.{name}", f"缺少审查项“{name}”")
    times = {name: (checked_at or {}).get(name, now).isoformat() for name in CHECKS}
    return {name: bool(checks[name]) for name in CHECKS}, times


def _findings(item: Item, words: Sequence[str]) -> list[dict[str, object]]:
    return [finding.as_dict() for finding in scan_item(item, words=words)]


async def approve(
    item: Item,
    reviewer: Reviewer,
    checks: Mapping[str, bool],
    *,
    override_reason: str = "",
    comment: str = "",
    words: Sequence[str] = (),
    checked_at: Mapping[str, dt.datetime] | None = None,
    seen_updated_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> Review:
    """Sign off the checklist: every check ticked, a reason if the scan flagged anything;
    the item goes active and its deliveries are released, with the Review, at once.

    ``seen_updated_at`` (the version the reviewer read) refuses an item edited since.
    """
    now = now or utcnow()
    if item.status != ItemStatus.IN_REVIEW:
        raise Conflict(f"该信息状态为 {item.status}，不在待审核状态")
    if is_author(item, reviewer):
        raise SelfReview("作者不能审核自己撰写的信息，请由另一位审核人审核")
    if seen_updated_at is not None and seen_updated_at != item.updated_at:
        raise Conflict("您审阅后该信息又被修改过，请重新审阅")
    ticks, times = _checked(checks, checked_at, now)
    for name in CHECKS:
        if not ticks[name]:
            raise InputError(f"checks.{name}", f"“{name}”一项未确认，不能通过；如有问题请退回")
    findings = _findings(item, words)
    if findings and not override_reason.strip():
        raise InputError(
            "override_reason", f"自动检查发现 {len(findings)} 处疑似敏感内容，仍要通过须写明理由"
        )
    record = ReviewRecord(
        decision=ReviewDecision.APPROVED,
        reviewer_name=reviewer.name,
        reviewer_id=reviewer.user_id,
        reviewer_token_id=reviewer.token_id,
        checks=ticks,
        checked_at=times,
        findings=findings,
        override_reason=override_reason.strip(),
        comment=comment.strip(),
    )
    return await _release(item, record, (ItemStatus.IN_REVIEW,), now)


async def _release(
    item: Item, record: ReviewRecord, sources: Collection[ItemStatus], now: dt.datetime
) -> Review:
    try:
        return await review_store.release(item, record, sources=sources, now=now)
    except ValueError as exc:
        raise Conflict(f"该信息的状态已被他人改变：{exc}") from exc


async def reject(
    item: Item, reviewer: Reviewer, comment: str, *, now: dt.datetime | None = None
) -> Review:
    """Send the item back to its author with the reviewer's comment (required)."""
    if item.status != ItemStatus.IN_REVIEW:
        raise Conflict(f"该信息状态为 {item.status}，不在待审核状态")
    if is_author(item, reviewer):
        raise SelfReview("作者不能审核自己撰写的信息；如需修改，请直接编辑或撤销")
    if not comment.strip():
        raise InputError("comment", "退回时须写明意见，告诉作者要修改什么")
    record = ReviewRecord(
        decision=ReviewDecision.REJECTED,
        reviewer_name=reviewer.name,
        reviewer_id=reviewer.user_id,
        reviewer_token_id=reviewer.token_id,
        comment=comment.strip(),
    )
    try:
        return await review_store.send_back(item, record, now=now or utcnow())
    except ValueError as exc:
        raise Conflict(f"该信息的状态已被他人改变：{exc}") from exc


async def force_publish(
    item: Item,
    user: Reviewer,
    reason: str,
    *,
    words: Sequence[str] = (),
    now: dt.datetime | None = None,
) -> Review:
    """Emergency: publish without review at once, on a written reason (at least 10 chars);
    a post review is then owed (see ``pending_post_reviews``)."""
    if item.status not in (ItemStatus.IN_REVIEW, ItemStatus.DRAFT):
        raise Conflict(f"该信息状态为 {item.status}，只有待审核或草稿状态的信息可以紧急发布")
    if len(reason.strip()) < FORCE_REASON_MIN_CHARS:
        raise InputError("reason", f"紧急发布须写明理由，至少 {FORCE_REASON_MIN_CHARS} 个字")
    if is_author(item, user):
        raise SelfReview("作者不能紧急发布自己撰写的信息，须由另一位管理员决定")
    record = ReviewRecord(
        decision=ReviewDecision.FORCED,
        reviewer_name=user.name,
        reviewer_id=user.user_id,
        reviewer_token_id=user.token_id,
        findings=_findings(item, words),
        override_reason=reason.strip(),
    )
    return await _release(item, record, (ItemStatus.IN_REVIEW, ItemStatus.DRAFT), now or utcnow())


async def pending_reviews(org_ids: Collection[int] | None) -> list[Item]:
    """Items waiting for review in these organizations (None: all), oldest first."""
    return await review_store.in_review(org_ids)


async def pending_post_reviews(org_ids: Collection[int] | None) -> list[Item]:
    """Force-published items still owing their post review (None: every organization)."""
    return await review_store.pending_post_reviews(org_ids)


async def post_review(
    item: Item,
    reviewer: Reviewer,
    checks: Mapping[str, bool],
    comment: str = "",
    *,
    words: Sequence[str] = (),
    checked_at: Mapping[str, dt.datetime] | None = None,
    now: dt.datetime | None = None,
) -> Review:
    """Close a forced item's review task: a second person records the four checks
    (any failed check needs a comment; withdrawing the item is a separate step)."""
    now = now or utcnow()
    if item.id not in {i.id for i in await pending_post_reviews([item.organization_id])}:
        raise Conflict("该信息没有待完成的事后审查")
    forced = [r for r in await review_store.reviews_of(item.id) if r.decision == "forced"]
    last = forced[-1] if forced else None
    by_forcer = last is not None and _same(
        last.reviewer_id, last.reviewer_token_id, last.reviewer_name, reviewer
    )
    if is_author(item, reviewer) or by_forcer:
        raise SelfReview("事后审查须由作者和紧急发布人以外的另一位审核人完成")
    ticks, times = _checked(checks, checked_at, now)
    if not all(ticks.values()) and not comment.strip():
        raise InputError("comment", "有审查项未通过，须写明问题和处理意见")
    record = ReviewRecord(
        decision=ReviewDecision.POST_REVIEW,
        reviewer_name=reviewer.name,
        reviewer_id=reviewer.user_id,
        reviewer_token_id=reviewer.token_id,
        checks=ticks,
        checked_at=times,
        findings=_findings(item, words),
        comment=comment.strip(),
    )
    return await review_store.add_review(item, record)
