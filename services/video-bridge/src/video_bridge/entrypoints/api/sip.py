"""/v1/sip: the SIP endpoint's address and counters (``grid:read``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from video_bridge.entrypoints.api.deps import GridRead, SipDep, refusals

router = APIRouter(prefix="/v1/sip", tags=["sip"], responses=refusals(401, 403))


@router.get("", summary="Where the SIP endpoint listens, and what it has handled")
async def sip_status(_: GridRead, sip: SipDep, request: Request) -> dict[str, Any]:
    cascade = request.app.state.cascade
    return {**sip.status(), "upper_platforms": cascade.status() if cascade is not None else []}
