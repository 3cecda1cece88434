"""Regressions of what schemathesis found in intake's API (tests/fuzz/test_openapi_intake.py):
every answer is one the OpenAPI document promises."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

NOT_UTF8 = b"\xff\xfe{"  # not UTF-8, so not JSON text at all


def documented(client: httpx.AsyncClient, method: str, path: str) -> dict[str, Any]:
    responses: dict[str, Any] = client.app.openapi()["paths"][path][method]["responses"]  # type: ignore[attr-defined]
    return responses


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/v1/cases", "/v1/cases"),
        ("/v1/cases/00000000-0000-0000-0000-000000000000/feedback", "/v1/cases/{case_id}/feedback"),
    ],
)
async def test_a_body_that_is_not_json_text_gets_the_documented_400_and_writes_nothing(
    client: httpx.AsyncClient, path: str, template: str
) -> None:
    before = (await client.get("/v1/cases")).json()
    response = await client.post(path, content=NOT_UTF8, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == "There was an error parsing the body"
    assert "400" in documented(client, "post", template)  # was undocumented
    assert (await client.get("/v1/cases")).json() == before


async def test_text_with_a_nul_character_is_refused_naming_where_and_nothing_is_written(
    client: httpx.AsyncClient,
) -> None:
    """PostgreSQL cannot store U+0000: on it these were 500s."""
    before = (await client.get("/v1/cases")).json()
    body = {"matter_code": "dispute.neighbour", "description": "Water\x00leaks.", "lat": 38.93, "lon": 100.45}
    created = await client.post("/v1/cases", json=body)
    searched = await client.get("/v1/cases", params={"q": "a\x00b"})
    for response, where in [(created, "body"), (searched, "query")]:
        assert response.status_code == 422, response.text
        assert response.json()["errors"] == [
            {"loc": [where], "msg": "NUL characters (U+0000) are not allowed in text", "type": "nul_text"}
            | ({"pointer": "#"} if where == "body" else {})  # the whole body (RFC 6901)
        ]
    assert (await client.get("/v1/cases")).json() == before
