"""/v1/channels: the channel registry — list, search, map, import, grid by configuration.

Read with ``grid:read``, changed with ``grid:write``; a channel is where its grid is, so a
place-bound caller sees only channels mapped to a grid of theirs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Request, status
from sqlalchemy import or_
from sqlmodel import col, select

from govmesh_runtime import access
from govmesh_runtime.pagination import CURSOR_QUERY, Page, after, decode_cursor, page
from video_bridge.adapters.importer import ChannelRecord
from video_bridge.adapters.tables import ChannelRow
from video_bridge.entrypoints.api.deps import (
    DevicesManage,
    GridImport,
    GridRead,
    GridsDep,
    RuntimeDep,
    guard_channel,
    refusals,
    require_unbound,
    within,
)
from video_bridge.entrypoints.api.schemas import (
    ChannelImport,
    ChannelPublic,
    GridAssignment,
    ImportSummary,
)
from video_bridge.handlers.channels import import_channel_records, set_channel_grid

router = APIRouter(prefix="/v1/channels", tags=["channels"], responses=refusals(400, 401, 403, 404, 422))


def public(row: ChannelRow) -> ChannelPublic:
    return ChannelPublic.model_validate(row, from_attributes=True)


@router.get("", summary="List and search channels")
async def list_channels(
    caller: GridRead,
    runtime: RuntimeDep,
    device_id: Annotated[str | None, Query(pattern=r"^\d{20}$")] = None,
    grid_code: Annotated[str | None, Query(max_length=32)] = None,
    civil_code: Annotated[str | None, Query(max_length=20)] = None,
    online: bool | None = None,
    channel_status: Annotated[str | None, Query(alias="status", pattern=r"^[A-Z]{2,8}$")] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=100, description="Id prefix, or part of name/address.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, CURSOR_QUERY] = None,
) -> Page[ChannelPublic]:
    filters: list[Any] = [
        within(ChannelRow.grid_code, access.place_filter(caller)),
        after([col(ChannelRow.channel_id)], decode_cursor(cursor, 1)),
    ]
    if device_id:
        filters.append(col(ChannelRow.device_id) == device_id)
    if grid_code:
        filters.append(col(ChannelRow.grid_code) == grid_code)
    if civil_code:
        filters.append(col(ChannelRow.civil_code).startswith(civil_code))
    if online is not None:
        filters.append(col(ChannelRow.online).is_(online))
    if channel_status:
        filters.append(col(ChannelRow.status) == channel_status)
    if q:
        filters.append(
            or_(
                col(ChannelRow.channel_id).startswith(q),
                col(ChannelRow.name).contains(q),
                col(ChannelRow.address).contains(q),
            )
        )
    async with runtime.db.sessions() as session:
        rows = (
            await session.exec(select(ChannelRow).where(*filters).order_by(col(ChannelRow.channel_id)).limit(limit + 1))
        ).all()
    return page([public(r) for r in rows], rows, limit, lambda r: [r.channel_id])


@router.get("/map", summary="Channels with coordinates as GeoJSON points (status, grid) in a bounding box")
async def channel_map(
    caller: GridRead,
    runtime: RuntimeDep,
    bbox: Annotated[
        str,
        Query(
            pattern=r"^-?\d+(\.\d+)?(,-?\d+(\.\d+)?){3}$",  # four decimal numbers
            description="min_lon,min_lat,max_lon,max_lat",
        ),
    ],
    limit: Annotated[int, Query(ge=1, le=20000)] = 5000,
) -> dict[str, Any]:
    min_lon, min_lat, max_lon, max_lat = (float(v) for v in bbox.split(","))
    if min_lon > max_lon or min_lat > max_lat:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="bbox: min must not exceed max")
    async with runtime.db.sessions() as session:
        rows = (
            await session.exec(
                select(ChannelRow)
                .where(
                    col(ChannelRow.lat).between(min_lat, max_lat),
                    col(ChannelRow.lon).between(min_lon, max_lon),
                    within(ChannelRow.grid_code, access.place_filter(caller)),
                )
                .limit(limit)
            )
        ).all()
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [r.lon, r.lat]},
                "properties": {
                    "channel_id": r.channel_id,
                    "device_id": r.device_id,
                    "status": r.status,
                    "online": r.online,
                    "grid_code": r.grid_code,
                },
            }
            for r in rows
        ],
    }


@router.get("/{channel_id}", summary="One channel and its status")
async def get_channel(channel_id: str, request: Request, caller: GridRead, runtime: RuntimeDep) -> ChannelPublic:
    await guard_channel(request, caller, runtime, channel_id)
    async with runtime.db.sessions() as session:
        row = await session.get(ChannelRow, channel_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"channel {channel_id} not found")
    return public(row)


@router.put("/{channel_id}/grid", summary="Map a channel to a grid by configuration (null: by its coordinates)")
async def assign_grid(
    channel_id: str, body: GridAssignment, request: Request, caller: DevicesManage, runtime: RuntimeDep, grids: GridsDep
) -> ChannelPublic:
    await guard_channel(request, caller, runtime, channel_id)
    # and only into a grid of the caller's places, configured or found by its coordinates
    target = body.grid_code
    if target is None and caller.places:
        async with runtime.db.sessions() as session:
            current = await session.get(ChannelRow, channel_id)
        target = grids.locate(current.lat, current.lon) if current else None
    await access.require_place(request, caller, resource="channel", place=target)
    async with runtime.uow() as uow:
        row = await set_channel_grid(uow, channel_id, body.grid_code, grids)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"channel {channel_id} not found")
        await uow.commit()
        await uow.session.refresh(row)
        return public(row)  # inside: leaving the unit of work expires what the refresh read


@router.post("/import", summary="Import channels.json (the city generator's format); upsert by channel id")
async def import_channel_file(
    body: Annotated[list[ChannelImport], Body(max_length=100_000)],
    request: Request,
    caller: GridImport,
    runtime: RuntimeDep,
    grids: GridsDep,
) -> ImportSummary:
    await require_unbound(request, caller, "importing channels")
    records = [
        ChannelRecord(
            channel_id=c.channel_id,
            device_id=c.device_id,
            name=c.name,
            lat=c.lat,
            lon=c.lon,
            civil_code=c.civil_code,
            manufacturer=c.manufacturer,
            model=c.model,
            sip_password=c.sip_password,
        )
        for c in body
    ]
    realm = request.app.state.settings.realm
    async with runtime.uow() as uow:
        result = await import_channel_records(uow, records, grids, realm=realm)
        await uow.commit()
    return ImportSummary(**result.__dict__)
