"""Sessions: scheduling (conflicts refused), the studio's calendar, minutes and attendance."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, Request, status

from govmesh_runtime import access
from mediation.adapters.repository import SqlMediationRepository
from mediation.domain.commands import CancelSession, RecordSession, ScheduleSession
from mediation.entrypoints.api.deps import (
    CasesRead,
    ClockDep,
    Mediating,
    RuntimeDep,
    aware,
    guard_dispute,
    guard_session,
    refusals,
    run,
)
from mediation.entrypoints.api.disputes import session_public
from mediation.entrypoints.api.schemas import Created, SessionCancel, SessionCreate, SessionPublic, SessionRecord
from mediation.handlers.sessions import cancel_session, record_session, schedule_session

router = APIRouter(tags=["sessions"], responses=refusals(400, 401, 403, 404, 409, 422))


@router.post(
    "/v1/disputes/{dispute_id}/sessions",
    status_code=status.HTTP_201_CREATED,
    summary="Schedule a session; the parties' notices go out as an event",
    responses={409: {"description": "The mediator, the room or a party is already booked then."}},
)
async def post_session(
    dispute_id: UUID, body: SessionCreate, request: Request, caller: Mediating, runtime: RuntimeDep, clock: ClockDep
) -> Created:
    await guard_dispute(request, caller, runtime, dispute_id)
    cmd = ScheduleSession(
        dispute_id,
        aware(body.starts_at, "starts_at"),
        aware(body.ends_at, "ends_at"),
        body.room,
        tuple(body.party_ids),
    )
    return Created(id=await run(runtime, lambda uow: schedule_session(cmd, uow, now=clock())))


@router.get("/v1/sessions", summary="The sessions calendar of a studio or a mediator")
async def calendar(
    caller: CasesRead,
    runtime: RuntimeDep,
    clock: ClockDep,
    studio_id: str | None = None,
    mediator_id: str | None = None,
    starts: Annotated[datetime | None, Query(alias="from")] = None,
    ends: Annotated[datetime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 500,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[SessionPublic]:
    start = aware(starts, "from") if starts else clock() - timedelta(days=1)
    end = aware(ends, "to") if ends else start + timedelta(days=31)
    if end <= start:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[{"loc": ["query", "to"], "msg": "must be after from", "type": "rule"}],
        )
    async with runtime.db.sessions() as session:
        rows = await SqlMediationRepository(session).calendar(
            starts=start,
            ends=end,
            studio_id=studio_id,
            mediator_id=mediator_id,
            places=access.place_filter(caller),
            limit=limit,
            offset=offset,
        )
    return [session_public(s) for s in rows]


@router.post(
    "/v1/sessions/{session_id}/record", status_code=status.HTTP_204_NO_CONTENT, summary="Minutes and attendance"
)
async def post_record(
    session_id: UUID, body: SessionRecord, request: Request, caller: Mediating, runtime: RuntimeDep, clock: ClockDep
) -> None:
    await guard_session(request, caller, runtime, session_id)
    cmd = RecordSession(session_id, body.minutes, dict(body.attendance))
    await run(runtime, lambda uow: record_session(cmd, uow, now=clock()))


@router.post("/v1/sessions/{session_id}/cancel", status_code=status.HTTP_204_NO_CONTENT, summary="Cancel a session")
async def post_cancel(
    session_id: UUID, body: SessionCancel, request: Request, caller: Mediating, runtime: RuntimeDep, clock: ClockDep
) -> None:
    await guard_session(request, caller, runtime, session_id)
    cmd = CancelSession(session_id, body.reason)
    await run(runtime, lambda uow: cancel_session(cmd, uow, now=clock()))
