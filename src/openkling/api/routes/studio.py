"""The studio at `/`: its page and its static modules and styles, with no outside origin."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from ...studio import STATIC_DIR

router = APIRouter(tags=["studio"])

# The page loads only its own files; videos and covers may come from the storage's origin.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: https: "
    "http:; media-src 'self' blob: https: http:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {"Content-Security-Policy": CSP, "Cache-Control": "no-cache"}


@router.get("/", include_in_schema=False)
async def studio_page():
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers=HEADERS)


@dataclass(frozen=True)
class _Files:
    """What a request for a studio file is counted under (a route template, as a route's)."""

    path: str = "/studio/{file}"


FILES_ROUTE = _Files()


class StudioFiles(StaticFiles):
    """The static files, revalidated on each load so an upgrade is seen at once; metrics
    count them under their own route label, ``/studio/{file}``."""

    async def __call__(self, scope, receive, send) -> None:
        scope["route"] = FILES_ROUTE
        await super().__call__(scope, receive, send)

    async def get_response(self, path, scope):
        response = await super().get_response(path, scope)
        response.headers.setdefault("Cache-Control", "no-cache")
        return response


def mount(app) -> None:
    app.include_router(router)
    app.mount("/studio", StudioFiles(directory=STATIC_DIR), name="studio")
