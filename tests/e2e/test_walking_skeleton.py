"""End to end: intake and dispatch as real processes on the real broker, driven over REST.

POST a case to intake → outbox → intake.cases.v1 → dispatch records it and publishes
CaseDispatched → intake's timeline shows the case dispatched.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support import ADMIN, Service

pytestmark = pytest.mark.e2e


@pytest.fixture(params=["sqlite", "postgres"])
def mesh(request: pytest.FixtureRequest, kafka_bootstrap: str, tmp_path: Path) -> Iterator[dict[str, Service]]:
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "GOVMESH_DATA_DIR": str(tmp_path)}
    if request.param == "postgres":
        # one fresh database per service: services never share a database
        env["INTAKE_DATABASE_URL"] = request.getfixturevalue("fresh_postgres_url")
        env["DISPATCH_DATABASE_URL"] = _another_database(request)
    services = {name: Service(name, env, tmp_path / f"{name}.log") for name in ("intake", "dispatch")}
    try:
        for service in services.values():
            service.wait_ready()
        yield services
    finally:
        codes = {name: s.terminate() for name, s in services.items()}
    # uvicorn shuts down gracefully, then re-raises SIGTERM, so the exit status is -15.
    assert codes == {"intake": -15, "dispatch": -15}, "services must exit on SIGTERM, not be killed"
    for service in services.values():
        assert '"event": "service_stopped"' in service.log.read_text(), f"{service.package} did not shut down cleanly"


def _another_database(request: pytest.FixtureRequest) -> str:
    import uuid

    import psycopg

    server: str = request.getfixturevalue("postgres_server")
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


def test_a_posted_case_shows_up_dispatched(mesh: dict[str, Service]) -> None:
    intake, dispatch = mesh["intake"].url, mesh["dispatch"].url
    created = httpx.post(
        intake + "/v1/cases",
        json={
            "matter_code": "dispute.neighbour",
            "description": "Water leaks.",
            "lat": 38.93,
            "lon": 100.45,
            "attributes": {"parties_count": 2},
        },
        headers={**ADMIN, "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
        timeout=10,
    )
    assert created.status_code == 201, created.text
    case = created.json()
    assert case["status"] == "received"

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        case = httpx.get(f"{intake}/v1/cases/{case['id']}", headers=ADMIN, timeout=5).json()
        if "dispatched" in [step["kind"] for step in case["timeline"]]:
            break
        time.sleep(0.2)
    kinds = [step["kind"] for step in case["timeline"]]
    assert kinds[:2] == ["received", "dispatched"], case
    # Dispatch also hands out the case's tasks at once, so the case may already be in progress.
    assert case["status"] in ("dispatched", "in_progress"), case
    assert case["handled_by"] is not None

    seen = httpx.get(f"{dispatch}/v1/cases/{case['id']}", headers=ADMIN, timeout=5)
    assert seen.status_code == 200
    assert seen.json()["case_number"] == case["case_number"]

    # The trace id of the POST is in the logs of both services.
    trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    for service in mesh.values():
        assert trace in service.log.read_text(), f"trace id missing from {service.package}'s log"
