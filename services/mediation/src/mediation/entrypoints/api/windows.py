"""/v1/window-requests and /v1/deliberations: the lighter flows of a studio."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request, status
from sqlmodel import col, select

from govmesh_runtime import access
from mediation.adapters.repository import SqlMediationRepository, within
from mediation.adapters.tables import DeliberationRow
from mediation.domain.commands import CompleteWindowRequest, Decision, OpenWindowRequest, RecordDeliberation
from mediation.domain.deliberation import Vote
from mediation.domain.window_services import WindowKind
from mediation.entrypoints.api.deps import (
    CasesRead,
    ClockDep,
    Mediating,
    RuntimeDep,
    guard_window_request,
    refusals,
    require_studio,
    run,
    serves,
)
from mediation.entrypoints.api.schemas import (
    Created,
    DeliberationCreate,
    DeliberationPublic,
    WindowRequestComplete,
    WindowRequestCreate,
    WindowRequestPublic,
)
from mediation.handlers.windows import complete_window_request, open_window_request, record_deliberation

router = APIRouter(tags=["window services"], responses=refusals(400, 401, 403, 404, 409, 422))


@router.post(
    "/v1/window-requests", status_code=status.HTTP_201_CREATED, summary="Legal consultation, legal aid or counselling"
)
async def post_window_request(
    body: WindowRequestCreate, request: Request, caller: Mediating, runtime: RuntimeDep, clock: ClockDep
) -> Created:
    await require_studio(request, caller, runtime, body.studio_id)
    cmd = OpenWindowRequest(body.kind, body.topic, body.studio_id)
    return Created(id=await run(runtime, lambda uow: open_window_request(cmd, uow, now=clock())))


@router.get("/v1/window-requests", summary="Window requests, by kind and status")
async def list_window_requests(
    caller: CasesRead,
    runtime: RuntimeDep,
    kind: WindowKind | None = None,
    status_: Annotated[str | None, Query(alias="status")] = None,
    studio_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[WindowRequestPublic]:
    async with runtime.db.sessions() as session:
        repo = SqlMediationRepository(session)
        # A place-bound caller sees the requests of the studios serving their places.
        studio_ids = [s.id for s in await repo.studios() if serves(caller, s)] if caller.places else None
        rows = await repo.window_requests(
            kind=kind.value if kind else None,
            status=status_,
            studio_id=studio_id,
            studio_ids=studio_ids,
            limit=limit,
            offset=offset,
        )
    return [
        WindowRequestPublic(
            request_id=r.id,
            kind=r.kind,
            studio_id=r.studio_id,
            case_id=r.case_id,
            topic=r.topic,
            status=r.status,
            outcome=r.outcome,
            referral_to=r.referral_to,
            opened_at=r.opened_at,
            closed_at=r.closed_at,
        )
        for r in rows
    ]


@router.post(
    "/v1/window-requests/{request_id}/completion",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="The service given and its outcome (a task from dispatch gets its result)",
)
async def post_completion(
    request_id: UUID,
    body: WindowRequestComplete,
    request: Request,
    caller: Mediating,
    runtime: RuntimeDep,
    clock: ClockDep,
) -> None:
    await guard_window_request(request, caller, runtime, request_id)
    cmd = CompleteWindowRequest(request_id, body.outcome, body.referral_to, body.note)
    await run(runtime, lambda uow: complete_window_request(cmd, uow, now=clock()))


@router.post(
    "/v1/deliberations", status_code=status.HTTP_201_CREATED, summary="Record a residents' deliberation (议事会)"
)
async def post_deliberation(
    body: DeliberationCreate, request: Request, caller: Mediating, runtime: RuntimeDep, clock: ClockDep
) -> Created:
    await access.require_place(request, caller, resource="deliberation", place=body.community_code)
    cmd = RecordDeliberation(
        body.community_code,
        body.topic,
        body.held_on,
        tuple(body.participants),
        tuple(Decision(d.text, Vote(d.votes_for, d.votes_against, d.abstentions)) for d in body.decisions),
        body.dispute_id,
    )
    return Created(id=await run(runtime, lambda uow: record_deliberation(cmd, uow, now=clock())))


@router.get("/v1/deliberations", summary="Deliberations of a community")
async def list_deliberations(
    caller: CasesRead,
    runtime: RuntimeDep,
    community_code: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[DeliberationPublic]:
    query = (
        select(DeliberationRow)
        .where(within(DeliberationRow.community_code, access.place_filter(caller)))
        .order_by(col(DeliberationRow.held_at), col(DeliberationRow.id))
        .limit(limit)
        .offset(offset)
    )
    if community_code is not None:
        query = query.where(col(DeliberationRow.community_code) == community_code)
    async with runtime.db.sessions() as session:
        rows = (await session.exec(query)).all()
    return [
        DeliberationPublic(
            deliberation_id=r.id,
            community_code=r.community_code,
            topic=r.topic,
            held_at=r.held_at,
            participants=r.participants,
            decisions=r.decisions,
            dispute_id=r.dispute_id,
        )
        for r in rows
    ]
