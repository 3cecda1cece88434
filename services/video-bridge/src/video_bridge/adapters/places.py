"""The place filter on queries: a record is where its grid code is."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, true
from sqlmodel import col


def within(column: Any, places: tuple[str, ...] | None) -> Any:
    """A filter: the grid code starts with one of the places (None: everywhere). A record
    without a grid is in no place."""
    if places is None:
        return true()
    return or_(*(col(column).startswith(place, autoescape=True) for place in places))
