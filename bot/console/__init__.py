"""The staff console (工作台): server-rendered Chinese pages under /console.

``install`` adds the session middleware, the pages, the static files and the error
pages to the app. To add a section, write ``bot/console/pages_<name>.py`` with an
``APIRouter`` and list it in ``ROUTERS`` (before the placeholder router).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from bot.console import (
    pages_admin,
    pages_applications,
    pages_auth,
    pages_channels,
    pages_dashboard,
    pages_home,
    pages_item_detail,
    pages_items,
    pages_print,
    pages_registers,
    pages_report,
    pages_review,
    pages_users,
)
from bot.console.auth import (
    PASSWORD_PATH,
    ConsoleError,
    LoginRequired,
    PasswordChangeRequired,
    csrf_protect,
    login_url,
    wants_json,
)
from bot.console.session import ConsoleSessionMiddleware, session_secret
from bot.console.templates import render
from bot.console.text_guard import guard_form
from bot.settings import Settings
from storage.db import database_down_errors

ROUTERS: list[APIRouter] = [
    pages_auth.router,
    pages_home.router,
    pages_users.router,
    pages_admin.router,
    pages_dashboard.router,
    pages_review.router,
    pages_channels.router,
    pages_report.router,
    pages_applications.router,
    pages_registers.router,
    pages_items.router,
    pages_item_detail.router,
    pages_print.router,
    pages_home.placeholder_router,  # last: answers only the sections not built yet
]


def install(app: FastAPI, settings: Settings) -> None:
    """Mount the console on ``app``: middleware, routes (CSRF-checked), static files, errors."""
    app.add_middleware(
        ConsoleSessionMiddleware,
        secret=session_secret(settings),
        idle_seconds=settings.session_idle_minutes * 60,
        max_seconds=settings.session_max_hours * 3600,
        down_errors=database_down_errors(settings.effective_database_url),
    )
    static = Path(__file__).parent / "static"
    app.mount("/console/static", StaticFiles(directory=static), name="console-static")
    console = APIRouter(
        prefix="/console",
        include_in_schema=False,
        dependencies=[Depends(csrf_protect), Depends(guard_form)],
    )
    for router in ROUTERS:
        console.include_router(router)
    app.include_router(console)
    app.add_exception_handler(LoginRequired, _login_required)  # type: ignore[arg-type]
    app.add_exception_handler(ConsoleError, _console_error)  # type: ignore[arg-type]
    app.add_exception_handler(PasswordChangeRequired, _password_change_required)


async def _login_required(request: Request, exc: LoginRequired) -> Response:
    if wants_json(request):
        return JSONResponse({"detail": "请先登录"}, status_code=401)
    return RedirectResponse(login_url(exc.next_path, expired=exc.expired), status_code=303)


async def _password_change_required(request: Request, exc: Exception) -> Response:
    if wants_json(request):
        return JSONResponse(
            {"detail": "请先修改密码（管理员设置的密码须由本人改掉）"}, status_code=403
        )
    return RedirectResponse(PASSWORD_PATH, status_code=303)


async def _console_error(request: Request, exc: ConsoleError) -> Response:
    if wants_json(request):
        return JSONResponse({"detail": exc.message}, status_code=exc.status_code)
    return render(request, "error.html", status_code=exc.status_code, message=exc.message)
