"""Regressions of what schemathesis found in policing's API (tests/fuzz/test_openapi_policing.py):
every refusal is one the OpenAPI document promises, with the documented body."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from support import auth_headers

from govmesh_runtime.problems import Problem


def documented(client: httpx.AsyncClient, method: str, path: str) -> dict[str, Any]:
    responses: dict[str, Any] = client.app.openapi()["paths"][path][method]["responses"]  # type: ignore[attr-defined]
    return responses


@pytest.mark.parametrize(
    ("headers", "status", "reason"),
    [
        ({"Authorization": ""}, 401, "credential required"),
        ({"Authorization": "Bearer not-a-token"}, 401, "invalid token"),
        (auth_headers(["cases:read", "grid:read"]), 403, "scope 'policing' is required"),
    ],
)
async def test_a_request_without_the_policing_scope_gets_a_documented_refusal(
    client: httpx.AsyncClient, headers: dict[str, str], status: int, reason: str
) -> None:
    for method, path, template in [
        ("get", "/v1/rooms", "/v1/rooms"),
        ("put", "/v1/reference", "/v1/reference"),
        ("get", "/v1/tasks", "/v1/tasks"),
    ]:
        response = await client.request(method, path, headers=headers, json={})
        assert response.status_code == status, (path, response.text)
        assert reason in Problem.model_validate(response.json()).detail
        assert str(status) in documented(client, method, template)  # was undocumented


async def test_an_unknown_room_or_task_is_a_documented_404(client: httpx.AsyncClient) -> None:
    for path, template in [
        ("/v1/rooms/PR-NOWHERE", "/v1/rooms/{room_code}"),
        ("/v1/rooms/PR-NOWHERE/roster", "/v1/rooms/{room_code}/roster"),
        ("/v1/tasks/00000000-0000-0000-0000-000000000000", "/v1/tasks/{task_id}"),
    ]:
        response = await client.get(path)
        assert response.status_code == 404, response.text
        assert "not found" in Problem.model_validate(response.json()).detail
        assert "404" in documented(client, "get", template)


async def test_a_body_that_is_not_json_text_gets_the_documented_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/rooms/PR-620702001-A/patrols", content=b"\xff\xfe{", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "400" in documented(client, "post", "/v1/rooms/{room_code}/patrols")


async def test_text_with_a_nul_character_is_refused_and_nothing_is_written(client: httpx.AsyncClient) -> None:
    """PostgreSQL cannot store U+0000: on it this was a 500."""
    place = {"name": "网吧\x00", "category": "internet_cafe", "grid_code": "620702001001001"}
    response = await client.post("/v1/rooms/PR-620702001-A/key-places", json=place)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body"]
    assert (await client.get("/v1/rooms/PR-620702001-A/key-places")).json() == []
