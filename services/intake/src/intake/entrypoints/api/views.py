"""From rows to API answers; personal data masked unless the caller may see it."""

from __future__ import annotations

import json
from functools import partial
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from govmesh_kit.masking import mask_id_number, mask_name, mask_phone
from govmesh_runtime import access, audit
from govmesh_runtime.app import Runtime, runtime_dependency
from govmesh_runtime.auth import Principal
from govmesh_runtime.roles import Scope
from intake.adapters.repository import SqlCaseRepository
from intake.adapters.tables import CaseRow, ReporterRow, TimelineEntryRow
from intake.domain.cases import CaseStatus, Channel
from intake.domain.commands import AcceptCase, Reporter
from intake.domain.messages import current_lang, stored_note
from intake.entrypoints.api.schemas import (
    CasePublic,
    CaseSummary,
    PublicStep,
    ReporterPublic,
    ReportLinked,
    ReportReceipt,
    TimelineEntry,
)
from intake.handlers.cases import Accepted, ChangeAudit, accept_report
from intake.settings import IntakeSettings

RuntimeDep = Annotated[Runtime, Depends(runtime_dependency)]


PERSONAL_DATA_SCOPE = "personal-data"
POLICING_SCOPE = "policing"


def may_see_personal_data(principal: Principal) -> bool:
    """Whether the caller may see reporters' personal data unmasked: only a client credential
    carrying the "personal-data" scope (govmesh-auth); everyone else sees it masked."""
    return principal.has(PERSONAL_DATA_SCOPE)


def settings_of(runtime: Runtime) -> IntakeSettings:
    settings = runtime.settings
    assert isinstance(settings, IntakeSettings)
    return settings


READ_SCOPE = Scope.CASES_READ.value
WRITE_SCOPE = Scope.CASES_CREATE.value  # reporting a case and the resident's feedback: what Open311 does
Reader = Annotated[Principal, Depends(access.require(READ_SCOPE))]
Writer = Annotated[Principal, Depends(access.require(WRITE_SCOPE))]
Manager = Annotated[Principal, Depends(access.require("cases:manage"))]  # a centre's case decisions: cancel
RESOURCE = "case"


def reporter_fields(reporter: Reporter | ReporterRow | ReporterPublic | None) -> list[str]:
    """The personal fields a reporter carries, as the audit log names them."""
    if reporter is None:
        return []
    return Reporter(name=reporter.name, phone=reporter.phone, id_number=reporter.id_number).fields()


def own_grid(caller: Principal) -> str | None:
    """A grid worker's terminal: a caller bound to exactly one grid (a 15-digit code) reports on it."""
    if len(caller.places) == 1 and len(caller.places[0]) == 15 and caller.places[0].isdigit():
        return caller.places[0]
    return None


async def check_grid(request: Request, caller: Principal, grid_code: str | None) -> None:
    """A place-bound caller creates a case only in a grid of theirs, which they must name:
    intake does not know grids (dispatch locates cases), so it cannot find one for them."""
    if caller.places and grid_code is None:
        raise await access.refuse(request, caller, "give a grid_code within your places", RESOURCE)
    await access.require_place(request, caller, resource=RESOURCE, place=grid_code)


async def accept(runtime: Runtime, cmd: AcceptCase, request: Request, caller: Principal) -> Accepted:
    """Accept a report in one transaction, with the audit of the reporter's personal data it
    stores. When a concurrent request with the same Idempotency-Key won the race (unique key
    violated), answer what that request made."""
    try:
        return await _accept_once(runtime, cmd, request, caller)
    except IntegrityError:
        if not cmd.idempotency_key:
            raise
        return await _accept_once(runtime, cmd, request, caller)


async def _accept_once(runtime: Runtime, cmd: AcceptCase, request: Request, caller: Principal) -> Accepted:
    async with runtime.uow() as uow:
        accepted = await accept_report(
            cmd, uow, settings=settings_of(runtime), audit_change=change_audit(request, caller)
        )
        await uow.commit()
    return accepted


def change_audit(request: Request, caller: Principal) -> ChangeAudit:
    """The audit row of a change of personal data through this request, by this caller."""
    return partial(access.change_entry, request, caller, resource=RESOURCE)


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
        grid_code=case.grid_code,
        received_at=case.received_at,
        updated_at=case.updated_at,
        due_at=case.due_at,
        linked_reports=case.linked_reports,
    )


def is_police_step(step: TimelineEntryRow) -> bool:
    """A step of the police's work: its note (officers, outcome, referral) is police data."""
    return step.kind.startswith("police_") or step.actor == "policing" or step.actor.startswith("police_room:")


