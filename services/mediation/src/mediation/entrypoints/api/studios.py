"""/v1/studios, /v1/mediators, /v1/seed: the studios, their mediators and their load.

The registry is read with ``grid:read`` (everywhere: it is who serves where, not case data)
and changed with ``grid:write`` within the caller's places: every area a studio serves, or
the areas of a mediator's studio. Seeding loads the whole registry: unbound callers only."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status

from govmesh_runtime import access
from govmesh_runtime.auth import Principal
from mediation.adapters.repository import SqlMediationRepository
from mediation.adapters.tables import StudioRow
from mediation.entrypoints.api.deps import ClockDep, GridRead, GridWrite, RuntimeDep, refusals, run, serves
from mediation.entrypoints.api.schemas import MediatorPublic, SeedResult, StudioPublic
from mediation.entrypoints.seed import MediatorIn, SeedDocument, StudioIn, load_document

router = APIRouter(tags=["studios"], responses=refusals(400, 401, 403, 404, 409, 422))


@router.post("/v1/seed", summary="Load studios and mediators (create or update by id; unbound callers only)")
async def seed(
    body: SeedDocument, request: Request, caller: GridWrite, runtime: RuntimeDep, clock: ClockDep
) -> SeedResult:
    if caller.places:
        raise await access.refuse(request, caller, "loading the registry needs a credential bound to no place", "seed")
    await run(runtime, lambda uow: load_document(body, uow, clock))
    return SeedResult(studios=len(body.studios), mediators=len(body.mediators))


async def _require_areas(request: Request, caller: Principal, areas: list[str]) -> None:
    for area in areas:
        await access.require_place(request, caller, resource="studio", place=area)


@router.put("/v1/studios/{studio_id}", summary="Create or update a studio (every area it serves within your places)")
async def put_studio(
    studio_id: str, body: StudioIn, request: Request, caller: GridWrite, runtime: RuntimeDep, clock: ClockDep
) -> StudioPublic:
    if body.studio_id != studio_id:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[{"loc": ["body", "studio_id"], "msg": "differs from the path", "type": "rule"}],
        )
    await _require_areas(request, caller, body.area_codes)
    if caller.places:  # and the areas it served until now: no taking over another's studio
        async with runtime.db.sessions() as session:
            current = await session.get(StudioRow, studio_id)
        await _require_areas(request, caller, current.area_codes if current else [])
    await run(runtime, lambda uow: load_document(SeedDocument(studios=[body]), uow, clock))
    return StudioPublic(**body.model_dump())


@router.put("/v1/mediators/{mediator_id}", summary="Create or update a mediator (of a studio within your places)")
async def put_mediator(
    mediator_id: str, body: MediatorIn, request: Request, caller: GridWrite, runtime: RuntimeDep, clock: ClockDep
) -> MediatorPublic:
    if body.mediator_id != mediator_id:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[{"loc": ["body", "mediator_id"], "msg": "differs from the path", "type": "rule"}],
        )
    if caller.places:
        async with runtime.db.sessions() as session:
            studio = await session.get(StudioRow, body.studio_id)
        if not serves(caller, studio):
            raise await access.refuse(
                request, caller, "this studio is not within your places", "studio", body.studio_id
            )
    await run(runtime, lambda uow: load_document(SeedDocument(mediators=[body]), uow, clock))
    return (await _mediators(runtime, body.studio_id, mediator_id))[0]


@router.get("/v1/studios", summary="Every studio and the area it serves")
async def list_studios(
    _: GridRead,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[StudioPublic]:
    async with runtime.db.sessions() as session:
        rows = await SqlMediationRepository(session).studios(limit=limit, offset=offset)
    return [StudioPublic(studio_id=s.id, name=s.name, area_codes=s.area_codes, rooms=s.rooms) for s in rows]


async def _mediators(
    runtime: RuntimeDep, studio_id: str | None, mediator_id: str | None = None, *, limit: int = 1, offset: int = 0
) -> list[MediatorPublic]:
    async with runtime.db.sessions() as session:
        repo = SqlMediationRepository(session)
        rows = await repo.mediators(studio_id, mediator_id=mediator_id, limit=limit, offset=offset)
        loads = await repo.loads()
    return [
        MediatorPublic(
            mediator_id=m.id,
            studio_id=m.studio_id,
            name=m.name,
            kind=m.kind,
            skills=m.skills,
            capacity=m.capacity,
            load=loads.get(m.id, 0),
            active=m.active,
        )
        for m in rows
    ]


@router.get("/v1/mediators", summary="Mediators with their skills and current load")
async def list_mediators(
    _: GridRead,
    runtime: RuntimeDep,
    studio_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[MediatorPublic]:
    return await _mediators(runtime, studio_id, limit=limit, offset=offset)
