"""Grid imports check geometry and need `grid:import`: dispatch in-process on the sample city
(four 0.01° squares in a row from lon 100.40, lat 38.90)."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import ADMIN, auth_headers

from dispatch import sample_city
from dispatch.bootstrap import create_app
from dispatch.cli import main as cli
from dispatch.settings import DispatchSettings

GRID_A1, GRID_A2 = "620702001001001", "620702001001002"
# A grid worker with every registry scope a worker may get, bound to their grid.
WORKER_A1 = auth_headers(["grid:read", "grid:write", "cases:read", "cases:create"], [GRID_A1], subject="worker-a1")
CITY_ADMIN = auth_headers(["grid:read", "grid:import"], subject="city-administrator")


def _grids() -> dict[str, Any]:
    return copy.deepcopy(sample_city.documents()["grids.geojson"])


def _feature(code: str) -> dict[str, Any]:
    (feature,) = [f for f in _grids()["features"] if f["properties"]["grid_code"] == code]
    return dict(feature)


def _box(west: float, south: float, east: float, north: float) -> dict[str, Any]:
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def _settings(tmp_path: Path, kafka: str, **kwargs: Any) -> DispatchSettings:
    return DispatchSettings(
        data_dir=tmp_path,
        kafka_bootstrap_servers=kafka,
        consumers_enabled=False,
        city_data_dir=str(sample_city.write(tmp_path / "city")),
        timer_scan_interval_s=3600,
        webhook_scan_interval_s=3600,
        rate_limit_per_s=0,
        **kwargs,
    )


async def _client(settings: DispatchSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport, base_url="http://x") as http:
        yield http


@pytest.fixture
async def http(tmp_path: Path, kafka_bootstrap: str) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(_settings(tmp_path, kafka_bootstrap)):
        yield client


@pytest.fixture
def outline_file(tmp_path: Path) -> Path:
    """The sample city's outline: its four squares (lon 100.40–100.44, lat 38.90–38.91)."""
    path = tmp_path / "outline.geojson"
    path.write_text(json.dumps(_box(100.40, 38.90, 100.44, 38.91)), encoding="utf-8")
    return path


async def _located(http: httpx.AsyncClient, lat: float, lon: float) -> str | None:
    answer = await http.get("/v1/grids/locate", params={"lat": lat, "lon": lon}, headers=ADMIN)
    grid: str | None = answer.json()["grid_code"]
    return grid


async def test_a_grid_worker_cannot_reupload_their_grid_as_a_city_sized_polygon(http: httpx.AsyncClient) -> None:
    mine = _feature(GRID_A1)
    mine["geometry"] = _box(100.0, 38.5, 101.0, 39.5)  # the whole city and more
    collection = {"type": "FeatureCollection", "features": [mine]}

    refused = await http.post("/v1/grids/import", json=collection, headers=WORKER_A1)
    assert (refused.status_code, refused.json()["detail"]) == (403, "scope 'grid:import' is required")

    # Not even the city administrator may: it covers the three other grids.
    overlapping = await http.post("/v1/grids/import", json=collection, headers=CITY_ADMIN)
    assert overlapping.status_code == 422
    (problem,) = overlapping.json()["errors"]
    assert problem["loc"] == ["body", "features"]
    assert problem["msg"].startswith("overlap: 3 pair(s) of grids overlap by more than 1% of the smaller grid: ")
    for other in ("620702001001002", "620702001002001", "620702001002002"):
        assert f"{GRID_A1} and {other} (100%)" in problem["msg"]
    # nothing written: a point in the second grid is still there
    lat, lon = sample_city.centre_point(GRID_A2)
    assert await _located(http, lat, lon) == GRID_A2


async def test_a_sliver_within_the_tolerance_is_accepted_and_more_is_refused(http: httpx.AsyncClient) -> None:
    nudged = _feature(GRID_A1)
    nudged["geometry"] = _box(100.40, 38.90, 100.41005, 38.91)  # 0.5% into its neighbour: digitising noise
    accepted = await http.post(
        "/v1/grids/import", json={"type": "FeatureCollection", "features": [nudged]}, headers=CITY_ADMIN
    )
    assert accepted.status_code == 200, accepted.text

    pushed = _feature(GRID_A1)
    pushed["geometry"] = _box(100.40, 38.90, 100.413, 38.91)  # 30% of the neighbour
    refused = await http.post(
        "/v1/grids/import", json={"type": "FeatureCollection", "features": [pushed]}, headers=CITY_ADMIN
    )
    assert refused.status_code == 422
    assert f"{GRID_A1} and {GRID_A2} (30%)" in refused.json()["errors"][0]["msg"]


async def test_grids_overlapping_each_other_in_one_import_are_named(http: httpx.AsyncClient) -> None:
    new_a = _feature(GRID_A1)
    new_b = _feature(GRID_A2)
    new_b["geometry"] = new_a["geometry"]  # two grids with the same square
    response = await http.post(
        "/v1/grids/import", json={"type": "FeatureCollection", "features": [new_a, new_b]}, headers=CITY_ADMIN
    )
    assert response.status_code == 422
    assert f"{GRID_A1} and {GRID_A2} (100%)" in response.json()["errors"][0]["msg"]


async def test_a_grid_leaving_the_citys_outline_is_refused_with_its_code(
    tmp_path: Path, kafka_bootstrap: str, outline_file: Path
) -> None:
    async for http in _client(_settings(tmp_path, kafka_bootstrap, city_outline_file=outline_file)):
        outside = _feature("620702001002002")
        outside["properties"]["grid_code"] = "620702001002003"
        outside["geometry"] = _box(100.44, 38.90, 100.45, 38.91)  # east of the last grid: outside the city
        response = await http.post(
            "/v1/grids/import", json={"type": "FeatureCollection", "features": [outside]}, headers=CITY_ADMIN
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["msg"] == (
            "outline: 1 grid(s) lie outside the city's outline by more than 1% of their area: 620702001002003 (100%)"
        )
        inside = _feature(GRID_A1)  # the same square again: inside, overlapping nothing but itself
        ok = await http.post(
            "/v1/grids/import", json={"type": "FeatureCollection", "features": [inside]}, headers=CITY_ADMIN
        )
        assert ok.status_code == 200, ok.text


def test_the_cli_refuses_a_city_whose_grids_overlap_and_names_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    city = sample_city.write(tmp_path / "city")
    grids = json.loads((city / "grids.geojson").read_text(encoding="utf-8"))
    grids["features"][1]["geometry"] = grids["features"][0]["geometry"]
    (city / "grids.geojson").write_text(json.dumps(grids), encoding="utf-8")
    monkeypatch.setenv("DISPATCH_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite'}")
    assert cli(["import-city", str(city)]) == 1
    assert f"{GRID_A1} and {GRID_A2} (100%)" in capsys.readouterr().err
