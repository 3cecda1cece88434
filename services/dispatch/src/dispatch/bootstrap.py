"""The composition root of dispatch."""

from __future__ import annotations

import asyncio
from importlib.metadata import version
from pathlib import Path

from fastapi import FastAPI
from sqlmodel import func, select

from dispatch.adapters import metrics
from dispatch.adapters.background import Background, bind
from dispatch.adapters.city import import_city_dir
from dispatch.adapters.repository import add_rules, load_rules, replace_rules
from dispatch.adapters.tables import GridRow, RoutingRuleRow
from dispatch.domain.routing import registry_rules, rules_to_add
from dispatch.entrypoints.api import (
    board,
    cases,
    elements,
    grids,
    people,
    photos,
    return_visits,
    rules,
    stats,
    tasks,
    webhooks,
)
from dispatch.handlers import Dispatcher
from dispatch.settings import DispatchSettings, get_settings
from govmesh_kit.clock import Clock, system_clock
from govmesh_runtime.app import Runtime
from govmesh_runtime.app import create_app as create_service_app
from govmesh_runtime.logging import get_logger

MIGRATIONS = Path(__file__).parent / "migrations"

log = get_logger(__name__)


async def seed_reference_data(runtime: Runtime, dispatcher: Dispatcher) -> None:
    """Routing rules from the matter registry (all when the table is empty, else those of matters
    new to it); the city when configured and empty."""
    async with runtime.db.sessions() as session:
        if not (await session.exec(select(func.count()).select_from(RoutingRuleRow))).one():
            await replace_rules(session, registry_rules())
            await session.commit()
        else:
            added = rules_to_add(await load_rules(session), registry_rules())
            if added:
                await add_rules(session, added)
                await session.commit()
                log.info("routing_rules_added", matters=sorted({rule.matter_code for rule in added}))
        settings = dispatcher.settings
        if settings.city_data_dir and not (await session.exec(select(func.count()).select_from(GridRow))).one():
            counts = await import_city_dir(session, Path(settings.city_data_dir), dispatcher.geometry)
            await session.commit()
            log.info("city_imported", **counts)
    await dispatcher.locator.reload(runtime.db.sessions)
    log.info("grid_index_built", grids=len(dispatcher.locator))


def create_app(settings: DispatchSettings | None = None, *, clock: Clock = system_clock) -> FastAPI:
    settings = settings or get_settings()
    dispatcher = Dispatcher(settings=settings, clock=clock)
    use_cases = bind(dispatcher)  # every use case: dispatch/registry.py

    async def on_ready(runtime: Runtime) -> None:
        # after migrations, before the consumers start: the index is there for the first case
        await seed_reference_data(runtime, dispatcher)

    async def sla_timers_and_webhooks(runtime: Runtime) -> None:
        """The runtime cancels its jobs at shutdown; ours then stop gracefully (finish the scan in
        hand, close the HTTP client) before the runtime disposes the database."""
        loops = Background(runtime, dispatcher, use_cases)
        loops.start()
        try:
            await asyncio.Event().wait()
        finally:
            await loops.stop()

    app = create_service_app(
        settings=settings,
        title="govmesh dispatch",
        description="The grid (网格): locates cases, coordinates handling across departments, SLA and escalation.",
        version=version("govmesh-dispatch"),
        routers=[
            grids.router,
            grids.buildings_router,
            grids.admin_router,
            people.workers_router,
            people.centres_router,
            people.visits_router,
            rules.router,
            board.router,
            stats.router,
            cases.router,
            tasks.router,
            photos.router,
            return_visits.router,
            webhooks.router,
            elements.router,
        ],
        use_cases=use_cases,
        migrations=MIGRATIONS,
        on_ready=on_ready,
        background=[sla_timers_and_webhooks, metrics.case_gauges_job(clock)],
    )
    app.state.dispatcher = dispatcher
    return app
