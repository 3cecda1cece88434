"""The four administrative levels over the unified grid code (the code itself: ``govmesh_kit.gridcodes``)."""

from __future__ import annotations

import re

from govmesh_contracts import Level
from govmesh_kit.gridcodes import (
    CodeError,
    GridCode,
    check_grid_chain,
    parse_grid_code,
    validate_branch_code,
    validate_building_code,
)

__all__ = [
    "LEVELS",
    "CodeError",
    "GridCode",
    "check_grid_chain",
    "level_of_admin_code",
    "next_level",
    "parse_grid_code",
    "validate_branch_code",
    "validate_building_code",
]

LEVELS: tuple[Level, ...] = (Level.COMMUNITY, Level.TOWNSHIP, Level.COUNTY, Level.CITY)

_COMMUNITY = re.compile(r"\d{12}")


def next_level(level: Level) -> Level | None:
    """The level above (community → township → county → city); None above the city."""
    index = LEVELS.index(level)
    return LEVELS[index + 1] if index + 1 < len(LEVELS) else None


def level_of_admin_code(code: str) -> Level:
    """The level of an administrative code (6 digits ending 00 = city, 6 = county, 9, 12)."""
    if re.fullmatch(r"\d{6}", code):
        return Level.CITY if code.endswith("00") else Level.COUNTY
    if re.fullmatch(r"\d{9}", code):
        return Level.TOWNSHIP
    if _COMMUNITY.fullmatch(code):
        return Level.COMMUNITY
    raise CodeError(f"administrative code {code!r} must have 6, 9 or 12 digits")
