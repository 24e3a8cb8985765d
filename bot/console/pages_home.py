"""The organization switcher and the "建设中" pages (the dashboard: pages_dashboard)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from bot.console.auth import ConsoleError, ConsoleUser, current_user, safe_next
from bot.console.nav import NAV, PLACEHOLDERS
from bot.console.templates import ORG_COOKIE, render

router = APIRouter()
placeholder_router = APIRouter()  # included last: real pages take their paths first
UserDep = Annotated[ConsoleUser, Depends(current_user)]


@router.post("/org")
async def switch_org(
    request: Request,
    user: UserDep,
    org_id: Annotated[int, Form()],
    next: Annotated[str, Form()] = "",
) -> Response:
    if user.org(org_id) is None:
        raise ConsoleError(404, "没有找到这个机构，或您无权查看。")
    response = RedirectResponse(safe_next(next), status_code=303)
    secure = request.url.scheme == "https"
    response.set_cookie(
        ORG_COOKIE, str(org_id), path="/console", httponly=True, samesite="lax", secure=secure
    )
    return response


@placeholder_router.get("/{section}", response_class=HTMLResponse)
async def placeholder(request: Request, user: UserDep, section: str) -> Response:
    link = next((link for link in NAV if link.key == section), None)
    if link is None or section not in PLACEHOLDERS:
        raise ConsoleError(404, "页面不存在。")
    return render(request, "placeholder.html", title=link.label)
