"""Sessions: scheduling (conflicts refused), the studio's calendar, minutes and attendance."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query, status

from mediation.adapters.repository import SqlMediationRepository
from mediation.domain.commands import CancelSession, RecordSession, ScheduleSession
from mediation.entrypoints.api.deps import ClockDep, RuntimeDep, aware, refusals, run
from mediation.entrypoints.api.disputes import session_public
from mediation.entrypoints.api.schemas import Created, SessionCancel, SessionCreate, SessionPublic, SessionRecord
from mediation.handlers import cancel_session, record_session, schedule_session

router = APIRouter(tags=["sessions"], responses=refusals(400, 404, 409, 422))


@router.post(
    "/v1/disputes/{dispute_id}/sessions",
    status_code=status.HTTP_201_CREATED,
    summary="Schedule a session; the parties' notices go out as an event",
    responses={409: {"description": "The mediator, the room or a party is already booked then."}},
)
async def post_session(dispute_id: UUID, body: SessionCreate, runtime: RuntimeDep, clock: ClockDep) -> Created:
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
    runtime: RuntimeDep,
    clock: ClockDep,
    studio_id: str | None = None,
    mediator_id: str | None = None,
    starts: Annotated[datetime | None, Query(alias="from")] = None,
    ends: Annotated[datetime | None, Query(alias="to")] = None,
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
            starts=start, ends=end, studio_id=studio_id, mediator_id=mediator_id
        )
    return [session_public(s) for s in rows]


@router.post(
    "/v1/sessions/{session_id}/record", status_code=status.HTTP_204_NO_CONTENT, summary="Minutes and attendance"
)
async def post_record(session_id: UUID, body: SessionRecord, runtime: RuntimeDep, clock: ClockDep) -> None:
    cmd = RecordSession(session_id, body.minutes, dict(body.attendance))
    await run(runtime, lambda uow: record_session(cmd, uow, now=clock()))


@router.post("/v1/sessions/{session_id}/cancel", status_code=status.HTTP_204_NO_CONTENT, summary="Cancel a session")
async def post_cancel(session_id: UUID, body: SessionCancel, runtime: RuntimeDep, clock: ClockDep) -> None:
    cmd = CancelSession(session_id, body.reason)
    await run(runtime, lambda uow: cancel_session(cmd, uow, now=clock()))
