"""/v1/grids: the grid boundaries (grids.geojson) channels are mapped onto. Replacing them
(city-wide) needs ``grid:write`` and a caller bound to no place; locating a point, ``grid:read``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Request, status

from govmesh_runtime.geo import GeoJSONError
from video_bridge.adapters.grids import import_grids
from video_bridge.adapters.importer import remap_channels
from video_bridge.entrypoints.api.deps import GridImport, GridRead, GridsDep, RuntimeDep, refusals, require_unbound

router = APIRouter(prefix="/v1/grids", tags=["grids"], responses=refusals(400, 401, 403, 422))


@router.put("", summary="Replace the grid boundaries (GeoJSON FeatureCollection) and remap channels")
async def put_grids(
    collection: Annotated[dict[str, Any], Body(description="grids.geojson")],
    request: Request,
    caller: GridImport,
    runtime: RuntimeDep,
    grids: GridsDep,
) -> dict[str, int]:
    await require_unbound(request, caller, "replacing the grids")
    async with runtime.db.sessions() as session:
        try:
            count = await import_grids(session, collection)
        except GeoJSONError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"body: {exc}") from exc
        await session.flush()
        await grids.load(session)
        mapped = await remap_channels(session, grids)
        await session.commit()
    return {"grids": count, "channels_mapped": mapped}


@router.get("/locate", summary="The grid of a point")
async def locate(
    _: GridRead,
    lat: Annotated[float, Query(ge=-90, le=90)],
    lon: Annotated[float, Query(ge=-180, le=180)],
    grids: GridsDep,
) -> dict[str, str | None]:
    return {"grid_code": grids.locate(lat, lon)}
