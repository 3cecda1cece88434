"""Schemathesis against video-bridge's OpenAPI: channels, devices, grids, alarms, evidence, SIP status.
(Malformed SIP itself is fuzzed in services/video-bridge/tests/test_vb_fuzz.py.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fuzz.openapi_fuzz import BACKENDS, database, fuzz, load, operations, stop
from schemathesis.specs.openapi.schemas import OpenApiSchema
from support import ADMIN

from video_bridge.bootstrap import create_app
from video_bridge.settings import VideoBridgeSettings

GRID = "620702001001-G01"
DEVICE, CHANNEL = "62070200001180000001", "62070200001310000001"  # an NVR and its camera (GB/T 28181 ids)


def settings(**values: object) -> VideoBridgeSettings:
    return VideoBridgeSettings(consumers_enabled=False, sip_port=0, **values)  # type: ignore[arg-type]


def seed(session: Any) -> dict[str, str]:
    """One grid and one imported camera in it (known, never registered over SIP)."""
    session.headers.update(ADMIN)
    ring = [[100.44, 38.92], [100.46, 38.92], [100.46, 38.94], [100.44, 38.94], [100.44, 38.92]]
    grids = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"grid_code": GRID},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        ],
    }
    assert session.put("/v1/grids", json=grids).status_code == 200
    channel = {"channel_id": CHANNEL, "device_id": DEVICE, "name": "卡口 1", "lat": 38.93, "lon": 100.45}
    imported = session.post("/v1/channels/import", json=[channel])
    assert imported.status_code == 200, imported.text
    return {"channel_id": CHANNEL, "device_id": DEVICE}


@pytest.fixture(scope="module", params=BACKENDS)
def api(
    request: pytest.FixtureRequest, kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[OpenApiSchema, dict[str, str]]]:
    """The service on one backend (SQLite, PostgreSQL), seeded."""
    data = tmp_path_factory.mktemp("video-bridge")
    with database(request.param, request, data) as url:
        app = create_app(settings(data_dir=data, database_url=url, kafka_bootstrap_servers=kafka_bootstrap))
        yield load(app, seed=seed)
        stop()


@pytest.mark.parametrize("operation", operations(create_app(settings())))
def test_no_input_makes_video_bridge_fail_or_answer_off_its_schema(
    api: tuple[OpenApiSchema, dict[str, str]], operation: str
) -> None:
    schema, known = api
    fuzz(schema, operation, headers=ADMIN, known=known)
