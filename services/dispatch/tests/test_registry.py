"""Component tests of the grid registry, people and places, rules and elements: dispatch
in-process, its own database, the city written by the city generator (bench/citygen)."""

from __future__ import annotations

import asyncio
import csv
import json
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from shapely.geometry import shape
from support import auth_headers

import citygen
from dispatch.adapters.elements import import_elements_file
from dispatch.bootstrap import create_app
from dispatch.cli import main as cli
from dispatch.settings import DispatchSettings
from govmesh_runtime.roles import ALL_SCOPES

# Every scope but personal-data: what these tests check is shown masked.
STAFF = auth_headers([s for s in sorted(ALL_SCOPES) if s != "personal-data"], subject="registry-staff")


async def _client(settings: DispatchSettings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://x", headers=STAFF) as http,
    ):
        http.app = app  # type: ignore[attr-defined]
        yield http


def _settings(tmp_path: Path, kafka: str, **kwargs: Any) -> DispatchSettings:
    return DispatchSettings(
        data_dir=tmp_path,
        kafka_bootstrap_servers=kafka,
        consumers_enabled=False,
        timer_scan_interval_s=3600,
        webhook_scan_interval_s=3600,
        **kwargs,
    )


@pytest.fixture
async def http(tmp_path: Path, kafka_bootstrap: str) -> AsyncIterator[httpx.AsyncClient]:
    async for client in _client(_settings(tmp_path, kafka_bootstrap)):
        yield client


@pytest.fixture(scope="module")
def full_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("full-city")
    citygen.write(citygen.generate("full", seed=1), out, elements=0)
    return out


@pytest.fixture(scope="module")
def small_city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small-city")
    citygen.write(citygen.generate("small", seed=7), out, elements=3000)
    return out


async def test_point_lookup_returns_the_right_grid_across_the_full_scale_city(
    http: httpx.AsyncClient, full_city: Path
) -> None:
    collection = json.loads((full_city / "grids.geojson").read_text(encoding="utf-8"))
    response = await http.post("/v1/grids/import", json=collection)
    assert response.status_code == 200, response.text
    assert response.json() == {"grids": 7452, "indexed": 7452}

    rng = random.Random(20261125)
    polygons = {f["properties"]["grid_code"]: shape(f["geometry"]) for f in collection["features"]}
    # every grid: a random point strictly inside it (vectorised through the service's index) …
    expected, points = [], []
    for code, polygon in polygons.items():
        west, south, east, north = polygon.bounds
        points.append((rng.uniform(south, north) * 0.999999 + 0.000001 * (south + north) / 2, (west + east) / 2))
        expected.append(code)
    locator = http.app.state.dispatcher.locator  # type: ignore[attr-defined]
    assert locator.locate_many(points) == expected
    # … and a sample over REST, as a caller would ask
    for code in rng.sample(sorted(polygons), 300):
        west, south, east, north = polygons[code].bounds
        lat, lon = rng.uniform(south, north), rng.uniform(west, east)
        if not polygons[code].contains(shape({"type": "Point", "coordinates": [lon, lat]})):
            continue  # on a border: owned by the lowest code, checked below
        answer = (await http.get("/v1/grids/locate", params={"lat": lat, "lon": lon})).json()
        assert answer == {"grid_code": code, "found_by": "point"}
    outside = (await http.get("/v1/grids/locate", params={"lat": 10.0, "lon": 10.0})).json()
    assert outside == {"grid_code": None, "found_by": None}


async def test_geojson_export_gives_back_what_was_imported(http: httpx.AsyncClient, small_city: Path) -> None:
    collection = json.loads((small_city / "grids.geojson").read_text(encoding="utf-8"))
    assert (await http.post("/v1/grids/import", json=collection)).status_code == 200
    exported = (await http.get("/v1/grids/grids.geojson")).json()
    assert [f["properties"]["grid_code"] for f in exported["features"]] == [
        f["properties"]["grid_code"] for f in collection["features"]
    ]
    assert exported["features"][0]["geometry"] == collection["features"][0]["geometry"]
    grid = (await http.get(f"/v1/grids/{collection['features'][0]['properties']['grid_code']}")).json()
    assert grid["function"] == collection["features"][0]["properties"]["function"]
    assert grid["services"][:2] == ["information_reporting", "hazard_investigation"]
    assert len(grid["services"]) == 9
    again = await http.post("/v1/grids/import", json=exported)  # export → import round trip
    assert again.json()["grids"] == len(collection["features"])


