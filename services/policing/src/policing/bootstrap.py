"""The composition root of policing."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI

from govmesh_runtime.app import create_app as create_service_app
from policing.adapters.repository import GridIndexCache
from policing.entrypoints.api import contact_card, reference, rooms, tasks
from policing.registry import registry
from policing.settings import PolicingSettings, get_settings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: PolicingSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    grids = GridIndexCache()
    app = create_service_app(
        settings=settings,
        title="govmesh policing",
        description=(
            "Policing (社区警务): community police rooms on the grid — jurisdictions, duty rosters, police tasks "
            "from dispatch (camera alarms through their cases) and violence risks, police mediation, the public "
            "contact card (警民联系卡), patrol and visit logs, key persons and places."
        ),
        version=version("govmesh-policing"),
        routers=[contact_card.router, reference.router, rooms.router, tasks.router],
        use_cases=registry.bind(settings=settings, grids=grids),
        migrations=MIGRATIONS,
    )
    app.state.grid_cache = grids
    return app
