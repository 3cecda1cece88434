"""/v1/reference: import the city's grids and police rooms (policing and grid:import; it replaces
the whole city's jurisdictions, so only a caller bound to no place)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from govmesh_runtime import access
from govmesh_runtime.app import UseCasesDep
from govmesh_runtime.auth import Principal
from govmesh_runtime.roles import Scope
from policing.adapters.reference import geometry_rules
from policing.entrypoints.api.deps import RuntimeDep, refusals
from policing.entrypoints.api.schemas import ImportResult, ReferenceImport
from policing.handlers import import_reference
from policing.settings import PolicingSettings

router = APIRouter(
    prefix="/v1/reference",
    tags=["reference data"],
    responses=refusals(400, 401, 403, 422),
)


@router.put(
    "",
    summary="Replace the grid set and/or the police rooms (gap, overlap or unknown grid: 422, grids named)",
    responses={422: {"description": "Invalid files, or jurisdictions with a gap or an overlap; nothing written."}},
)
async def put_reference(
    body: ReferenceImport,
    request: Request,
    caller: Annotated[Principal, Depends(access.require(Scope.POLICING, Scope.GRID_IMPORT))],
    runtime: RuntimeDep,
    use_cases: UseCasesDep,
) -> ImportResult:
    if caller.places:
        raise await access.refuse(
            request, caller, "replacing the reference data needs a credential bound to no place", "reference"
        )
    settings = runtime.settings
    assert isinstance(settings, PolicingSettings)
    rules = geometry_rules(settings.grid_tolerance, settings.city_outline_file)
    summary = await use_cases.run(import_reference, grids=body.grids, rooms=body.police_rooms, rules=rules)
    return ImportResult(**summary.__dict__)
