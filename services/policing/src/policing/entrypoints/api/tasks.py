"""/v1/tasks: police tasks and the officers' steps (policing scope; a task is where its grid is)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from govmesh_kit.errors import NotFound
from govmesh_runtime import access
from govmesh_runtime.app import UseCasesDep
from policing.adapters import metrics
from policing.adapters.repository import SqlPolicingRepository
from policing.adapters.tables import PoliceTaskRow
from policing.domain.tasks import TaskStatus, seconds_between
from policing.entrypoints.api.deps import (
    POLICING,
    Policing,
    RuntimeDep,
    guard_room,
    guard_task,
    refusals,
)
from policing.entrypoints.api.schemas import AcceptBody, CloseBody, MediationBody, PoliceTaskPublic, RouteBody
from policing.handlers import accept_task, arrive_on_scene, close_task, mediate, route_task

router = APIRouter(
    prefix="/v1/tasks",
    tags=["police tasks"],
    dependencies=[Depends(POLICING)],
    responses=refusals(400, 401, 403, 404, 409, 422),
)


def public(task: PoliceTaskRow) -> PoliceTaskPublic:
    return PoliceTaskPublic.model_validate(task, from_attributes=True)


@router.get("", summary="Police tasks, by status (e.g. unrouted: no room owns their grid)")
async def list_tasks(
    caller: Policing,
    runtime: RuntimeDep,
    status: Annotated[list[TaskStatus] | None, Query(description="Filter; repeatable.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[PoliceTaskPublic]:
    async with runtime.db.sessions() as session:
        rows = await SqlPolicingRepository(session).tasks(
            statuses=[s.value for s in status or []], limit=limit, places=access.place_filter(caller)
        )
    return [public(t) for t in rows]


@router.get("/{task_id}", summary="One police task")
async def get_task(task_id: uuid.UUID, request: Request, caller: Policing, runtime: RuntimeDep) -> PoliceTaskPublic:
    await guard_task(request, caller, runtime, task_id)
    async with runtime.db.sessions() as session:
        task = await SqlPolicingRepository(session).task(task_id)
    if task is None:
        raise NotFound(f"police task {task_id} not found")
    return public(task)


@router.post("/{task_id}/route", summary="Duty desk: route a task not yet accepted to a room (and its on-duty officer)")
async def route(
    task_id: uuid.UUID, body: RouteBody, request: Request, caller: Policing, runtime: RuntimeDep, use_cases: UseCasesDep
) -> PoliceTaskPublic:
    await guard_task(request, caller, runtime, task_id)
    await guard_room(request, caller, runtime, body.room_code)  # and only to a room of the caller's places
    task = await use_cases.run(route_task, task_id=task_id, room_code=body.room_code)
    return public(task)


@router.post("/{task_id}/accept", summary="An on-duty officer of the room accepts the task (接警)")
async def accept(
    task_id: uuid.UUID,
    body: AcceptBody,
    request: Request,
    caller: Policing,
    runtime: RuntimeDep,
    use_cases: UseCasesDep,
) -> PoliceTaskPublic:
    await guard_task(request, caller, runtime, task_id)
    task = await use_cases.run(accept_task, task_id=task_id, actor=caller)
    if task.accepted_at is not None:
        metrics.RESPONSE.labels(task.source, task.priority).observe(seconds_between(task.reported_at, task.accepted_at))
    return public(task)


@router.post("/{task_id}/on-scene", summary="The officer arrived on scene (到场)")
async def on_scene(
    task_id: uuid.UUID, request: Request, caller: Policing, runtime: RuntimeDep, use_cases: UseCasesDep
) -> PoliceTaskPublic:
    await guard_task(request, caller, runtime, task_id)
    task = await use_cases.run(arrive_on_scene, task_id=task_id)
    if task.on_scene_at is not None:
        metrics.ARRIVAL.labels(task.source, task.priority).observe(seconds_between(task.reported_at, task.on_scene_at))
    return public(task)


@router.post("/{task_id}/close", summary="Close the task with an outcome; dispatch tasks report back to dispatch")
async def close(
    task_id: uuid.UUID, body: CloseBody, request: Request, caller: Policing, runtime: RuntimeDep, use_cases: UseCasesDep
) -> PoliceTaskPublic:
    await guard_task(request, caller, runtime, task_id)
    task = await use_cases.run(
        close_task, task_id=task_id, outcome=body.outcome, summary=body.summary, referral_to=body.referral_to
    )
    return public(task)


@router.post(
    "/{task_id}/mediation",
    summary="Police mediation on scene: settled closes it; a civil dispute goes back to people's mediation",
)
async def police_mediation(
    task_id: uuid.UUID,
    body: MediationBody,
    request: Request,
    caller: Policing,
    runtime: RuntimeDep,
    use_cases: UseCasesDep,
) -> PoliceTaskPublic:
    await guard_task(request, caller, runtime, task_id)
    task = await use_cases.run(mediate, task_id=task_id, result=body.result, summary=body.summary)
    return public(task)
