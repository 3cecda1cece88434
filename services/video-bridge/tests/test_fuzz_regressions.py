"""Regressions of what schemathesis found in video-bridge's API (tests/fuzz/test_openapi_video_bridge.py):
no 5xx for bad input, and every refusal is one the OpenAPI document promises."""

from __future__ import annotations

from typing import Any

import pytest
from vb_sip_client import new_ids
from vb_support import Bridge

from govmesh_runtime.problems import Problem


def documented(bridge: Bridge, method: str, path: str) -> dict[str, Any]:
    responses: dict[str, Any] = bridge.app.openapi()["paths"][path][method]["responses"]
    return responses


@pytest.mark.parametrize("bbox", ["0,0,0,.", "1.,2,3,4", "..,1,2,3"])
async def test_a_bbox_that_is_not_four_numbers_is_a_422_not_a_server_error(bridge: Bridge, bbox: str) -> None:
    response = await bridge.http.get("/v1/channels/map", params={"bbox": bbox})  # was 500 (ValueError)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["query", "bbox"]


async def test_a_query_to_a_device_that_is_not_registered_is_a_documented_404_not_a_gateway_timeout(
    bridge: Bridge,
) -> None:
    device_id, _ = new_ids(0)
    for path, body in [("queries", {"cmd_type": "DeviceInfo"}), ("subscriptions", {"kind": "alarm"})]:
        response = await bridge.http.post(f"/v1/devices/{device_id}/{path}", json=body)
        assert response.status_code == 404, response.text  # was 504
        assert "not registered" in Problem.model_validate(response.json()).detail
        assert "404" in documented(bridge, "post", f"/v1/devices/{{device_id}}/{path}")


async def test_unknown_channels_and_devices_are_documented_404s(bridge: Bridge) -> None:
    device_id, [channel_id] = new_ids(1)
    for path, template in [
        (f"/v1/channels/{channel_id}", "/v1/channels/{channel_id}"),
        (f"/v1/devices/{device_id}", "/v1/devices/{device_id}"),
    ]:
        response = await bridge.http.get(path)
        assert response.status_code == 404
        assert "404" in documented(bridge, "get", template)  # was undocumented


@pytest.mark.parametrize(
    ("method", "path", "template", "body", "reason"),
    [
        ("put", "/v1/grids", "/v1/grids", {}, "body: type must be FeatureCollection"),
    ],
)
async def test_a_rule_refusal_is_a_422_whose_body_matches_the_documented_model(
    bridge: Bridge, method: str, path: str, template: str, body: dict[str, Any], reason: str
) -> None:
    """The 422 documented was FastAPI's list of errors; these answer with 'field: reason'."""
    response = await bridge.http.request(method, path, json=body)
    assert response.status_code == 422, response.text
    assert Problem.model_validate(response.json()).detail == reason
    assert documented(bridge, method, template)["422"]["content"]["application/problem+json"]["schema"] == {
        "$ref": "#/components/schemas/Problem"
    }


@pytest.mark.parametrize("path", ["/v1/channels", "/v1/devices", "/v1/alarms"])
async def test_a_cursor_that_was_tampered_with_is_a_422_naming_the_cursor(bridge: Bridge, path: str) -> None:
    for cursor in ("WyI2MjA3MDIiXQ.AAAAAAAAAAAA", "not-a-cursor", "W10." + "A" * 12, "x" * 513):
        response = await bridge.http.get(path, params={"cursor": cursor})
        assert response.status_code == 422, response.text
        assert [e["loc"] for e in response.json()["errors"]] == [["query", "cursor"]]


@pytest.mark.parametrize(("lat", "lon"), [("nan", "100.45"), ("38.93", "inf"), ("91", "100.45"), ("38.93", "-181")])
async def test_a_point_that_is_not_on_earth_is_refused_naming_the_field(bridge: Bridge, lat: str, lon: str) -> None:
    response = await bridge.http.get("/v1/grids/locate", params={"lat": lat, "lon": lon})  # was 200 {"grid_code": null}
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"][-1] == ("lat" if lat != "38.93" else "lon")


async def test_a_nul_character_in_a_path_is_refused(bridge: Bridge) -> None:
    """PostgreSQL cannot store or compare U+0000: on it this was a 500."""
    response = await bridge.http.get("/v1/channels/6207%00")
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["path"]
