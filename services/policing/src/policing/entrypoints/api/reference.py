"""/v1/reference: import the city's grids and police rooms (policing scope)."""

from __future__ import annotations

from fastapi import APIRouter

from policing.entrypoints.api.deps import PolicingScope, RuntimeDep, domain_errors, refusals
from policing.entrypoints.api.schemas import ImportResult, ReferenceImport
from policing.handlers import import_reference

router = APIRouter(
    prefix="/v1/reference",
    tags=["reference data"],
    dependencies=[PolicingScope],
    responses=refusals(400, 401, 403, 422),
)


@router.put(
    "",
    summary="Replace the grid set and/or the police rooms (gap, overlap or unknown grid: 422, grids named)",
    responses={422: {"description": "Invalid files, or jurisdictions with a gap or an overlap; nothing written."}},
)
async def put_reference(body: ReferenceImport, runtime: RuntimeDep) -> ImportResult:
    with domain_errors():
        async with runtime.uow() as uow:
            summary = await import_reference(uow, grids=body.grids, rooms=body.police_rooms)
            await uow.commit()
    return ImportResult(**summary.__dict__)
