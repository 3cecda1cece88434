"""Grid workers (网格员), governance centres (综治中心) and grid visits (走访)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request, status
from pydantic import AwareDatetime, BaseModel, Field
from sqlmodel import col, select

from dispatch import people
from dispatch.adapters.repository import community_worker_loads
from dispatch.adapters.tables import CentreRow, VisitPlanRow, VisitRecordRow, WorkerRow
from dispatch.domain.elements import mask_value
from dispatch.entrypoints.api.deps import (
    PERSONAL_DATA,
    DispatcherDep,
    GridReader,
    GridWriter,
    RuntimeDep,
    TaskManager,
    TaskWorker,
    in_places,
    refusals,
)
from govmesh_contracts import Level
from govmesh_kit.masking import mask_name
from govmesh_runtime import access, audit
from govmesh_runtime.app import UseCasesDep
from govmesh_runtime.auth import Principal
from govmesh_runtime.tables import AuditRecord

workers_router = APIRouter(prefix="/v1/workers", tags=["workers"], responses=refusals(400, 403, 404, 422))
centres_router = APIRouter(prefix="/v1/centres", tags=["centres"], responses=refusals(400, 403, 422))
visits_router = APIRouter(prefix="/v1", tags=["visits"], responses=refusals(400, 403, 422))


class WorkerIn(BaseModel):
    grid_code: str = Field(pattern=r"^\d{15}$")
    name: str = Field(min_length=1, max_length=100)
    phone: str | None = Field(default=None, pattern=r"^\+?\d{5,20}$")
    on_duty: bool = True


class WorkerPublic(BaseModel):
    worker_id: str
    grid_code: str
    community_code: str
    name: str = Field(description="Masked without the personal-data scope")
    phone: str | None = Field(description="Masked without the personal-data scope")
    on_duty: bool
    open_tasks: int = 0


_personal = people.personal


def _public(row: WorkerRow, open_tasks: int = 0, *, unmasked: bool = False) -> WorkerPublic:
    return WorkerPublic(
        worker_id=row.worker_id,
        grid_code=row.grid_code,
        community_code=row.community_code,
        name=row.name if unmasked else mask_name(row.name),
        phone=row.phone if unmasked or not row.phone else mask_value("phone", row.phone),
        on_duty=row.on_duty,
        open_tasks=open_tasks,
    )


async def _shown(request: Request, caller: Principal, rows: list[WorkerRow]) -> bool:
    """Whether to show the rows unmasked; if so, the read is audited (one row per worker)."""
    if not caller.has(PERSONAL_DATA):
        return False
    await access.audit_personal_data(
        request,
        caller,
        action=audit.Action.READ,
        resource="worker",
        resource_ids=[r.worker_id for r in rows],
        fields=sorted({f for r in rows for f in _personal(r)}),
    )
    return True


@workers_router.put("/{worker_id}", summary="Create or update a grid worker")
async def put_worker(
    worker_id: Annotated[str, Path(max_length=64)],
    body: WorkerIn,
    request: Request,
    caller: GridWriter,
    runtime: RuntimeDep,
    use_cases: UseCasesDep,
) -> WorkerPublic:
    await access.require_place(request, caller, resource="worker", place=body.grid_code)
    # Checks that may refuse run before the write transaction (a refusal is audited in its
    # own, and SQLite has one writer); a worker's grid changes only through this endpoint.
    async with runtime.db.sessions() as session:
        existing = await session.get(WorkerRow, worker_id)
    if existing is not None and not caller.may_act_in(existing.grid_code):
        # moving a worker out of someone else's grid is a change there
        raise await access.refuse(request, caller, "this worker is not within your places", "worker", worker_id)

    def audit_entry(changed: list[str]) -> AuditRecord:
        return access.change_entry(
            request, caller, resource="worker", resource_id=worker_id, fields=changed, reason="worker record"
        )

    row = await use_cases.run(people.save_worker, worker_id, **body.model_dump(), audit_entry=audit_entry)
    return _public(row, unmasked=caller.has(PERSONAL_DATA))


class Duty(BaseModel):
    on_duty: bool


@workers_router.put("/{worker_id}/duty", summary="A worker goes on or off duty")
async def set_duty(
    worker_id: str, body: Duty, request: Request, caller: GridWriter, runtime: RuntimeDep, use_cases: UseCasesDep
) -> WorkerPublic:
    async with runtime.db.sessions() as session:
        found = await session.get(WorkerRow, worker_id)
    await access.guard_place(
        request,
        caller,
        resource="worker",
        resource_id=worker_id,
        place=found.grid_code if found else None,
        found=found is not None,
    )
    row = await use_cases.run(people.set_worker_duty, worker_id, on_duty=body.on_duty)
    return _public(row)  # masked: the answer to a duty change needs no personal data


@workers_router.get("", summary="Workers of a grid or a community, with their load (open tasks)")
async def list_workers(
    request: Request,
    caller: GridReader,
    runtime: RuntimeDep,
    grid_code: Annotated[str | None, Query(pattern=r"^\d{15}$")] = None,
    community_code: Annotated[str | None, Query(pattern=r"^\d{12}$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> list[WorkerPublic]:
    community = community_code or (grid_code[:12] if grid_code else None)
    if community is None:
        raise HTTPException(422, detail="give grid_code or community_code")
    async with runtime.db.sessions() as session:
        loads = {w.worker_id: w.open_tasks for w in await community_worker_loads(session, community)}
        query = (
            select(WorkerRow)
            .where(col(WorkerRow.community_code) == community, in_places(WorkerRow.grid_code, caller))
            .order_by(col(WorkerRow.worker_id))
            .limit(limit)
        )
        if grid_code:
            query = query.where(col(WorkerRow.grid_code) == grid_code)
        rows = list((await session.exec(query)).all())
    unmasked = await _shown(request, caller, rows)
    return [_public(row, loads.get(row.worker_id, 0), unmasked=unmasked) for row in rows]


class CentreIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    level: Level
    admin_code: str = Field(pattern=r"^(\d{6}|\d{9}|\d{12})$")
    windows: list[str] = Field(default_factory=list, description="e.g. reception, mediation, legal, counselling")


class CentrePublic(CentreIn):
    centre_code: str


@centres_router.put("/{centre_code}", summary="Create or update a governance centre")
async def put_centre(
    centre_code: Annotated[str, Path(max_length=32)],
    body: CentreIn,
    request: Request,
    caller: GridWriter,
    runtime: RuntimeDep,
    use_cases: UseCasesDep,
) -> CentrePublic:
    await access.require_place(request, caller, resource="centre", place=body.admin_code)
    async with runtime.db.sessions() as session:
        existing = await session.get(CentreRow, centre_code)
    if existing is not None and not caller.may_act_in(existing.admin_code):
        raise await access.refuse(request, caller, "this centre is not within your places", "centre", centre_code)
    await use_cases.run(people.save_centre, centre_code, **body.model_dump(mode="json"))
    return CentrePublic(centre_code=centre_code, **body.model_dump())


@centres_router.get("", summary="Governance centres, by level")
async def list_centres(
    caller: GridReader,
    runtime: RuntimeDep,
    level: Level | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> list[CentrePublic]:
    query = (
        select(CentreRow)
        .where(in_places(CentreRow.admin_code, caller))
        .order_by(col(CentreRow.centre_code))
        .limit(limit)
    )
    if level is not None:
        query = query.where(col(CentreRow.level) == level.value)
    async with runtime.db.sessions() as session:
        rows = (await session.exec(query)).all()
    return [
        CentrePublic(
            centre_code=r.centre_code,
            name=r.name,
            level=Level(r.level),
            admin_code=r.admin_code,
            windows=json.loads(r.windows),
        )
        for r in rows
    ]


class VisitPlanIn(BaseModel):
    grid_code: str = Field(pattern=r"^\d{15}$")
    cadre_ref: str = Field(min_length=1, max_length=64, description="Staff id of the community cadre (no name)")
    every_days: int = Field(ge=1, le=366)
    first_visit_on: AwareDatetime


class VisitPlanPublic(BaseModel):
    id: uuid.UUID
    grid_code: str
    cadre_ref: str
    every_days: int
    next_visit_on: datetime
    overdue: bool


class VisitRecordIn(BaseModel):
    grid_code: str = Field(pattern=r"^\d{15}$")
    cadre_ref: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Who visited: the caller (the credential's subject); another cadre only with tasks:manage",
    )
    plan_id: uuid.UUID | None = None
    visited_at: AwareDatetime
    households_visited: int = Field(ge=0, le=10_000)
    views: str = Field(min_length=1, max_length=4000, description="Residents' views collected")


class VisitRecordPublic(VisitRecordIn):
    id: uuid.UUID
    cadre_ref: str


@visits_router.post("/visit-plans", status_code=status.HTTP_201_CREATED, summary="Plan a cadre's grid visits")
async def create_plan(
    body: VisitPlanIn,
    request: Request,
    caller: TaskManager,
    runtime: RuntimeDep,
    use_cases: UseCasesDep,
    dispatcher: DispatcherDep,
) -> VisitPlanPublic:
    await access.require_place(request, caller, resource="visit plan", place=body.grid_code)
    row = await use_cases.run(people.plan_visits, **body.model_dump())
    return VisitPlanPublic(**row.model_dump(), overdue=row.next_visit_on < dispatcher.clock())


@visits_router.get("/visit-plans", summary="Visit plans of a grid; overdue ones flagged")
async def list_plans(
    request: Request,
    caller: GridReader,
    runtime: RuntimeDep,
    dispatcher: DispatcherDep,
    grid_code: Annotated[str, Query(pattern=r"^\d{15}$")],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[VisitPlanPublic]:
    await access.require_place(request, caller, resource="visit plan", place=grid_code)
    query = (
        select(VisitPlanRow)
        .where(col(VisitPlanRow.grid_code) == grid_code)
        .order_by(col(VisitPlanRow.next_visit_on))
        .limit(limit)
    )
    async with runtime.db.sessions() as session:
        rows = (await session.exec(query)).all()
    now = dispatcher.clock()
    return [VisitPlanPublic(**r.model_dump(), overdue=r.next_visit_on < now) for r in rows]


@visits_router.post("/visit-records", status_code=status.HTTP_201_CREATED, summary="Record a grid visit (走访)")
async def record_visit(
    body: VisitRecordIn, request: Request, caller: TaskWorker, runtime: RuntimeDep, use_cases: UseCasesDep
) -> VisitRecordPublic:
    await access.require_place(request, caller, resource="visit record", place=body.grid_code)
    # The visitor is the credential's subject; a centre (tasks:manage) may record for a cadre.
    cadre = body.cadre_ref or caller.subject
    if cadre != caller.subject:
        await access.require_assignee_or_manager(
            request, caller, assignee=cadre, resource="visit record", resource_id=body.grid_code
        )
    body = body.model_copy(update={"cadre_ref": cadre})
    row = await use_cases.run(
        people.record_visit,
        grid_code=body.grid_code,
        plan_id=body.plan_id,
        visited_at=body.visited_at,
        record=body.model_dump(),
    )
    return VisitRecordPublic(id=row.id, **body.model_dump())


@visits_router.get("/visit-records", summary="Visit records of a grid, newest first")
async def list_visits(
    request: Request,
    caller: GridReader,
    runtime: RuntimeDep,
    grid_code: Annotated[str, Query(pattern=r"^\d{15}$")],
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[VisitRecordPublic]:
    await access.require_place(request, caller, resource="visit record", place=grid_code)
    async with runtime.db.sessions() as session:
        rows = (
            await session.exec(
                select(VisitRecordRow)
                .where(col(VisitRecordRow.grid_code) == grid_code)
                .order_by(col(VisitRecordRow.visited_at).desc())
                .limit(limit)
            )
        ).all()
    return [VisitRecordPublic(**r.model_dump()) for r in rows]
