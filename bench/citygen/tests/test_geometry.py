"""The grids tile the territory; police rooms and cameras sit where they should."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import box, shape
from shapely.ops import unary_union

import citygen
from citygen.model import to_degrees
from govmesh_runtime.geo import GridIndex


def territory_polygon(city: citygen.City) -> shapely.Polygon:
    t = city.territory
    return box(to_degrees(t.west), to_degrees(t.south), to_degrees(t.east), to_degrees(t.north))


def grid_polygons(city: citygen.City) -> list[shapely.Polygon]:
    return [shapely.Polygon(g.box.ring()[:-1]) for g in city.grids]


def overlapping_pairs(polygons: list[shapely.Polygon]) -> list[tuple[int, int]]:
    tree = shapely.STRtree(polygons)
    left, right = tree.query(polygons, predicate="intersects")
    distinct = left < right
    left, right = left[distinct], right[distinct]
    areas = shapely.area(shapely.intersection(np.take(polygons, left), np.take(polygons, right)))
    return [(int(a), int(b)) for a, b, area in zip(left, right, areas, strict=True) if area > 0]


def test_small_grids_tile_the_territory_without_gaps_or_overlaps(small: citygen.City, tmp_path: Path) -> None:
    citygen.write(small, tmp_path, elements=0)
    collection = json.loads((tmp_path / "grids.geojson").read_text(encoding="utf-8"))
    polygons = [shape(f["geometry"]) for f in collection["features"]]
    assert len(polygons) == 60
    assert all(p.is_valid and p.geom_type == "Polygon" for p in polygons)
    assert all(shapely.LinearRing(p.exterior.coords).is_ccw for p in polygons)  # RFC 7946 winding
    union = unary_union(polygons)
    territory = territory_polygon(small)
    assert union.geom_type == "Polygon"
    assert union.symmetric_difference(territory).area == 0  # no gap, nothing outside
    assert overlapping_pairs(polygons) == []
    assert sum(p.area for p in polygons) == pytest.approx(territory.area, rel=1e-12)


def test_full_grids_tile_the_territory(full: citygen.City) -> None:
    t = full.territory
    # exact integer arithmetic on the lattice: all inside, areas add up, no two overlap
    assert all(t.west <= g.box.west < g.box.east <= t.east for g in full.grids)
    assert all(t.south <= g.box.south < g.box.north <= t.north for g in full.grids)
    assert sum((g.box.east - g.box.west) * (g.box.north - g.box.south) for g in full.grids) == (t.east - t.west) * (
        t.north - t.south
    )
    assert overlapping_pairs(grid_polygons(full)) == []


def test_random_points_of_the_full_territory_fall_in_exactly_one_grid(full: citygen.City) -> None:
    polygons = grid_polygons(full)
    tree = shapely.STRtree(polygons)
    rng = random.Random(7)
    t = full.territory
    points = [
        shapely.Point(
            rng.uniform(to_degrees(t.west), to_degrees(t.east)), rng.uniform(to_degrees(t.south), to_degrees(t.north))
        )
        for _ in range(20_000)
    ]
    point_idx, _ = tree.query(points, predicate="intersects")
    hits = np.bincount(point_idx, minlength=len(points))
    assert hits.min() == 1
    assert hits.max() == 1
    outside = shapely.Point(to_degrees(t.east) + 0.01, to_degrees(t.north) - 0.01)
    assert len(tree.query(outside, predicate="intersects")) == 0


def test_runtime_grid_index_locates_every_camera_in_its_grid_across_the_full_city(
    full: citygen.City, tmp_path: Path
) -> None:
    citygen.write(full, tmp_path, elements=0)
    index = GridIndex.from_geojson(json.loads((tmp_path / "grids.geojson").read_text(encoding="utf-8")))
    assert len(index) == 7452
    channels = json.loads((tmp_path / "channels.json").read_text(encoding="utf-8"))
    found = index.locate_many([(c["lat"], c["lon"]) for c in channels])
    expected = [c.grid_code for c in full.channels]
    assert found == expected
    assert all(code is not None and code[:12] == c["civil_code"] for code, c in zip(found, channels, strict=True))
    grid = full.grids[1234]
    centre_lon = to_degrees(grid.box.west + grid.box.east) / 2
    centre_lat = to_degrees(grid.box.south + grid.box.north) / 2
    assert index.locate(centre_lat, centre_lon) == grid.grid_code


@pytest.mark.parametrize("scale", ["small", "full"])
def test_every_grid_is_covered_by_exactly_one_police_room_of_its_county(scale: citygen.Scale) -> None:
    city = citygen.generate(scale, seed=1)
    covered = [code for room in city.police_rooms for code in room.grid_codes]
    assert sorted(covered) == sorted(g.grid_code for g in city.grids)
    assert len(covered) == len(set(covered))
    assert all(code[:6] == room.county_code for room in city.police_rooms for code in room.grid_codes)


def test_police_rooms_cover_contiguous_areas(full: citygen.City) -> None:
    polygon_of = dict(zip((g.grid_code for g in full.grids), grid_polygons(full), strict=True))
    shapes = [unary_union([polygon_of[c] for c in room.grid_codes]).geom_type for room in full.police_rooms]
    assert set(shapes) == {"Polygon"}


@pytest.mark.parametrize("scale", ["small", "full"])
def test_every_channel_stands_inside_a_grid_of_its_community(scale: citygen.Scale) -> None:
    city = citygen.generate(scale, seed=1)
    grids = {g.grid_code: g for g in city.grids}
    for channel in city.channels:
        grid = grids[channel.grid_code]
        assert shapely.Polygon(grid.box.ring()[:-1]).contains(shapely.Point(channel.lon, channel.lat))
        assert grid.community_code == channel.civil_code