def _feature(**props: Any) -> dict[str, Any]:
    base = {
        "grid_code": "620702001001001",
        "name": "g",
        "community_code": "620702001001",
        "function": "residential",
    }
    ring = [[100.0, 38.0], [100.01, 38.0], [100.01, 38.01], [100.0, 38.01], [100.0, 38.0]]
    return {"type": "Feature", "properties": {**base, **props}, "geometry": {"type": "Polygon", "coordinates": [ring]}}


@pytest.mark.parametrize(
    ("feature", "reason"),
    [
        (_feature(grid_code="62070200100101"), "15 digits"),
        (_feature(community_code="620702001002"), "community_code"),
        (_feature(function="lunar"), "function"),
        (_feature(households=-1), "households"),
        ({**_feature(), "geometry": {"type": "Point", "coordinates": [100.0, 38.0]}}, "Polygon"),
    ],
)
async def test_a_bad_feature_is_refused_by_number_and_nothing_is_written(
    http: httpx.AsyncClient, feature: dict[str, Any], reason: str
) -> None:
    good = _feature(grid_code="620702001001002")
    response = await http.post("/v1/grids/import", json={"type": "FeatureCollection", "features": [good, feature]})
    assert response.status_code == 422
    assert "features[1]" in response.text
    assert reason in response.text
    assert (await http.get("/v1/grids/620702001001002")).status_code == 404


