"""Policing in-process on the real broker, on both backends: events in from dispatch and mediation;
results out on policing.task-results.v1 and policing.police-tasks.v1."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import eventually, produce, read_topic

from govmesh_contracts import (
    Event,
    Level,
    Location,
    TaskAssigned,
    TaskEscalated,
    TaskTarget,
    ViolenceRiskFlagged,
    encode,
    envelope_for,
)
from policing.bootstrap import create_app
from policing.settings import PolicingSettings

pytestmark = pytest.mark.integration


@pytest.fixture
async def live(tmp_path: Path, kafka_bootstrap: str, database_url: str, town: Any) -> AsyncIterator[httpx.AsyncClient]:
    settings = PolicingSettings(
        data_dir=tmp_path,
        kafka_bootstrap_servers=kafka_bootstrap,
        database_url=database_url,
        relay_poll_interval_s=0.1,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://policing", headers=town.AUTH) as http:
            imported = await http.put(
                "/v1/reference", json={"grids": town.grids_geojson(), "police_rooms": town.police_rooms()}
            )
            assert imported.status_code == 200, imported.text
            yield http


async def publish(bootstrap: str, event: Event) -> None:
    record = encode(event, envelope_for(event, source="/govmesh/test-integrator"))
    await produce(bootstrap, record.topic, [(record.key, record.value, record.headers)])


async def open_task_of(client: httpx.AsyncClient, room: str, source_ref: str) -> dict[str, Any]:
    found: dict[str, Any] = {}

    async def task_arrived() -> bool:
        for task in (await client.get(f"/v1/rooms/{room}/tasks")).json():
            if task["source_ref"] == source_ref:
                found.update(task)
                return True
        return False

    await eventually(task_arrived, timeout=60)
    return found


@pytest.mark.exercises("dispatch.tasks.v1", "TaskAssigned", "policing")
async def test_a_police_task_from_dispatch_goes_through_to_its_result_on_the_broker(
    live: httpx.AsyncClient, kafka_bootstrap: str, town: Any
) -> None:
    event = TaskAssigned(
        task_id=uuid.uuid4(),
        case_id=uuid.uuid4(),
        case_number="620702-20261125-000042",
        matter_code="safety.hazard",
        target=TaskTarget.POLICING,
        location=Location(lat=town.centre(town.G2)[0], lon=town.centre(town.G2)[1]),  # no grid: located
        description="Gas cylinders stored in a stairwell.",
        due_at=datetime.now(UTC) + timedelta(hours=4),
        assigned_at=datetime.now(UTC),
    )
    await publish(kafka_bootstrap, event)
    task = await open_task_of(live, town.ROOM_A, str(event.task_id))
    assert (task["grid_code"], task["officer_id"]) == (town.G2, "PA-1")

    assert (await live.post(f"/v1/tasks/{task['id']}/accept", json={})).status_code == 200
    assert (await live.post(f"/v1/tasks/{task['id']}/on-scene")).status_code == 200
    closed = await live.post(
        f"/v1/tasks/{task['id']}/close", json={"outcome": "done", "summary": "Cylinders removed with the fire brigade."}
    )
    assert closed.status_code == 200, closed.text

    async def result_published() -> bool:
        records = await read_topic(kafka_bootstrap, "policing.task-results.v1", timeout=1)
        return any(r.key == str(event.case_id).encode() for r in records)

    await eventually(result_published, timeout=60)
    records = await read_topic(kafka_bootstrap, "policing.task-results.v1")
    (result,) = [json.loads(r.value) for r in records if r.key == str(event.case_id).encode()]
    assert (result["task_id"], result["outcome"]) == (str(event.task_id), "done")

    lifecycle = await read_topic(kafka_bootstrap, "policing.police-tasks.v1")
    types = [dict(r.headers)["ce_type"].decode() for r in lifecycle if r.key == task["id"].encode()]
    assert types == [
        "gov.policing.police-task.opened",
        "gov.policing.police-task.accepted",
        "gov.policing.police-task.on-scene",
        "gov.policing.police-task.closed",
    ]
    # Every step names its case: intake puts each on the case's timeline without a join table.
    cases = [json.loads(r.value)["case_id"] for r in lifecycle if r.key == task["id"].encode()]
    assert cases == [str(event.case_id)] * 4


@pytest.mark.exercises("mediation.disputes.v1", "ViolenceRiskFlagged", "policing")
async def test_a_violence_risk_flagged_by_mediation_on_the_broker_opens_an_urgent_task_in_the_grids_room(
    live: httpx.AsyncClient, kafka_bootstrap: str, town: Any
) -> None:
    flag = ViolenceRiskFlagged(
        dispute_id=uuid.uuid4(),
        case_id=uuid.uuid4(),
        grid_code=town.G3,
        risk_level="critical",
        summary="One party threatened the other with a knife.",
        flagged_at=datetime.now(UTC),
    )
    await publish(kafka_bootstrap, flag)
    task = await open_task_of(live, town.ROOM_B, str(flag.dispute_id))
    assert (task["source"], task["grid_code"], task["officer_id"], task["priority"]) == (
        "violence_risk",
        town.G3,
        "PB-2",
        "urgent",
    )
    assert task["case_id"] == str(flag.case_id)

    async def opened_on_the_broker() -> bool:  # the relay publishes after the commit
        lifecycle = await read_topic(kafka_bootstrap, "policing.police-tasks.v1", timeout=1)
        return any(r.key == task["id"].encode() for r in lifecycle)

    await eventually(opened_on_the_broker, timeout=60)
    lifecycle = await read_topic(kafka_bootstrap, "policing.police-tasks.v1")
    opened = [json.loads(r.value) for r in lifecycle if r.key == task["id"].encode()]
    assert [(o["source"], o["source_ref"], o["case_id"]) for o in opened[:1]] == [
        ("violence_risk", str(flag.dispute_id), str(flag.case_id))
    ]


@pytest.mark.exercises("dispatch.tasks.v1", "TaskEscalated", "policing")
async def test_a_task_escalated_on_the_broker_gives_the_police_task_its_new_deadline_and_centre(
    live: httpx.AsyncClient, kafka_bootstrap: str, town: Any
) -> None:
    first_due = datetime.now(UTC) + timedelta(hours=4)
    assigned = TaskAssigned(
        task_id=uuid.uuid4(),
        case_id=uuid.uuid4(),
        case_number="620702-20261125-000043",
        matter_code="public_order",
        target=TaskTarget.POLICING,
        grid_code=town.G2,
        description="A crowd blocks the market gate.",
        due_at=first_due,
        assigned_at=datetime.now(UTC),
    )
    await publish(kafka_bootstrap, assigned)
    task = await open_task_of(live, town.ROOM_A, str(assigned.task_id))
    assert (task["escalated_to"], datetime.fromisoformat(task["due_at"])) == (None, first_due)

    new_due = first_due + timedelta(hours=8)
    await publish(
        kafka_bootstrap,
        TaskEscalated(
            task_id=assigned.task_id,
            case_id=assigned.case_id,
            from_level=Level.COMMUNITY,
            to_level=Level.TOWNSHIP,
            centre_code="C620702001",
            due_at=new_due,
            escalated_at=datetime.now(UTC),
        ),
    )

    async def escalated() -> bool:
        return (await live.get(f"/v1/tasks/{task['id']}")).json()["escalated_to"] == "C620702001"

    await eventually(escalated, timeout=60)
    seen = (await live.get(f"/v1/tasks/{task['id']}")).json()
    assert (datetime.fromisoformat(seen["due_at"]), seen["status"]) == (new_due, task["status"])
