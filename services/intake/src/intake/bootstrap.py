"""The composition root of intake."""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from govmesh_runtime.app import create_app as create_service_app
from govmesh_runtime.finite import validation_errors
from intake.adapters.retention import idempotency_key_pruner
from intake.domain.messages import current_lang, localized_detail, localized_errors
from intake.entrypoints.api import cases, matters, open311
from intake.entrypoints.api.language import ReaderLanguage
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
    app.add_exception_handler(RequestValidationError, _validation_errors)
    app.add_middleware(ReaderLanguage)  # outermost: the words of every answer, refusals included
    return app


async def _http_errors(request: Request, exc: Exception) -> Response:
    """Open311 clients get refusals in Open311's error format; everyone else FastAPI's."""
    if request.url.path.startswith(open311.PREFIX + "/"):
        return await open311.http_errors(request, exc)
    assert isinstance(exc, HTTPException)
    if isinstance(exc.detail, list):  # per-field reasons: each in the reader's language
        exc = HTTPException(exc.status_code, detail=localized_errors(exc.detail), headers=exc.headers)
    elif isinstance(exc.detail, str):  # the shared runtime's refusals are written in English
        exc = HTTPException(exc.status_code, detail=localized_detail(exc.detail), headers=exc.headers)
    return await http_exception_handler(request, exc)


async def _validation_errors(request: Request, exc: Exception) -> Response:
    """The runtime's 422 (non-finite numbers named), each field's reason in the reader's language."""
    answer = await validation_errors(request, exc)
    if current_lang.get() == "en" or request.url.path.startswith(open311.PREFIX + "/"):
        return answer
    body = json.loads(bytes(answer.body))
    return JSONResponse({"detail": localized_errors(body["detail"])}, status_code=answer.status_code)
