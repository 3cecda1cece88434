"""Point → grid lookup on a small hand-made grid."""

from __future__ import annotations

import pytest

from govmesh_runtime.geo import GeoJSONError, GridIndex


def square(code: str, x0: float, y0: float, size: float = 1.0) -> dict[str, object]:
    ring = [[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]
    return {
        "type": "Feature",
        "properties": {"grid_code": code},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


GRIDS = {"type": "FeatureCollection", "features": [square("B", 1, 0), square("A", 0, 0), square("C", 0, 1)]}


def test_points_fall_in_their_grid() -> None:
    index = GridIndex.from_geojson(GRIDS)
    assert len(index) == 3
    assert index.locate(lat=0.5, lon=0.5) == "A"
    assert index.locate(lat=0.5, lon=1.5) == "B"
    assert index.locate(lat=1.5, lon=0.5) == "C"
    assert index.locate(lat=5, lon=5) is None


def test_a_point_on_a_shared_border_goes_to_the_lowest_code() -> None:
    index = GridIndex.from_geojson(GRIDS)
    assert index.locate(lat=0.5, lon=1.0) == "A"
    assert index.locate_many([(0.5, 1.0), (0.5, 1.5), (9, 9)]) == ["A", "B", None]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"type": "Feature"}, "FeatureCollection"),
        ({"type": "FeatureCollection", "features": [{"properties": {}, "geometry": None}]}, "grid_code is missing"),
        (
            {
                "type": "FeatureCollection",
                "features": [{"properties": {"grid_code": "X"}, "geometry": {"type": "Point", "coordinates": [0, 0]}}],
            },
            "must be a valid",
        ),
    ],
)
def test_bad_documents_are_refused_with_the_reason(document: dict[str, object], message: str) -> None:
    with pytest.raises(GeoJSONError, match=message):
        GridIndex.from_geojson(document)


def test_geometry_problems_name_overlapping_and_outside_grids_beyond_the_tolerance() -> None:
    from shapely.geometry import box

    from govmesh_runtime.geo import GeometryRules, geometry_problems

    stored = [("A", box(0, 0, 1, 1)), ("B", box(1, 0, 2, 1))]
    touching = [("C", box(2, 0, 3, 1))]  # shares B's border only
    assert geometry_problems(touching, GeometryRules(), others=stored) == []
    sliver = [("C", box(1.995, 0, 3, 1))]  # 0.5% of B
    assert geometry_problems(sliver, GeometryRules(tolerance=0.01), others=stored) == []
    assert geometry_problems(sliver, GeometryRules(tolerance=0.001), others=stored) == [
        "overlap: 1 pair(s) of grids overlap by more than 0.1% of the smaller grid: C and B (0.5%)"
    ]
    city_sized = [("A", box(-10, -10, 10, 10))]  # A re-uploaded over the city; stored A is replaced
    assert geometry_problems(city_sized, GeometryRules(), others=stored[1:]) == [
        "overlap: 1 pair(s) of grids overlap by more than 1% of the smaller grid: A and B (100%)"
    ]
    rules = GeometryRules(outline=box(0, 0, 2, 1))
    assert geometry_problems([("D", box(1.5, 0, 2.5, 1))], rules) == [
        "outline: 1 grid(s) lie outside the city's outline by more than 1% of their area: D (50%)"
    ]
