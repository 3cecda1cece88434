"""/v1/cases: create a case and follow it."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Header, HTTPException, Request, Response, status

from govmesh_runtime.app import Runtime, get_runtime
from intake.adapters.repository import SqlCaseRepository
from intake.domain.commands import AcceptCase
from intake.entrypoints.api.schemas import CaseCreate, CasePublic, TimelineEntry
from intake.handlers import IdempotencyConflict, accept_case
from intake.settings import IntakeSettings

router = APIRouter(prefix="/v1/cases", tags=["cases"])
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def _load(runtime: Runtime, case_id: UUID) -> CasePublic:
    async with runtime.db.sessions() as session:
        repo = SqlCaseRepository(session)
        case = await repo.get(case_id)
        if case is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"case {case_id} not found")
        timeline = await repo.timeline(case_id)
    return CasePublic(
        **case.model_dump(exclude={"id", "case_number", "channel", "status"}),
        id=case.id,
        case_number=case.case_number,
        channel=case.channel,
        status=case.status,
        timeline=[TimelineEntry(kind=t.kind, actor=t.actor, note=t.note, at=t.at) for t in timeline],
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Accept a matter as a case",
    responses={
        200: {"description": "A retried request with the same Idempotency-Key: the case it created."},
        409: {"description": "The Idempotency-Key was used with a different request."},
    },
)
async def create_case(
    body: CaseCreate,
    request: Request,
    response: Response,
    runtime: RuntimeDep,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> CasePublic:
    settings: IntakeSettings = runtime.settings  # type: ignore[assignment]
    cmd = AcceptCase(
        matter_code=body.matter_code,
        description=body.description,
        channel=body.channel,
        lat=body.lat,
        lon=body.lon,
        address=body.address,
        idempotency_key=idempotency_key,
    )
    try:
        async with runtime.uow() as uow:
            case_id, created = await accept_case(cmd, uow, centre_code=settings.centre_code)
            await uow.commit()
    except IdempotencyConflict as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail=f"Idempotency-Key {exc} was used with a different request"
        ) from exc
    if not created:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = str(request.url_for("get_case", case_id=case_id))
    return await _load(runtime, case_id)


@router.get("/{case_id}", summary="A case with its full timeline", name="get_case")
async def get_case(case_id: UUID, runtime: RuntimeDep) -> CasePublic:
    return await _load(runtime, case_id)
