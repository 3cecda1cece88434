"""Great-circle distances in metres."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from govmesh_kit.distances import distance_m

lat = st.floats(min_value=-89.0, max_value=89.0)
lon = st.floats(min_value=-180.0, max_value=180.0)


def test_a_point_is_zero_metres_from_itself() -> None:
    assert distance_m(38.93, 100.45, 38.93, 100.45) == 0


def test_a_thousandth_of_a_degree_of_latitude_is_about_111_metres() -> None:
    assert 110 < distance_m(38.93, 100.45, 38.931, 100.45) < 112
    assert 1100 < distance_m(38.93, 100.45, 38.94, 100.45) < 1120


def test_antipodes_are_half_the_earth_apart() -> None:
    assert 20_015_000 < distance_m(0.0, 0.0, 0.0, 180.0) < 20_016_000


@given(lat, lon, lat, lon)
def test_the_distance_is_symmetric_and_never_negative(a: float, b: float, c: float, d: float) -> None:
    there, back = distance_m(a, b, c, d), distance_m(c, d, a, b)
    assert there >= 0 and abs(there - back) < 1e-6
