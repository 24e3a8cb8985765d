"""The 保密审查 API: what waits for review, the scan, approve, reject, force publish, post review.

With a bearer token the reviewer is the token (by id, recorded under its name), and a token
cannot review the items it queued itself. As in the console, approve, reject and post review
need a reviewer (审核) or admin (管理员) token, 紧急发布 an admin token that did not write
the item. Another organization's item is 404, as everywhere in the API. Every decision, and
every refused attempt, is in the audit log.
"""

from __future__ import annotations

from fastapi import APIRouter

from bot import review
from bot.publishing import Conflict, InputError
from bot.review_scan import highlight
from bot.web.deps import (
    ADMINS,
    REVIEWERS,
    PrincipalDep,
    RuntimeDep,
    as_http,
    item_for,
    item_target,
)
from bot.web.schemas import (
    ApproveIn,
    FindingOut,
    ForcePublishIn,
    PendingReviewsOut,
    PostReviewIn,
    RejectIn,
    ReviewedOut,
    ReviewOut,
    ScanOut,
)
from bot.web.views import load_item_out
from storage.models import Item
from storage.review_models import Review
from storage.reviews import reviews_of

router = APIRouter()


def review_out(row: Review) -> ReviewOut:
    return ReviewOut(
        id=row.id,
        decision=row.decision,
        reviewer_name=row.reviewer_name,
        checks=dict(row.checks),
        checked_at=dict(row.checked_at),
        findings=[FindingOut.model_validate(f) for f in row.findings],
        override_reason=row.override_reason,
        comment=row.comment,
        created_at=row.created_at,
    )


async def _reviewed(item: Item, row: Review) -> ReviewedOut:
    fresh = await Item.get(id=item.id).prefetch_related("organization")
    return ReviewedOut(item=await load_item_out(fresh), review=review_out(row))


@router.get("/reviews/pending")
async def pending(principal: PrincipalDep) -> PendingReviewsOut:
    """Items waiting for review, and force-published items still owing a post review."""
    scope = principal.org_ids
    return PendingReviewsOut(
        in_review=[
            await load_item_out(i, with_log=False) for i in await review.pending_reviews(scope)
        ],
        post_review=[
            await load_item_out(i, with_log=False) for i in await review.pending_post_reviews(scope)
        ],
    )


@router.get("/items/{item_id}/scan")
async def scan(item_id: int, principal: PrincipalDep, runtime: RuntimeDep) -> ScanOut:
    """The automatic scan of the item's text, and each field highlighted for the preview."""
    item = await item_for(principal, item_id)
    findings = review.scan_item(item, words=review.review_words(runtime.settings))
    texts = {
        "title": item.title,
        "summary": item.summary,
        "body": item.body_md,
        "doc_number": item.doc_number,
    }
    return ScanOut(
        findings=[FindingOut.model_validate(f.as_dict()) for f in findings],
        html={
            name: highlight(text, [f for f in findings if f.field == name])
            for name, text in texts.items()
        },
    )


@router.get("/items/{item_id}/reviews")
async def reviews(item_id: int, principal: PrincipalDep) -> list[ReviewOut]:
    """The item's review trail, oldest first."""
    item = await item_for(principal, item_id)
    return [review_out(row) for row in await reviews_of(item.id)]


@router.post("/items/{item_id}/approve")
async def approve(
    item_id: int, data: ApproveIn, principal: PrincipalDep, runtime: RuntimeDep
) -> ReviewedOut:
    """Sign off the four checks; a flagged item needs override_reason. Its deliveries go out."""
    item = await item_for(principal, item_id)
    async with principal.audited(
        "review.approved", org_id=item.organization_id, target=item_target(item)
    ) as change:
        principal.require(item.organization_id, *REVIEWERS)
        try:
            row = await review.approve(
                item,
                principal.reviewer,
                data.checks,
                override_reason=data.override_reason,
                comment=data.comment,
                words=review.review_words(runtime.settings),
            )
        except (Conflict, InputError) as exc:
            raise as_http(exc) from exc
        change.detail = _detail(row)
    return await _reviewed(item, row)


@router.post("/items/{item_id}/reject")
async def reject(item_id: int, data: RejectIn, principal: PrincipalDep) -> ReviewedOut:
    """Send the item back to its author with a comment; nothing is published."""
    item = await item_for(principal, item_id)
    async with principal.audited(
        "review.rejected", org_id=item.organization_id, target=item_target(item)
    ) as change:
        principal.require(item.organization_id, *REVIEWERS)
        try:
            row = await review.reject(item, principal.reviewer, data.comment)
        except (Conflict, InputError) as exc:
            raise as_http(exc) from exc
        change.detail = _detail(row)
    return await _reviewed(item, row)


@router.post("/items/{item_id}/force-publish")
async def force_publish(
    item_id: int, data: ForcePublishIn, principal: PrincipalDep, runtime: RuntimeDep
) -> ReviewedOut:
    """Emergency publishing on a written reason, by an administrator who is not the item's
    author; a post review is owed afterwards."""
    item = await item_for(principal, item_id)
    async with principal.audited(
        "review.forced", org_id=item.organization_id, target=item_target(item)
    ) as change:
        principal.require(item.organization_id, *ADMINS)
        try:
            row = await review.force_publish(
                item, principal.reviewer, data.reason, words=review.review_words(runtime.settings)
            )
        except (Conflict, InputError) as exc:
            raise as_http(exc) from exc
        change.detail = _detail(row)
    return await _reviewed(item, row)


@router.post("/items/{item_id}/post-review")
async def post_review(
    item_id: int, data: PostReviewIn, principal: PrincipalDep, runtime: RuntimeDep
) -> ReviewedOut:
    """Close a force-published item's review task with the four checks."""
    item = await item_for(principal, item_id)
    async with principal.audited(
        "review.post_review", org_id=item.organization_id, target=item_target(item)
    ) as change:
        principal.require(item.organization_id, *REVIEWERS)
        try:
            row = await review.post_review(
                item,
                principal.reviewer,
                data.checks,
                data.comment,
                words=review.review_words(runtime.settings),
            )
        except (Conflict, InputError) as exc:
            raise as_http(exc) from exc
        change.detail = _detail(row)
    return await _reviewed(item, row)


def _detail(row: Review) -> dict[str, object]:
    """What the audit log keeps of a decision: the review row, checks, findings, reasons."""
    detail: dict[str, object] = {
        "review": row.id,
        "decision": row.decision,
        "checks": dict(row.checks),
        "findings": len(row.findings),
        "reason": row.override_reason,
        "comment": row.comment,
    }
    return {key: value for key, value in detail.items() if value}
