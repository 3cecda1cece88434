"""End to end: policing as a real process on the real broker, driven over REST and topics.

An integrator imports the city (PUT /v1/reference), produces a TaskAssigned for policing on
dispatch.tasks.v1 (camera alarms come the same way, as their cases: see
test_alarm_and_grid_roads.py); the police task reaches the grid's room and its on-duty
officer, is accepted, attended and closed, and dispatch's result arrives on
policing.task-results.v1. The public contact card answers for a point.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import ADMIN, Service, auth_headers, produce, read_topic

from govmesh_contracts import Event, TaskAssigned, TaskTarget, encode, envelope_for

pytestmark = pytest.mark.e2e

AUTH = ADMIN
# Two rooms over a 2 x 2 block of grids: room S owns the south row, room N the north row.
CELLS = {"620702002001001": (100.44, 38.92), "620702002001002": (100.45, 38.92)}
CELLS |= {"620702002002001": (100.44, 38.93), "620702002002002": (100.45, 38.93)}
SOUTH, NORTH = "PR-E2E-S", "PR-E2E-N"


def city() -> dict[str, Any]:
    features = [
        {
            "type": "Feature",
            "properties": {"grid_code": code, "name": f"grid {code}"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[x, y], [x + 0.01, y], [x + 0.01, y + 0.01], [x, y + 0.01], [x, y]]],
            },
        }
        for code, (x, y) in CELLS.items()
    ]
    codes = sorted(CELLS)

    def officer(officer_id: str, role: str, on_duty: bool) -> dict[str, Any]:
        return {"officer_id": officer_id, "name": f"name of {officer_id}", "role": role, "on_duty": on_duty}

    rooms = [
        {
            "room_code": SOUTH,
            "name": "south room",
            "county_code": "620702",
            "grid_codes": codes[:2],
            "officers": [officer("S-1", "officer", False), officer("S-2", "officer", True)],
        },
        {
            "room_code": NORTH,
            "name": "north room",
            "county_code": "620702",
            "grid_codes": codes[2:],
            "officers": [officer("N-1", "officer", True), officer("N-2", "auxiliary", True)],
        },
    ]
    return {"grids": {"type": "FeatureCollection", "features": features}, "police_rooms": rooms}


@pytest.fixture(params=["sqlite", "postgres"])
def policing(request: pytest.FixtureRequest, kafka_bootstrap: str, tmp_path: Path) -> Iterator[Service]:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "GOVMESH_DATA_DIR": str(tmp_path),
    }
    if request.param == "postgres":
        env["POLICING_DATABASE_URL"] = request.getfixturevalue("fresh_postgres_url")
    service = Service("policing", env, tmp_path / "policing.log")
    try:
        service.wait_ready()
        yield service
    finally:
        code = service.terminate()
    assert code == -15, "policing must exit on SIGTERM, not be killed"
    log = service.log.read_text()
    assert '"event": "service_stopped"' in log
    assert "name of S-2" not in log, "officers' names must not be logged"


def publish(bootstrap: str, event: Event) -> None:
    record = encode(event, envelope_for(event, source="/govmesh/e2e-integrator"))
    asyncio.run(produce(bootstrap, record.topic, [(record.key, record.value, record.headers)]))


def wait_for_task(url: str, room: str, source_ref: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        for task in httpx.get(f"{url}/v1/rooms/{room}/tasks", headers=AUTH, timeout=5).json():
            if task["source_ref"] == source_ref:
                return dict(task)
        time.sleep(0.3)
    raise AssertionError(f"no task for {source_ref} in room {room} within 60 s")


def test_a_police_task_reaches_the_right_room_and_the_result_reaches_dispatch(
    policing: Service, kafka_bootstrap: str
) -> None:
    url = policing.url
    imported = httpx.put(f"{url}/v1/reference", json=city(), headers=AUTH, timeout=30)
    assert imported.status_code == 200, imported.text
    assert imported.json() == {"grids": 4, "rooms": 2, "officers": 3, "auxiliaries": 1}

    gap = city()
    gap["police_rooms"][1]["grid_codes"] = ["620702002002001"]
    refused = httpx.put(f"{url}/v1/reference", json=gap, headers=AUTH, timeout=30)
    assert refused.status_code == 422
    assert refused.json()["detail"] == "gap: 1 grid(s) covered by no room: 620702002002002"

    point = {"lat": 38.935, "lon": 100.455}
    assert httpx.get(f"{url}/v1/contact-card", params=point, timeout=5).status_code == 401
    kiosk = auth_headers([], subject="resident-portal")  # any credential, no scope
    card = httpx.get(f"{url}/v1/contact-card", params=point, headers=kiosk, timeout=5)
    assert card.status_code == 200, card.text
    assert (card.json()["grid_code"], card.json()["room_code"]) == ("620702002002002", NORTH)
    assert [o["officer_id"] for o in card.json()["community_officers"]] == ["N-1"]

    assigned = TaskAssigned(
        task_id=uuid.uuid4(),
        case_id=uuid.uuid4(),
        case_number="620702-20261125-000099",
        matter_code="public_order",
        target=TaskTarget.POLICING,
        grid_code="620702002001002",
        description="A brawl outside a noodle shop.",
        due_at=datetime.now(UTC) + timedelta(hours=1),
        assigned_at=datetime.now(UTC),
    )
    publish(kafka_bootstrap, assigned)
    task = wait_for_task(url, SOUTH, str(assigned.task_id))
    assert task["officer_id"] == "S-2"  # S-1 is off duty
    for step, body in (("accept", {}), ("on-scene", None), ("mediation", {"result": "civil_dispute"})):
        response = httpx.post(f"{url}/v1/tasks/{task['id']}/{step}", json=body, headers=AUTH, timeout=10)
        assert response.status_code == 200, (step, response.text)

    key = str(assigned.case_id).encode()
    records = wait_for_result(kafka_bootstrap, key)
    (result,) = [json.loads(r.value) for r in records if r.key == key]
    assert (result["task_id"], result["outcome"], result["referral_to"]) == (
        str(assigned.task_id),
        "referred",
        "mediation",
    )
    figures = httpx.get(f"{url}/v1/rooms/{SOUTH}/response-times", headers=AUTH, timeout=5).json()
    assert (figures["tasks"], figures["closed"]) == (1, 1)
    assert figures["median_response_s"] is not None


def wait_for_result(bootstrap: str, key: bytes) -> list[Any]:
    """The records of policing.task-results.v1 once one with this key is there (bounded wait)."""
    deadline = time.monotonic() + 60
    while True:
        records = asyncio.run(read_topic(bootstrap, "policing.task-results.v1", timeout=1))
        if any(r.key == key for r in records) or time.monotonic() > deadline:
            return records
        time.sleep(0.3)
