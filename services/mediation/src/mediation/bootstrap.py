"""The composition root of mediation."""

from __future__ import annotations

import asyncio
from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI

from govmesh_kit.clock import Clock, system_clock
from govmesh_runtime.app import Runtime
from govmesh_runtime.app import create_app as create_service_app
from govmesh_runtime.logging import get_logger
from mediation.entrypoints.api import disputes, reports, sessions, studios, windows
from mediation.entrypoints.consumers import consumer_specs
from mediation.entrypoints.seed import load_document, read_seed
from mediation.handlers.agreements import SweepResult, run_deadline_sweep
from mediation.settings import MediationSettings, get_settings

MIGRATIONS = Path(__file__).parent / "migrations"
log = get_logger(__name__)


class DeadlineSweeper:
    """Checks the time-based rules (one-month target, 30-day confirmation window) on a timer."""

    def __init__(self, clock: Clock, interval_s: float) -> None:
        self.clock = clock
        self.interval_s = interval_s
        self.runtime: Runtime | None = None

    async def run_once(self) -> SweepResult:
        assert self.runtime is not None, "the sweeper runs inside the app's lifespan"
        async with self.runtime.uow() as uow:
            result = await run_deadline_sweep(uow, now=self.clock())
            await uow.commit()
        if result.flagged_late or result.confirmations_lapsed:
            log.info("deadlines_swept", flagged_late=result.flagged_late, lapsed=result.confirmations_lapsed)
        return result

    async def run(self) -> None:
        while True:
            try:
                await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be away; try again next round
                log.warning("deadline_sweep_failed", error=repr(exc))
            await asyncio.sleep(self.interval_s)


def create_app(settings: MediationSettings | None = None, *, clock: Clock = system_clock) -> FastAPI:
    settings = settings or get_settings()
    sweeper = DeadlineSweeper(clock, settings.sweep_interval_s)

    async def on_ready(runtime: Runtime) -> None:
        sweeper.runtime = runtime
        if settings.seed_file is not None:
            document = read_seed(settings.seed_file)
            async with runtime.uow() as uow:
                await load_document(document, uow, clock)
                await uow.commit()
            log.info("seed_loaded", studios=len(document.studios), mediators=len(document.mediators))

    async def deadline_sweeper(runtime: Runtime) -> None:
        await sweeper.run()  # cancelled by the runtime at shutdown

    app = create_service_app(
        settings=settings,
        title="govmesh mediation",
        description="Mediation (矛盾纠纷调处): disputes from first contact to a performed agreement.",
        version=version("govmesh-mediation"),
        routers=[disputes.router, sessions.router, studios.router, reports.router, windows.router],
        consumers=consumer_specs(settings, clock),
        migrations=MIGRATIONS,
        on_ready=on_ready,
        background=[deadline_sweeper],
    )
    app.state.clock = clock
    app.state.sweeper = sweeper
    return app
