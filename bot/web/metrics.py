"""``/metrics`` (Prometheus text, platform administrator) and the request measurements.

Database gauges are read at each scrape, so they count every worker's deliveries; request
latency and responses are this web process's own. Each app has its own registry.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import Response
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.dispatcher import utcnow
from bot.logs import bind_ids
from bot.web.deps import PrincipalDep, RuntimeDep
from storage.gauges import Gauges, read_gauges

__all__ = ["RequestMetrics", "log_path_ids", "router"]

router = APIRouter()
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class RequestMetrics:
    """ASGI middleware: latency histogram and response count per route template."""

    def __init__(self, app: ASGIApp, *, registry: CollectorRegistry) -> None:
        self.app = app
        self.latency = Histogram(
            "gongkai_http_request_duration_seconds",
            "Time to answer a request, by route",
            ["method", "route"],
            registry=registry,
            buckets=LATENCY_BUCKETS,
        )
        self.responses = Counter(
            "gongkai_http_responses",
            "Responses by route and status code (4xx, 5xx: the API's errors)",
            ["method", "route", "status"],
            registry=registry,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        answered = [500]

        async def send_noting_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                answered[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            route = _route_label(scope)
            method = str(scope.get("method", ""))
            self.latency.labels(method, route).observe(time.perf_counter() - started)
            self.responses.labels(method, route, str(answered[0])).inc()


def _route_label(scope: Scope) -> str:
    """The route's template (``/api/v1/items/{item_id}``), never the raw path: ids would
    make a time series per item."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    return "/site" if str(scope.get("path", "")).startswith("/site/") else "unmatched"


async def log_path_ids(request: Request) -> None:
    """App dependency: the request's path ids (``item_id`` → ``item``) on its log lines."""
    bind_ids(
        **{
            name.removesuffix("_id"): value
            for name, value in request.path_params.items()
            if name.endswith("_id")
        }
    )


class _Reading(Collector):
    """One scrape's database reading as metric families."""

    def __init__(self, gauges: Gauges, in_flight: int) -> None:
        self._gauges = gauges
        self._in_flight = in_flight

    def collect(self) -> Iterable[Metric]:
        g = self._gauges
        deliveries = GaugeMetricFamily(
            "gongkai_deliveries", "Deliveries by channel and state", labels=["channel", "state"]
        )
        for channel, state, count in g.deliveries:
            deliveries.add_metric([channel, state], count)
        errors = GaugeMetricFamily(
            "gongkai_delivery_errors",
            "Deliveries held up (waiting to retry, failed, uncertain) by the channel's error "
            "code (WeChat errcode, HTTP status, errno)",
            labels=["channel", "code"],
        )
        for channel, code, count in g.errors:
            errors.add_metric([channel, code], count)
        left = GaugeMetricFamily(
            "gongkai_wechat_broadcasts_left",
            "WeChat mass sends left today (subscription) or this month (service account)",
            labels=["organization"],
        )
        for org, count in g.broadcasts_left:
            left.add_metric([org], count)
        yield deliveries
        yield GaugeMetricFamily(
            "gongkai_due_unclaimed", "Due longer than a lease, claimed by nobody", g.due_unclaimed
        )
        yield GaugeMetricFamily(
            "gongkai_oldest_due_seconds",
            "How long the longest-waiting due delivery has waited",
            g.oldest_due_seconds,
        )
        yield GaugeMetricFamily(
            "gongkai_accepted_unconfirmed",
            "Accepted more than a day ago and not confirmed",
            g.accepted_unconfirmed,
        )
        yield GaugeMetricFamily(
            "gongkai_in_flight", "Deliveries running in this process", self._in_flight
        )
        yield errors
        yield left


@router.get("/metrics", response_class=Response)
async def metrics(request: Request, runtime: RuntimeDep, principal: PrincipalDep) -> Response:
    """Prometheus text (platform administrator token): database gauges and request metrics."""
    if not principal.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only an administrator token may do this")
    gauges = await read_gauges(utcnow(), lease_seconds=runtime.settings.lease_seconds)
    reading = CollectorRegistry()
    reading.register(_Reading(gauges, runtime.dispatcher.in_flight))
    own: Any = request.app.state.metrics_registry
    body = generate_latest(reading) + generate_latest(own)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
