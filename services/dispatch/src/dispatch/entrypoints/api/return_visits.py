"""/v1/tasks/{id}/return-visit: the grid worker's answer to a return visit (回访) of a closed case."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, model_validator

from dispatch.entrypoints.api.cases import TaskPublic, task_public
from dispatch.entrypoints.api.deps import RuntimeDep, refusals
from dispatch.entrypoints.api.tasks import _worked_by_caller
from dispatch.handlers import RecordReturnVisit, record_return_visit
from govmesh_runtime import access
from govmesh_runtime.app import UseCasesDep
from govmesh_runtime.auth import Principal
from govmesh_runtime.roles import Scope

router = APIRouter(prefix="/v1/tasks", tags=["tasks"], responses=refusals(400, 403, 404, 409, 422))

TaskWorker = Annotated[Principal, Depends(access.require(Scope.TASKS_WORK.value))]


class ReturnVisitAnswer(BaseModel):
    reached: bool = Field(description="Whether the resident was reached")
    satisfaction: int | None = Field(default=None, ge=1, le=5, description="1 very dissatisfied … 5 very satisfied")
    comment: str | None = Field(default=None, max_length=2000, description="What the resident said; no personal data")

    @model_validator(mode="after")
    def _satisfaction(self) -> ReturnVisitAnswer:
        if self.reached != (self.satisfaction is not None):
            raise ValueError("satisfaction is required when the resident was reached, and only then")
        return self


@router.post("/{task_id}/return-visit", summary="The grid worker records a return visit's answer (satisfaction)")
async def answer_return_visit(
    task_id: UUID,
    body: ReturnVisitAnswer,
    request: Request,
    caller: TaskWorker,
    runtime: RuntimeDep,
    use_cases: UseCasesDep,
) -> TaskPublic:
    await _worked_by_caller(request, caller, runtime, task_id)  # the assignee (or a centre), not any worker
    cmd = RecordReturnVisit(task_id, body.reached, body.satisfaction, body.comment, by=caller.subject)
    return task_public(await use_cases.run(record_return_visit, cmd))