async def test_cli_imports_the_generated_city(
    tmp_path: Path, kafka_bootstrap: str, small_city: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite'}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DISPATCH_DATABASE_URL", url)
        assert await asyncio.to_thread(cli, ["import-city", str(small_city)]) == 0
        # a progress line per file on stderr, with its count
        progress = capsys.readouterr().err
        grids = len(json.loads((small_city / "grids.geojson").read_text(encoding="utf-8"))["features"])
        assert f"dispatch grid geometry checked: {grids:,} rows in " in progress
        assert f"dispatch grids: {grids:,} rows in " in progress
        for what in ("admin units", "centres", "workers"):
            assert f"dispatch {what}: " in progress
        assert await asyncio.to_thread(cli, ["import-city", str(tmp_path / "missing")]) == 2
    async for http in _client(_settings(tmp_path, kafka_bootstrap, database_url=url)):
        townships = (await http.get("/v1/admin-units", params={"level": "township"})).json()
        assert len(townships) == 4
        assert all(t["parent_code"] == townships[0]["code"][:6] for t in townships)
        centres = (await http.get("/v1/centres", params={"level": "community"})).json()
        assert len(centres) == 6
        assert centres[0]["centre_code"].startswith("ZZ")
        workers = json.loads((small_city / "workers.json").read_text(encoding="utf-8"))
        grid = workers[0]["grid_code"]
        listed = (await http.get("/v1/workers", params={"grid_code": grid})).json()
        assert {w["worker_id"] for w in listed} == {w["worker_id"] for w in workers if w["grid_code"] == grid}
        assert all("*" in w["name"] and w["phone"].count("*") == 4 for w in listed)
        # a point inside a channel's community is placed on a grid of that community
        channel = json.loads((small_city / "channels.json").read_text(encoding="utf-8"))[0]
        found = (await http.get("/v1/grids/locate", params={"lat": channel["lat"], "lon": channel["lon"]})).json()
        assert found["grid_code"][:12] == channel["civil_code"]


async def test_elements_bulk_import_and_paginated_masked_queries(
    tmp_path: Path, kafka_bootstrap: str, small_city: Path, database_url: str
) -> None:
    async for http in _client(_settings(tmp_path, kafka_bootstrap, database_url=database_url)):
        runtime = http.app.state.runtime  # type: ignore[attr-defined]
        grids = json.loads((small_city / "grids.geojson").read_text(encoding="utf-8"))
        assert (await http.post("/v1/grids/import", json=grids)).status_code == 200
        async with runtime.db.sessions() as session:
            assert await import_elements_file(session, small_city / "elements.csv") == 3000
            await session.commit()
        async with runtime.db.sessions() as session:  # a re-import replaces, it does not duplicate
            assert await import_elements_file(session, small_city / "elements.csv") == 3000
            await session.commit()
        with (small_city / "elements.csv").open(encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        grid = rows[0]["grid_code"]
        wanted = sorted(r["element_id"] for r in rows if r["grid_code"] == grid and r["category"] == "people")
        seen: list[str] = []
        after: str | None = None
        while True:
            params: dict[str, Any] = {"grid_code": grid, "category": "people", "limit": 7}
            if after:
                params["after"] = after
            page = (await http.get("/v1/elements", params=params)).json()
            seen += [e["element_id"] for e in page["items"]]
            for element in page["items"]:
                assert "*" in element["name"]
                assert "*" in element["attributes"]["id_number"]
                assert "*" in element["attributes"]["phone"]
            after = page["next_after"]
            if after is None:
                break
        assert seen == wanted
        place = next(r for r in rows if r["category"] == "places")
        shown = (await http.get(f"/v1/elements/{place['element_id']}")).json()
        assert shown["name"] == place["name"]  # not a person: not masked


async def test_elements_from_a_terminal_are_validated_and_masked(http: httpx.AsyncClient, small_city: Path) -> None:
    grids = json.loads((small_city / "grids.geojson").read_text(encoding="utf-8"))
    await http.post("/v1/grids/import", json=grids)
    grid = grids["features"][0]["properties"]["grid_code"]
    person = {"grid_code": grid, "category": "people", "name": "Zhao Liu", "attributes": {"phone": "13912345678"}}
    created = await http.put("/v1/elements/E-T-1", json=person)
    assert created.status_code == 200, created.text
    assert created.json()["name"] == "Z*******"
    assert created.json()["attributes"]["phone"] == "139****5678"
    updated = await http.put("/v1/elements/E-T-1", json={**person, "attributes": {"residence": "floating"}})
    assert updated.json()["attributes"] == {"residence": "floating"}
    bad = await http.put("/v1/elements/E-T-2", json={**person, "category": "aliens"})
    assert bad.status_code == 422
    assert "category" in bad.text
    unknown = await http.put("/v1/elements/E-T-3", json={**person, "grid_code": "620702999999001"})
    assert unknown.status_code == 422
    assert "not registered" in unknown.text
    assert (await http.get("/v1/elements/E-T-3")).status_code == 404


async def test_routing_rules_are_data(http: httpx.AsyncClient) -> None:
    rules = (await http.get("/v1/routing-rules")).json()
    assert {"matter_code": "dispute.*", "grid_function": None, "targets": ["mediation", "grid_worker"]} in rules
    bad = await http.put("/v1/routing-rules", json=[{"matter_code": "x", "targets": ["department:mars"]}])
    assert bad.status_code == 422
    assert "unknown department" in bad.text
    assert (await http.get("/v1/routing-rules")).json() == rules  # nothing changed
    new = [{"matter_code": "*", "grid_function": None, "targets": ["grid_worker", "policing"]}]
    assert (await http.put("/v1/routing-rules", json=new)).status_code == 200
    assert (await http.get("/v1/routing-rules")).json() == new


async def test_buildings_visit_plans_and_records(http: httpx.AsyncClient, small_city: Path) -> None:
    grids = json.loads((small_city / "grids.geojson").read_text(encoding="utf-8"))
    await http.post("/v1/grids/import", json=grids)
    grid = grids["features"][0]["properties"]["grid_code"]
    wrong = await http.put(f"/v1/buildings/{grid}999", json={"building_code": f"{grid}999", "address": "x"})
    assert wrong.status_code == 200  # a valid 18-digit code of a registered grid
    other = "620702999001001001"
    refused = await http.put(f"/v1/buildings/{other}", json={"building_code": other, "address": "y"})
    assert refused.status_code == 422
    assert "not registered" in refused.text
    code = f"{grid}001"
    ok = await http.put(f"/v1/buildings/{code}", json={"building_code": code, "address": "Xianfu Street 12"})
    assert ok.status_code == 200
    found = (await http.get("/v1/grids/locate", params={"address": "xianfu street 12, unit 3"})).json()
    assert found == {"grid_code": grid, "found_by": "address"}

    plan = await http.post(
        "/v1/visit-plans",
        json={"grid_code": grid, "cadre_ref": "C-17", "every_days": 14, "first_visit_on": "2026-01-05T09:00:00Z"},
    )
    assert plan.status_code == 201, plan.text
    assert plan.json()["overdue"] is True
    record = await http.post(
        "/v1/visit-records",
        json={
            "grid_code": grid,
            "cadre_ref": "C-17",
            "plan_id": plan.json()["id"],
            "visited_at": "2030-01-05T10:00:00Z",
            "households_visited": 40,
            "views": "Residents ask for more street lights.",
        },
    )
    assert record.status_code == 201, record.text
    plans = (await http.get("/v1/visit-plans", params={"grid_code": grid})).json()
    assert plans[0]["next_visit_on"].startswith("2030-01-19")
    assert plans[0]["overdue"] is False
    visits = (await http.get("/v1/visit-records", params={"grid_code": grid})).json()
    assert [v["households_visited"] for v in visits] == [40]
