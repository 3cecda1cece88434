"""A tiny hand-made city in the city generator's file format, for demos and tests.

One county (Ganzhou 620702), one township (620702001), two communities, four square
grids of 0.01° side west to east from (lon 100.40, lat 38.90), three workers, centres
at all four levels except for the second community (it falls back to its township's)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

COUNTY, TOWNSHIP = "620702", "620702001"
COMMUNITY_A, COMMUNITY_B = "620702001001", "620702001002"
GRIDS = {  # grid code → (function, column)
    "620702001001001": ("residential", 0),
    "620702001001002": ("rural", 1),
    "620702001002001": ("commercial", 2),
    "620702001002002": ("industrial", 3),
}
ORIGIN_LON, ORIGIN_LAT, SIDE = 100.40, 38.90, 0.01
WORKERS = [  # (worker id, grid, synthetic name, on duty); the third is off duty
    ("W001", "620702001001001", "Zhang San", True),
    ("W002", "620702001001002", "Li Si", True),
    ("W003", "620702001002001", "Wang Wu", False),
]
CENTRES = {"city": "C620700", "county": "C620702", "township": "C620702001", "community": "C620702001001"}


def centre_point(grid_code: str) -> tuple[float, float]:
    """(lat, lon) of the middle of a sample grid."""
    column = GRIDS[grid_code][1]
    return ORIGIN_LAT + SIDE / 2, ORIGIN_LON + SIDE * column + SIDE / 2


def _square(column: int) -> list[list[list[float]]]:
    west, south = ORIGIN_LON + SIDE * column, ORIGIN_LAT
    east, north = west + SIDE, south + SIDE
    return [[[west, south], [east, south], [east, north], [west, north], [west, south]]]


def documents() -> dict[str, Any]:
    return {
        "grids.geojson": {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": {"type": "Polygon", "coordinates": _square(column)},
                    "properties": {
                        "grid_code": code,
                        "name": f"Grid {code[-5:]}",
                        "community_code": code[:12],
                        "township_code": code[:9],
                        "county_code": code[:6],
                        "function": function,
                        "households": 400,
                        "population": 1000,
                    },
                }
                for code, (function, column) in GRIDS.items()
            ],
        },
        "admin.json": {
            "city": {"code": "620700", "name": "Zhangye", "parent_code": None, "level": "city"},
            "counties": [{"code": COUNTY, "name": "Ganzhou", "parent_code": "620700", "level": "county"}],
            "townships": [{"code": TOWNSHIP, "name": "Dongjie", "parent_code": COUNTY, "level": "township"}],
            "communities": [
                {"code": COMMUNITY_A, "name": "Community A", "parent_code": TOWNSHIP, "level": "community"},
                {"code": COMMUNITY_B, "name": "Community B", "parent_code": TOWNSHIP, "level": "community"},
            ],
        },
        "centres.json": [
            {"centre_code": "C620700", "name": "City centre", "level": "city", "admin_code": "620700", "windows": []},
            {"centre_code": "C620702", "name": "County centre", "level": "county", "admin_code": COUNTY, "windows": []},
            {
                "centre_code": "C620702001",
                "name": "Township centre",
                "level": "township",
                "admin_code": TOWNSHIP,
                "windows": ["reception", "mediation"],
            },
            {
                "centre_code": "C620702001001",
                "name": "Community A centre",
                "level": "community",
                "admin_code": COMMUNITY_A,
                "windows": ["reception", "mediation", "legal", "counselling"],
            },
        ],
        "workers.json": [
            {"worker_id": wid, "grid_code": grid, "name": name, "phone": f"1390000000{n}", "on_duty": on_duty}
            for n, (wid, grid, name, on_duty) in enumerate(WORKERS, start=1)
        ],
        "buildings.json": [
            {"building_code": "620702001001001001", "grid_code": "620702001001001", "address": "Dongjie Road 1"},
            {"building_code": "620702001002002001", "grid_code": "620702001002002", "address": "Factory Lane 9"},
        ],
    }


def write(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, document in documents().items():
        (directory / name).write_text(json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8")
    return directory
