"""The composition root of intake."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from govmesh_runtime.app import create_app as create_service_app
from intake.adapters.retention import idempotency_key_pruner
from intake.entrypoints.api import cases, matters, open311
from intake.entrypoints.consumers import consumer_specs
from intake.settings import IntakeSettings, get_settings

MIGRATIONS = Path(__file__).parent / "migrations"

TAGS = [
    {"name": "cases", "description": "Native REST API v1: accept a matter as a case, follow it, give feedback."},
    {"name": "matters", "description": "The one-door matter taxonomy (一门受理事项)."},
    {"name": "open311", "description": "Open311 GeoReport v2 (JSON and XML), by the spec."},
]


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = create_service_app(
        settings=settings,
        title="govmesh intake",
        description="The one door (一门受理): every channel becomes a case; the resident-facing case timeline.",
        version=version("govmesh-intake"),
        routers=[cases.router, matters.router, open311.router],
        public_routers=[open311.public_router],  # GeoReport v2: reads need no key
        consumers=consumer_specs(settings),
        migrations=MIGRATIONS,
        openapi_tags=TAGS,
        pruners=[idempotency_key_pruner(settings.idempotency_key_retention_s)],
    )
    app.add_exception_handler(HTTPException, _http_errors)
    return app


async def _http_errors(request: Request, exc: Exception) -> Response:
    """Open311 clients get refusals in Open311's error format; everyone else FastAPI's."""
    if request.url.path.startswith(open311.PREFIX + "/"):
        return await open311.http_errors(request, exc)
    assert isinstance(exc, HTTPException)
    return await http_exception_handler(request, exc)
