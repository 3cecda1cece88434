"""The composition root of policing."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI

from govmesh_runtime.app import create_app as create_service_app
from policing.entrypoints.consumers import consumer_specs
from policing.settings import PolicingSettings, get_settings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: PolicingSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return create_service_app(
        settings=settings,
        title="govmesh policing",
        description="Policing (社区警务): community police rooms on the grid.",
        version=version("govmesh-policing"),
        routers=[],
        consumers=consumer_specs(settings),
        migrations=MIGRATIONS,
    )
