"""Shared dependencies of video-bridge's routers."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from pydantic import BaseModel

from govmesh_runtime.app import Runtime, get_runtime
from video_bridge.adapters.grids import GridLocator
from video_bridge.sip_server import SipServer

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


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


class Problem(BaseModel):
    """A refused request: ``detail`` names the field and the reason, as a message or as
    FastAPI's list of ``{loc, msg, type}``."""

    detail: str | list[dict[str, Any]] | list[str]


_REFUSALS = {
    400: "The body is not well-formed JSON text (e.g. not UTF-8).",
    401: "No credentials.",
    403: "The credentials do not allow this.",
    404: "No such resource.",
    409: "The resource's current state forbids this.",
    422: "A field is missing or invalid: the field and the reason.",
    502: "The device refused the request.",
    504: "The device did not answer in time.",
}


def refusals(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` of a router or route: the refusals it may answer, each with :class:`Problem`."""
    return {code: {"model": Problem, "description": _REFUSALS[code]} for code in codes}
