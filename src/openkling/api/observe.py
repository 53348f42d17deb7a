"""HTTP metrics labelled by route template, and GET /metrics."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response
from starlette.types import Scope

from ..observability import metrics

UNMATCHED = "unmatched"  # requests no route took: one label value, whatever their path

router = APIRouter(tags=["operations"])


# not part of the Kling API, so not in its OpenAPI document (docs/operations.md describes it)
@router.get("/metrics", summary="Prometheus metrics (no API key needed)", include_in_schema=False)
async def metrics_endpoint() -> Response:
    # collection reads the store (two short counts): not on the event loop
    from starlette.concurrency import run_in_threadpool

    body = await run_in_threadpool(metrics.render)
    return Response(body, media_type=metrics.CONTENT_TYPE_LATEST)


class HttpMetrics:
    """Counts and times every HTTP request by its route template (``/v1/.../{task_id}``, never
    the raw path, so ids do not multiply the series), method and status code. Called by the
    request-id middleware once the response is sent."""

    def __init__(self) -> None:
        self._children: dict[tuple[str, str, int], tuple] = {}

    def __call__(self, scope: Scope, status: int, seconds: float) -> None:
        route = getattr(scope.get("route"), "path", None) or UNMATCHED
        method = scope["method"] if scope["method"] in _METHODS else "other"
        key = (route, method, status)
        series = self._children.get(key)
        if series is None:  # .labels() costs a lock and a lookup: keep the children at hand
            series = (
                metrics.HTTP_REQUESTS.labels(route, method, str(status)),
                metrics.HTTP_DURATION.labels(route),
            )
            self._children[key] = series
        series[0].inc()
        series[1].observe(seconds)


_METHODS = frozenset(("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"))
