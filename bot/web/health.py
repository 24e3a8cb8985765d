"""Liveness (``/healthz``: the database answers) and readiness (``/readyz``: it answers and
its schema is this code's, no migration pending)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from bot.web.deps import RuntimeDep
from storage.db import fetch_all, pending_migrations

router = APIRouter()
log = logging.getLogger("gongkai.web")
_UNREACHABLE = {"status": "unavailable", "database": "unreachable"}


@router.get("/healthz")
async def healthz(runtime: RuntimeDep) -> JSONResponse:
    """200 when the database answers, 503 when it does not."""
    try:
        await fetch_all("SELECT 1 AS ok")
    except Exception:  # any failure to reach the database is "unavailable"
        return JSONResponse(_UNREACHABLE, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
    return JSONResponse({"status": "ok", "database": "ok", "channels": sorted(runtime.channels)})


@router.get("/readyz")
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    """200 when the database answers and has every migration this code knows; 503 with the
    pending migrations' names otherwise (a load balancer sends no traffic meanwhile)."""
    try:
        await fetch_all("SELECT 1 AS ok")  # the recorder reads "no table" as "nothing applied"
        pending = await pending_migrations()
    except Exception:  # unreachable, or refusing us: not ready either way
        log.warning("readyz: the database did not answer", exc_info=True)
        return JSONResponse(_UNREACHABLE, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
    if pending:
        return JSONResponse(
            {"status": "migrating", "database": "ok", "pending_migrations": pending},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    return JSONResponse({"status": "ready", "database": "ok", "pending_migrations": []})
