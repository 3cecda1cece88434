"""The composition root of video-bridge."""

from __future__ import annotations

import asyncio
import json
from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI

from govmesh_runtime.app import Runtime
from govmesh_runtime.app import create_app as create_service_app
from govmesh_runtime.geo import GeometryRules
from video_bridge.adapters import metrics
from video_bridge.adapters.grids import GridLocator, import_grids
from video_bridge.adapters.importer import remap_channels
from video_bridge.cascade.platforms import Cascade
from video_bridge.case_work import CaseWork
from video_bridge.entrypoints.api import alarms, channels, devices, evidence, grids, sip
from video_bridge.entrypoints.consumers import consumer_specs
from video_bridge.settings import VideoBridgeSettings, get_settings
from video_bridge.sip_server import SipServer

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: VideoBridgeSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    locator = GridLocator()
    app: FastAPI
    work = CaseWork(settings, lambda: app.state.sip)

    async def on_ready(runtime: Runtime) -> None:
        """Grids into memory, then the SIP endpoint bound (a port in use fails the start)."""
        work.runtime = runtime  # before any request or test uses it (its loop starts later)
        async with runtime.db.sessions() as session:
            if settings.grids_file is not None:
                rules = GeometryRules.from_settings(settings.grid_tolerance, settings.city_outline_file)
                await import_grids(session, json.loads(settings.grids_file.read_text(encoding="utf-8")), rules)
                await session.flush()
                await locator.load(session)
                await remap_channels(session, locator)
                await session.commit()
            else:
                await locator.load(session)
        if settings.sip_enabled:
            server = SipServer(settings, runtime.uow, locator)
            await server.start()
            app.state.sip = server
            cascade = Cascade(settings, server, runtime.uow)  # registers upward, if platforms are configured
            server.cascade = cascade
            cascade.start()
            app.state.cascade = cascade

    async def sip_endpoint(runtime: Runtime) -> None:
        """Background job: holds the SIP endpoint until shutdown cancels it, then stops it
        (jobs stop before the consumers, the relay and the database)."""
        server: SipServer | None = app.state.sip
        if server is None:
            return
        try:
            await asyncio.Event().wait()
        finally:
            app.state.sip = None
            cascade: Cascade | None = app.state.cascade
            app.state.cascade = None
            if cascade is not None:
                await cascade.stop()  # unregisters upward while the endpoint still runs
            await server.stop()

    app = create_service_app(
        settings=settings,
        title="govmesh video-bridge",
        description="Video bridge (雪亮工程): GB/T 28181 signalling to events and evidence.",
        version=version("govmesh-video-bridge"),
        routers=[channels.router, devices.router, grids.router, alarms.router, evidence.router, sip.router],
        consumers=consumer_specs(settings, locator),
        migrations=MIGRATIONS,
        on_ready=on_ready,
        background=[sip_endpoint, metrics.channel_gauge_job(), work.run],
    )
    app.state.grids = locator
    app.state.case_work = work
    app.state.settings = settings
    app.state.sip = None
    app.state.cascade = None
    return app
