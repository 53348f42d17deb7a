"""/healthz (the process is up) and /readyz (database, dispatcher and storage answer)."""

from __future__ import annotations

import logging

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from ..deps import RuntimeDep
from ..openapi import Health, Readiness

log = logging.getLogger(__name__)

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness", response_model=Health)
def healthz():
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
def readyz(rt: RuntimeDep):
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
