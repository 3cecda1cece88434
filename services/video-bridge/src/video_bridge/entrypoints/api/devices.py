"""/v1/devices: registered devices, and queries sent to them (Catalog, DeviceInfo, DeviceStatus).

Read with ``grid:read``; queries and subscriptions (commands sent over SIP) need ``grid:write``.
A device is within a caller's places when one of its channels is."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from sqlalchemy import func
from sqlmodel import col, select

from govmesh_runtime import access
from govmesh_runtime.pagination import CURSOR_QUERY, Page, after, decode_cursor, page
from video_bridge.adapters.tables import ChannelRow, DeviceRow
from video_bridge.domain.device_id import TYPE_NAMES, InvalidDeviceId, parse_device_id
from video_bridge.domain.digest import ha1
from video_bridge.entrypoints.api.deps import (
    DevicesManage,
    GridRead,
    RuntimeDep,
    SipDep,
    guard_device,
    refusals,
    within,
)
from video_bridge.entrypoints.api.schemas import DeviceCredentials, DevicePublic, DeviceQuery, Subscription
from video_bridge.handlers.devices import set_device_secret
from video_bridge.sip_server import DeviceNotRegistered, QueryFailed

router = APIRouter(prefix="/v1/devices", tags=["devices"], responses=refusals(400, 401, 403, 404, 422, 502, 504))


# never shown: raw answers (parsed below), bookkeeping, and the device's digest secret
_PRIVATE = {"info_json", "status_json", "updated_at", "registered_at", "last_keepalive_at", "sip_ha1"}


def _public(row: DeviceRow, channel_count: int) -> DevicePublic:
    return DevicePublic(
        **row.model_dump(exclude=_PRIVATE),
        type_name=TYPE_NAMES.get(row.type_code, "unknown"),
        channel_count=channel_count,
        info=json.loads(row.info_json) if row.info_json else None,
        status=json.loads(row.status_json) if row.status_json else None,
    )


@router.get("", summary="List devices")
async def list_devices(
    caller: GridRead,
    runtime: RuntimeDep,
    online: bool | None = None,
    registered: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, CURSOR_QUERY] = None,
) -> Page[DevicePublic]:
    filters: list[Any] = [after([col(DeviceRow.device_id)], decode_cursor(cursor, 1))]
    if online is not None:
        filters.append(col(DeviceRow.online).is_(online))
    if registered is not None:
        filters.append(col(DeviceRow.registered).is_(registered))
    places = access.place_filter(caller)
    if places is not None:  # devices with a channel in the caller's places
        placed = select(ChannelRow.device_id).where(within(ChannelRow.grid_code, places))
        filters.append(col(DeviceRow.device_id).in_(placed))
    async with runtime.db.sessions() as session:
        rows = (
            await session.exec(select(DeviceRow).where(*filters).order_by(col(DeviceRow.device_id)).limit(limit + 1))
        ).all()
        counts = dict(
            (
                await session.exec(
                    select(ChannelRow.device_id, func.count())
                    .where(col(ChannelRow.device_id).in_([r.device_id for r in rows]))
                    .group_by(col(ChannelRow.device_id))
                )
            ).all()
        )
    items = [_public(r, int(counts.get(r.device_id, 0))) for r in rows]
    return page(items, rows, limit, lambda r: [r.device_id])


@router.get("/{device_id}", summary="One device: registration, liveness, last answers")
async def get_device(device_id: str, request: Request, caller: GridRead, runtime: RuntimeDep) -> DevicePublic:
    await guard_device(request, caller, runtime, device_id)
    async with runtime.db.sessions() as session:
        row = await session.get(DeviceRow, device_id)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"device {device_id} not found")
        count = (
            await session.exec(
                select(func.count()).select_from(ChannelRow).where(col(ChannelRow.device_id) == device_id)
            )
        ).one()
    return _public(row, int(count))


@router.post("/{device_id}/queries", summary="Send a query to the device and return its answer")
async def query_device(
    device_id: str, body: DeviceQuery, request: Request, caller: DevicesManage, runtime: RuntimeDep, sip: SipDep
) -> dict[str, Any]:
    await guard_device(request, caller, runtime, device_id)
    try:
        items = await sip.send_query(device_id, body.cmd_type)
    except DeviceNotRegistered as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    except QueryFailed as exc:
        raise HTTPException(status.HTTP_504_GATEWAY_TIMEOUT, detail=str(exc)) from exc
    if body.cmd_type == "Catalog":
        return {"cmd_type": "Catalog", "channels": [item.channel_id for item in items]}
    return {"cmd_type": body.cmd_type, "answer": items[0] if items else {}}


@router.post("/{device_id}/subscriptions", summary="Subscribe to the device's alarms or catalog changes")
async def subscribe(
    device_id: str, body: Subscription, request: Request, caller: DevicesManage, runtime: RuntimeDep, sip: SipDep
) -> dict[str, Any]:
    await guard_device(request, caller, runtime, device_id)
    try:
        answer = await sip.subscribe(device_id, body.kind, body.expires_s)
    except DeviceNotRegistered as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    except QueryFailed as exc:
        raise HTTPException(status.HTTP_504_GATEWAY_TIMEOUT, detail=str(exc)) from exc
    if answer != 200:
        raise HTTPException(status.HTTP_502_BAD_GATEWAY, detail=f"the device answered {answer}")
    return {"kind": body.kind, "expires_s": body.expires_s, "device_status": answer}


@router.put("/{device_id}/credentials", summary="Set the device's own SIP password (admits it; stored as HA1)")
async def set_credentials(
    device_id: str, body: DeviceCredentials, request: Request, caller: DevicesManage, runtime: RuntimeDep
) -> dict[str, Any]:
    try:
        parsed = parse_device_id(device_id)
    except InvalidDeviceId as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=f"device_id: {exc}") from exc
    await guard_device(request, caller, runtime, device_id)
    realm = request.app.state.settings.realm
    async with runtime.uow() as uow:
        await set_device_secret(uow, parsed, ha1(device_id, realm, body.password))
        await uow.commit()
    return {"device_id": device_id, "known": True, "own_secret": True}
