"""The composition root of intake."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI

from govmesh_runtime.app import create_app as create_service_app
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
    return create_service_app(
        settings=settings,
        title="govmesh intake",
        description="The one door (一门受理): every channel becomes a case; the resident-facing case timeline.",
        version=version("govmesh-intake"),
        routers=[cases.router, matters.router, open311.router],
        consumers=consumer_specs(settings),
        migrations=MIGRATIONS,
        openapi_tags=TAGS,
    )
