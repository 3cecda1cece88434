"""Dependencies shared by policing's routers."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from govmesh_runtime import access
from govmesh_runtime.app import Runtime, runtime_dependency
from govmesh_runtime.auth import Principal
from govmesh_runtime.problems import refusals as refusals  # shared; the routers import it from here
from govmesh_runtime.roles import Scope
from policing.adapters.repository import GridIndexCache, SqlPolicingRepository
from policing.domain.jurisdiction import ReferenceDataError
from policing.domain.tasks import InvalidTransition, TaskRuleError
from policing.handlers import NotFound

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
        return
    async with runtime.db.sessions() as session:
        task = await SqlPolicingRepository(session).task(task_id)
    await access.guard_place(
        request,
        caller,
        resource="police task",
        resource_id=str(task_id),
        place=task.grid_code if task else None,
        found=task is not None,
    )


def get_grid_cache(request: Request) -> GridIndexCache:
    cache: GridIndexCache = request.app.state.grid_cache
    return cache


GridsDep = Annotated[GridIndexCache, Depends(get_grid_cache)]


@contextmanager
def domain_errors() -> Iterator[None]:
    """Domain refusals as HTTP answers: 404 unknown, 409 wrong state, 422 bad field (named)."""
    try:
        yield
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    except InvalidTransition as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc
    except TaskRuleError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=str(exc)) from exc
    except ReferenceDataError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=exc.problems) from exc
