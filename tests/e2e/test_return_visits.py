"""End to end on the real broker: a case nobody answers closes without feedback, and its
return visit's answer reaches the resident-facing case (回访).

Intake and dispatch run in-process with their consumers and outbox relays on the real
Kafka (dispatch on PostgreSQL, intake on SQLite); dispatch's clock is one the test moves,
so a week's feedback window passes without waiting on real time."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from support import ADMIN, auth_headers, eventually

from dispatch import sample_city
from dispatch.bootstrap import create_app as create_dispatch
from dispatch.handlers import close_without_feedback
from dispatch.settings import DispatchSettings
from govmesh_kit.clock import SettableClock
from intake.bootstrap import create_app as create_intake
from intake.settings import IntakeSettings

pytestmark = pytest.mark.e2e

GRID = "620702001001001"
WORKER = auth_headers(["tasks:work", "cases:read"], [GRID], subject="W001")


@dataclass
class Mesh:
    intake: httpx.AsyncClient
    dispatch: httpx.AsyncClient
    dispatch_app: FastAPI
    clock: SettableClock

    async def scan_feedback_window(self) -> int:
        """One scan of the feedback-window timer (the service's own loop waits an hour between scans)."""
        state = self.dispatch_app.state
        async with state.runtime.uow() as uow:
            closed = await close_without_feedback(uow, dispatcher=state.dispatcher)
            await uow.commit()
        return closed


async def _client(stack: AsyncExitStack, app: FastAPI, name: str) -> httpx.AsyncClient:
    await stack.enter_async_context(app.router.lifespan_context(app))
    transport = httpx.ASGITransport(app=app)
    return await stack.enter_async_context(
        httpx.AsyncClient(transport=transport, base_url=f"http://{name}", headers=ADMIN)
    )


@pytest.fixture
async def mesh(kafka_bootstrap: str, fresh_postgres_url: str, tmp_path: Path) -> AsyncIterator[Mesh]:
    clock = SettableClock()
    dispatch_app = create_dispatch(
        DispatchSettings(
            data_dir=tmp_path,
            database_url=fresh_postgres_url,
            kafka_bootstrap_servers=kafka_bootstrap,
            city_data_dir=str(sample_city.write(tmp_path / "city")),
            timer_scan_interval_s=3600,  # the test scans when it has moved the clock
            return_visit_share=1.0,
        ),
        clock=clock,
    )
    intake_app = create_intake(IntakeSettings(data_dir=tmp_path, kafka_bootstrap_servers=kafka_bootstrap))
    async with AsyncExitStack() as stack:
        dispatch = await _client(stack, dispatch_app, "dispatch")
        intake = await _client(stack, intake_app, "intake")
        yield Mesh(intake, dispatch, dispatch_app, clock)


async def _until(check: Any, timeout: float = 60) -> None:
    await eventually(check, timeout=timeout, interval=0.3)


@pytest.mark.exercises("dispatch.cases.v1", "gov.dispatch.case.return-visit-recorded", "intake")
async def test_an_unanswered_case_closes_without_feedback_and_its_return_visit_reaches_the_case(mesh: Mesh) -> None:
    lat, lon = sample_city.centre_point(GRID)
    report = {
        "matter_code": "grid.report",
        "description": f"Broken street light ({uuid.uuid4().hex[:6]}).",
        "lat": lat,
        "lon": lon,
        "attributes": {"element_category": "things"},
        "reporter": {"name": "王五", "phone": "13812345678"},
    }
    created = await mesh.intake.post("/v1/cases", json=report)
    assert created.status_code == 201, created.text
    case_id = created.json()["id"]
    tasks: list[dict[str, Any]] = []

    async def dispatched() -> bool:
        nonlocal tasks
        response = await mesh.dispatch.get(f"/v1/cases/{case_id}")
        tasks = response.json()["tasks"] if response.status_code == 200 else []
        return len(tasks) == 1

    await _until(dispatched)
    done = await mesh.dispatch.post(
        f"/v1/tasks/{tasks[0]['task_id']}/complete", json={"outcome": "done", "summary": "Light replaced."}
    )
    assert done.status_code == 200, done.text

    async def intake_case() -> dict[str, Any]:
        case: dict[str, Any] = (await mesh.intake.get(f"/v1/cases/{case_id}")).json()
        return case

    async def resolved() -> bool:
        return (await intake_case())["status"] == "resolved"

    await _until(resolved)
    mesh.clock.advance(days=7, seconds=1)  # the resident said nothing for a week
    assert await mesh.scan_feedback_window() == 1

    async def closed_with_a_visit_planned() -> bool:
        case = await intake_case()
        return case["status"] == "closed" and "return_visit_assigned" in [s["kind"] for s in case["timeline"]]

    await _until(closed_with_a_visit_planned)
    case = await intake_case()
    assert case["closed_without_feedback"] is True
    [closed] = [s for s in case["timeline"] if s["kind"] == "closed"]
    assert "without feedback" in closed["note"]
    late = await mesh.intake.post(f"/v1/cases/{case_id}/feedback", json={"satisfaction": 2, "solved": False})
    assert late.status_code == 409, late.text  # the window is over

    visit = [
        t for t in (await mesh.dispatch.get(f"/v1/cases/{case_id}")).json()["tasks"] if t["kind"] == "return_visit"
    ]
    assert [(t["assignee"], t["state"]) for t in visit] == [("W001", "assigned")]
    answer = {"reached": True, "satisfaction": 4, "comment": "Light works again."}
    answered = await mesh.dispatch.post(f"/v1/tasks/{visit[0]['task_id']}/return-visit", json=answer, headers=WORKER)
    assert answered.status_code == 200, answered.text

    async def visit_recorded() -> bool:
        return (await intake_case())["return_visit_satisfaction"] == 4

    await _until(visit_recorded)
    case = await intake_case()
    assert (case["status"], case["satisfaction"]) == ("closed", None)  # the resident's own rating stays unset
    [step] = [s for s in case["timeline"] if s["kind"] == "return_visit"]
    assert (step["actor"], step["note"]) == ("W001", "resident reached; satisfaction 4/5: Light works again.")


@pytest.mark.exercises("intake.cases.v1", "CasePersonalDataErased", "dispatch")
async def test_an_erasure_at_intake_reaches_dispatchs_copy_over_the_broker(mesh: Mesh) -> None:
    """Issue 14 item 9: a resident's personal data erased at intake is erased from the copy
    dispatch keeps (description, address), through CasePersonalDataErased on the real broker."""
    from dispatch.adapters.tables import DispatchCaseRow

    lat, lon = sample_city.centre_point(GRID)
    report = {
        "matter_code": "grid.report",
        "description": f"楼上漏水，联系人张三 13812345678 ({uuid.uuid4().hex[:6]})",
        "address": "县府街12号3单元",
        "lat": lat,
        "lon": lon,
        "attributes": {"element_category": "things"},
        "reporter": {"name": "张三", "phone": "13812345678"},
    }
    created = await mesh.intake.post("/v1/cases", json=report)
    assert created.status_code == 201, created.text
    case_id = uuid.UUID(created.json()["id"])

    async def dispatch_copy() -> DispatchCaseRow | None:
        async with mesh.dispatch_app.state.runtime.db.sessions() as session:
            row: DispatchCaseRow | None = await session.get(DispatchCaseRow, case_id)
            return row

    async def copied() -> bool:
        row = await dispatch_copy()
        return row is not None and "13812345678" in (row.description or "")

    await _until(copied)
    erased = await mesh.intake.post(f"/v1/cases/{case_id}/erasure", json={"reason": "resident's request 2026-12-03"})
    assert erased.status_code == 200, erased.text

    async def copy_erased() -> bool:
        row = await dispatch_copy()
        return row is not None and row.address is None and "13812345678" not in (row.description or "")

    await _until(copy_erased)
    row = await dispatch_copy()
    assert row is not None and row.description == "[erased at the resident's request]"
