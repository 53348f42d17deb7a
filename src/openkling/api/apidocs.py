"""The interactive API reference at /docs: Swagger UI 5 (it reads OpenAPI 3.1), served by
openkling itself from the ``swagger-ui-bundle-v2`` package: no CDN, so /docs works on a
machine with no internet."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

ASSETS_PATH = "/docs/assets"
# the files the page loads, and their types: nothing else of the package is served
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
}


def assets_dir() -> Path:
    from swagger_ui_bundle import swagger_ui_path

    return Path(str(swagger_ui_path))


def install(app: FastAPI) -> None:
    """Serve /docs and its assets (the app is made with ``docs_url=None, redoc_url=None``)."""
    folder = assets_dir()

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - API reference",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon-32x32.png",
        )

    @app.get(ASSETS_PATH + "/{name}", include_in_schema=False)
    async def swagger_asset(name: str) -> FileResponse:
        media_type = ASSETS.get(name)
        if media_type is None:
            raise HTTPException(status_code=404)
        return FileResponse(
            folder / name,
            media_type=media_type,
            headers={"Cache-Control": "public, max-age=86400"},
        )
