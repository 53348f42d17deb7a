"""/healthz (the process is up) and /readyz (database, dispatcher and storage answer).

Neither waits on the threads that run request handlers: /healthz answers on the event loop,
and /readyz's checks run on two threads of their own, so nothing a client sends delays them.
"""

from __future__ import annotations

import logging

from anyio import CapacityLimiter, to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from ...runtime import Runtime
from ..deps import RuntimeDep
from ..openapi import Health, Readiness

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"])

PROBE_THREADS = 2  # /readyz's own threads (probes come one at a time, from few places)


@router.get("/healthz", summary="Liveness", response_model=Health)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


NOT_READY = {
    "description": "a check failed, or maintenance; or too many open connections (an envelope)",
    "content": {
        "application/json": {
            "schema": {
                "anyOf": [
                    {"$ref": "#/components/schemas/Readiness"},
                    {"$ref": "#/components/schemas/ErrorEnvelope"},
                ]
            }
        }
    },
}


@router.get(
    "/readyz",
    summary="Readiness of the database, dispatcher and storage",
    response_model=Readiness,
    responses={503: NOT_READY},
)
async def readyz(request: Request, rt: RuntimeDep) -> JSONResponse:
    limiter: CapacityLimiter = request.app.state.probe_limiter
    return await to_thread.run_sync(_readiness, rt, limiter=limiter)


def _readiness(rt: Runtime) -> JSONResponse:
    checks: dict[str, str] = {}

    def run(name, fn):
        try:
            fn()
            checks[name] = "ok"
        except Exception as exc:  # report, don't raise: this endpoint is for probes
            # anonymous callers see the verdict only: the reason names hosts and URLs
            log.warning("readiness: %s failed: %s", name, exc)
            checks[name] = "error"

    def db():
        with rt.sessions() as s:
            s.execute(text("SELECT 1"))

    run("database", db)
    run("dispatcher", rt.dispatcher.check)
    run("storage", rt.storage.check)
    ok = all(v == "ok" for v in checks.values()) and not rt.settings.maintenance
    body = {"status": "ok" if ok else "unavailable", "checks": checks}
    return JSONResponse(body, status_code=200 if ok else 503)
