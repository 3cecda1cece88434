"""The composition root of mediation."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI

from govmesh_runtime.app import create_app as create_service_app
from mediation.entrypoints.consumers import consumer_specs
from mediation.settings import MediationSettings, get_settings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: MediationSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    return create_service_app(
        settings=settings,
        title="govmesh mediation",
        description="Mediation (矛盾纠纷调处): disputes from first contact to a performed agreement.",
        version=version("govmesh-mediation"),
        routers=[],
        consumers=consumer_specs(settings),
        migrations=MIGRATIONS,
    )
