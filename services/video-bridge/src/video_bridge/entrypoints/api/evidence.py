"""/v1/evidence: find recordings of the channels near a place in a time window, for a case.

Attaching evidence to a case needs ``evidence:attach``. A place-bound caller
asks only about a point in their places, and only their places' channels are searched."""

from __future__ import annotations

import asyncio
import json

from fastapi import APIRouter, HTTPException, Request, status
from sqlmodel import col, select

from govmesh_runtime import access
from video_bridge import handlers
from video_bridge.adapters.tables import ChannelRow
from video_bridge.domain.evidence import (
    EvidenceWindow,
    InvalidEvidenceRequest,
    bounding_box,
    distance_m,
    validate_window,
)
from video_bridge.domain.manscdp import RecordItem, format_time
from video_bridge.entrypoints.api.deps import EvidenceAttach, GridsDep, RuntimeDep, SipDep, refusals, within
from video_bridge.entrypoints.api.schemas import EvidencePublic, EvidenceRequest, RecordingPublic
from video_bridge.sip_server import QueryFailed

router = APIRouter(prefix="/v1/evidence", tags=["evidence"], responses=refusals(400, 401, 403, 404, 422))
MAX_CHANNELS = 20


@router.post("", status_code=status.HTTP_201_CREATED, summary="Find and attach video evidence to a case")
async def request_evidence(
    body: EvidenceRequest, request: Request, caller: EvidenceAttach, runtime: RuntimeDep, grids: GridsDep, sip: SipDep
) -> EvidencePublic:
    window = EvidenceWindow(lat=body.lat, lon=body.lon, radius_m=body.radius_m, start=body.start, end=body.end)
    try:
        validate_window(window)
    except InvalidEvidenceRequest as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"{exc.field}: {exc.reason}") from exc
    if caller.places:
        await access.require_place(request, caller, resource="evidence", place=grids.locate(body.lat, body.lon))
    min_lat, max_lat, min_lon, max_lon = bounding_box(body.lat, body.lon, body.radius_m)
    async with runtime.db.sessions() as session:
        candidates = (
            await session.exec(
                select(ChannelRow).where(
                    col(ChannelRow.lat).between(min_lat, max_lat),
                    col(ChannelRow.lon).between(min_lon, max_lon),
                    within(ChannelRow.grid_code, access.place_filter(caller)),
                )
            )
        ).all()
    near = sorted(
        (c for c in candidates if distance_m(body.lat, body.lon, c.lat or 0.0, c.lon or 0.0) <= body.radius_m),
        key=lambda c: distance_m(body.lat, body.lon, c.lat or 0.0, c.lon or 0.0),
    )[:MAX_CHANNELS]

    async def records_of(channel: ChannelRow) -> list[RecordItem] | None:
        try:
            items: list[RecordItem] = await sip.send_query(
                channel.device_id,
                "RecordInfo",
                target_id=channel.channel_id,
                fields=[
                    ("StartTime", format_time(body.start)),
                    ("EndTime", format_time(body.end)),
                    ("Secrecy", "0"),
                    ("Type", body.record_type),
                ],
            )
        except QueryFailed:
            return None
        return items

    answers = await asyncio.gather(*(records_of(c) for c in near))
    recordings = [r for answer in answers if answer for r in answer]
    unanswered = [c.channel_id for c, answer in zip(near, answers, strict=True) if answer is None]
    async with runtime.uow() as uow:
        row = await handlers.attach_evidence(
            uow,
            case_id=body.case_id,
            lat=body.lat,
            lon=body.lon,
            radius_m=body.radius_m,
            start=body.start,
            end=body.end,
            channels=near,
            recordings=recordings,
            unanswered=unanswered,
        )
        await uow.commit()
    return EvidencePublic(
        evidence_id=row.evidence_id,
        case_id=row.case_id,
        channel_ids=json.loads(row.channel_ids),
        recordings=[RecordingPublic(**r) for r in json.loads(row.recordings_json)],
        unanswered_channel_ids=unanswered,
        attached_at=row.attached_at,
    )
