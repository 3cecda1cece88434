"""/v1/grids: the grid registry — GeoJSON import/export, lookup, service lists; /v1/buildings."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Response, status
from pydantic import BaseModel, Field
from sqlmodel import col, func, select

from dispatch.adapters.city import CityImportError, import_grids, parse_buildings, upsert
from dispatch.adapters.city import export_grids as export_collection
from dispatch.adapters.repository import grid_by_address
from dispatch.adapters.tables import AdminUnitRow, BuildingRow, GridRow, WorkerRow
from dispatch.entrypoints.api.deps import DispatcherDep, RuntimeDep, bad_request, refusals
from govmesh_contracts import Level

router = APIRouter(prefix="/v1/grids", tags=["grids"], responses=refusals(400, 404, 422))
buildings_router = APIRouter(prefix="/v1/buildings", tags=["grids"], responses=refusals(400, 422))
admin_router = APIRouter(prefix="/v1/admin-units", tags=["grids"])


class AdminUnitPublic(BaseModel):
    code: str
    name: str
    level: Level
    parent_code: str | None


@admin_router.get("", summary="Administrative units (city, counties, townships, communities)")
async def list_admin_units(
    runtime: RuntimeDep, level: Level | None = None, parent_code: str | None = None
) -> list[AdminUnitPublic]:
    query = select(AdminUnitRow).order_by(col(AdminUnitRow.code))
    if level is not None:
        query = query.where(col(AdminUnitRow.level) == level.value)
    if parent_code is not None:
        query = query.where(col(AdminUnitRow.parent_code) == parent_code)
    async with runtime.db.sessions() as session:
        rows = (await session.exec(query)).all()
    return [AdminUnitPublic(code=r.code, name=r.name, level=Level(r.level), parent_code=r.parent_code) for r in rows]


class ImportResult(BaseModel):
    grids: int
    indexed: int


class GridPublic(BaseModel):
    grid_code: str
    name: str
    community_code: str
    township_code: str
    county_code: str
    branch_code: str | None
    function: str
    households: int
    population: int
    services: list[str]
    workers: int = 0


class Located(BaseModel):
    grid_code: str | None
    found_by: str | None = Field(description="point or address")


@router.post("/import", summary="Import grid boundaries (GeoJSON FeatureCollection); rebuilds the index")
async def import_geojson(
    runtime: RuntimeDep, dispatcher: DispatcherDep, collection: Annotated[dict[str, Any], Body()]
) -> ImportResult:
    async with runtime.db.sessions() as session:
        try:
            count = await import_grids(session, collection)
        except CityImportError as exc:
            raise bad_request("features", str(exc)) from None
        await session.commit()
    await dispatcher.locator.reload(runtime.db.sessions)
    return ImportResult(grids=count, indexed=len(dispatcher.locator))


@router.get(
    "/grids.geojson",
    summary="Export every grid as a GeoJSON FeatureCollection",
    response_class=Response,
    responses={200: {"description": "The grids.", "content": {"application/geo+json": {"schema": {"type": "object"}}}}},
)
async def export_geojson(runtime: RuntimeDep) -> Response:
    async with runtime.db.sessions() as session:
        collection = await export_collection(session)
    return Response(json.dumps(collection, ensure_ascii=False), media_type="application/geo+json")


@router.get("/locate", summary="The grid of a point (lat/lon) or of an address")
async def locate(
    runtime: RuntimeDep,
    dispatcher: DispatcherDep,
    lat: Annotated[float | None, Query(ge=-90, le=90)] = None,
    lon: Annotated[float | None, Query(ge=-180, le=180)] = None,
    address: Annotated[str | None, Query(min_length=1, max_length=500)] = None,
) -> Located:
    if (lat is None) != (lon is None):
        raise HTTPException(422, detail="lat and lon must be given together")
    if lat is None and address is None:
        raise HTTPException(422, detail="give lat and lon, or address")
    if lat is not None and lon is not None:
        found = dispatcher.locator.locate(lat, lon)
        if found is not None:
            return Located(grid_code=found, found_by="point")
    if address is not None:
        async with runtime.db.sessions() as session:
            by_address = await grid_by_address(session, address)
        if by_address is not None:
            return Located(grid_code=by_address, found_by="address")
    return Located(grid_code=None, found_by=None)


def _public(row: GridRow, workers: int = 0) -> GridPublic:
    return GridPublic(
        **row.model_dump(exclude={"services", "geometry"}), services=json.loads(row.services), workers=workers
    )


@router.get("", summary="Grids, filtered by community/township/county/function, paginated by code")
async def list_grids(
    runtime: RuntimeDep,
    community_code: str | None = None,
    township_code: str | None = None,
    county_code: str | None = None,
    function: str | None = None,
    after: Annotated[str | None, Query(description="Last grid_code of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[GridPublic]:
    query = select(GridRow).order_by(col(GridRow.grid_code)).limit(limit)
    for column, value in (
        (GridRow.community_code, community_code),
        (GridRow.township_code, township_code),
        (GridRow.county_code, county_code),
        (GridRow.function, function),
    ):
        if value is not None:
            query = query.where(col(column) == value)
    if after is not None:
        query = query.where(col(GridRow.grid_code) > after)
    async with runtime.db.sessions() as session:
        rows = (await session.exec(query)).all()
    return [_public(row) for row in rows]


@router.get("/{grid_code}", summary="A grid with its function, service list and number of workers")
async def get_grid(grid_code: str, runtime: RuntimeDep) -> GridPublic:
    async with runtime.db.sessions() as session:
        row = await session.get(GridRow, grid_code)
        if row is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"grid {grid_code} not found")
        workers = (
            await session.exec(select(func.count()).select_from(WorkerRow).where(col(WorkerRow.grid_code) == grid_code))
        ).one()
    return _public(row, workers)


class BuildingIn(BaseModel):
    building_code: str = Field(pattern=r"^\d{18}$", description="grid code (15 digits) + 3-digit serial")
    address: str = Field(min_length=1, max_length=300)
    name: str | None = Field(default=None, max_length=200)


@buildings_router.put("/{building_code}", summary="Create or update a building/courtyard (楼院) of a grid")
async def put_building(building_code: str, body: BuildingIn, runtime: RuntimeDep) -> dict[str, str]:
    if body.building_code != building_code:
        raise bad_request("building_code", "must equal the code in the path")
    try:
        rows = parse_buildings([body.model_dump()])
    except CityImportError as exc:
        raise bad_request("building_code", str(exc)) from None
    async with runtime.db.sessions() as session:
        if await session.get(GridRow, rows[0]["grid_code"]) is None:
            raise bad_request("building_code", f"grid {rows[0]['grid_code']} is not registered")
        await upsert(session, BuildingRow, "building_code", rows)
        await session.commit()
    return {"building_code": building_code, "grid_code": rows[0]["grid_code"]}
