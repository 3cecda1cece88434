"""Schemathesis against dispatch's OpenAPI: grids, workers, centres, tasks, board, elements."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fuzz.openapi_fuzz import BACKENDS, database, fuzz, in_app_loop, load, operations, stop
from schemathesis.specs.openapi.schemas import OpenApiSchema
from support import ADMIN

from dispatch import sample_city
from dispatch.bootstrap import create_app
from dispatch.handlers import dispatch_case_on_received
from dispatch.settings import DispatchSettings
from govmesh_contracts import CaseReceived, Location

GRID, WORKER = "620702001001001", "W001"  # the sample city's first grid and its grid worker


def settings(**values: object) -> DispatchSettings:
    return DispatchSettings(  # type: ignore[arg-type]
        consumers_enabled=False, timer_scan_interval_s=3600, webhook_scan_interval_s=3600, **values
    )


def seeder(app: FastAPI) -> Any:
    def seed(session: Any) -> dict[str, str]:
        """A case dispatched to the sample city's first grid (its task goes to the grid worker)."""
        lat, lon = sample_city.centre_point(GRID)
        case_id = uuid.uuid4()
        event = CaseReceived(
            case_id=case_id,
            case_number="620702-20261125-000001",
            matter_code="dispute.neighbour",
            channel="api",
            description="Water leaks from the flat above.",
            received_at=datetime.now(UTC),
            location=Location(lat=lat, lon=lon),
        )

        async def dispatch_case() -> None:
            async with app.state.runtime.uow() as uow:
                await dispatch_case_on_received(event, uow, dispatcher=app.state.dispatcher)
                await uow.commit()

        in_app_loop(dispatch_case)
        [task] = [
            t
            for t in session.get("/v1/tasks", params={"assignee": WORKER}, headers=ADMIN).json()
            if t["case_id"] == str(case_id)
        ]
        return {
            "case_id": str(case_id),
            "task_id": task["task_id"],
            "grid_code": GRID,
            "worker_id": WORKER,
            "centre_code": sample_city.CENTRES["community"],
        }

    return seed


@pytest.fixture(scope="module", params=BACKENDS)
def api(
    request: pytest.FixtureRequest, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[OpenApiSchema, dict[str, str]]]:
    """The service on one backend (SQLite, PostgreSQL), seeded."""
    data = tmp_path_factory.mktemp("dispatch")
    city = sample_city.write(data / "city")
    with database(request.param, request, data) as url:
        app = create_app(
            settings(data_dir=data, database_url=url, kafka_bootstrap_servers=kafka_bootstrap, city_data_dir=str(city))
        )
        yield load(app, seed=seeder(app))
        stop()


@pytest.mark.parametrize("operation", operations(create_app(settings())))
def test_no_input_makes_dispatch_fail_or_answer_off_its_schema(
    api: tuple[OpenApiSchema, dict[str, str]], operation: str
) -> None:
    schema, known = api
    fuzz(schema, operation, headers=ADMIN, known=known)  # a valid token: the fuzzing reaches the endpoints
