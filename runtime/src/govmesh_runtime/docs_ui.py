"""Swagger UI served by the service itself: no CDN, so `/docs` works on a government network
without internet. The assets are Swagger UI 5 (it renders FastAPI's OpenAPI 3.1), shipped in the
``fastapi-swagger`` wheel; we serve its files with FastAPI's own page template."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter, FastAPI, HTTPException
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from starlette.responses import Response

_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
ASSET_PREFIX = "/docs/assets/"


def operation_id(route: APIRoute) -> str:
    """Stable operation ids: the endpoint function's name (``create_case``), not FastAPI's default
    of name + path + method, which changes whenever a path does. Unique per service (tested)."""
    return route.name


def docs_router(app: FastAPI) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/docs")
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} — API",
            swagger_js_url=ASSET_PREFIX + "swagger-ui-bundle.js",
            swagger_css_url=ASSET_PREFIX + "swagger-ui.css",
            swagger_favicon_url=ASSET_PREFIX + "favicon-32x32.png",
        )

    @router.get(ASSET_PREFIX + "{name}")
    async def swagger_asset(name: str) -> Response:
        if name not in _ASSETS:
            raise HTTPException(404, f"no such asset: {name}")
        body = resources.files("fastapi_swagger.resources").joinpath(name).read_bytes()
        return Response(body, media_type=_ASSETS[name], headers={"Cache-Control": "public, max-age=86400"})

    return router
