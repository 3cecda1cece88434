"""From rows to API answers; personal data masked unless the caller may see it."""

from __future__ import annotations

import json
from typing import Annotated
from uuid import UUID

from fastapi import Depends, HTTPException, status
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from govmesh_runtime.app import Runtime, optional_principal, runtime_dependency
from govmesh_runtime.auth import Principal
from intake.adapters.repository import SqlCaseRepository
from intake.adapters.tables import CaseRow, ReporterRow, TimelineEntryRow
from intake.domain.cases import CaseStatus, Channel
from intake.domain.commands import AcceptCase
from intake.domain.validation import mask_id_number, mask_name, mask_phone
from intake.entrypoints.api.schemas import CasePublic, CaseSummary, ReporterPublic, TimelineEntry
from intake.handlers import Accepted, accept_case
from intake.settings import IntakeSettings

RuntimeDep = Annotated[Runtime, Depends(runtime_dependency)]


PERSONAL_DATA_SCOPE = "personal-data"


async def may_see_personal_data(principal: Annotated[Principal | None, Depends(optional_principal)]) -> bool:
    """Whether the caller may see reporters' personal data unmasked: only a verified client
    credential carrying the "personal-data" scope (govmesh-auth); everyone else sees it masked."""
    return principal is not None and principal.has(PERSONAL_DATA_SCOPE)


PersonalDataDep = Annotated[bool, Depends(may_see_personal_data)]


def settings_of(runtime: Runtime) -> IntakeSettings:
    settings = runtime.settings
    assert isinstance(settings, IntakeSettings)
    return settings


async def accept(runtime: Runtime, cmd: AcceptCase) -> Accepted:
    """Accept a report in one transaction. When a concurrent request with the same Idempotency-Key
    won the race (unique key violated), answer what that request made."""
    try:
        async with runtime.uow() as uow:
            accepted = await accept_case(cmd, uow, settings=settings_of(runtime))
            await uow.commit()
    except IntegrityError:
        if not cmd.idempotency_key:
            raise
        async with runtime.uow() as uow:
            accepted = await accept_case(cmd, uow, settings=settings_of(runtime))
            await uow.commit()
    return accepted


def reporter_view(row: ReporterRow, *, reveal: bool) -> ReporterPublic:
    if reveal:
        return ReporterPublic(ref=row.ref, name=row.name, phone=row.phone, id_number=row.id_number, masked=False)
    return ReporterPublic(
        ref=row.ref,
        name=mask_name(row.name) if row.name else None,
        phone=mask_phone(row.phone) if row.phone else None,
        id_number=mask_id_number(row.id_number) if row.id_number else None,
        masked=True,
    )


def summary_view(case: CaseRow) -> CaseSummary:
    return CaseSummary(
        id=case.id,
        case_number=case.case_number,
        matter_code=case.matter_code,
        description=case.description,
        lat=case.lat,
        lon=case.lon,
        address=case.address,
        channel=Channel(case.channel),
        status=CaseStatus(case.status),
        handled_by=case.handled_by,
        received_at=case.received_at,
        updated_at=case.updated_at,
        due_at=case.due_at,
        linked_reports=case.linked_reports,
    )


async def case_view(session: AsyncSession, case: CaseRow, *, reveal: bool) -> CasePublic:
    repo = SqlCaseRepository(session)
    timeline = await repo.timeline(case.id)
    reporter = await repo.reporter(case.reporter_ref) if case.reporter_ref else None
    return case_public(case, timeline, reporter, reveal=reveal)


def case_public(
    case: CaseRow, timeline: list[TimelineEntryRow], reporter: ReporterRow | None, *, reveal: bool
) -> CasePublic:
    """The answer for a case from its rows (read, or just written: no second read after a create)."""
    holder_steps = [t.at for t in timeline if t.actor == case.handled_by]
    return CasePublic(
        **summary_view(case).model_dump(),
        handled_since=holder_steps[-1] if holder_steps else None,
        attributes=json.loads(case.attributes_json or "{}"),
        attachments=json.loads(case.attachments_json or "[]"),
        reporter=reporter_view(reporter, reveal=reveal) if reporter else None,
        satisfaction=case.satisfaction,
        timeline=[TimelineEntry(kind=t.kind, actor=t.actor, note=t.note, at=t.at) for t in timeline],
    )


async def load_case(runtime: Runtime, case_id: UUID, *, reveal: bool) -> CasePublic:
    async with runtime.db.sessions() as session:
        case = await SqlCaseRepository(session).get(case_id)
        if case is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"case {case_id} not found")
        return await case_view(session, case, reveal=reveal)
