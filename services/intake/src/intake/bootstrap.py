"""The composition root of intake."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI

from govmesh_runtime.app import create_app as create_service_app
from intake.entrypoints.api import cases
from intake.entrypoints.consumers import TIMELINE
from intake.settings import IntakeSettings, get_settings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return create_service_app(
        settings=settings,
        title="govmesh intake",
        description="The one door (一门受理): every channel becomes a case; the resident-facing case timeline.",
        version=version("govmesh-intake"),
        routers=[cases.router],
        consumers=[TIMELINE],
        migrations=MIGRATIONS,
    )
