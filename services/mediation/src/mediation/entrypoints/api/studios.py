"""/v1/studios, /v1/mediators, /v1/seed: the studios, their mediators and their load."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from mediation.adapters.repository import SqlMediationRepository
from mediation.entrypoints.api.deps import ClockDep, RuntimeDep, refusals, run
from mediation.entrypoints.api.schemas import MediatorPublic, SeedResult, StudioPublic
from mediation.entrypoints.seed import MediatorIn, SeedDocument, StudioIn, load_document

router = APIRouter(tags=["studios"], responses=refusals(400, 404, 409, 422))


@router.post("/v1/seed", summary="Load studios and mediators (create or update by id)")
async def seed(body: SeedDocument, runtime: RuntimeDep, clock: ClockDep) -> SeedResult:
    await run(runtime, lambda uow: load_document(body, uow, clock))
    return SeedResult(studios=len(body.studios), mediators=len(body.mediators))


@router.put("/v1/studios/{studio_id}", summary="Create or update a studio")
async def put_studio(studio_id: str, body: StudioIn, runtime: RuntimeDep, clock: ClockDep) -> StudioPublic:
    if body.studio_id != studio_id:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[{"loc": ["body", "studio_id"], "msg": "differs from the path", "type": "rule"}],
        )
    await run(runtime, lambda uow: load_document(SeedDocument(studios=[body]), uow, clock))
    return StudioPublic(**body.model_dump())


@router.put("/v1/mediators/{mediator_id}", summary="Create or update a mediator")
async def put_mediator(mediator_id: str, body: MediatorIn, runtime: RuntimeDep, clock: ClockDep) -> MediatorPublic:
    if body.mediator_id != mediator_id:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[{"loc": ["body", "mediator_id"], "msg": "differs from the path", "type": "rule"}],
        )
    await run(runtime, lambda uow: load_document(SeedDocument(mediators=[body]), uow, clock))
    return (await _mediators(runtime, body.studio_id, mediator_id))[0]


@router.get("/v1/studios", summary="Every studio and the area it serves")
async def list_studios(runtime: RuntimeDep) -> list[StudioPublic]:
    async with runtime.db.sessions() as session:
        rows = await SqlMediationRepository(session).studios()
    return [StudioPublic(studio_id=s.id, name=s.name, area_codes=s.area_codes, rooms=s.rooms) for s in rows]


async def _mediators(
    runtime: RuntimeDep, studio_id: str | None, mediator_id: str | None = None
) -> list[MediatorPublic]:
    async with runtime.db.sessions() as session:
        repo = SqlMediationRepository(session)
        rows, loads = await repo.mediators(studio_id), await repo.loads()
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
        if mediator_id is None or m.id == mediator_id
    ]


@router.get("/v1/mediators", summary="Mediators with their skills and current load")
async def list_mediators(runtime: RuntimeDep, studio_id: str | None = None) -> list[MediatorPublic]:
    return await _mediators(runtime, studio_id)
