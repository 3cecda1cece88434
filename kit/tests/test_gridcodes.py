"""The unified grid code: what is refused, and the chain of places above a grid."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from govmesh_kit.gridcodes import (
    CodeError,
    check_grid_chain,
    parse_grid_code,
    validate_branch_code,
    validate_building_code,
)


def test_a_grid_names_its_whole_chain() -> None:
    grid = parse_grid_code("620702001001007")
    assert (grid.community, grid.township, grid.county, grid.city) == (
        "620702001001",
        "620702001",
        "620702",
        "620700",
    )
    assert grid.serial == 7
    assert [grid.admin_code(level) for level in ("community", "township", "county", "city")] == [
        "620702001001",
        "620702001",
        "620702",
        "620700",
    ]


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("62070200100100", "must be 15 digits"),
        ("６２０７０２００１００１００７", "must be 15 digits"),
        ("620700001001007", "must name a county"),
        ("620702000001007", "must not be 000"),
        ("620702001001000", "must not be 000"),
    ],
)
def test_bad_grid_codes_are_refused_with_the_reason(code: str, reason: str) -> None:
    with pytest.raises(CodeError, match=reason):
        parse_grid_code(code)


def test_the_codes_given_with_a_grid_must_agree_with_it() -> None:
    check_grid_chain("620702001001007", community_code="620702001001", township_code=None, county_code="620702")
    with pytest.raises(CodeError, match="township_code '620702002'"):
        check_grid_chain("620702001001007", community_code=None, township_code="620702002", county_code=None)


def test_branches_and_buildings_start_with_their_community_and_grid() -> None:
    validate_branch_code("62070200100101", "620702001001")
    validate_building_code("620702001001007012", "620702001001007")
    with pytest.raises(CodeError, match="does not start with its community"):
        validate_branch_code("62070200100201", "620702001001")
    with pytest.raises(CodeError, match="does not start with its grid code"):
        validate_building_code("620702001001008012", "620702001001007")


@given(st.from_regex(r"[0-9]{4}[1-9]{2}[1-9]{3}[1-9]{3}[1-9]{3}", fullmatch=True))
def test_every_grid_lies_in_its_own_community_township_and_county(code: str) -> None:
    grid = parse_grid_code(code)
    assert code.startswith(grid.community) and grid.community.startswith(grid.township)
    assert grid.township.startswith(grid.county)
