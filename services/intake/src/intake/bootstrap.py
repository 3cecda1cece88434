"""The composition root of intake."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI

from govmesh_runtime.app import create_app as create_service_app
from intake.adapters.retention import idempotency_key_pruner
from intake.domain.messages import FIELD_REASONS_ZH
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
        field_reasons=FIELD_REASONS_ZH,  # intake's own reasons in Chinese (ID numbers, phones, matters…)
        error_formats={open311.PREFIX + "/": open311.http_errors},  # GeoReport's error format, not RFC 9457
    )
    return app
