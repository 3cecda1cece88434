"""Closing without feedback and return visits (回访): dispatch in-process on SQLite, a fake
clock that the tests move (nothing waits on real time)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import col, select
from support import ADMIN, auth_headers, eventually

from dispatch import sample_city
from dispatch.adapters.background import Background
from dispatch.bootstrap import create_app
from dispatch.domain.tasks import chosen_for_return_visit
from dispatch.handlers import Dispatcher, close_or_reopen_on_feedback, close_without_feedback, dispatch_case_on_received
from dispatch.settings import DispatchSettings
from govmesh_contracts import (
    EVENT_TYPES,
    CaseClosed,
    CaseFeedbackGiven,
    CaseReceived,
    Event,
    Location,
    ReturnVisitRecorded,
    TaskAssigned,
    TaskKind,
)
from govmesh_kit.clock import SettableClock
from govmesh_runtime.app import Runtime
from govmesh_runtime.tables import OutboxMessage

GRID_A1 = "620702001001001"
WEEK_S = 7 * 24 * 3600
# The grid worker of GRID_A1 on their terminal: work on tasks, in their grid only.
WORKER = auth_headers(["tasks:work", "cases:read"], [GRID_A1], subject="W001")


@dataclass
class Dispatch:
    http: httpx.AsyncClient
    runtime: Runtime
    dispatcher: Dispatcher
    clock: SettableClock


def received(dispatch: Dispatch, matter: str) -> CaseReceived:
    lat, lon = sample_city.centre_point(GRID_A1)
    return CaseReceived(
        case_id=uuid.uuid4(),
        case_number=f"620702-20261125-{uuid.uuid4().int % 10**6:06d}",
        matter_code=matter,
        channel="api",
        description="Water leaks from the flat above.",
        location=Location(lat=lat, lon=lon),
        received_at=dispatch.clock(),
    )


async def handle(dispatch: Dispatch, handler: Any, event: Any) -> None:
    async with dispatch.runtime.uow() as uow:
        await handler(event, uow, dispatcher=dispatch.dispatcher)
        await uow.commit()


async def events_of(dispatch: Dispatch, case_id: uuid.UUID) -> list[Event]:
    """What dispatch published about the case: its outbox, in order."""
    async with dispatch.runtime.db.sessions() as session:
        rows = (
            await session.exec(
                select(OutboxMessage).where(col(OutboxMessage.key) == str(case_id)).order_by(col(OutboxMessage.id))
            )
        ).all()
    return [EVENT_TYPES[row.event_type].model_validate_json(row.payload) for row in rows]


def types(events: list[Event]) -> list[str]:
    return [type(e).__name__ for e in events]


@asynccontextmanager
async def dispatch_app(tmp_path: Path, kafka: str, clock: SettableClock, **settings: Any) -> AsyncIterator[Dispatch]:
    config = DispatchSettings(
        data_dir=tmp_path,
        kafka_bootstrap_servers=kafka,
        consumers_enabled=False,
        city_data_dir=str(sample_city.write(tmp_path / "city")),
        timer_scan_interval_s=3600,  # the tests drive the scans themselves
        webhook_scan_interval_s=3600,
        **settings,
    )
    app = create_app(config, clock=clock)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://x", headers=ADMIN) as http,
    ):
        yield Dispatch(http, app.state.runtime, app.state.dispatcher, clock)


async def resolved_case(dispatch: Dispatch) -> uuid.UUID:
    """A grid report, its one grid-worker task done: resolved, awaiting the resident's feedback."""
    event = received(dispatch, "grid.report")
    await handle(dispatch, dispatch_case_on_received, event)
    case = (await dispatch.http.get(f"/v1/cases/{event.case_id}")).json()
    (task,) = case["tasks"]
    done = await dispatch.http.post(f"/v1/tasks/{task['task_id']}/complete", json={"outcome": "done", "summary": "ok"})
    assert done.status_code == 200, done.text
    assert (await dispatch.http.get(f"/v1/cases/{event.case_id}")).json()["status"] == "resolved"
    return event.case_id


async def scan(dispatch: Dispatch) -> int:
    """One scan of the feedback-window timer; how many cases it closed."""
    async with dispatch.runtime.uow() as uow:
        closed = await close_without_feedback(uow, dispatcher=dispatch.dispatcher)
        await uow.commit()
    return closed


def test_the_share_of_return_visits_is_fixed_by_the_case_id() -> None:
    ids = [uuid.UUID(int=n * 7919) for n in range(1, 5001)]
    chosen = [i for i in ids if chosen_for_return_visit(i, 0.1)]
    assert 400 < len(chosen) < 600  # about a tenth
    assert chosen == [i for i in ids if chosen_for_return_visit(i, 0.1)]  # the same choice every time
    assert set(chosen) <= {i for i in ids if chosen_for_return_visit(i, 0.5)}  # a larger share keeps these
    assert not any(chosen_for_return_visit(i, 0.0) for i in ids)
    assert all(chosen_for_return_visit(i, 1.0) for i in ids)


