"""Liveness and the gauges an operator watches."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import JSONResponse, PlainTextResponse

from bot.dispatcher import utcnow
from bot.web.deps import PrincipalDep, RuntimeDep
from storage import outbox
from storage.db import fetch_all

router = APIRouter()


@router.get("/healthz")
async def healthz(runtime: RuntimeDep) -> JSONResponse:
    """200 when the database answers, 503 when it does not."""
    try:
        await fetch_all("SELECT 1 AS ok")
    except Exception:  # any failure to reach the database is "unavailable"
        return JSONResponse(
            {"status": "unavailable", "database": "unreachable"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    return JSONResponse({"status": "ok", "database": "ok", "channels": sorted(runtime.channels)})


@router.get("/metrics", response_class=PlainTextResponse)
async def metrics(runtime: RuntimeDep, principal: PrincipalDep) -> str:
    """Prometheus text (administrator token): deliveries per state and the zero gauges."""
    if not principal.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only an administrator token may do this")
    rows = await fetch_all(
        "SELECT channel, state, COUNT(*) AS n FROM delivery "
        "GROUP BY channel, state ORDER BY channel, state"
    )
    now = utcnow()
    grace = runtime.settings.lease_seconds
    lines = ["# TYPE gongkai_deliveries gauge"]
    lines += [
        f'gongkai_deliveries{{channel="{r["channel"]}",state="{r["state"]}"}} {r["n"]}'
        for r in rows
    ]
    lines += [
        "# TYPE gongkai_due_unclaimed gauge",
        f"gongkai_due_unclaimed {await outbox.count_overdue(now, grace_seconds=grace)}",
        "# TYPE gongkai_accepted_unconfirmed gauge",
        f"gongkai_accepted_unconfirmed {await outbox.count_unconfirmed(now, grace_seconds=86400)}",
        "# TYPE gongkai_in_flight gauge",
        f"gongkai_in_flight {runtime.dispatcher.in_flight}",
    ]
    return "\n".join(lines) + "\n"
