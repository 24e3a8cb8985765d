"""The ASGI app: API, health, the staff console and (embedded mode) the static site at /site/."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import Depends, FastAPI, Request, status
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import CollectorRegistry

from bot import console
from bot.app import open_runtime
from bot.settings import Settings
from bot.web import edge
from bot.web.annual import router as annual_router
from bot.web.api import router as api_router
from bot.web.channel_accounts import router as channel_accounts_router
from bot.web.deliveries import router as deliveries_router
from bot.web.health import router as health_router
from bot.web.inputs import RefuseControlText, bounded_ids
from bot.web.metrics import RequestMetrics, log_path_ids
from bot.web.metrics import router as metrics_router
from bot.web.registers import router as registers_router
from bot.web.reminders import router as reminders_router
from bot.web.storage_errors import install as install_storage_errors
from bot.web.wechat_callback import router as wechat_callback_router
from bot.web.wechat_previews import router as wechat_previews_router
from bot.web.wechat_settings import router as wechat_settings_router
from storage.db import database_down_errors

__all__ = ["create_app"]
log = logging.getLogger("gongkai.web")


def create_app(settings: Settings, *, run_worker: bool = True) -> FastAPI:
    """Build the app; its lifespan opens the runtime (and the worker, if asked)."""
    settings.ensure_dirs()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_runtime(settings, run_worker=run_worker) as runtime:
            app.state.runtime = runtime
            yield

    app = FastAPI(
        title="Gongkai 公开",
        version="0.1.0",
        lifespan=lifespan,
        # ids in paths and queries: 1..2147483647; a request's ids go on its log lines
        dependencies=[Depends(bounded_ids), Depends(log_path_ids)],
        # Open only when api_docs_public; else bot.web.edge serves them behind a token.
        docs_url="/docs" if settings.api_docs_public else None,
        redoc_url="/redoc" if settings.api_docs_public else None,
        openapi_url="/openapi.json" if settings.api_docs_public else None,
    )
    app.include_router(api_router)
    app.include_router(annual_router)
    app.include_router(deliveries_router)
    app.include_router(reminders_router)
    app.include_router(registers_router)
    app.include_router(wechat_settings_router)
    app.include_router(channel_accounts_router)
    app.include_router(wechat_previews_router)
    app.include_router(health_router)
    app.include_router(metrics_router)
    app.include_router(wechat_callback_router)
    console.install(app, settings)
    edge.install_docs(app, settings)
    # Outermost last: the body limit counts bytes as they arrive, then the client address,
    # then no control or bidi characters in the path, the query or a JSON body.
    app.add_middleware(RefuseControlText)
    app.add_middleware(edge.ForwardedFor, trusted=settings.trusted_proxies)
    app.add_middleware(edge.BodyLimit, limit=settings.max_request_bytes)
    app.state.metrics_registry = CollectorRegistry()  # one per app: tests build many
    app.add_middleware(RequestMetrics, registry=app.state.metrics_registry)
    if not settings.cms_url:
        app.mount("/site", StaticFiles(directory=settings.site_dir, html=True), name="site")

    async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.error(
            "database unavailable on %s %s: %s",
            request.method,
            request.url.path,
            type(exc).__name__,
        )
        return JSONResponse(
            {"detail": "database unavailable; nothing was changed"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )

    for error in database_down_errors(settings.effective_database_url):
        app.add_exception_handler(error, database_unavailable)
    install_storage_errors(app)  # a full disk or a permission is not the database

    @app.get("/", include_in_schema=False)
    async def home() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=status.HTTP_303_SEE_OTHER)

    return app
