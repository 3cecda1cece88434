"""/v1/cases: dispatch's view of a case and its tasks."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel

from dispatch.adapters.repository import case_tasks
from dispatch.adapters.tables import DispatchCaseRow, TaskRow
from dispatch.entrypoints.api.deps import CaseReader, RuntimeDep, refusals
from govmesh_runtime import access

router = APIRouter(prefix="/v1/cases", tags=["cases"], responses=refusals(403, 404))


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