async def test_a_resolved_case_without_feedback_closes_after_the_window_across_a_restart(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    clock = SettableClock(datetime(2026, 11, 25, 8, 0, tzinfo=UTC))
    async with dispatch_app(tmp_path, kafka_bootstrap, clock, return_visit_share=0.0) as dispatch:
        case_id = await resolved_case(dispatch)
        answered = await resolved_case(dispatch)
        feedback = CaseFeedbackGiven(case_id=answered, satisfaction=4, solved=True, given_at=clock())
        await handle(dispatch, close_or_reopen_on_feedback, feedback)
        clock.advance(seconds=WEEK_S - 1)
        assert await scan(dispatch) == 0  # a second before the window ends: still waiting
    clock.advance(seconds=1)
    # a new process on the same database: the timer is the row's resolved_at, kept across the restart
    async with dispatch_app(tmp_path, kafka_bootstrap, clock, return_visit_share=0.0) as dispatch:
        # the timer is the row's resolved_at: the restarted process closes the case, once
        async def closed_now() -> bool:
            await scan(dispatch)
            return bool((await dispatch.http.get(f"/v1/cases/{case_id}")).json()["status"] == "closed")

        await eventually(closed_now)
        assert await scan(dispatch) == 0
        closed = [e for e in await events_of(dispatch, case_id) if isinstance(e, CaseClosed)]
        assert [(e.without_feedback, e.satisfaction, e.closed_at) for e in closed] == [(True, None, clock())]
        assert (await dispatch.http.get(f"/v1/cases/{case_id}")).json()["status"] == "closed"
        answered_closed = [e for e in await events_of(dispatch, answered) if isinstance(e, CaseClosed)]
        assert [(e.without_feedback, e.satisfaction) for e in answered_closed] == [(False, 4)]
        # feedback arriving after the case closed changes nothing
        late = CaseFeedbackGiven(case_id=case_id, satisfaction=1, solved=False, given_at=clock())
        await handle(dispatch, close_or_reopen_on_feedback, late)
        assert types(await events_of(dispatch, case_id))[-1] == "CaseClosed"


async def test_a_chosen_closed_case_gets_a_return_visit_that_records_satisfaction(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    clock = SettableClock(datetime(2026, 11, 25, 8, 0, tzinfo=UTC))
    async with dispatch_app(tmp_path, kafka_bootstrap, clock, return_visit_share=1.0) as dispatch:
        case_id = await resolved_case(dispatch)
        clock.advance(days=8)
        assert await scan(dispatch) == 1
        events = await events_of(dispatch, case_id)
        visits = [e for e in events if isinstance(e, TaskAssigned) and e.kind is TaskKind.RETURN_VISIT]
        assert [(v.target.value, v.assignee, v.grid_code) for v in visits] == [("grid_worker", "W001", GRID_A1)]
        visit = visits[0].task_id
        http = dispatch.http

        # /complete is for handling; a return visit's answer carries satisfaction
        wrong = await http.post(f"/v1/tasks/{visit}/complete", json={"outcome": "done", "summary": "x"})
        assert wrong.status_code == 409 and "return-visit" in wrong.text
        missing = await http.post(f"/v1/tasks/{visit}/return-visit", json={"reached": True}, headers=WORKER)
        assert missing.status_code == 422 and "satisfaction" in missing.text
        reader = auth_headers(["cases:read"], [GRID_A1], subject="clerk")
        refused = await http.post(
            f"/v1/tasks/{visit}/return-visit", json={"reached": True, "satisfaction": 4}, headers=reader
        )
        assert refused.status_code == 403 and "tasks:work" in refused.text
        colleague = auth_headers(["tasks:work", "cases:read"], [GRID_A1], subject="W002")  # same grid, not theirs
        theirs = await http.post(
            f"/v1/tasks/{visit}/return-visit", json={"reached": True, "satisfaction": 1}, headers=colleague
        )
        assert theirs.status_code == 403 and "assigned to W001" in theirs.text

        answer = {"reached": True, "satisfaction": 4, "comment": "The leak is fixed."}
        ok = await http.post(f"/v1/tasks/{visit}/return-visit", json=answer, headers=WORKER)
        assert ok.status_code == 200, ok.text
        assert (ok.json()["state"], ok.json()["kind"], ok.json()["satisfaction"]) == ("done", "return_visit", 4)
        again = await http.post(f"/v1/tasks/{visit}/return-visit", json=answer, headers=WORKER)
        assert again.status_code == 409

        recorded = [e for e in await events_of(dispatch, case_id) if isinstance(e, ReturnVisitRecorded)]
        assert [(e.task_id, e.reached, e.satisfaction, e.visited_by) for e in recorded] == [(visit, True, 4, "W001")]
        assert (await http.get(f"/v1/cases/{case_id}")).json()["status"] == "closed"

        # a handling task is not answered as a return visit
        other = received(dispatch, "grid.report")
        await handle(dispatch, dispatch_case_on_received, other)
        (task,) = (await http.get(f"/v1/cases/{other.case_id}")).json()["tasks"]
        not_visit = await http.post(
            f"/v1/tasks/{task['task_id']}/return-visit", json={"reached": False}, headers=WORKER
        )
        assert not_visit.status_code == 409 and "not a return visit" in not_visit.text


async def test_a_late_return_visit_escalates_without_reopening_or_raising_the_closed_case(
    tmp_path: Path, kafka_bootstrap: str
) -> None:
    clock = SettableClock(datetime(2026, 11, 25, 8, 0, tzinfo=UTC))
    async with dispatch_app(
        tmp_path, kafka_bootstrap, clock, return_visit_share=1.0, return_visit_due_s=3600, escalation_step_s=3600
    ) as dispatch:
        case_id = await resolved_case(dispatch)
        feedback = CaseFeedbackGiven(case_id=case_id, satisfaction=5, solved=True, given_at=clock())
        await handle(dispatch, close_or_reopen_on_feedback, feedback)
        clock.advance(hours=2)
        await Background(dispatch.runtime, dispatch.dispatcher).scan_timers()
        names = types(await events_of(dispatch, case_id))
        assert "TaskEscalated" in names and "CaseEscalated" not in names
        view = (await dispatch.http.get(f"/v1/cases/{case_id}")).json()
        assert (view["status"], view["level"]) == ("closed", "community")
