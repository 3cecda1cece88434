"""A case as dispatch follows it."""

from __future__ import annotations

from enum import StrEnum


class DispatchStatus(StrEnum):
    DISPATCHED = "dispatched"


def receiving_centre(city_centre_code: str) -> str:
    """Who holds a case that is not located on a grid yet: the city centre."""
    return f"centre:{city_centre_code}"
