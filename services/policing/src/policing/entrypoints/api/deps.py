"""Dependencies shared by policing's routers."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Request

from govmesh_runtime import access
from govmesh_runtime.app import Runtime, runtime_dependency
from govmesh_runtime.auth import Principal
from govmesh_runtime.places import guard_row
from govmesh_runtime.problems import refusals as refusals  # shared; the routers import it from here
from govmesh_runtime.roles import Scope
from policing.adapters.repository import GridIndexCache, SqlPolicingRepository
from policing.adapters.tables import PoliceTaskRow

RuntimeDep = Annotated[Runtime, Depends(runtime_dependency)]
POLICING = access.require(Scope.POLICING)  # one callable: FastAPI runs it once per request
Policing = Annotated[Principal, Depends(POLICING)]


async def guard_room(request: Request, caller: Principal, runtime: Runtime, room_code: str) -> None:
    """A room is within a caller's places when one of its grids is (a grid worker: the room
    of their grid; a centre: the rooms with grids in its division). Outside or missing is the
    same 403; unbound callers pass (the handler answers 404 for a missing room)."""
    if not caller.places:
        return
    async with runtime.db.sessions() as session:
        repo = SqlPolicingRepository(session)
        grids = await repo.room_grids(room_code) if await repo.room(room_code) is not None else []
    if not any(caller.may_act_in(grid) for grid in grids):
        raise await access.refuse(request, caller, "this room is not within your places", "room", room_code)


async def guard_task(request: Request, caller: Principal, runtime: Runtime, task_id: uuid.UUID) -> None:
    """A police task is where its grid is; one without a grid is in no place."""
    if not caller.places:
        return  # the handler answers 404 for a missing task
    await guard_row(request, caller, runtime.db.sessions, PoliceTaskRow, task_id, resource="police task", place=grid_of)


def grid_of(task: PoliceTaskRow) -> str | None:
    return task.grid_code


def get_grid_cache(request: Request) -> GridIndexCache:
    cache: GridIndexCache = request.app.state.grid_cache
    return cache


GridsDep = Annotated[GridIndexCache, Depends(get_grid_cache)]
