"""Every periodic job with two instances on one PostgreSQL database: each due item is
handled once (row locks, ``FOR UPDATE SKIP LOCKED``). The two instances are two apps
(two connection pools) of the service; both run one round at the same moment, on a clock
the test moves. Dispatch's webhook sender has its own such test (services/dispatch/tests/
test_webhooks.py); the outbox relay has a leader lock (test_relay_leader.py).

Jobs: mediation's deadline sweep, dispatch's SLA escalation and feedback window,
video-bridge's liveness check (devices that stop talking go offline)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlmodel import col, select
from support import ADMIN

from dispatch import sample_city
from dispatch.adapters.background import Background
from dispatch.bootstrap import create_app as create_dispatch
from dispatch.handlers import dispatch_case_on_received
from dispatch.settings import DispatchSettings
from govmesh_contracts import CaseReceived, Location, TaskAssigned, TaskTarget
from govmesh_kit.clock import SettableClock
from govmesh_runtime.db import Database
from govmesh_runtime.tables import OutboxMessage
from govmesh_runtime.uow import UnitOfWork
from mediation.bootstrap import create_app as create_mediation
from mediation.entrypoints.seed import SAMPLE
from mediation.handlers import open_dispute_on_task_assigned
from mediation.settings import MediationSettings
from video_bridge import handlers as bridge
from video_bridge.bootstrap import MIGRATIONS as BRIDGE_MIGRATIONS

T0 = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
ITEMS = 20


@asynccontextmanager
async def running(*apps: FastAPI) -> AsyncIterator[list[httpx.AsyncClient]]:
    async with AsyncExitStack() as stack:
        clients = []
        for app in apps:  # one after the other: the first migrates and seeds
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app)
            client = httpx.AsyncClient(transport=transport, base_url="http://x", headers=ADMIN)
            clients.append(await stack.enter_async_context(client))
        yield clients


async def outbox(app: FastAPI, event_type: str) -> list[dict[str, Any]]:
    async with app.state.runtime.db.sessions() as session:
        rows = (await session.exec(select(OutboxMessage).where(col(OutboxMessage.event_type) == event_type))).all()
    return [json.loads(r.payload) for r in rows]


async def test_the_mediation_deadline_sweep_flags_each_dispute_once(
    tmp_path: Path, kafka_bootstrap: str, fresh_postgres_url: str
) -> None:
    clock = SettableClock(T0)
    apps = [
        create_mediation(
            MediationSettings(
                data_dir=tmp_path / name,
                database_url=fresh_postgres_url,
                kafka_bootstrap_servers=kafka_bootstrap,
                consumers_enabled=False,
                sweep_interval_s=3600,
            ),
            clock=clock,
        )
        for name in ("a", "b")
    ]
    async with running(*apps) as (first, _):
        seeded = await first.post("/v1/seed", json=json.loads(SAMPLE.read_text(encoding="utf-8")))
        assert seeded.status_code == 200, seeded.text
        for _ in range(ITEMS):
            event = TaskAssigned(
                task_id=uuid.uuid4(),
                case_id=uuid.uuid4(),
                case_number="620702-20261126-000001",
                matter_code="dispute.neighbour",
                target=TaskTarget.MEDIATION,
                grid_code="620702001001003",
                description="The neighbours quarrel.",
                due_at=clock() + timedelta(days=15),
                assigned_at=clock(),
            )
            async with apps[0].state.runtime.uow() as uow:
                await open_dispute_on_task_assigned(event, uow, now=clock())
                await uow.commit()
        clock.advance(timedelta(days=31))  # past every dispute's one-month target
        results = await asyncio.gather(*(app.state.sweeper.run_once() for app in apps))
        assert sum(r.flagged_late for r in results) == ITEMS
        flagged = Counter(p["dispute_id"] for p in await outbox(apps[0], "gov.mediation.dispute.flagged-late"))
        assert len(flagged) == ITEMS and set(flagged.values()) == {1}


@asynccontextmanager
async def two_dispatches(tmp_path: Path, kafka: str, database_url: str, clock: Any) -> AsyncIterator[list[FastAPI]]:
    city = str(sample_city.write(tmp_path / "city"))
    apps = [
        create_dispatch(
            DispatchSettings(
                data_dir=tmp_path / name,
                database_url=database_url,
                kafka_bootstrap_servers=kafka,
                consumers_enabled=False,
                city_data_dir=city,
                timer_scan_interval_s=3600,
                webhook_scan_interval_s=3600,
                escalation_step_s=3600,
                return_visit_share=0.0,
            ),
            clock=clock,
        )
        for name in ("a", "b")
    ]
    async with running(*apps):
        yield apps


async def _grid_reports(app: FastAPI, clock: Any) -> list[uuid.UUID]:
    lat, lon = sample_city.centre_point("620702001001001")
    ids = []
    for _ in range(ITEMS):
        event = CaseReceived(
            case_id=uuid.uuid4(),
            case_number=f"620702-20261126-{uuid.uuid4().int % 10**6:06d}",
            matter_code="grid.report",
            channel="api",
            description="A report.",
            location=Location(lat=lat, lon=lon),
            received_at=clock(),
            due_at=clock() + timedelta(hours=1),
        )
        async with app.state.runtime.uow() as uow:
            await dispatch_case_on_received(event, uow, dispatcher=app.state.dispatcher)
            await uow.commit()
        ids.append(event.case_id)
    return ids


async def test_dispatch_escalates_each_late_task_once_and_closes_each_unanswered_case_once(
    tmp_path: Path, kafka_bootstrap: str, fresh_postgres_url: str
) -> None:
    clock = SettableClock(T0)
    async with two_dispatches(tmp_path, kafka_bootstrap, fresh_postgres_url, clock) as apps:
        backgrounds = [Background(app.state.runtime, app.state.dispatcher) for app in apps]
        cases = await _grid_reports(apps[0], clock)
        clock.now += timedelta(hours=1, minutes=30)  # one deadline missed, not two (1 h steps)
        await asyncio.gather(*(b.scan_timers() for b in backgrounds))
        escalated = Counter(p["task_id"] for p in await outbox(apps[0], "gov.dispatch.task.escalated"))
        assert len(escalated) == ITEMS and set(escalated.values()) == {1}

        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=apps[0]), base_url="http://x", headers=ADMIN
        ) as http:
            for case_id in cases:
                [task] = (await http.get(f"/v1/cases/{case_id}")).json()["tasks"]
                done = await http.post(
                    f"/v1/tasks/{task['task_id']}/complete", json={"outcome": "done", "summary": "ok"}
                )
                assert done.status_code == 200, done.text
        clock.now += timedelta(days=8)  # the feedback window passed for every case
        await asyncio.gather(*(b.scan_feedback_window() for b in backgrounds))
        closed = Counter(p["case_id"] for p in await outbox(apps[0], "gov.dispatch.case.closed"))
        assert sorted(closed) == sorted(str(c) for c in cases) and set(closed.values()) == {1}


async def test_the_video_bridge_liveness_check_takes_each_silent_device_offline_once(fresh_postgres_url: str) -> None:
    instances = [Database(fresh_postgres_url) for _ in range(2)]
    await instances[0].migrate(BRIDGE_MIGRATIONS)

    def uow(db: Database) -> UnitOfWork:
        return UnitOfWork(db.sessions, source="/govmesh/video-bridge")

    try:
        devices = [f"62070200001320{n:06d}" for n in range(ITEMS)]  # IPCs (type 132): one event each
        for device_id in devices:
            async with uow(instances[0]) as unit:
                await bridge.register(unit, device_id, bridge.Peer("UDP", "10.0.0.1", 5060), 3600, now=T0)
                await unit.commit()

        async def check(db: Database) -> list[str]:
            async with uow(db) as unit:
                gone = await bridge.mark_timed_out(unit, interval_s=60, max_missed=3, now=T0 + timedelta(minutes=10))
                await unit.commit()
            return gone

        gone = await asyncio.gather(*(check(db) for db in instances))
        assert sorted(gone[0] + gone[1]) == sorted(devices)  # each device by one of the two
        async with instances[0].sessions() as session:
            rows = (
                await session.exec(
                    select(OutboxMessage).where(col(OutboxMessage.event_type) == "gov.video.channel.status-changed")
                )
            ).all()
        changes = [json.loads(r.payload) for r in rows]
        offline = Counter(p["device_id"] for p in changes if p["online"] is False)
        assert sorted(offline) == sorted(devices) and set(offline.values()) == {1}
    finally:
        for db in instances:
            await db.dispose()
