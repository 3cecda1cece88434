"""/v1/alarms: the JSON webhook for video-analytics platforms, and recent alarms.

The webhook raises an alarm that becomes a police task: ``alarms:raise`` (the platform holds
an API key), for a channel within the caller's places. Alarms are read with ``grid:read``;
an alarm is where its grid is."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from sqlmodel import col, select

from govmesh_runtime import access
from govmesh_runtime.pagination import CURSOR_QUERY, Page, after, decode_cursor, page
from video_bridge import handlers
from video_bridge.adapters.tables import AlarmRow, ChannelRow
from video_bridge.domain.manscdp import AlarmNotice
from video_bridge.entrypoints.api.deps import AlarmsRaise, GridRead, GridsDep, RuntimeDep, refusals, within
from video_bridge.entrypoints.api.schemas import AlarmPublic, WebhookAlarm

router = APIRouter(prefix="/v1/alarms", tags=["alarms"], responses=refusals(400, 401, 403, 422))


@router.post(
    "/webhook",
    status_code=status.HTTP_202_ACCEPTED,
    summary="An alarm from a video-analytics platform → video.alarms.v1",
    responses={200: {"description": "A retry of an alarm already taken (same event_id)."}},
)
async def webhook(
    body: WebhookAlarm,
    response: Response,
    request: Request,
    caller: AlarmsRaise,
    runtime: RuntimeDep,
    grids: GridsDep,
) -> AlarmPublic:
    if caller.places:  # an unknown channel is in no place: the same 403 as another place's
        async with runtime.db.sessions() as session:
            known = await session.get(ChannelRow, body.channel_id)
        await access.require_place(request, caller, resource="channel", place=known.grid_code if known else None)
    notice = AlarmNotice(
        device_id=body.channel_id,
        priority=body.priority,
        method=body.method,
        alarm_time=body.alarm_time,
        description=body.description,
        lat=body.lat,
        lon=body.lon,
        alarm_type=body.alarm_type,
    )
    async with runtime.uow() as uow:
        channel = await uow.session.get(ChannelRow, body.channel_id)
        if channel is None:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"channel_id: unknown channel {body.channel_id}"
            )
        alarm = await handlers.record_alarm(
            uow, notice, reporting_device=channel.device_id, source="webhook", grids=grids, dedupe=body.event_id
        )
        await uow.commit()
    cascade = request.app.state.cascade
    if alarm is not None and cascade is not None:
        cascade.alarm_raised(notice)  # upward to the upper platforms (GB/T 28181 cascade)
    if alarm is None:
        response.status_code = status.HTTP_200_OK
        async with runtime.db.sessions() as session:
            alarm = (
                await session.exec(select(AlarmRow).where(col(AlarmRow.dedupe_key) == f"webhook:{body.event_id}"[:200]))
            ).one()
    return AlarmPublic.model_validate(alarm, from_attributes=True)


@router.get("", summary="Recent alarms in your places, newest first")
async def list_alarms(
    caller: GridRead,
    runtime: RuntimeDep,
    channel_id: Annotated[str | None, Query(pattern=r"^\d{20}$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, CURSOR_QUERY] = None,
) -> Page[AlarmPublic]:
    order = [col(AlarmRow.received_at), col(AlarmRow.alarm_id)]  # newest first; the id breaks ties
    query = select(AlarmRow).where(
        within(AlarmRow.grid_code, access.place_filter(caller)),
        after(order, decode_cursor(cursor, 2), descending=True),
    )
    if channel_id:
        query = query.where(col(AlarmRow.channel_id) == channel_id)
    async with runtime.db.sessions() as session:
        rows = (await session.exec(query.order_by(*(c.desc() for c in order)).limit(limit + 1))).all()
    items = [AlarmPublic.model_validate(r, from_attributes=True) for r in rows]
    return page(items, rows, limit, lambda r: [r.received_at, r.alarm_id])
