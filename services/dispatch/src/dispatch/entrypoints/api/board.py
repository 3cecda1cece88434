"""/v1/board: the centres' view — case board per centre and level, overdue list, counts."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlmodel import col, func, select

from dispatch.adapters.repository import OPEN
from dispatch.adapters.tables import DispatchCaseRow, TaskRow
from dispatch.entrypoints.api.cases import DispatchCasePublic, TaskPublic, case_public, task_public
from dispatch.entrypoints.api.deps import CaseReader, DispatcherDep, RuntimeDep, refusals
from govmesh_contracts import Level
from govmesh_runtime.places import in_places

router = APIRouter(prefix="/v1/board", tags=["board"], responses=refusals(403))


@router.get("/cases", summary="Case board of a centre and/or level, newest first")
async def case_board(
    caller: CaseReader,
    runtime: RuntimeDep,
    centre_code: str | None = None,
    level: Level | None = None,
    status: Annotated[str | None, Query(pattern="^(dispatched|resolved|closed)$")] = None,
    grid_code: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[DispatchCasePublic]:
    query = (
        select(DispatchCaseRow)
        .where(in_places(DispatchCaseRow.grid_code, caller))
        .order_by(col(DispatchCaseRow.dispatched_at).desc())
        .offset(offset)
        .limit(limit)
    )
    if centre_code is not None:
        query = query.where(col(DispatchCaseRow.centre_code) == centre_code)
    if level is not None:
        query = query.where(col(DispatchCaseRow.level) == level.value)
    if status is not None:
        query = query.where(col(DispatchCaseRow.status) == status)
    if grid_code is not None:
        query = query.where(col(DispatchCaseRow.grid_code) == grid_code)
    async with runtime.db.sessions() as session:
        rows = (await session.exec(query)).all()
    return [case_public(row) for row in rows]


@router.get("/overdue", summary="Open tasks past their deadline, oldest deadline first")
async def overdue(
    caller: CaseReader,
    runtime: RuntimeDep,
    dispatcher: DispatcherDep,
    centre_code: str | None = None,
    level: Level | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[TaskPublic]:
    query = (
        select(TaskRow)
        .where(
            col(TaskRow.state).in_(OPEN),
            col(TaskRow.due_at) < dispatcher.clock(),
            in_places(TaskRow.grid_code, caller),
        )
        .order_by(col(TaskRow.due_at))
        .limit(limit)
    )
    if centre_code is not None:
        query = query.where(col(TaskRow.centre_code) == centre_code)
    if level is not None:
        query = query.where(col(TaskRow.level) == level.value)
    async with runtime.db.sessions() as session:
        rows = (await session.exec(query)).all()
    return [task_public(row) for row in rows]


class CountBy(StrEnum):
    GRID = "grid"
    MATTER = "matter"
    STATE = "state"
    LEVEL = "level"


class Count(BaseModel):
    key: str | None
    cases: int


@router.get("/counts", summary="Number of cases by grid, matter, state or level")
async def counts(caller: CaseReader, runtime: RuntimeDep, by: CountBy, centre_code: str | None = None) -> list[Count]:
    column = {
        CountBy.GRID: DispatchCaseRow.grid_code,
        CountBy.MATTER: DispatchCaseRow.matter_code,
        CountBy.STATE: DispatchCaseRow.status,
        CountBy.LEVEL: DispatchCaseRow.level,
    }[by]
    query = (
        select(column, func.count())
        .where(in_places(DispatchCaseRow.grid_code, caller))
        .group_by(col(column))
        .order_by(col(column))
    )
    if centre_code is not None:
        query = query.where(col(DispatchCaseRow.centre_code) == centre_code)
    async with runtime.db.sessions() as session:
        rows = (await session.exec(query)).all()
    return [Count(key=key, cases=n) for key, n in rows]