def step_note(step: TimelineEntryRow, *, policing: bool) -> str | None:
    """The note of a step; a police step's only with the policing scope (that the police
    hold the case, and when, stays visible). Worded in the request's language (Accept-Language)."""
    if not policing and is_police_step(step):
        return None
    return stored_note(step.note, step.note_key, step.note_args, current_lang.get())


async def case_view(session: AsyncSession, case: CaseRow, *, reveal: bool, policing: bool) -> CasePublic:
    repo = SqlCaseRepository(session)
    timeline = await repo.timeline(case.id)
    reporter = await repo.reporter(case.reporter_ref) if case.reporter_ref else None
    return case_public(case, timeline, reporter, reveal=reveal, policing=policing)


def case_public(
    case: CaseRow, timeline: list[TimelineEntryRow], reporter: ReporterRow | None, *, reveal: bool, policing: bool
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
        closed_without_feedback=case.closed_without_feedback,
        return_visit_satisfaction=case.return_visit_satisfaction,
        timeline=[
            TimelineEntry(kind=t.kind, actor=t.actor, note=step_note(t, policing=policing), at=t.at) for t in timeline
        ],
    )


async def find_case(runtime: Runtime, case_id: UUID) -> CaseRow | None:
    """The case row, its session closed: a refusal is audited in a transaction of its own,
    which an open read would hold up on SQLite."""
    async with runtime.db.sessions() as session:
        return await SqlCaseRepository(session).get(case_id)


async def guard(request: Request, caller: Principal, case_id: UUID, case: CaseRow | None) -> CaseRow:
    """The case, if the caller's places cover its grid; a 403 for one outside them or for a
    missing one alike (place-bound callers), a 404 for a missing one (everyone else)."""
    await access.guard_place(
        request,
        caller,
        resource=RESOURCE,
        resource_id=str(case_id),
        place=case.grid_code if case else None,
        found=case is not None,
    )
    assert case is not None
    return case


def receipt_number(case: CaseRow, link_id: int) -> str:
    return f"{case.case_number}-L{link_id}"


async def load_linked(
    runtime: Runtime, case_id: UUID, link_id: int, request: Request, caller: Principal, *, outcome: str
) -> ReportLinked:
    """The answer to a report linked to an open case: the caller's own report and the case's public
    status. Another resident's description, attachments, attributes and the steps' notes stay out."""
    case = await guard(request, caller, case_id, await find_case(runtime, case_id))
    async with runtime.db.sessions() as session:
        repo = SqlCaseRepository(session)
        link = await repo.link(link_id)
        timeline = await repo.timeline(case.id)
        reporter = await repo.reporter(link.reporter_ref) if link and link.reporter_ref else None
    assert link is not None and link.case_id == case.id
    report = ReportReceipt(
        receipt=receipt_number(case, link_id),
        received_at=link.linked_at,
        channel=Channel(link.channel),
        description=link.description,
        lat=link.lat,
        lon=link.lon,
        address=link.address,
        attachments=json.loads(link.attachments_json or "[]"),
        attributes=json.loads(link.attributes_json or "{}"),
        reporter=reporter_view(reporter, reveal=False) if reporter else None,
    )
    notice = (
        f"Your report {report.receipt} is linked to open case {case.case_number} of the same matter nearby; "
        "you will follow that case."
    )
    return ReportLinked(
        outcome=outcome,  # type: ignore[arg-type]  # "linked" or "retried"
        notice=notice,
        report=report,
        id=case.id,
        case_number=case.case_number,
        matter_code=case.matter_code,
        status=CaseStatus(case.status),
        handled_by=case.handled_by,
        updated_at=case.updated_at,
        due_at=case.due_at,
        linked_reports=case.linked_reports,
        timeline=[PublicStep(kind=t.kind, actor=t.actor, at=t.at) for t in timeline],
    )


async def load_case(runtime: Runtime, case_id: UUID, request: Request, caller: Principal) -> CasePublic:
    """A case the caller may see, its reporter unmasked (and that read audited) only with personal-data."""
    reveal = may_see_personal_data(caller)
    case = await guard(request, caller, case_id, await find_case(runtime, case_id))
    # The case and its timeline from one snapshot: never a step whose status change is not shown.
    async with runtime.db.snapshot() as session:
        case = await SqlCaseRepository(session).get(case_id) or case
        view = await case_view(session, case, reveal=reveal, policing=caller.has(POLICING_SCOPE))
    return await shown(request, caller, view)


async def shown(request: Request, caller: Principal, view: CasePublic) -> CasePublic:
    """The answer, its unmasked reporter (if any) audited as read."""
    if view.reporter is not None and not view.reporter.masked:
        fields = reporter_fields(view.reporter)
        await access.audit_personal_data(
            request, caller, action=audit.Action.READ, resource=RESOURCE, resource_ids=[str(view.id)], fields=fields
        )
    return view
