"""Shared dependencies of video-bridge's routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from sqlmodel import col, select

from govmesh_runtime import access
from govmesh_runtime.app import Runtime, runtime_dependency
from govmesh_runtime.auth import Principal
from govmesh_runtime.problems import refusals as refusals  # shared; the routers import it from here
from govmesh_runtime.roles import Scope
from video_bridge.adapters.grids import GridLocator
from video_bridge.adapters.places import within as within  # the routers import it from here
from video_bridge.adapters.tables import ChannelRow
from video_bridge.sip_server import SipServer

RuntimeDep = Annotated[Runtime, Depends(runtime_dependency)]
GridRead = Annotated[Principal, Depends(access.require(Scope.GRID_READ))]
GridImport = Annotated[Principal, Depends(access.require(Scope.GRID_IMPORT))]
DevicesManage = Annotated[Principal, Depends(access.require(Scope.DEVICES_MANAGE))]
AlarmsRaise = Annotated[Principal, Depends(access.require(Scope.ALARMS_RAISE))]
EvidenceAttach = Annotated[Principal, Depends(access.require(Scope.EVIDENCE_ATTACH))]


def get_grids(request: Request) -> GridLocator:
    grids: GridLocator = request.app.state.grids
    return grids


def get_sip(request: Request) -> SipServer:
    sip: SipServer | None = getattr(request.app.state, "sip", None)
    if sip is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="the SIP endpoint is not running")
    return sip


GridsDep = Annotated[GridLocator, Depends(get_grids)]
SipDep = Annotated[SipServer, Depends(get_sip)]


# --- places: a channel is where its grid is; a device where its channels are ----------------


async def guard_channel(request: Request, caller: Principal, runtime: Runtime, channel_id: str) -> None:
    """Outside the caller's places or missing: the same 403. Unbound callers pass."""
    if not caller.places:
        return
    async with runtime.db.sessions() as session:
        row = await session.get(ChannelRow, channel_id)
    await access.guard_place(
        request,
        caller,
        resource="channel",
        resource_id=channel_id,
        place=row.grid_code if row else None,
        found=row is not None,
    )


async def guard_device(request: Request, caller: Principal, runtime: Runtime, device_id: str) -> None:
    """A device is within the caller's places when one of its channels is."""
    if not caller.places:
        return
    async with runtime.db.sessions() as session:
        placed = (
            await session.exec(
                select(ChannelRow.channel_id)
                .where(col(ChannelRow.device_id) == device_id, within(ChannelRow.grid_code, caller.places))
                .limit(1)
            )
        ).first()
    if placed is None:
        raise await access.refuse(request, caller, "this device is not within your places", "device", device_id)


async def require_unbound(request: Request, caller: Principal, what: str) -> None:
    """City-wide changes (imports) are for callers bound to no place."""
    if caller.places:
        raise await access.refuse(request, caller, f"{what} needs a credential bound to no place", what)
