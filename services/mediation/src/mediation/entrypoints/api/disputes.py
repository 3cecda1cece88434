"""/v1/disputes: the dispute board, the dispute file and the steps to its end."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Header, HTTPException, Query, Request, status

from govmesh_kit.masking import mask_id_number, mask_name, mask_phone
from govmesh_runtime import access, audit
from govmesh_runtime.uow import UnitOfWork
from mediation.adapters.repository import SqlMediationRepository
from mediation.adapters.tables import DisputeRow, SessionRow
from mediation.domain import disputes as rules
from mediation.domain.commands import (
    AddParty,
    AssessRisk,
    AssignMediator,
    RecordAgreement,
    RecordConflictOfInterest,
    RecordFollowUp,
    ReferDispute,
    UpdateDispute,
    WithdrawDispute,
)
from mediation.domain.disputes import DisputeStatus, Term
from mediation.entrypoints.api.deps import (
    CasesRead,
    ClockDep,
    ContactReader,
    Mediating,
    RuntimeDep,
    aware,
    guard_dispute,
    refusals,
    run,
)
from mediation.entrypoints.api.schemas import (
    AgreementCreate,
    AgreementPublic,
    AssignmentCreate,
    ConflictCreate,
    Created,
    DisputePublic,
    DisputeSummary,
    DisputeUpdate,
    FollowUpCreate,
    FollowUpPublic,
    LogEntry,
    PartyContact,
    PartyCreate,
    PartyPublic,
    ReferralCreate,
    RiskAssessment,
    SessionPublic,
    WithdrawalCreate,
)
from mediation.handlers.agreements import apply_for_judicial_confirmation, record_agreement, record_follow_up
from mediation.handlers.assignment import assign_mediator, record_conflict_of_interest
from mediation.handlers.disputes import (
    add_party,
    assess_risk,
    read_contact,
    refer_dispute,
    update_dispute,
    withdraw_dispute,
)

PERSONAL_FIELDS = ("name", "phone", "id_number")  # a party's; masked in the dispute file

router = APIRouter(prefix="/v1/disputes", tags=["disputes"], responses=refusals(400, 401, 403, 404, 409, 422))


def summary(d: DisputeRow, now: datetime) -> DisputeSummary:
    return DisputeSummary(
        dispute_id=d.id,
        case_id=d.case_id,
        task_id=d.task_id,
        case_number=d.case_number,
        category=d.category,
        grid_code=d.grid_code,
        risk_level=d.risk_level,
        status=d.status,
        outcome=d.outcome,
        referral_to=d.referral_to,
        mediator_id=d.mediator_id,
        studio_id=d.studio_id,
        opened_at=d.opened_at,
        target_close_at=d.target_close_at,
        closed_at=d.closed_at,
        late=d.late_flagged_at is not None or rules.is_late(d.target_close_at, now, d.closed_at),
    )


@router.get("", summary="The dispute board: open disputes (or by status), the most urgent target first")
async def board(
    caller: CasesRead,
    runtime: RuntimeDep,
    clock: ClockDep,
    studio_id: str | None = None,
    status_: Annotated[DisputeStatus | None, Query(alias="status")] = None,
    category: rules.Category | None = None,
    late: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[DisputeSummary]:
    now = clock()
    async with runtime.db.sessions() as session:
        rows = await SqlMediationRepository(session).board(
            studio_id=studio_id,
            status=status_.value if status_ else None,
            category=category.value if category else None,
            late=late,
            now=now,
            limit=limit,
            offset=offset,
            places=access.place_filter(caller),
        )
    return [summary(d, now) for d in rows]


@router.get("/{dispute_id}", summary="The dispute file: parties (masked), sessions, agreement, follow-ups, history")
async def get_dispute(
    dispute_id: UUID, request: Request, caller: CasesRead, runtime: RuntimeDep, clock: ClockDep
) -> DisputePublic:
    async with runtime.db.sessions() as session:
        d = await SqlMediationRepository(session).dispute(dispute_id)
    # Outside the read: a refusal is audited in its own transaction.
    if caller.places:
        place = d.grid_code if d else None
        await access.guard_place(
            request, caller, resource="dispute", resource_id=str(dispute_id), place=place, found=d is not None
        )
    if d is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"dispute {dispute_id} not found")
    async with runtime.db.sessions() as session:
        repo = SqlMediationRepository(session)
        parties, sessions = await repo.parties(dispute_id), await repo.sessions_of(dispute_id)
        agreement, visits = await repo.agreement(dispute_id), await repo.follow_ups(dispute_id)
        conflicts, log = await repo.conflicts(dispute_id), await repo.log(dispute_id)
    return DisputePublic(
        **summary(d, clock()).model_dump(),
        facts=d.facts,
        parties=[
            PartyPublic(
                party_id=p.id,
                role=p.role,
                name=mask_name(p.name),
                phone=mask_phone(p.phone) if p.phone else None,
                id_number=mask_id_number(p.id_number) if p.id_number else None,
            )
            for p in parties
        ],
        conflicts_of_interest=[
            {"mediator_id": c.mediator_id, "reason": c.reason, "recorded_at": c.recorded_at} for c in conflicts
        ],
        sessions=[session_public(s) for s in sessions],
        agreement=AgreementPublic(
            agreement_id=agreement.id,
            terms=agreement.terms,
            signed_at=agreement.signed_at,
            confirmation_deadline=agreement.confirmation_deadline,
            confirmation_status=agreement.confirmation_status,
        )
        if agreement
        else None,
        follow_ups=[
            FollowUpPublic(visit_id=v.id, visited_at=v.visited_at, performed_terms=v.performed_terms, note=v.note)
            for v in visits
        ],
        log=[LogEntry(kind=e.kind, note=e.note, at=e.at) for e in log],
    )


def session_public(s: SessionRow) -> SessionPublic:
    return SessionPublic(
        session_id=s.id,
        dispute_id=s.dispute_id,
        studio_id=s.studio_id,
        room=s.room,
        mediator_id=s.mediator_id,
        starts_at=s.starts_at,
        ends_at=s.ends_at,
        status=s.status,
        attendance=s.attendance,
        minutes=s.minutes,
    )


@router.patch("/{dispute_id}", summary="Set the category or the facts", status_code=status.HTTP_204_NO_CONTENT)
async def patch_dispute(
    dispute_id: UUID, body: DisputeUpdate, request: Request, caller: Mediating, runtime: RuntimeDep, clock: ClockDep
) -> None:
    await guard_dispute(request, caller, runtime, dispute_id)
    cmd = UpdateDispute(dispute_id, body.category, body.facts)
    await run(runtime, lambda uow: update_dispute(cmd, uow, now=clock()))


@router.post("/{dispute_id}/parties", status_code=status.HTTP_201_CREATED, summary="Add a party")
async def post_party(
    dispute_id: UUID, body: PartyCreate, request: Request, caller: Mediating, runtime: RuntimeDep, clock: ClockDep
) -> Created:
    await guard_dispute(request, caller, runtime, dispute_id)
    cmd = AddParty(dispute_id, body.role, body.name, body.phone, body.id_number)
    fields = [name for name in PERSONAL_FIELDS if getattr(body, name)]

    async def add_audited(uow: UnitOfWork) -> UUID:
        party_id = await add_party(cmd, uow, now=clock())
        entry = access.change_entry(
            request, caller, resource="party", resource_id=str(party_id), fields=fields, reason=f"dispute {dispute_id}"
        )
        audit.add(uow.session, entry)  # in the party's own transaction: both commit or neither
        return party_id

    return Created(id=await run(runtime, add_audited))


@router.get(
    "/{dispute_id}/parties/{party_id}/contact",
    summary="A party's full contact data (personal-data scope; every read audited with its X-Purpose)",
)
async def get_contact(
    dispute_id: UUID,
    party_id: UUID,
    request: Request,
    caller: ContactReader,
    runtime: RuntimeDep,
    x_purpose: Annotated[
        str, Header(min_length=3, max_length=500, description="Why the data is read (kept in the audit log).")
    ],
) -> PartyContact:
    await guard_dispute(request, caller, runtime, dispute_id)
    p = await run(runtime, lambda uow: read_contact(dispute_id, party_id, uow))
    await access.audit_personal_data(
        request,
        caller,
        action=audit.Action.READ,
        resource="party",
        resource_ids=[str(party_id)],
        fields=[name for name in PERSONAL_FIELDS if getattr(p, name)],
        reason=f"dispute {dispute_id}",
    )
    return PartyContact(party_id=p.id, role=p.role, name=p.name, phone=p.phone, id_number=p.id_number)


@router.post("/{dispute_id}/risk", summary="Assess the risk; high or critical flags the dispute to policing")
async def post_risk(
    dispute_id: UUID, body: RiskAssessment, request: Request, caller: Mediating, runtime: RuntimeDep, clock: ClockDep
) -> dict[str, bool]:
    await guard_dispute(request, caller, runtime, dispute_id)
    cmd = AssessRisk(dispute_id, body.risk_level, body.summary)
    return {"flagged_to_policing": await run(runtime, lambda uow: assess_risk(cmd, uow, now=clock()))}


@router.post("/{dispute_id}/assignment", summary="Assign or reassign (empty mediator_id: by area, skill, load)")
async def post_assignment(
    dispute_id: UUID, body: AssignmentCreate, request: Request, caller: Mediating, runtime: RuntimeDep, clock: ClockDep
) -> dict[str, str | None]:
    await guard_dispute(request, caller, runtime, dispute_id)
    cmd = AssignMediator(dispute_id, body.mediator_id, body.reason)
    return {"mediator_id": await run(runtime, lambda uow: assign_mediator(cmd, uow, now=clock()))}


@router.post(
    "/{dispute_id}/conflicts-of-interest",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Record a mediator's conflict of interest (the current mediator is replaced)",
)
async def post_conflict(
    dispute_id: UUID, body: ConflictCreate, request: Request, caller: Mediating, runtime: RuntimeDep, clock: ClockDep
) -> None:
    await guard_dispute(request, caller, runtime, dispute_id)
    cmd = RecordConflictOfInterest(dispute_id, body.mediator_id, body.reason)
    await run(runtime, lambda uow: record_conflict_of_interest(cmd, uow, now=clock()))


@router.post("/{dispute_id}/agreement", status_code=status.HTTP_201_CREATED, summary="Record the signed agreement")
async def post_agreement(
    dispute_id: UUID, body: AgreementCreate, request: Request, caller: Mediating, runtime: RuntimeDep, clock: ClockDep
) -> Created:
    await guard_dispute(request, caller, runtime, dispute_id)
    signed_at = aware(body.signed_at, "signed_at") if body.signed_at else None
    cmd = RecordAgreement(dispute_id, tuple(Term(t.obligor.value, t.action, t.due_on) for t in body.terms), signed_at)
    return Created(id=await run(runtime, lambda uow: record_agreement(cmd, uow, now=clock())))


@router.post(
    "/{dispute_id}/judicial-confirmation",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Record the application for judicial confirmation (within 30 days of signing)",
)
async def post_confirmation(
    dispute_id: UUID, request: Request, caller: Mediating, runtime: RuntimeDep, clock: ClockDep
) -> None:
    await guard_dispute(request, caller, runtime, dispute_id)
    await run(runtime, lambda uow: apply_for_judicial_confirmation(dispute_id, uow, now=clock()))


@router.post("/{dispute_id}/follow-ups", status_code=status.HTTP_201_CREATED, summary="Record a follow-up visit")
async def post_follow_up(
    dispute_id: UUID, body: FollowUpCreate, request: Request, caller: Mediating, runtime: RuntimeDep, clock: ClockDep
) -> dict[str, bool]:
    await guard_dispute(request, caller, runtime, dispute_id)
    cmd = RecordFollowUp(dispute_id, tuple(body.performed_terms), body.note)
    return {"closed": await run(runtime, lambda uow: record_follow_up(cmd, uow, now=clock()))}


@router.post("/{dispute_id}/referral", status_code=status.HTTP_204_NO_CONTENT, summary="Mediation failed: refer")
async def post_referral(
    dispute_id: UUID, body: ReferralCreate, request: Request, caller: Mediating, runtime: RuntimeDep, clock: ClockDep
) -> None:
    await guard_dispute(request, caller, runtime, dispute_id)
    cmd = ReferDispute(dispute_id, body.referral_to, body.reason)
    await run(runtime, lambda uow: refer_dispute(cmd, uow, now=clock()))


@router.post("/{dispute_id}/withdrawal", status_code=status.HTTP_204_NO_CONTENT, summary="The applicant withdrew")
async def post_withdrawal(
    dispute_id: UUID, body: WithdrawalCreate, request: Request, caller: Mediating, runtime: RuntimeDep, clock: ClockDep
) -> None:
    await guard_dispute(request, caller, runtime, dispute_id)
    cmd = WithdrawDispute(dispute_id, body.reason)
    await run(runtime, lambda uow: withdraw_dispute(cmd, uow, now=clock()))
