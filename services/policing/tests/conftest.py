"""Policing's test fixtures: a small hand-made city (4 grids, 2 police rooms) and the app in-process."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import ADMIN

from policing.bootstrap import create_app
from policing.settings import PolicingSettings

AUTH = ADMIN  # every scope, everywhere

# 2 x 2 grids of 0.01° in Ganzhou district; room A (south row), room B (north row).
G1, G2, G3, G4 = "620702001001001", "620702001001002", "620702001002001", "620702001002002"
CORNERS = {G1: (100.44, 38.92), G2: (100.45, 38.92), G3: (100.44, 38.93), G4: (100.45, 38.93)}
NAMES = {G1: "县府街第一网格", G2: "县府街第二网格", G3: "西街第一网格", G4: "西街第二网格"}
ROOM_A, ROOM_B = "PR-620702001-A", "PR-620702001-B"


def grids_geojson() -> dict[str, Any]:
    features = []
    for code, (lon, lat) in CORNERS.items():
        ring = [[lon, lat], [lon + 0.01, lat], [lon + 0.01, lat + 0.01], [lon, lat + 0.01], [lon, lat]]
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "grid_code": code,
                    "name": NAMES[code],
                    "community_code": code[:12],
                    "township_code": code[:9],
                    "county_code": code[:6],
                    "function": "residential",
                    "households": 400,
                    "population": 1000,
                },
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    return {"type": "FeatureCollection", "features": features}


def police_rooms() -> list[dict[str, Any]]:
    return [
        {
            "room_code": ROOM_A,
            "name": "县府街社区警务室",
            "county_code": "620702",
            "grid_codes": [G1, G2],
            "officers": [
                {"officer_id": "PA-1", "name": "张警官", "role": "officer", "on_duty": True},
                {"officer_id": "PA-2", "name": "李警官", "role": "officer", "on_duty": False},
                {"officer_id": "PA-3", "name": "王辅警", "role": "auxiliary", "on_duty": True},
            ],
        },
        {
            "room_code": ROOM_B,
            "name": "西街社区警务室",
            "county_code": "620702",
            "grid_codes": [G3, G4],
            "officers": [
                {"officer_id": "PB-1", "name": "赵警官", "role": "officer", "on_duty": False},
                {"officer_id": "PB-2", "name": "钱辅警", "role": "auxiliary", "on_duty": True},
            ],
        },
    ]


def centre(code: str) -> tuple[float, float]:
    """(lat, lon) of a grid's centre."""
    lon, lat = CORNERS[code]
    return lat + 0.005, lon + 0.005


class Town:
    """The hand-made city's names, for the tests (a fixture: test modules cannot import conftest)."""

    AUTH = AUTH
    G1, G2, G3, G4 = G1, G2, G3, G4
    ROOM_A, ROOM_B = ROOM_A, ROOM_B
    NAMES = NAMES
    grids_geojson = staticmethod(grids_geojson)
    police_rooms = staticmethod(police_rooms)
    centre = staticmethod(centre)


@pytest.fixture
def town() -> type[Town]:
    return Town


@pytest.fixture
def city() -> dict[str, Any]:
    return {"grids": copy.deepcopy(grids_geojson()), "police_rooms": copy.deepcopy(police_rooms())}


@pytest.fixture
async def client(tmp_path: Path, kafka_bootstrap: str) -> AsyncIterator[httpx.AsyncClient]:
    """Policing in-process with its own SQLite database, consumers off, the city imported."""
    settings = PolicingSettings(data_dir=tmp_path, kafka_bootstrap_servers=kafka_bootstrap, consumers_enabled=False)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://policing", headers=AUTH) as http:
            http.app = app  # type: ignore[attr-defined]
            response = await http.put("/v1/reference", json={"grids": grids_geojson(), "police_rooms": police_rooms()})
            assert response.status_code == 200, response.text
            yield http
