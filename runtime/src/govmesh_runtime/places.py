"""Where a caller may look: the place filter of list queries and the row guard of one record.

A principal bound to places (a grid worker's grid, a centre's division) sees a record when the
record's code starts with one of them; an unbound principal sees everything. A record without a
code (NULL: e.g. a case not located on the grid) is in no place, so a bound caller never sees it.
Written once here; every service's lists and ``/{id}`` routes use it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from fastapi import Request
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from govmesh_runtime import access
from govmesh_runtime.auth import Principal

R = TypeVar("R")


def within(column: Any, places: Sequence[str] | None) -> sa.ColumnElement[bool]:
    """A condition: ``column`` starts with one of ``places`` (None: everywhere)."""
    if places is None:
        return sa.true()
    return sa.or_(*(col(column).startswith(place, autoescape=True) for place in places))


def in_places(column: Any, principal: Principal) -> sa.ColumnElement[bool]:
    """``within`` the principal's places: the filter of a list query."""
    return within(column, access.place_filter(principal))


async def guard_row(
    request: Request,
    principal: Principal,
    sessions: Callable[[], AsyncSession],
    table: type[R],
    row_id: Any,
    *,
    resource: str,
    place: Callable[[R], str | None],
) -> R:
    """The row ``row_id`` of ``table`` if it lies in the principal's places (``place(row)``); a
    row elsewhere and a missing one are the same 403 for a place-bound caller (existence does not
    leak), a missing one 404 for an unbound caller. Read outside the change's own transaction:
    fit for a row whose place never changes."""
    async with sessions() as session:
        row = await session.get(table, row_id)
    await access.guard_place(
        request,
        principal,
        resource=resource,
        resource_id=str(row_id),
        place=place(row) if row is not None else None,
        found=row is not None,
    )
    assert row is not None  # guard_place answered 404 otherwise
    return row
