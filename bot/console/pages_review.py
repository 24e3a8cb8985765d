"""审核: the 保密审查 queue, one item's review page, and the decisions it posts.

The page shows the item's text with the automatic scan highlighted, the four checks and,
for administrators, 紧急发布. The author never sees the buttons, and bot.review refuses
a self-review however the request arrives.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup
from starlette.datastructures import FormData

from bot import review, wechat_titles
from bot.console.auth import ConsoleError, ConsoleUser, can, client_ip, ensure, require_role
from bot.console.item_forms import STATUS_LABELS
from bot.console.templates import ACTION_LABELS, FormState, flash, render
from bot.publishing import Conflict, InputError
from bot.review import CHECKS, Reviewer, SelfReview
from bot.review_scan import ScanFinding, highlight
from channels.registry import CHANNEL_LABELS
from storage import audit
from storage.items import ItemStatus
from storage.ledger import BUSINESS_TZ
from storage.models import Item
from storage.review_models import Review
from storage.reviews import reviews_of

router = APIRouter(prefix="/review")
ReviewerDep = Annotated[ConsoleUser, Depends(require_role("reviewer", "admin"))]
REVIEW_ROLES = ("reviewer", "admin")
NOT_FOUND = "没有找到这条信息，或您无权查看。"

ACTION_LABELS.update(
    {
        "review.approved": "审核通过",
        "review.rejected": "审核退回",
        "review.forced": "紧急发布",
        "review.post_review": "事后审查",
    }
)
CHECK_HINTS = {
    "保密": "不含国家秘密、工作秘密和不宜公开的内部事项",
    "个人信息": "不泄露身份证号、电话、银行卡、住址等个人信息，或已依法处理",
    "敏感词与错别字": "没有不当用语，没有错别字和病句",
    "导向": "内容导向正确，表述准确，不会引起误解",
}
FIELD_LABELS = {"title": "标题", "summary": "内容概述", "doc_number": "文号", "body": "正文"}
KIND_LABELS = {
    "id_number": "身份证号",
    "mobile": "手机号",
    "landline": "固定电话",
    "bank_card": "银行卡号",
    "email": "电子邮箱",
    "word": "审查词",
}
AUDIT_ACTIONS = {
    "approve": "review.approved",
    "reject": "review.rejected",
    "force": "review.forced",
    "post_review": "review.post_review",
}
DECISION_LABELS = {
    "approved": "审核通过",
    "rejected": "退回修改",
    "forced": "紧急发布（未经审核）",
    "post_review": "事后审查",
}


def reviewer_of(user: ConsoleUser) -> Reviewer:
    """The console user as bot.review knows them: by id, recorded under their name."""
    return Reviewer(name=user.display_name, user_id=user.id)


async def _item(user: ConsoleUser, item_id: int, *roles: str) -> Item:
    item = await Item.get_or_none(id=item_id).prefetch_related("organization")
    if item is None:
        raise ConsoleError(404, NOT_FOUND)
    ensure(user, item.organization_id, *roles)
    return item


def _scope(user: ConsoleUser) -> frozenset[int] | None:
    return user.org_ids_with(*REVIEW_ROLES)


@router.get("", response_class=HTMLResponse)
async def review_list(request: Request, user: ReviewerDep) -> Response:
    me = reviewer_of(user)
    words = review.review_words(request.app.state.runtime.settings)
    waiting = await review.pending_reviews(_scope(user))
    mine = [item for item in waiting if review.is_author(item, me)]
    rows = [
        (item, len(review.scan_item(item, words=words)))
        for item in waiting
        if not review.is_author(item, me)
    ]
    owed = await review.pending_post_reviews(_scope(user))
    post = [item for item in owed if not review.is_author(item, me)]
    return render(
        request,
        "review_list.html",
        rows=rows,
        post_reviews=post,
        own_waiting=len(mine),
        many_orgs=len(user.orgs) > 1,
        channel_labels=CHANNEL_LABELS,
    )


def _when(value: str) -> str:
    try:
        return dt.datetime.fromisoformat(value).astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return ""


def _history(rows: list[Review]) -> list[dict[str, Any]]:
    """Each decision with its checks as (name, passed, when ticked) for the page."""
    return [
        {
            "row": row,
            "checks": [
                (name, ok, _when(row.checked_at.get(name, ""))) for name, ok in row.checks.items()
            ],
        }
        for row in rows
    ]


def _fields(item: Item, findings: list[ScanFinding]) -> list[dict[str, Any]]:
    texts = {
        "title": item.title,
        "summary": item.summary,
        "doc_number": item.doc_number,
        "body": item.body_md,
    }
    return [
        {
            "name": name,
            "label": FIELD_LABELS[name],
            "html": Markup(highlight(text, [f for f in findings if f.field == name])),  # noqa: S704 (escaped by highlight)
            "count": sum(f.field == name for f in findings),
        }
        for name, text in texts.items()
        if text or name in ("title", "body")
    ]


async def _review_page(
    request: Request,
    user: ConsoleUser,
    item: Item,
    form: FormState | None = None,
    *,
    status_code: int = 200,
) -> Response:
    words = review.review_words(request.app.state.runtime.settings)
    findings = review.scan_item(item, words=words)
    history = await reviews_of(item.id)
    me = reviewer_of(user)
    own = review.is_author(item, me)
    owes_post = item.id in {i.id for i in await review.pending_post_reviews([item.organization_id])}
    forced = [r for r in history if r.decision == "forced"]
    forced_by_me = bool(forced) and forced[-1].reviewer_id == user.id
    may_review = can(user, item.organization_id, *REVIEW_ROLES)
    return render(
        request,
        "review_item.html",
        status_code=status_code,
        item=item,
        form=form or FormState(),
        fields=_fields(item, findings),
        findings=findings,
        field_labels=FIELD_LABELS,
        kind_labels=KIND_LABELS,
        history=_history(history),
        decision_labels=DECISION_LABELS,
        checks=[(name, CHECK_HINTS[name]) for name in CHECKS],
        own=own,
        in_review=item.status == ItemStatus.IN_REVIEW,
        can_decide=may_review and not own and item.status == ItemStatus.IN_REVIEW,
        # bot.review refuses an author's 紧急发布 too: a second person decides.
        can_force=can(user, item.organization_id, "admin")
        and not own
        and item.status == ItemStatus.IN_REVIEW,
        owes_post=owes_post,
        can_post_review=may_review and owes_post and not own and not forced_by_me,
        status_label=STATUS_LABELS.get(item.status, item.status),
        channel_labels=CHANNEL_LABELS,
        seen=item.updated_at.isoformat(),
        wechat_title=await wechat_titles.item_view(request.app.state.runtime.wechat.accounts, item),
    )


@router.get("/{item_id}", response_class=HTMLResponse)
async def review_item(request: Request, user: ReviewerDep, item_id: int) -> Response:
    item = await _item(user, item_id, *REVIEW_ROLES)
    return await _review_page(request, user, item)


def _ticks(form: FormData) -> dict[str, bool]:
    ticked = set(form.getlist("check"))
    return {name: name in ticked for name in CHECKS}


def _seen(value: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


def _error_field(error: InputError) -> str:
    return "check" if error.field.startswith("checks.") else error.field


def _audit_detail(row: Review) -> dict[str, Any]:
    """What the audit log shows of a decision, in Chinese, leaving out what is empty."""
    passed = [name for name, ok in row.checks.items() if ok]
    failed = [name for name, ok in row.checks.items() if not ok]
    detail: dict[str, Any] = {
        "审查记录": row.id,
        "已确认": "、".join(passed),
        "未通过": "、".join(failed),
        "自动检查发现": f"{len(row.findings)} 处" if row.findings else "",
        "理由": row.override_reason,
        "意见": row.comment,
    }
    return {key: value for key, value in detail.items() if value}


async def _decide(request: Request, user: ConsoleUser, item_id: int, decision: str) -> Response:
    """Run one decision; input errors come back beside their fields, conflicts as a notice."""
    roles = ("admin",) if decision == "force" else REVIEW_ROLES
    item = await _item(user, item_id, *roles)
    data = await request.form()
    values = {k: v for k, v in data.items() if isinstance(v, str)}
    ticked = [v for v in data.getlist("check") if isinstance(v, str)]
    form = FormState(values={**values, "check": "|".join(ticked)})
    comment = values.get("comment", "")
    words = review.review_words(request.app.state.runtime.settings)
    me = reviewer_of(user)
    try:
        if decision == "approve":
            row = await review.approve(
                item,
                me,
                _ticks(data),
                override_reason=values.get("override_reason", ""),
                comment=comment,
                words=words,
                seen_updated_at=_seen(values.get("seen", "")),
            )
            message = f"已通过审核：“{item.title}”将按计划发布到各渠道。"
        elif decision == "reject":
            row = await review.reject(item, me, comment)
            message = f"已退回：“{item.title}”回到作者处修改。"
        elif decision == "force":
            row = await review.force_publish(item, me, values.get("reason", ""), words=words)
            message = f"已紧急发布：“{item.title}”。请尽快安排另一位审核人完成事后审查。"
        else:
            row = await review.post_review(
                item, me, _ticks(data), values.get("post_comment", ""), words=words
            )
            message = f"已完成“{item.title}”的事后审查。"
    except SelfReview as exc:
        raise ConsoleError(403, str(exc)) from exc
    except InputError as exc:
        name = _error_field(exc)
        form.errors["post_comment" if decision == "post_review" and name == "comment" else name] = (
            exc.message
        )
        return await _review_page(request, user, item, form, status_code=400)
    except Conflict as exc:
        flash(request, f"未能完成：{exc}", "error")
        return RedirectResponse(f"/console/review/{item.id}", status_code=303)
    await audit.record(
        AUDIT_ACTIONS[decision],
        user_id=user.id,
        username=user.username,
        organization_id=item.organization_id,
        target=f"item:{item.id} {item.title}",
        detail=_audit_detail(row),
        ip=client_ip(request),
    )
    flash(request, message)
    return RedirectResponse("/console/review", status_code=303)


@router.post("/{item_id}/approve")
async def approve(request: Request, user: ReviewerDep, item_id: int) -> Response:
    return await _decide(request, user, item_id, "approve")


@router.post("/{item_id}/reject")
async def reject(request: Request, user: ReviewerDep, item_id: int) -> Response:
    return await _decide(request, user, item_id, "reject")


@router.post("/{item_id}/force")
async def force(request: Request, user: ReviewerDep, item_id: int) -> Response:
    return await _decide(request, user, item_id, "force")


@router.post("/{item_id}/post-review")
async def post_review(request: Request, user: ReviewerDep, item_id: int) -> Response:
    return await _decide(request, user, item_id, "post_review")
