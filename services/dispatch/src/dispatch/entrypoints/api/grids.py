"""/v1/grids: the grid registry — GeoJSON import/export, lookup, service lists; /v1/buildings."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Query, Request, Response
from pydantic import BaseModel, Field
from sqlmodel import col, func, select

from dispatch.adapters.city import CityImportError, check_geometry, parse_buildings, parse_grids, upsert
from dispatch.adapters.city import export_grids as export_collection
from dispatch.adapters.repository import grid_by_address
from dispatch.adapters.tables import AdminUnitRow, BuildingRow, GridRow, WorkerRow
from dispatch.entrypoints.api.deps import (
    DispatcherDep,
    GridImporter,
    GridReader,
    GridWriter,
    RuntimeDep,
    bad_request,
    in_places,
    refusals,
)
from govmesh_contracts import Level
from govmesh_runtime import access

router = APIRouter(prefix="/v1/grids", tags=["grids"], responses=refusals(400, 403, 404, 422))
buildings_router = APIRouter(prefix="/v1/buildings", tags=["grids"], responses=refusals(400, 403, 422))
admin_router = APIRouter(prefix="/v1/admin-units", tags=["grids"], responses=refusals(403))


class AdminUnitPublic(BaseModel):
    code: str
    name: str
    level: Level
    parent_code: str | None


@admin_router.get("", summary="Administrative units (city, counties, townships, communities)")
async def list_admin_units(
    caller: GridReader,
    runtime: RuntimeDep,
    level: Level | None = None,
    parent_code: str | None = None,
    limit: Annotated[int, Query(ge=1, le=5000, description="At most 5,000 (a county has some hundreds)")] = 1000,
) -> list[AdminUnitPublic]:
    # A place-bound caller sees the units at and below its place (none above a grid worker's grid).
    query = (
        select(AdminUnitRow).where(in_places(AdminUnitRow.code, caller)).order_by(col(AdminUnitRow.code)).limit(limit)
    )
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


@router.post(
    "/import",
    summary="Import grid boundaries (GeoJSON FeatureCollection); rebuilds the index",
    description="Needs `grid:import` (the city administrator). Refused (422, naming the grid codes) when grids "
    "overlap one another or a stored grid by more than `DISPATCH_GRID_TOLERANCE` of the smaller grid's area, "
    "or lie outside the city's outline (`DISPATCH_CITY_OUTLINE_FILE`) by more than it.",
)
async def import_geojson(
    request: Request,
    caller: GridImporter,
    runtime: RuntimeDep,
    dispatcher: DispatcherDep,
    collection: Annotated[dict[str, Any], Body()],
) -> ImportResult:
    try:
        rows = parse_grids(collection)
    except CityImportError as exc:
        raise bad_request("features", str(exc)) from None
    for code in sorted({row["grid_code"] for row in rows}):  # a place-bound caller imports only its own grids
        await access.require_place(request, caller, resource="grid", place=code)
    async with runtime.db.sessions() as session:
        try:
            await check_geometry(session, rows, dispatcher.geometry)
        except CityImportError as exc:
            raise bad_request("features", str(exc)) from None
        count = await dispatcher.locator.upsert(session, rows)  # bumps the grids' version
        await session.commit()
    await dispatcher.locator.reload(runtime.db.sessions)
    return ImportResult(grids=count, indexed=len(dispatcher.locator))


@router.get(
    "/grids.geojson",
    summary="Export every grid as a GeoJSON FeatureCollection",
    response_class=Response,
    responses={200: {"description": "The grids.", "content": {"application/geo+json": {"schema": {"type": "object"}}}}},
)
async def export_geojson(caller: GridReader, runtime: RuntimeDep) -> Response:
    async with runtime.db.sessions() as session:
        collection = await export_collection(session, in_places(GridRow.grid_code, caller))
    return Response(json.dumps(collection, ensure_ascii=False), media_type="application/geo+json")


@router.get("/locate", summary="The grid of a point (lat/lon) or of an address")
async def locate(
    caller: GridReader,
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
        # a grid outside the caller's places is not theirs to know: as if nothing were there
        if found is not None and caller.may_act_in(found):
            return Located(grid_code=found, found_by="point")
    if address is not None:
        async with runtime.db.sessions() as session:
            by_address = await grid_by_address(session, address)
        if by_address is not None and caller.may_act_in(by_address):
            return Located(grid_code=by_address, found_by="address")
    return Located(grid_code=None, found_by=None)


def _public(row: GridRow, workers: int = 0) -> GridPublic:
    return GridPublic(
        **row.model_dump(exclude={"services", "geometry"}), services=json.loads(row.services), workers=workers
    )


@router.get("", summary="Grids, filtered by community/township/county/function, paginated by code")
async def list_grids(
    caller: GridReader,
    runtime: RuntimeDep,
    community_code: str | None = None,
    township_code: str | None = None,
    county_code: str | None = None,
    function: str | None = None,
    after: Annotated[str | None, Query(description="Last grid_code of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[GridPublic]:
    query = select(GridRow).where(in_places(GridRow.grid_code, caller)).order_by(col(GridRow.grid_code)).limit(limit)
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
async def get_grid(grid_code: str, request: Request, caller: GridReader, runtime: RuntimeDep) -> GridPublic:
    async with runtime.db.sessions() as session:
        row = await session.get(GridRow, grid_code)
        workers = (
            await session.exec(select(func.count()).select_from(WorkerRow).where(col(WorkerRow.grid_code) == grid_code))
        ).one()
    await access.guard_place(
        request, caller, resource="grid", resource_id=grid_code, place=grid_code, found=row is not None
    )
    assert row is not None  # guard_place answered 404 otherwise
    return _public(row, workers)


class BuildingIn(BaseModel):
    building_code: str = Field(pattern=r"^\d{18}$", description="grid code (15 digits) + 3-digit serial")
    address: str = Field(min_length=1, max_length=300)
    name: str | None = Field(default=None, max_length=200)


@buildings_router.put("/{building_code}", summary="Create or update a building/courtyard (楼院) of a grid")
async def put_building(
    building_code: str, body: BuildingIn, request: Request, caller: GridWriter, runtime: RuntimeDep
) -> dict[str, str]:
    if body.building_code != building_code:
        raise bad_request("building_code", "must equal the code in the path")
    try:
        rows = parse_buildings([body.model_dump()])
    except CityImportError as exc:
        raise bad_request("building_code", str(exc)) from None
    await access.require_place(request, caller, resource="building", place=rows[0]["grid_code"])
    async with runtime.db.sessions() as session:
        if await session.get(GridRow, rows[0]["grid_code"]) is None:
            raise bad_request("building_code", f"grid {rows[0]['grid_code']} is not registered")
        await upsert(session, BuildingRow, "building_code", rows)
        await session.commit()
    return {"building_code": building_code, "grid_code": rows[0]["grid_code"]}
