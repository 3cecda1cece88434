"""/v1/sip: the SIP endpoint's address and counters."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from video_bridge.entrypoints.api.deps import SipDep

router = APIRouter(prefix="/v1/sip", tags=["sip"])


@router.get("", summary="Where the SIP endpoint listens, and what it has handled")
async def sip_status(sip: SipDep) -> dict[str, Any]:
    return sip.status()
