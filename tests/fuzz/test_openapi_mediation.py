"""Schemathesis against mediation's OpenAPI: disputes, parties, sessions, registry, window, reports."""

from __future__ import annotations

import json
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
from mediation.bootstrap import create_app
from mediation.entrypoints.seed import SAMPLE
from mediation.handlers import open_dispute_on_task_assigned
from mediation.settings import MediationSettings

GRID = "620702001001003"  # in 县府街 community, the sample studio's area


def settings(**values: object) -> MediationSettings:
    return MediationSettings(consumers_enabled=False, sweep_interval_s=3600, **values)  # type: ignore[arg-type]


def seeder(app: FastAPI) -> Any:
    def seed(session: Any) -> dict[str, str]:
        """The sample studios and mediators, a dispute with a party and a session, a window
        request: the fuzzing then also reaches real ones."""
        session.headers.update(ADMIN)
        seeded = session.post("/v1/seed", json=json.loads(SAMPLE.read_text(encoding="utf-8")))
        assert seeded.status_code == 200, seeded.text
        now = datetime.now(UTC)
        task_id = uuid.uuid4()
        event = TaskAssigned(
            task_id=task_id,
            case_id=uuid.uuid4(),
            case_number="620702-20261125-000001",
            matter_code="dispute.neighbour",
            target=TaskTarget.MEDIATION,
            grid_code=GRID,
            description="Water leaks from the flat above; the neighbours quarrel.",
            due_at=now + timedelta(days=15),
            assigned_at=now,
        )

        async def open_dispute() -> None:
            async with app.state.runtime.uow() as uow:
                await open_dispute_on_task_assigned(event, uow, now=now)
                await uow.commit()

        in_app_loop(open_dispute)
        [dispute] = [d for d in session.get("/v1/disputes").json() if d["task_id"] == str(task_id)]
        dispute_id = dispute["dispute_id"]
        party = session.post(f"/v1/disputes/{dispute_id}/parties", json={"role": "applicant", "name": "张三"})
        assert party.status_code == 201, party.text
        starts = now + timedelta(days=1)
        slot = {"starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=1)).isoformat(), "room": "room 1"}
        mediation_session = session.post(f"/v1/disputes/{dispute_id}/sessions", json=slot)
        assert mediation_session.status_code == 201, mediation_session.text
        window = session.post("/v1/window-requests", json={"kind": "legal_aid", "topic": "工资拖欠"})
        assert window.status_code == 201, window.text
        return {
            "dispute_id": dispute_id,
            "party_id": party.json()["id"],
            "session_id": mediation_session.json()["id"],
            "request_id": window.json()["id"],
            "studio_id": "ST-620702001001",
            "mediator_id": "M-0001",
        }

    return seed


@pytest.fixture(scope="module", params=BACKENDS)
def api(
    request: pytest.FixtureRequest, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[OpenApiSchema, dict[str, str]]]:
    """The service on one backend (SQLite, PostgreSQL), seeded."""
    data = tmp_path_factory.mktemp("mediation")
    with database(request.param, request, data) as url:
        app = create_app(settings(data_dir=data, database_url=url, kafka_bootstrap_servers=kafka_bootstrap))
        yield load(app, seed=seeder(app))
        stop()


@pytest.mark.parametrize("operation", operations(create_app(settings())))
def test_no_input_makes_mediation_fail_or_answer_off_its_schema(
    api: tuple[OpenApiSchema, dict[str, str]], operation: str
) -> None:
    schema, known = api
    fuzz(schema, operation, headers=ADMIN, known=known)
