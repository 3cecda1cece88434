"""/v1/tasks: the grid worker's terminal and the departments accept and end their tasks;
the centres reassign and cancel them."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, model_validator
from sqlmodel import col, select

from dispatch.adapters.tables import CentreRow, TaskRow
from dispatch.domain.routing import RuleError, Target
from dispatch.entrypoints.api.cases import TaskPublic, task_public
from dispatch.entrypoints.api.deps import (
    CaseReader,
    RuntimeDep,
    TaskManager,
    TaskWorker,
    refusals,
)
from dispatch.handlers import (
    CancelTask,
    CompleteTask,
    ReassignTask,
    accept_task,
    cancel_task,
    complete_task,
    reassign_task,
)
from govmesh_contracts import TaskOutcome
from govmesh_kit.errors import Invalid
from govmesh_runtime import access
from govmesh_runtime.app import Runtime, UseCasesDep
from govmesh_runtime.auth import Principal
from govmesh_runtime.places import guard_row, in_places

router = APIRouter(prefix="/v1/tasks", tags=["tasks"], responses=refusals(400, 403, 404, 409, 422))


@router.get("", summary="Tasks of an assignee (a grid worker's or a department's list)")
async def list_tasks(
    caller: CaseReader,
    runtime: RuntimeDep,
    assignee: Annotated[str, Query(min_length=1, max_length=64)],
    state: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[TaskPublic]:
    query = (
        select(TaskRow)
        .where(col(TaskRow.assignee) == assignee, in_places(TaskRow.grid_code, caller))
        .order_by(col(TaskRow.due_at))
        .limit(limit)
    )
    if state is not None:
        query = query.where(col(TaskRow.state) == state)
    async with runtime.db.sessions() as session:
        rows = (await session.exec(query)).all()
    return [task_public(r) for r in rows]


async def _task_in_places(request: Request, caller: Principal, runtime: Runtime, task_id: UUID) -> TaskRow:
    """The task, if it lies in the caller's places (its case's grid); a task elsewhere and a
    missing one are the same 403 for a place-bound caller. A task's grid never changes, so
    checking before the change's own transaction is enough."""
    return await guard_row(request, caller, runtime.db.sessions, TaskRow, task_id, resource="task", place=grid_of)


def grid_of(task: TaskRow) -> str | None:
    return task.grid_code


@router.get("/{task_id}", summary="One task")
async def get_task(task_id: UUID, request: Request, caller: CaseReader, runtime: RuntimeDep) -> TaskPublic:
    return task_public(await _task_in_places(request, caller, runtime, task_id))


async def _worked_by_caller(request: Request, caller: Principal, runtime: Runtime, task_id: UUID) -> None:
    """Accepting or ending a task: its assignee (the credential's subject is the worker id or
    department code), or a centre holding tasks:manage for the task's place. The actor is
    never taken from the body."""
    row = await _task_in_places(request, caller, runtime, task_id)
    await access.require_assignee_or_manager(
        request, caller, assignee=row.assignee, resource="task", resource_id=str(task_id)
    )


async def _deciding_centre_in_places(request: Request, caller: Principal, runtime: Runtime, centre_code: str) -> None:
    """A place-bound centre decides only as a centre of its own division (the centre's
    administrative code within the caller's places), not in another centre's name."""
    if not caller.places:
        return
    async with runtime.db.sessions() as session:
        centre = await session.get(CentreRow, centre_code)
    if centre is None:
        raise Invalid(f"no such centre: {centre_code}", field="centre_code")
    await access.require_place(request, caller, resource="centre", place=centre.admin_code)


@router.post("/{task_id}/accept", summary="The assignee accepts the task")
async def accept(
    task_id: UUID, request: Request, caller: TaskWorker, runtime: RuntimeDep, use_cases: UseCasesDep
) -> TaskPublic:
    await _worked_by_caller(request, caller, runtime, task_id)
    return task_public(await use_cases.run(accept_task, task_id))


class Completion(BaseModel):
    outcome: TaskOutcome
    summary: str = Field(min_length=1, max_length=2000, description="What was done; no personal data")
    referral_to: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def _referral(self) -> Completion:
        if (self.outcome is TaskOutcome.REFERRED) != (self.referral_to is not None):
            raise ValueError("referral_to is required with outcome=referred, and only then")
        return self


@router.post("/{task_id}/complete", summary="The assignee ends the task: done, referred, withdrawn or failed")
async def complete(
    task_id: UUID,
    body: Completion,
    request: Request,
    caller: TaskWorker,
    runtime: RuntimeDep,
    use_cases: UseCasesDep,
) -> TaskPublic:
    await _worked_by_caller(request, caller, runtime, task_id)
    cmd = CompleteTask(task_id, body.outcome, body.summary, body.referral_to, completed_by=caller.subject)
    return task_public(await use_cases.run(complete_task, cmd))


class Reassignment(BaseModel):
    centre_code: str = Field(min_length=1, max_length=32, description="The centre deciding: within your places")
    reason: str = Field(min_length=1, max_length=500)
    target: str | None = Field(default=None, description="grid_worker, mediation, policing or department:<code>")
    assignee: str | None = Field(default=None, max_length=64, description="A worker id; chosen when omitted")


@router.post("/{task_id}/reassign", summary="A centre reassigns a task (another worker or target)")
async def reassign(
    task_id: UUID,
    body: Reassignment,
    request: Request,
    caller: TaskManager,
    runtime: RuntimeDep,
    use_cases: UseCasesDep,
) -> TaskPublic:
    await _task_in_places(request, caller, runtime, task_id)
    await _deciding_centre_in_places(request, caller, runtime, body.centre_code)
    try:
        target = Target.parse(body.target) if body.target else None
    except RuleError as exc:
        raise Invalid(str(exc), field="target") from None
    cmd = ReassignTask(task_id, body.centre_code, body.reason, target, body.assignee)
    return task_public(await use_cases.run(reassign_task, cmd))


class Cancellation(BaseModel):
    reason: str = Field(min_length=1, max_length=500, description="Why the task is not needed; no personal data")


@router.post("/{task_id}/cancel", summary="A centre cancels a task; its holder closes its file")
async def cancel(
    task_id: UUID,
    body: Cancellation,
    request: Request,
    caller: TaskManager,
    runtime: RuntimeDep,
    use_cases: UseCasesDep,
) -> TaskPublic:
    await _task_in_places(request, caller, runtime, task_id)
    # The actor is the credential's subject, never a body field.
    cmd = CancelTask(task_id, body.reason, caller.subject)
    return task_public(await use_cases.run(cancel_task, cmd))
