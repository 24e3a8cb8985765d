"""Posted console forms: no control characters (other than tab and newline) and no bidi
override characters in any field; the clerk is told which field, in Chinese.

``guard_form`` runs before every console route (a router dependency) and answers 422 with
the field's name. The item editor checks its own text fields in ``item_forms.parse_item``
(``field_errors``), so the form comes back with the error beside the field and nothing
typed is lost; ``guard_form`` leaves those fields to it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from fastapi import Request

from bot.console.auth import ConsoleError
from bot.web.text_rules import FORBIDDEN

__all__ = ["LABELS", "field_errors", "guard_form", "problem_message"]

LABELS = {
    "title": "标题",
    "body": "正文",
    "summary": "内容概述",
    "category": "主题分类",
    "doc_number": "文号",
    "formed_on": "成文日期",
    "publish_at": "发布时间",
    "username": "用户名",
    "password": "密码",
    "display_name": "姓名",
    "name": "名称",
    "reason": "理由",
    "comment": "意见",
    "override_reason": "放行理由",
    "openid": "OpenID",
    "location": "张贴地点",
    "posted_by": "张贴人",
    "current": "当前密码",
    "new": "新密码",
    "confirm": "确认新密码",
}
# The item editor re-shows its form with the error beside these fields (parse_item).
_ITEM_FORM = re.compile(r"^/console/items(/\d+|/preview|/preview\.pdf)?$")
_ITEM_FIELDS = frozenset(("title", "body", "summary", "category", "doc_number"))
_ITEM_FIELDS |= {"formed_on", "publish_at"}


def problem_message(field: str, text: str) -> str | None:
    """The Chinese message for ``text`` posted as ``field`` (None when it is clean)."""
    found = FORBIDDEN.search(text)
    if found is None:
        return None
    label = LABELS.get(field, field)
    code = f"U+{ord(found.group()):04X}"
    return f"「{label}」含有不允许的控制字符或文字方向控制字符（{code}），请删除后再提交。"


def field_errors(values: Mapping[str, str]) -> dict[str, str]:
    """Per field, the message for each value holding a forbidden character."""
    errors = {}
    for field, text in values.items():
        message = problem_message(field, text)
        if message:
            errors[field] = message
    return errors


async def guard_form(request: Request) -> None:
    """Console router dependency: a posted form field with a forbidden character is 422."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    kind = request.headers.get("content-type", "")
    if not kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        return
    skip = _ITEM_FIELDS if _ITEM_FORM.match(request.url.path) else frozenset()
    form = await request.form()
    for field, value in form.multi_items():
        if not isinstance(value, str) or field in skip:
            continue
        message = problem_message(field, field + value) or problem_message(field, value)
        if message:
            raise ConsoleError(422, message)
