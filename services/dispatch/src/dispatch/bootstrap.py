"""The composition root of dispatch."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI

from dispatch.entrypoints.api import cases
from dispatch.entrypoints.consumers import consumer_specs
from dispatch.settings import DispatchSettings, get_settings
from govmesh_runtime.app import create_app as create_service_app

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: DispatchSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return create_service_app(
        settings=settings,
        title="govmesh dispatch",
        description="The grid (网格): locates cases, coordinates handling across departments, SLA and escalation.",
        version=version("govmesh-dispatch"),
        routers=[cases.router],
        consumers=consumer_specs(settings),
        migrations=MIGRATIONS,
    )
