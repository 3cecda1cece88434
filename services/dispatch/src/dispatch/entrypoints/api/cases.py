"""/v1/cases: dispatch's view of a case and its tasks; a centre escalates or closes a case."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from dispatch.adapters.repository import case_tasks
from dispatch.adapters.tables import DispatchCaseRow, TaskRow
from dispatch.entrypoints.api.deps import CaseReader, RuntimeDep, refusals
from dispatch.handlers import CloseCase, EscalateCase, close_case, escalate_case
from govmesh_runtime import access
from govmesh_runtime.app import Runtime, UseCasesDep
from govmesh_runtime.auth import Principal
from govmesh_runtime.places import guard_row
from govmesh_runtime.roles import Scope

router = APIRouter(prefix="/v1/cases", tags=["cases"], responses=refusals(403, 404))
# Case-level decisions of a centre (roles.py: cancel, close, escalate, merge).
CaseManager = Annotated[Principal, Depends(access.require(Scope.CASES_MANAGE))]


class TaskPublic(BaseModel):
    task_id: UUID
    case_id: UUID
    target: str
    department: str | None
    assignee: str | None
    grid_code: str | None
    state: str
    level: str
    centre_code: str
    due_at: datetime
    assigned_at: datetime
    completed_at: datetime | None
    outcome: str | None
    summary: str | None
    referral_to: str | None
    parent_task_id: UUID | None
    kind: str = "handling"  # or return_visit (回访)
    satisfaction: int | None = None  # a return visit's answer


class DispatchCasePublic(BaseModel):
    case_id: UUID
    case_number: str
    matter_code: str
    grid_code: str | None
    status: str
    handled_by: str
    level: str
    centre_code: str
    received_at: datetime
    dispatched_at: datetime
    due_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    reopened: int
    tasks: list[TaskPublic] = []


def task_public(row: TaskRow) -> TaskPublic:
    return TaskPublic.model_validate(row, from_attributes=True)


def case_public(row: DispatchCaseRow, tasks: list[TaskRow] | None = None) -> DispatchCasePublic:
    return DispatchCasePublic.model_validate({**row.model_dump(), "tasks": [task_public(t) for t in tasks or []]})


async def _case_in_places(request: Request, caller: Principal, runtime: Runtime, case_id: UUID) -> None:
    """A case elsewhere and a missing one are the same 403 for a place-bound caller."""
    await guard_row(request, caller, runtime.db.sessions, DispatchCaseRow, case_id, resource="case", place=grid_of)


def grid_of(case: DispatchCaseRow) -> str | None:
    return case.grid_code


class Escalation(BaseModel):
    reason: str = Field(min_length=1, max_length=500, description="Why it goes up; no personal data")


class Closure(BaseModel):
    note: str = Field(min_length=1, max_length=2000, description="Why the centre closes it; no personal data")


async def _decided(runtime: Runtime, case_id: UUID) -> DispatchCasePublic:
    """The case as the centre's decision left it."""
    async with runtime.db.sessions() as session:
        row = await session.get(DispatchCaseRow, case_id)
        tasks = await case_tasks(session, case_id)
    assert row is not None
    return case_public(row, tasks)


@router.post(
    "/{case_id}/escalate",
    summary="A centre escalates a case in handling one level up (上报), with its open tasks",
    responses=refusals(400, 409, 422),
)
async def escalate(
    case_id: UUID,
    body: Escalation,
    request: Request,
    caller: CaseManager,
    runtime: RuntimeDep,
    use_cases: UseCasesDep,
) -> DispatchCasePublic:
    await _case_in_places(request, caller, runtime, case_id)
    # The actor is the credential's subject, never a body field.
    await use_cases.run(escalate_case, EscalateCase(case_id, body.reason, caller.subject))
    return await _decided(runtime, case_id)


@router.post(
    "/{case_id}/close",
    summary="A centre closes a resolved case (结案) without waiting for the feedback window",
    responses=refusals(400, 409, 422),
)
async def close(
    case_id: UUID,
    body: Closure,
    request: Request,
    caller: CaseManager,
    runtime: RuntimeDep,
    use_cases: UseCasesDep,
) -> DispatchCasePublic:
    await _case_in_places(request, caller, runtime, case_id)
    await use_cases.run(close_case, CloseCase(case_id, body.note, caller.subject))
    return await _decided(runtime, case_id)


@router.get("/{case_id}", summary="Dispatch's view of a case, with its tasks")
async def get_case(case_id: UUID, request: Request, caller: CaseReader, runtime: RuntimeDep) -> DispatchCasePublic:
    async with runtime.db.sessions() as session:
        row = await session.get(DispatchCaseRow, case_id)
        tasks = await case_tasks(session, case_id) if row is not None else []
    await access.guard_place(
        request,
        caller,
        resource="case",
        resource_id=str(case_id),
        place=row.grid_code if row else None,
        found=row is not None,
    )
    assert row is not None  # guard_place answered 404 otherwise
    return case_public(row, tasks)
