"""The import CLI as a user runs it (``python -m policing.cli import-city DIR``): the city
generator's files and small hand-made ones; then the service answers from what was imported."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from shapely.geometry import shape
from support import auth_headers

from policing.bootstrap import create_app
from policing.settings import PolicingSettings

ROOT = Path(__file__).resolve().parents[3]


def run_cli(data_dir: Path, city_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GOVMESH_DATA_DIR": str(data_dir)}
    env.pop("POLICING_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "policing.cli", "import-city", str(city_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def write_city(directory: Path, grids: dict[str, Any], rooms: list[dict[str, Any]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "grids.geojson").write_text(json.dumps(grids, ensure_ascii=False), encoding="utf-8")
    (directory / "police_rooms.json").write_text(json.dumps(rooms, ensure_ascii=False), encoding="utf-8")
    return directory


@pytest.fixture
async def service_on(tmp_path: Path, kafka_bootstrap: str) -> AsyncIterator[httpx.AsyncClient]:
    """The service on the database the CLI wrote to (GOVMESH_DATA_DIR=tmp_path)."""
    settings = PolicingSettings(data_dir=tmp_path, kafka_bootstrap_servers=kafka_bootstrap, consumers_enabled=False)
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=transport, base_url="http://x", headers=auth_headers([], subject="resident-portal")
        ) as http,
    ):
        yield http  # the contact card needs a credential, no scope


def test_hand_made_files_import_and_a_gap_is_refused_with_exit_1(tmp_path: Path, town: Any) -> None:
    ok = run_cli(tmp_path, write_city(tmp_path / "city", town.grids_geojson(), town.police_rooms()))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "imported 4 grids, 2 police rooms, 3 officers and 2 auxiliaries"
    # progress on stderr, a line per stage with its count (the result alone on stdout)
    assert "policing grids read: 4 rows in " in ok.stderr
    assert "policing police rooms read: 2 rows in " in ok.stderr
    assert "policing grids checked and written: 4 grids in " in ok.stderr

    rooms = town.police_rooms()
    rooms[0]["grid_codes"] = [town.G1]  # G2 uncovered
    rooms[0]["grid_codes"].append(town.G3)  # G3 in both rooms
    bad = run_cli(tmp_path, write_city(tmp_path / "bad", town.grids_geojson(), rooms))
    assert bad.returncode == 1
    assert "import refused, nothing written" in bad.stderr
    assert f"gap: 1 grid(s) covered by no room: {town.G2}" in bad.stderr
    assert f"overlap: 1 grid(s) covered by more than one room: {town.G3} ({town.ROOM_A}, {town.ROOM_B})" in bad.stderr


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = run_cli(tmp_path, tmp_path / "empty")
    assert result.returncode == 1
    assert "grids.geojson: file not found" in result.stderr


async def test_the_generated_city_imports_and_every_grid_has_its_contact_card(
    tmp_path: Path, service_on: httpx.AsyncClient
) -> None:
    city_dir = tmp_path / "generated"
    generated = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "citygen", "--out", str(city_dir), "--scale", "small", "--elements", "10"],
        env={**os.environ, "PYTHONPATH": str(ROOT / "bench/citygen/src")},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert generated.returncode == 0, generated.stderr
    result = await asyncio.to_thread(run_cli, tmp_path, city_dir)
    assert result.returncode == 0, result.stderr
    rooms = json.loads((city_dir / "police_rooms.json").read_text(encoding="utf-8"))
    owner = {grid: room["room_code"] for room in rooms for grid in room["grid_codes"]}
    features = json.loads((city_dir / "grids.geojson").read_text(encoding="utf-8"))["features"]
    assert result.stdout.startswith(f"imported {len(features)} grids, {len(rooms)} police rooms")
    for feature in features:
        point = shape(feature["geometry"]).representative_point()
        card = await service_on.get("/v1/contact-card", params={"lat": point.y, "lon": point.x})
        assert card.status_code == 200, card.text
        grid = feature["properties"]["grid_code"]
        assert (card.json()["grid_code"], card.json()["room_code"]) == (grid, owner[grid])
