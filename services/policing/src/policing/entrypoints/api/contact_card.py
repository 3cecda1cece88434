"""/v1/contact-card: the police–resident contact card (警民联系卡), public for residents.

It still needs a credential — any valid one, no scope and no place (every endpoint but health
and metrics does): the portals and kiosks that show it to residents hold an API key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from policing.adapters.repository import SqlPolicingRepository
from policing.entrypoints.api.deps import GridsDep, RuntimeDep, refusals
from policing.entrypoints.api.schemas import CardOfficer, ContactCard

router = APIRouter(prefix="/v1/contact-card", tags=["contact card"], responses=refusals(401))


@router.get(
    "",
    summary="The community police room and officers for a point, a grid or an address",
    responses={404: {"description": "No grid or no room for the place."}, 422: {"description": "No place given."}},
)
async def contact_card(
    runtime: RuntimeDep,
    grids: GridsDep,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    grid_code: Annotated[str | None, Query(max_length=32)] = None,
    address: Annotated[
        str | None, Query(max_length=500, description="Matched against the grids' names (the longest one in it).")
    ] = None,
) -> ContactCard:
    if (lat is None) != (lon is None):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="lat and lon: must be given together")
    if lat is None and not grid_code and not address:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, detail="a place is required: lat and lon, grid_code or address"
        )
    async with runtime.db.sessions() as session:
        repo = SqlPolicingRepository(session)
        where = grid_code or address or f"{lat},{lon}"
        if lat is not None and lon is not None:
            index = await grids.get(session)
            grid_code = index.locate(lat, lon) if index is not None else None
        elif not grid_code and address:
            grid_code = await repo.grid_for_address(address)
        grid = await repo.grid(grid_code) if grid_code else None
        if grid is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no grid found for {where}")
        room_code = await repo.room_for_grid(grid.grid_code)
        room = await repo.room(room_code) if room_code else None
        if room is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no police room covers grid {grid.grid_code}")
        officers = [CardOfficer.model_validate(o, from_attributes=True) for o in await repo.officers(room.room_code)]
    return ContactCard(
        grid_code=grid.grid_code,
        grid_name=grid.name,
        room_code=room.room_code,
        room_name=room.name,
        community_officers=[o for o in officers if o.role == "officer"],
        auxiliaries=[o for o in officers if o.role == "auxiliary"],
    )
