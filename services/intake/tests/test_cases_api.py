"""Component tests: intake in-process (ASGI), its own SQLite database, the real test broker."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import col, select

from govmesh_runtime.tables import OutboxMessage
from intake.bootstrap import create_app
from intake.settings import IntakeSettings


@pytest.fixture
async def client(tmp_path: Path, kafka_bootstrap: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = IntakeSettings(data_dir=tmp_path, kafka_bootstrap_servers=kafka_bootstrap, consumers_enabled=False)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as http:
            http.app = app  # type: ignore[attr-defined]
            yield http


CASE = {"matter_code": "dispute.neighbour", "description": "Water leaks from above.", "lat": 38.93, "lon": 100.45}


async def test_create_case_returns_the_case_with_number_location_and_timeline(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/cases", json=CASE)
    assert response.status_code == 201, response.text
    case = response.json()
    assert re.fullmatch(r"620702-\d{8}-\d{6}", case["case_number"])
    assert case["status"] == "received"
    assert case["channel"] == "api"
    assert response.headers["location"].endswith(f"/v1/cases/{case['id']}")
    assert [step["kind"] for step in case["timeline"]] == ["received"]
    again = await client.get(f"/v1/cases/{case['id']}")
    assert again.status_code == 200
    assert again.json()["case_number"] == case["case_number"]


async def test_each_case_gets_a_new_number_and_one_outbox_event(client: httpx.AsyncClient) -> None:
    first = (await client.post("/v1/cases", json=CASE)).json()
    second = (await client.post("/v1/cases", json=CASE)).json()
    assert first["case_number"] < second["case_number"]
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    async with runtime.db.sessions() as session:
        keys = (
            await session.exec(select(OutboxMessage.key).where(col(OutboxMessage.key).in_([first["id"], second["id"]])))
        ).all()
    assert sorted(keys) == sorted([first["id"], second["id"]])


async def test_a_retried_post_with_the_same_idempotency_key_makes_one_case(client: httpx.AsyncClient) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = await client.post("/v1/cases", json=CASE, headers=key)
    retry = await client.post("/v1/cases", json=CASE, headers=key)
    assert (first.status_code, retry.status_code) == (201, 200)
    assert first.json()["id"] == retry.json()["id"]
    other = await client.post("/v1/cases", json={**CASE, "description": "something else"}, headers=key)
    assert other.status_code == 409
    assert "Idempotency-Key" in other.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({**CASE, "description": ""}, "description", "at least 1 character"),
        ({k: v for k, v in CASE.items() if k != "matter_code"}, "matter_code", "Field required"),
        ({**CASE, "lat": 91}, "lat", "less than or equal to 90"),
        ({**CASE, "channel": "pigeon"}, "channel", "Input should be"),
        ({**CASE, "unknown": 1}, "unknown", "Extra inputs are not permitted"),
        ({"matter_code": "x", "description": "y", "lat": 38.9}, "body", "lat and lon must be given together"),
        ({"matter_code": "x", "description": "y"}, "body", "a location is required"),
    ],
)
async def test_a_bad_field_is_named_with_its_reason_and_nothing_is_written(
    client: httpx.AsyncClient, body: dict[str, object], field: str, reason: str
) -> None:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    async with runtime.db.sessions() as session:
        before = len((await session.exec(select(OutboxMessage.id))).all())
    response = await client.post("/v1/cases", json=body)
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert any(error["loc"][-1] == field and reason in error["msg"] for error in errors), errors
    async with runtime.db.sessions() as session:
        assert len((await session.exec(select(OutboxMessage.id))).all()) == before


async def test_unknown_case_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/v1/cases/{uuid.uuid4()}")
    assert response.status_code == 404
    assert "not found" in response.json()["detail"]


async def test_health_and_metrics_answer(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    await client.post("/v1/cases", json=CASE)
    metrics = (await client.get("/metrics")).text
    assert 'govmesh_http_requests_total{method="POST",route="/v1/cases",status="201"}' in metrics
