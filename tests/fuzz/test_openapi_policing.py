"""Schemathesis against policing's OpenAPI: rooms, rosters, shifts, tasks, patrols, key persons."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fuzz.openapi_fuzz import BACKENDS, database, fuzz, in_app_loop, load, operations, stop
from schemathesis.specs.openapi.schemas import OpenApiSchema
from support import ADMIN

from govmesh_contracts import TaskAssigned, TaskTarget
from policing import handlers
from policing.bootstrap import create_app
from policing.settings import PolicingSettings

AUTH = ADMIN
GRID = "620702001001001"
ROOM = "PR-620702001-A"


def settings(**values: object) -> PolicingSettings:
    return PolicingSettings(consumers_enabled=False, **values)  # type: ignore[arg-type]


def seeder(app: FastAPI) -> Any:
    def seed(session: Any) -> dict[str, str]:
        """One grid, its police room, a shift and a task, so the fuzzing also reaches real ones."""
        reference(session)
        now = datetime.now(UTC)
        shift = {"officer_id": "PA-1", "starts_at": now.isoformat(), "ends_at": (now + timedelta(hours=8)).isoformat()}
        shifts = session.post(f"/v1/rooms/{ROOM}/shifts", json={"shifts": [shift]}, headers=AUTH)
        assert shifts.status_code == 201, shifts.text
        task_id = uuid.uuid4()
        event = TaskAssigned(
            task_id=task_id,
            case_id=uuid.uuid4(),
            case_number="620702-20261125-000001",
            matter_code="public_order",
            target=TaskTarget.POLICING,
            grid_code=GRID,
            description="Drunk men quarrelling outside a shop.",
            due_at=now + timedelta(hours=2),
            assigned_at=now,
        )

        async def open_task() -> None:
            async with app.state.runtime.uow() as uow:
                await handlers.open_task_on_task_assigned(event, uow, grids=app.state.grid_cache)
                await uow.commit()

        in_app_loop(open_task)
        [task] = [t for t in session.get("/v1/tasks", headers=AUTH).json() if t["source_ref"] == str(task_id)]
        return {"room_code": ROOM, "shift_id": shifts.json()[0]["id"], "task_id": task["id"]}

    return seed


def reference(session: Any) -> None:
    ring = [[100.44, 38.92], [100.45, 38.92], [100.45, 38.93], [100.44, 38.93], [100.44, 38.92]]
    grid = {
        "type": "Feature",
        "properties": {"grid_code": GRID, "name": "县府街第一网格", "county_code": GRID[:6]},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }
    room = {
        "room_code": ROOM,
        "name": "县府街社区警务室",
        "county_code": GRID[:6],
        "grid_codes": [GRID],
        "officers": [{"officer_id": "PA-1", "name": "张警官", "role": "officer", "on_duty": True}],
    }
    body = {"grids": {"type": "FeatureCollection", "features": [grid]}, "police_rooms": [room]}
    response = session.put("/v1/reference", json=body, headers=AUTH)
    assert response.status_code == 200, response.text


@pytest.fixture(scope="module", params=BACKENDS)
def api(
    request: pytest.FixtureRequest, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[OpenApiSchema, dict[str, str]]]:
    """The service on one backend (SQLite, PostgreSQL), seeded."""
    data = tmp_path_factory.mktemp("policing")
    with database(request.param, request, data) as url:
        app = create_app(settings(data_dir=data, database_url=url, kafka_bootstrap_servers=kafka_bootstrap))
        yield load(app, seed=seeder(app))
        stop()


@pytest.mark.parametrize("operation", operations(create_app(settings())))
def test_no_input_makes_policing_fail_or_answer_off_its_schema(
    api: tuple[OpenApiSchema, dict[str, str]], operation: str
) -> None:
    schema, known = api
    fuzz(schema, operation, headers=AUTH, known=known)
