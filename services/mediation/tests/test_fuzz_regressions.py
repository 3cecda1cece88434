"""Regressions of what schemathesis found in mediation's API (tests/fuzz/test_openapi_mediation.py):
every refusal is one the OpenAPI document promises, with the documented body."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import ADMIN

from govmesh_runtime.problems import Problem
from mediation.bootstrap import create_app
from mediation.settings import MediationSettings

UNKNOWN = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
async def http(tmp_path: Path, kafka_bootstrap: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = MediationSettings(
        data_dir=tmp_path, kafka_bootstrap_servers=kafka_bootstrap, consumers_enabled=False, sweep_interval_s=3600
    )
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://x", headers=ADMIN) as client,
    ):
        client.app = app  # type: ignore[attr-defined]
        yield client


def documented(client: httpx.AsyncClient, method: str, path: str) -> dict[str, Any]:
    responses: dict[str, Any] = client.app.openapi()["paths"][path][method]["responses"]  # type: ignore[attr-defined]
    return responses


@pytest.mark.parametrize(
    ("method", "path", "template", "body"),
    [
        ("get", f"/v1/disputes/{UNKNOWN}", "/v1/disputes/{dispute_id}", None),
        ("patch", f"/v1/disputes/{UNKNOWN}", "/v1/disputes/{dispute_id}", {}),
        ("post", f"/v1/disputes/{UNKNOWN}/withdrawal", "/v1/disputes/{dispute_id}/withdrawal", {"reason": "x"}),
        (
            "post",
            f"/v1/disputes/{UNKNOWN}/judicial-confirmation",
            "/v1/disputes/{dispute_id}/judicial-confirmation",
            None,
        ),
        ("post", f"/v1/sessions/{UNKNOWN}/cancel", "/v1/sessions/{session_id}/cancel", {"reason": "x"}),
        (
            "post",
            f"/v1/window-requests/{UNKNOWN}/completion",
            "/v1/window-requests/{request_id}/completion",
            {"outcome": "done"},
        ),
    ],
)
async def test_an_unknown_dispute_session_or_request_is_a_documented_404(
    http: httpx.AsyncClient, method: str, path: str, template: str, body: dict[str, Any] | None
) -> None:
    response = await http.request(method, path, json=body)
    assert response.status_code == 404, response.text
    assert "not found" in Problem.model_validate(response.json()).detail
    assert "404" in documented(http, method, template)  # was undocumented


async def test_a_body_that_is_not_json_text_gets_the_documented_400_and_writes_nothing(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post(
        "/v1/window-requests", content=b"\xff\xfe{", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "400" in documented(http, "post", "/v1/window-requests")  # was undocumented
    assert (await http.get("/v1/window-requests")).json() == []


async def test_an_offset_past_the_cap_is_a_422_not_a_database_overflow(http: httpx.AsyncClient) -> None:
    response = await http.get("/v1/disputes", params={"offset": 2**63})  # was 500 (int too large for SQLite)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["query", "offset"]


async def test_text_with_a_nul_character_is_refused_and_nothing_is_written(http: httpx.AsyncClient) -> None:
    """PostgreSQL cannot store U+0000: on it this was a 500."""
    response = await http.post("/v1/window-requests", json={"kind": "legal_aid", "topic": "工资\x00拖欠"})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body"]
    assert (await http.get("/v1/window-requests")).json() == []
