"""Shared dependencies of video-bridge's routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from govmesh_runtime.app import Runtime, runtime_dependency
from govmesh_runtime.problems import refusals as refusals  # shared; the routers import it from here
from video_bridge.adapters.grids import GridLocator
from video_bridge.sip_server import SipServer

RuntimeDep = Annotated[Runtime, Depends(runtime_dependency)]


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
