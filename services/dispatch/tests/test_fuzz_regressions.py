"""Regressions of what schemathesis found in dispatch's API (tests/fuzz/test_openapi_dispatch.py):
every answer is one the OpenAPI document promises — status, content type and body."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import ADMIN

from dispatch import sample_city
from dispatch.bootstrap import create_app
from dispatch.settings import DispatchSettings
from govmesh_runtime.problems import Problem

UNKNOWN = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
async def http(tmp_path: Path, kafka_bootstrap: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = DispatchSettings(
        data_dir=tmp_path,
        kafka_bootstrap_servers=kafka_bootstrap,
        consumers_enabled=False,
        city_data_dir=str(sample_city.write(tmp_path / "city")),
        timer_scan_interval_s=3600,
        webhook_scan_interval_s=3600,
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
        ("get", "/v1/grids/0", "/v1/grids/{grid_code}", None),
        ("put", "/v1/workers/W999/duty", "/v1/workers/{worker_id}/duty", {"on_duty": False}),
        ("get", f"/v1/cases/{UNKNOWN}", "/v1/cases/{case_id}", None),
        ("get", f"/v1/tasks/{UNKNOWN}", "/v1/tasks/{task_id}", None),
        ("post", f"/v1/tasks/{UNKNOWN}/accept", "/v1/tasks/{task_id}/accept", {}),
        ("get", "/v1/elements/E-0", "/v1/elements/{element_id}", None),
    ],
)
async def test_an_unknown_resource_is_a_documented_404(
    http: httpx.AsyncClient, method: str, path: str, template: str, body: dict[str, Any] | None
) -> None:
    response = await http.request(method, path, json=body)
    assert response.status_code == 404, response.text
    assert Problem.model_validate(response.json()).detail.startswith("no such")
    assert "404" in documented(http, method, template)  # was undocumented


async def test_a_body_that_is_not_json_text_gets_the_documented_400_and_changes_nothing(
    http: httpx.AsyncClient,
) -> None:
    rules = (await http.get("/v1/routing-rules")).json()
    response = await http.put("/v1/routing-rules", content=b"\xff\xfe[", headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert "400" in documented(http, "put", "/v1/routing-rules")  # was undocumented
    assert (await http.get("/v1/routing-rules")).json() == rules


@pytest.mark.parametrize(
    ("path", "template", "reason"),
    [
        ("/v1/grids/locate", "/v1/grids/locate", "give lat and lon, or address"),
        ("/v1/workers", "/v1/workers", "give grid_code or community_code"),
    ],
)
async def test_a_missing_query_gets_a_422_whose_body_matches_the_documented_model(
    http: httpx.AsyncClient, path: str, template: str, reason: str
) -> None:
    """The 422 documented was FastAPI's list of errors; these answer with a message."""
    response = await http.get(path)
    assert response.status_code == 422
    assert Problem.model_validate(response.json()).detail == reason
    assert documented(http, "get", template)["422"]["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }


async def test_the_geojson_export_has_its_content_type_documented(http: httpx.AsyncClient) -> None:
    response = await http.get("/v1/grids/grids.geojson")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/geo+json"
    assert response.json()["type"] == "FeatureCollection"
    assert "application/geo+json" in documented(http, "get", "/v1/grids/grids.geojson")["200"]["content"]


async def test_an_offset_past_the_cap_is_a_422_not_a_database_overflow(http: httpx.AsyncClient) -> None:
    response = await http.get("/v1/board/cases", params={"offset": 2**63})  # was 500 (int too large for SQLite)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["query", "offset"]


async def test_a_grid_count_too_large_for_the_database_is_refused_naming_the_field(http: httpx.AsyncClient) -> None:
    ring = [[100.40, 38.90], [100.41, 38.90], [100.41, 38.91], [100.40, 38.91], [100.40, 38.90]]
    properties = {
        "grid_code": "620702001001001",
        "name": "Grid 01001",
        "community_code": "620702001001",
        "township_code": "620702001",
        "county_code": "620702",
        "function": "residential",
        "households": 2**63,
        "population": 1000,
    }
    feature = {"type": "Feature", "properties": properties, "geometry": {"type": "Polygon", "coordinates": [ring]}}
    before = (await http.get("/v1/grids/620702001001001")).json()
    response = await http.post("/v1/grids/import", json={"type": "FeatureCollection", "features": [feature]})
    assert response.status_code == 422, response.text  # was 500 (int too large for the database)
    assert "properties.households" in response.json()["errors"][0]["msg"]
    assert (await http.get("/v1/grids/620702001001001")).json() == before


async def test_text_with_a_nul_character_is_refused(http: httpx.AsyncClient) -> None:
    """PostgreSQL cannot store U+0000: on it this was a 500."""
    response = await http.put("/v1/workers/W001/duty", json={"on_duty": False, "note": "a\x00b"})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body"]
    assert [w["on_duty"] for w in (await http.get("/v1/workers", params={"grid_code": "620702001001001"})).json()] == [
        True
    ]
