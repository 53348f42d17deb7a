"""HTTP metrics: a pure-ASGI middleware labelling by route template, and GET /metrics."""

from __future__ import annotations

import time

from fastapi import APIRouter
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import metrics

UNMATCHED = "unmatched"  # requests no route took: one label value, whatever their path

router = APIRouter(tags=["operations"])


@router.get("/metrics", summary="Prometheus metrics (no API key needed)", include_in_schema=True)
async def metrics_endpoint() -> Response:
    # collection reads the store (two short counts): not on the event loop
    from starlette.concurrency import run_in_threadpool

    body = await run_in_threadpool(metrics.render)
    return Response(body, media_type=metrics.CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Counts and times every HTTP request by its route template (``/v1/.../{task_id}``, never
    the raw path, so ids do not multiply the series), method and status code."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._children: dict[tuple[str, str, int], tuple] = {}

    def _series(self, route: str, method: str, status: int) -> tuple:
        key = (route, method, status)
        series = self._children.get(key)
        if series is None:  # .labels() costs a lock and a lookup: keep the children at hand
            series = (
                metrics.HTTP_REQUESTS.labels(route, method, str(status)),
                metrics.HTTP_DURATION.labels(route),
            )
            self._children[key] = series
        return series

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            method = scope["method"] if scope["method"] in _METHODS else "other"
            count, duration = self._series(route, method, status[0])
            count.inc()
            duration.observe(time.perf_counter() - started)


_METHODS = frozenset(("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"))
