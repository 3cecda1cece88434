"""The unified grid code (统一网格编码): parsing, validation and the chain of places above it.

Codes are digit strings that nest, so every code names its whole chain upwards:

=========================  ======  ==========================================
what                       digits  example
=========================  ======  ==========================================
city (GB/T 2260)              6    ``620700`` Zhangye
county / district             6    ``620702`` Ganzhou district
township / street             9    ``620702001``
community / village          12    ``620702001001``
party branch (支部)           14    ``62070200100101`` = community + 2-digit serial
grid (网格)                   15    ``620702001001007`` = community + 3-digit serial
building / courtyard (楼院)    18    ``620702001001007012`` = grid + 3-digit serial
=========================  ======  ==========================================

A grid's branch is an attribute of the grid (a branch holds whole grids of its
community), so a grid code stays community + serial whatever branch it is in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GRID_CODE_PATTERN = r"^[0-9]{15}$"  # for request schemas; parse_grid_code checks the serials too

_GRID = re.compile(r"[0-9]{15}")
_BUILDING = re.compile(r"[0-9]{18}")
_BRANCH = re.compile(r"[0-9]{14}")


class CodeError(ValueError):
    """A code that does not follow the scheme, with the reason."""


@dataclass(frozen=True)
class GridCode:
    code: str

    @property
    def community(self) -> str:
        return self.code[:12]

    @property
    def township(self) -> str:
        return self.code[:9]

    @property
    def county(self) -> str:
        return self.code[:6]

    @property
    def city(self) -> str:
        return self.code[:4] + "00"

    @property
    def serial(self) -> int:
        return int(self.code[12:])

    def admin_code(self, level: str) -> str:
        """The code of the place at ``level`` (community, township, county or city) above the grid."""
        return {
            "community": self.community,
            "township": self.township,
            "county": self.county,
            "city": self.city,
        }[level]


def parse_grid_code(code: str) -> GridCode:
    """Validate a grid code: 15 digits, a GB/T 2260 county prefix, non-zero serials."""
    if not _GRID.fullmatch(code):
        raise CodeError(f"grid code {code!r} must be 15 digits (12-digit community code + 3-digit grid serial)")
    if code[4:6] == "00":
        raise CodeError(f"grid code {code!r}: digits 5-6 must name a county (not 00)")
    if code[6:9] == "000" or code[9:12] == "000" or code[12:] == "000":
        raise CodeError(f"grid code {code!r}: township, community and grid serials must not be 000")
    return GridCode(code)


def validate_building_code(code: str, grid_code: str) -> None:
    if not _BUILDING.fullmatch(code) or code[15:] == "000":
        raise CodeError(f"building code {code!r} must be 18 digits: grid code + 3-digit serial (not 000)")
    if code[:15] != grid_code:
        raise CodeError(f"building code {code!r} does not start with its grid code {grid_code}")


def validate_branch_code(code: str, community_code: str) -> None:
    if not _BRANCH.fullmatch(code) or code[12:] == "00":
        raise CodeError(f"branch code {code!r} must be 14 digits: community code + 2-digit serial (not 00)")
    if code[:12] != community_code:
        raise CodeError(f"branch code {code!r} does not start with its community code {community_code}")


def check_grid_chain(
    grid_code: str, *, community_code: str | None, township_code: str | None, county_code: str | None
) -> GridCode:
    """The grid code and the administrative codes given with it must agree."""
    grid = parse_grid_code(grid_code)
    for name, given, expected in (
        ("community_code", community_code, grid.community),
        ("township_code", township_code, grid.township),
        ("county_code", county_code, grid.county),
    ):
        if given is not None and given != expected:
            raise CodeError(f"grid {grid_code}: {name} {given!r} does not match the grid code (expected {expected})")
    return grid
