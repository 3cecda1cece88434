"""The grid map's layers: cameras with their online status (video-bridge), the city's tiles
(``CONSOLE_MAP_TILES``), and a grid's police room contact card (policing)."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from console import app as core
from console.gridmap import Frame, bbox, cameras, tiles
from console.sessions import Session

CAMERA_LIMIT = 20_000  # video-bridge's most per request; a full city's 28,000 are drawn up to this


async def map_layers(request: Request, session: Session, frame: Frame) -> dict[str, Any]:
    settings = core._console(request).settings
    found: list[Any] = []
    if frame.height > 0:
        box = ",".join(f"{v:.6f}" for v in bbox(frame))
        try:
            answer = await core.call(
                request, session, "video", "GET", "/v1/channels/map", params={"bbox": box, "limit": CAMERA_LIMIT}
            )
        except core.ServiceDown:
            answer = None  # the map without cameras rather than no map
        if answer is not None and answer.status_code == 200:
            found = cameras(frame, answer.json())
    return {
        "cameras": found,
        "cameras_online": sum(1 for c in found if c.online),
        "tiles": tiles(frame, settings.map_tiles, settings.map_tiles_zoom),
    }


async def police_card(request: Request, session: Session, grid_code: str) -> dict[str, Any] | None:
    """The grid's police room and its officers (警民联系卡); None when no room covers the grid."""
    try:
        answer = await core.call(
            request, session, "policing", "GET", "/v1/contact-card", params={"grid_code": grid_code}
        )
    except core.ServiceDown:
        return None
    if answer.status_code != 200:
        return None
    card: dict[str, Any] = answer.json()
    return card
