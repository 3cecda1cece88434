"""/v1/alarms: the JSON webhook for video-analytics platforms, and recent alarms."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Query, Response, status
from sqlmodel import col, select

from video_bridge import handlers
from video_bridge.adapters.tables import AlarmRow, ChannelRow
from video_bridge.domain.manscdp import AlarmNotice
from video_bridge.entrypoints.api.deps import GridsDep, RuntimeDep, refusals
from video_bridge.entrypoints.api.schemas import AlarmPublic, WebhookAlarm
from video_bridge.settings import VideoBridgeSettings

router = APIRouter(prefix="/v1/alarms", tags=["alarms"], responses=refusals(400, 401, 422))


@router.post(
    "/webhook",
    status_code=status.HTTP_202_ACCEPTED,
    summary="An alarm from a video-analytics platform → video.alarms.v1",
    responses={200: {"description": "A retry of an alarm already taken (same event_id)."}},
)
async def webhook(
    body: WebhookAlarm,
    response: Response,
    runtime: RuntimeDep,
    grids: GridsDep,
    x_webhook_token: Annotated[str | None, Header(max_length=200)] = None,
) -> AlarmPublic:
    settings: VideoBridgeSettings = runtime.settings  # type: ignore[assignment]
    if settings.webhook_token and x_webhook_token != settings.webhook_token:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="X-Webhook-Token: missing or wrong")
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
    if alarm is None:
        response.status_code = status.HTTP_200_OK
        async with runtime.db.sessions() as session:
            alarm = (
                await session.exec(select(AlarmRow).where(col(AlarmRow.dedupe_key) == f"webhook:{body.event_id}"[:200]))
            ).one()
    return AlarmPublic.model_validate(alarm, from_attributes=True)


@router.get("", summary="Recent alarms, newest first")
async def list_alarms(
    runtime: RuntimeDep,
    channel_id: Annotated[str | None, Query(pattern=r"^\d{20}$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[AlarmPublic]:
    query = select(AlarmRow)
    if channel_id:
        query = query.where(col(AlarmRow.channel_id) == channel_id)
    async with runtime.db.sessions() as session:
        rows = (await session.exec(query.order_by(col(AlarmRow.received_at).desc()).limit(limit))).all()
    return [AlarmPublic.model_validate(r, from_attributes=True) for r in rows]
