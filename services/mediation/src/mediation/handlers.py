"""Mediation's handlers: one async function per command or event.

A handler changes state through ``uow.session`` and emits events with ``uow.emit``;
the caller (an API route, the consumer loop or the deadline sweeper) opens and commits
the unit of work. Time comes in as ``now`` (an injected clock), never from the system.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from govmesh_contracts import (
    AgreementReached,
    CasePersonalDataErased,
    DisputeClosed,
    DisputeFlaggedLate,
    DisputeOpened,
    DisputeReferred,
    FollowUpVisitRecorded,
    JudicialConfirmationApplied,
    JudicialConfirmationLapsed,
    MediationSessionCancelled,
    MediationSessionHeld,
    MediationSessionScheduled,
    MediationTaskCompleted,
    MediatorAssigned,
    SessionNotice,
    TaskAssigned,
    TaskCancelled,
    TaskOutcome,
    TaskReassigned,
    TaskTarget,
    ViolenceRiskFlagged,
)
from govmesh_runtime.logging import get_logger
from govmesh_runtime.uow import UnitOfWork
from mediation.adapters import metrics
from mediation.adapters.repository import SqlMediationRepository
from mediation.adapters.tables import (
    AgreementRow,
    ConflictOfInterestRow,
    DeliberationRow,
    DisputeLogRow,
    DisputeRow,
    FollowUpRow,
    MediatorRow,
    PartyRow,
    SessionRow,
    StudioRow,
    WindowRequestRow,
)
from mediation.domain import deliberation as deliberation_rules
from mediation.domain import disputes as rules
from mediation.domain.assignment import Candidate, choose_mediator
from mediation.domain.commands import (
    AddParty,
    AssessRisk,
    AssignMediator,
    CancelSession,
    CompleteWindowRequest,
    MediatorSpec,
    OpenWindowRequest,
    RecordAgreement,
    RecordConflictOfInterest,
    RecordDeliberation,
    RecordFollowUp,
    RecordSession,
    ReferDispute,
    ScheduleSession,
    StudioSpec,
    UpdateDispute,
    WithdrawDispute,
)
from mediation.domain.disputes import DisputeRuleError, DisputeStatus, Outcome, RiskLevel
from mediation.domain.parties import check_no_personal_data, party_key
from mediation.domain.sessions import Conflict, SessionSlot, SessionStatus, check_slot, find_conflicts
from mediation.domain.window_services import WindowKind, task_outcome, window_kind_for_matter

log = get_logger(__name__)


class NotFound(LookupError):
    def __init__(self, kind: str, ident: object) -> None:
        super().__init__(f"{kind} {ident} not found")


class SessionConflict(DisputeRuleError):
    """The session would clash with others (mediator, room or a party)."""

    def __init__(self, conflicts: list[Conflict]) -> None:
        super().__init__("starts_at", "; ".join(c.describe() for c in conflicts))
        self.conflicts = conflicts


# --- helpers ----------------------------------------------------------------------------------


def _log(uow: UnitOfWork, dispute_id: uuid.UUID, kind: str, at: datetime, note: str | None = None) -> None:
    uow.session.add(DisputeLogRow(dispute_id=dispute_id, kind=kind, note=note, at=at))


async def _dispute(repo: SqlMediationRepository, dispute_id: uuid.UUID) -> DisputeRow:
    dispute = await repo.dispute(dispute_id, for_update=True)
    if dispute is None:
        raise NotFound("dispute", dispute_id)
    return dispute


async def _check_text(repo: SqlMediationRepository, dispute_id: uuid.UUID, field: str, text: str | None) -> None:
    """Free text bound for an event: no phone, ID number or party name in it."""
    if text:
        check_no_personal_data(field, text, [p.name for p in await repo.parties(dispute_id)])


async def _candidates(repo: SqlMediationRepository) -> list[Candidate]:
    studios = {s.id: s for s in await repo.studios()}
    loads = await repo.loads()
    return [
        Candidate(
            mediator_id=m.id,
            studio_id=m.studio_id,
            area_codes=tuple(studios[m.studio_id].area_codes) if m.studio_id in studios else (),
            skills=frozenset(m.skills),
            load=loads.get(m.id, 0),
            capacity=m.capacity,
            active=m.active,
        )
        for m in await repo.mediators()
    ]


def _set_mediator(
    uow: UnitOfWork, dispute: DisputeRow, mediator_id: str, studio_id: str, reason: str, now: datetime
) -> None:
    previous = dispute.mediator_id
    dispute.mediator_id = mediator_id
    dispute.studio_id = studio_id
    if dispute.status == DisputeStatus.OPEN.value:
        dispute.status = DisputeStatus.ASSIGNED.value
    dispute.updated_at = now
    uow.session.add(dispute)
    kind = "reassigned" if previous else "assigned"
    _log(uow, dispute.id, kind, now, f"mediator {mediator_id} of {studio_id}: {reason}")
    uow.emit(
        MediatorAssigned(
            dispute_id=dispute.id,
            case_id=dispute.case_id,
            mediator_id=mediator_id,
            studio_id=studio_id,
            previous_mediator_id=previous,
            reason=reason[:500],
            assigned_at=now,
        )
    )


async def _auto_assign(
    repo: SqlMediationRepository, uow: UnitOfWork, dispute: DisputeRow, now: datetime, *, why: str = ""
) -> bool:
    excluded = await repo.conflicted_mediators(dispute.id)
    if dispute.mediator_id:
        excluded.add(dispute.mediator_id)
    choice = choose_mediator(
        await _candidates(repo), grid_code=dispute.grid_code, category=dispute.category, excluded=frozenset(excluded)
    )
    if choice is None:
        _log(uow, dispute.id, "unassigned", now, "no mediator available" + (f" ({why})" if why else ""))
        return False
    _set_mediator(uow, dispute, choice.mediator_id, choice.studio_id, (why + "; " if why else "") + choice.reason, now)
    return True


def _close(
    uow: UnitOfWork,
    dispute: DisputeRow,
    outcome: Outcome,
    summary: str,
    now: datetime,
    *,
    referral_to: str | None = None,
    report_to_dispatch: bool = True,
) -> None:
    dispute.status = DisputeStatus.CLOSED.value
    dispute.outcome = outcome.value
    dispute.referral_to = referral_to
    dispute.closing_note = summary[:2000]
    dispute.closed_at = now
    dispute.updated_at = now
    uow.session.add(dispute)
    metrics.after_commit(uow.session, metrics.MEDIATION_OUTCOMES.labels(outcome.value, "dispute").inc)
    _log(uow, dispute.id, "closed", now, f"{outcome.value}: {summary}"[:2000])
    uow.emit(
        DisputeClosed(
            dispute_id=dispute.id,
            case_id=dispute.case_id,
            category=dispute.category,
            outcome=TaskOutcome(outcome.value),
            referral_to=referral_to,
            late=rules.is_late(dispute.target_close_at, now),
            closed_at=now,
        )
    )
    if report_to_dispatch:
        uow.emit(
            MediationTaskCompleted(
                task_id=dispute.task_id,
                case_id=dispute.case_id,
                outcome=TaskOutcome(outcome.value),
                summary=summary[:2000],
                referral_to=referral_to,
                completed_at=now,
            )
        )


# --- reactions to dispatch --------------------------------------------------------------------


async def open_dispute_on_task_assigned(event: TaskAssigned, uow: UnitOfWork, *, now: datetime) -> None:
    """A mediation task opens a dispute file (or a window service for legal/counselling matters)."""
    if event.target is not TaskTarget.MEDIATION:
        return
    repo = SqlMediationRepository(uow.session)
    kind = window_kind_for_matter(event.matter_code)
    if kind is not None:
        if await repo.window_by_task(event.task_id) is None:
            uow.session.add(
                WindowRequestRow(
                    kind=kind.value,
                    case_id=event.case_id,
                    task_id=event.task_id,
                    topic=event.description[:2000],
                    status="open",
                    opened_at=now,
                )
            )
        return
    if await repo.dispute_by_task(event.task_id) is not None:
        return  # the same task again under another event id
    category = rules.category_for_matter(event.matter_code)
    risk = rules.initial_risk(event.priority)
    dispute = DisputeRow(
        case_id=event.case_id,
        task_id=event.task_id,
        case_number=event.case_number,
        matter_code=event.matter_code,
        category=category.value,
        grid_code=event.grid_code,
        facts=event.description,
        risk_level=risk.value,
        status=DisputeStatus.OPEN.value,
        opened_at=now,
        target_close_at=rules.target_close_at(now),
        updated_at=now,
    )
    uow.session.add(dispute)
    await uow.session.flush()
    _log(uow, dispute.id, "opened", now, f"from task {event.task_id} of case {event.case_number}")
    uow.emit(
        DisputeOpened(
            dispute_id=dispute.id,
            case_id=dispute.case_id,
            task_id=dispute.task_id,
            case_number=dispute.case_number,
            category=dispute.category,
            grid_code=dispute.grid_code,
            risk_level=dispute.risk_level,
            opened_at=now,
            target_close_at=dispute.target_close_at,
        )
    )
    await _auto_assign(repo, uow, dispute, now)


async def withdraw_on_task_cancelled(event: TaskCancelled, uow: UnitOfWork, *, now: datetime) -> None:
    """Dispatch cancelled the task: the dispute closes as withdrawn (dispatch needs no result)."""
    repo = SqlMediationRepository(uow.session)
    dispute = await repo.dispute_by_task(event.task_id)
    if dispute is not None and dispute.status != DisputeStatus.CLOSED.value:
        _close(
            uow,
            dispute,
            Outcome.WITHDRAWN,
            f"task cancelled by dispatch: {event.reason}",
            now,
            report_to_dispatch=False,
        )
        return
    window = await repo.window_by_task(event.task_id)
    if window is not None and window.status == "open":
        window.status, window.outcome, window.closed_at = "closed", "cancelled", now
        uow.session.add(window)


ERASED = "[erased at the resident's request]"


async def erase_case_copies_on_erasure(event: CasePersonalDataErased, uow: UnitOfWork) -> None:
    """Intake erased a resident's personal data from a case: erase what mediation keeps of it —
    the dispute's facts, its parties' names and contact data (and the key that linked a party's
    other disputes), a window request's topic. The file, its sessions, agreement and history stay
    as a tombstone; the erasure itself is in the dispute's history."""
    repo = SqlMediationRepository(uow.session)
    for dispute in await repo.disputes_of_case(event.case_id):
        dispute.facts = ERASED
        uow.session.add(dispute)
        for party in await repo.parties(dispute.id):
            party.name, party.phone, party.id_number = ERASED[:100], None, None
            party.party_key = f"erased-{party.id.hex}"  # no longer links this person's disputes
            uow.session.add(party)
        _log(uow, dispute.id, "personal_data_erased", event.erased_at, "at the resident's request (via intake)")
    for window in await repo.windows_of_case(event.case_id):
        window.topic = ERASED
        uow.session.add(window)


async def hand_over_on_task_reassigned(event: TaskReassigned, uow: UnitOfWork, *, now: datetime) -> None:
    """Dispatch reassigned a task. Into mediation: open the dispute file as on TaskAssigned (from
    the case fields the event carries). Away from mediation (e.g. to policing): the dispute is no
    longer ours, it closes as withdrawn."""
    if event.target is TaskTarget.MEDIATION:
        assigned = task_assigned_from(event)
        if assigned is None:
            log.warning("reassignment_without_case_fields", task_id=str(event.task_id))
            return
        repo = SqlMediationRepository(uow.session)
        dispute = await repo.dispute_by_task(event.task_id)
        if dispute is not None and dispute.status == DisputeStatus.CLOSED.value:
            await _reopen(repo, uow, dispute, event.reason, now)
            return
        await open_dispute_on_task_assigned(assigned, uow, now=now)
        return
    await withdraw_on_task_cancelled(
        TaskCancelled(
            task_id=event.task_id,
            case_id=event.case_id,
            reason=f"reassigned to {event.target.value}: {event.reason}",
            cancelled_at=event.reassigned_at,
        ),
        uow,
        now=now,
    )


async def _reopen(
    repo: SqlMediationRepository, uow: UnitOfWork, dispute: DisputeRow, reason: str, now: datetime
) -> None:
    """The task came back to mediation (reassigned away and back, or failed and reassigned): the
    dispute file (one per task) opens again, with a new target and a mediator chosen anew."""
    dispute.status = DisputeStatus.OPEN.value
    dispute.outcome = dispute.referral_to = dispute.closing_note = None
    dispute.closed_at = dispute.late_flagged_at = None
    dispute.mediator_id = dispute.studio_id = None
    dispute.opened_at, dispute.target_close_at, dispute.updated_at = now, rules.target_close_at(now), now
    uow.session.add(dispute)
    _log(uow, dispute.id, "reopened", now, f"task reassigned to mediation again: {reason}"[:2000])
    uow.emit(
        DisputeOpened(
            dispute_id=dispute.id,
            case_id=dispute.case_id,
            task_id=dispute.task_id,
            case_number=dispute.case_number,
            category=dispute.category,
            grid_code=dispute.grid_code,
            risk_level=dispute.risk_level,
            opened_at=now,
            target_close_at=dispute.target_close_at,
        )
    )
    await _auto_assign(repo, uow, dispute, now)


def task_assigned_from(event: TaskReassigned) -> TaskAssigned | None:
    """The TaskAssigned a reassignment amounts to for its new holder; None when the event comes
    from a producer older than the case fields (nothing to open the file with)."""
    if event.case_number is None or event.matter_code is None or event.description is None or event.due_at is None:
        return None
    return TaskAssigned(
        task_id=event.task_id,
        case_id=event.case_id,
        case_number=event.case_number,
        matter_code=event.matter_code,
        target=event.target,
        assignee=event.assignee,
        grid_code=event.grid_code,
        description=event.description,
        location=event.location,
        address=event.address,
        priority=event.priority or "normal",
        due_at=event.due_at,
        assigned_at=event.reassigned_at,
    )


# --- studios and mediators --------------------------------------------------------------------


async def load_seed(
    studios: list[StudioSpec], mediators: list[MediatorSpec], uow: UnitOfWork, *, now: datetime
) -> None:
    """Create or update studios and mediators by id (idempotent)."""
    known_studios = {s.studio_id for s in studios}
    for spec in studios:
        row = await uow.session.get(StudioRow, spec.studio_id) or StudioRow(id=spec.studio_id, name=spec.name)
        row.name, row.area_codes, row.rooms, row.updated_at = spec.name, list(spec.area_codes), list(spec.rooms), now
        uow.session.add(row)
    await uow.session.flush()
    for number, m in enumerate(mediators):
        if m.studio_id not in known_studios and await uow.session.get(StudioRow, m.studio_id) is None:
            raise DisputeRuleError(f"mediators[{number}].studio_id", f"unknown studio {m.studio_id!r}")
        row_m = await uow.session.get(MediatorRow, m.mediator_id) or MediatorRow(
            id=m.mediator_id, studio_id=m.studio_id, name=m.name, kind=m.kind
        )
        row_m.studio_id, row_m.name, row_m.kind = m.studio_id, m.name, m.kind
        row_m.skills, row_m.capacity, row_m.active, row_m.updated_at = list(m.skills), m.capacity, m.active, now
        uow.session.add(row_m)


# --- the dispute file -------------------------------------------------------------------------


async def add_party(cmd: AddParty, uow: UnitOfWork, *, now: datetime) -> uuid.UUID:
    repo = SqlMediationRepository(uow.session)
    dispute = await _dispute(repo, cmd.dispute_id)
    rules.require_open(rules.DisputeStatus(dispute.status), "add a party")
    party = PartyRow(
        dispute_id=dispute.id,
        role=cmd.role.value,
        name=cmd.name,
        phone=cmd.phone,
        id_number=cmd.id_number,
        party_key=party_key(cmd.id_number, cmd.phone, cmd.name),
    )
    uow.session.add(party)
    await uow.session.flush()
    _log(uow, dispute.id, "party_added", now, f"{cmd.role.value} {party.id}")
    return party.id


async def read_contact(dispute_id: uuid.UUID, party_id: uuid.UUID, uow: UnitOfWork) -> PartyRow:
    """The full contact data of a party (the API audits the read)."""
    party = await uow.session.get(PartyRow, party_id)
    if party is None or party.dispute_id != dispute_id:
        raise NotFound("party", party_id)
    return party


async def update_dispute(cmd: UpdateDispute, uow: UnitOfWork, *, now: datetime) -> None:
    repo = SqlMediationRepository(uow.session)
    dispute = await _dispute(repo, cmd.dispute_id)
    rules.require_open(rules.DisputeStatus(dispute.status), "change the file")
    if cmd.category is not None and cmd.category.value != dispute.category:
        _log(uow, dispute.id, "category_set", now, f"{dispute.category} → {cmd.category.value}")
        dispute.category = cmd.category.value
    if cmd.facts is not None:
        dispute.facts = cmd.facts
        _log(uow, dispute.id, "facts_updated", now)
    dispute.updated_at = now
    uow.session.add(dispute)


async def assess_risk(cmd: AssessRisk, uow: UnitOfWork, *, now: datetime) -> bool:
    """Set the risk level; a rise to high or critical flags the dispute to policing. Returns whether it did."""
    repo = SqlMediationRepository(uow.session)
    dispute = await _dispute(repo, cmd.dispute_id)
    rules.require_open(rules.DisputeStatus(dispute.status), "assess the risk")
    await _check_text(repo, dispute.id, "summary", cmd.summary)
    previous = RiskLevel(dispute.risk_level)
    dispute.risk_level = cmd.risk_level.value
    dispute.updated_at = now
    uow.session.add(dispute)
    _log(uow, dispute.id, "risk_assessed", now, f"{previous.value} → {cmd.risk_level.value}")
    if not rules.needs_police_flag(previous, cmd.risk_level):
        return False
    uow.emit(
        ViolenceRiskFlagged(
            dispute_id=dispute.id,
            case_id=dispute.case_id,
            grid_code=dispute.grid_code,
            risk_level=cmd.risk_level.value,
            summary=cmd.summary[:2000],
            flagged_at=now,
        )
    )
    _log(uow, dispute.id, "violence_risk_flagged", now, "policing notified")
    return True


async def assign_mediator(cmd: AssignMediator, uow: UnitOfWork, *, now: datetime) -> str | None:
    """Assign (or reassign) the dispute: to the mediator named, or the best by area, skill and load."""
    repo = SqlMediationRepository(uow.session)
    dispute = await _dispute(repo, cmd.dispute_id)
    rules.require_open(rules.DisputeStatus(dispute.status), "assign a mediator")
    await _check_text(repo, dispute.id, "reason", cmd.reason)
    if cmd.mediator_id is None:
        if not await _auto_assign(repo, uow, dispute, now, why=cmd.reason or ""):
            raise DisputeRuleError("mediator_id", "no active mediator with free capacity and no conflict of interest")
        return dispute.mediator_id
    mediator = await uow.session.get(MediatorRow, cmd.mediator_id)
    if mediator is None:
        raise DisputeRuleError("mediator_id", f"unknown mediator {cmd.mediator_id!r}")
    if not mediator.active:
        raise DisputeRuleError("mediator_id", f"mediator {cmd.mediator_id} is not active")
    if cmd.mediator_id in await repo.conflicted_mediators(dispute.id):
        raise DisputeRuleError("mediator_id", f"mediator {cmd.mediator_id} has a recorded conflict of interest")
    if cmd.mediator_id == dispute.mediator_id:
        raise DisputeRuleError("mediator_id", f"mediator {cmd.mediator_id} already holds the dispute")
    _set_mediator(uow, dispute, mediator.id, mediator.studio_id, cmd.reason or "manual", now)
    return mediator.id


async def record_conflict_of_interest(cmd: RecordConflictOfInterest, uow: UnitOfWork, *, now: datetime) -> None:
    """Record a mediator's conflict of interest; if it is the current mediator, reassign."""
    repo = SqlMediationRepository(uow.session)
    dispute = await _dispute(repo, cmd.dispute_id)
    rules.require_open(rules.DisputeStatus(dispute.status), "record a conflict of interest")
    if await uow.session.get(MediatorRow, cmd.mediator_id) is None:
        raise DisputeRuleError("mediator_id", f"unknown mediator {cmd.mediator_id!r}")
    uow.session.add(
        ConflictOfInterestRow(dispute_id=dispute.id, mediator_id=cmd.mediator_id, reason=cmd.reason, recorded_at=now)
    )
    await uow.session.flush()
    _log(uow, dispute.id, "conflict_of_interest", now, f"mediator {cmd.mediator_id}")
    if dispute.mediator_id == cmd.mediator_id and not await _auto_assign(
        repo, uow, dispute, now, why="conflict of interest"
    ):
        dispute.mediator_id, dispute.studio_id = None, None
        dispute.status = DisputeStatus.OPEN.value
        dispute.updated_at = now
        uow.session.add(dispute)


# --- sessions ---------------------------------------------------------------------------------


async def schedule_session(cmd: ScheduleSession, uow: UnitOfWork, *, now: datetime) -> uuid.UUID:
    repo = SqlMediationRepository(uow.session)
    dispute = await _dispute(repo, cmd.dispute_id)
    status = rules.DisputeStatus(dispute.status)
    rules.require_open(status, "schedule a session")
    rules.require_mediator(dispute.mediator_id, "schedule a session")
    assert dispute.mediator_id is not None and dispute.studio_id is not None
    new_status = rules.status_after_scheduling(status)
    # Lock the mediator and the studio: two schedulings for them are serialised.
    await uow.session.get(MediatorRow, dispute.mediator_id, with_for_update=True)
    studio = await uow.session.get(StudioRow, dispute.studio_id, with_for_update=True)
    parties = await repo.parties(dispute.id)
    by_id = {p.id: p for p in parties}
    unknown = [str(p) for p in cmd.party_ids if p not in by_id]
    if unknown:
        raise DisputeRuleError("party_ids", f"not parties of this dispute: {', '.join(unknown)}")
    invited = [by_id[p] for p in cmd.party_ids] if cmd.party_ids else parties
    slot = SessionSlot(
        starts_at=cmd.starts_at,
        ends_at=cmd.ends_at,
        mediator_id=dispute.mediator_id,
        studio_id=dispute.studio_id,
        room=cmd.room,
        party_keys=frozenset(p.party_key for p in invited),
    )
    check_slot(slot, now, list(studio.rooms) if studio else [])
    booked = [
        SessionSlot(s.starts_at, s.ends_at, s.mediator_id, s.studio_id, s.room, frozenset(s.party_keys), s.id)
        for s in await repo.booked_between(cmd.starts_at, cmd.ends_at)
    ]
    conflicts = find_conflicts(slot, booked)
    if conflicts:
        raise SessionConflict(conflicts)
    session = SessionRow(
        dispute_id=dispute.id,
        studio_id=slot.studio_id,
        room=slot.room,
        mediator_id=slot.mediator_id,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        status=SessionStatus.SCHEDULED.value,
        party_keys=sorted(slot.party_keys),
        attendance={str(p.id): False for p in invited},
    )
    uow.session.add(session)
    dispute.status, dispute.updated_at = new_status.value, now
    uow.session.add(dispute)
    await uow.session.flush()
    _log(uow, dispute.id, "session_scheduled", now, f"{slot.starts_at.isoformat()} in {slot.room}")
    uow.emit(
        MediationSessionScheduled(
            session_id=session.id,
            dispute_id=dispute.id,
            case_id=dispute.case_id,
            studio_id=session.studio_id,
            room=session.room,
            mediator_id=session.mediator_id,
            starts_at=session.starts_at,
            ends_at=session.ends_at,
            notices=tuple(SessionNotice(party_id=p.id, role=p.role) for p in invited),
            scheduled_at=now,
        )
    )
    return session.id


async def _scheduled(uow: UnitOfWork, session_id: uuid.UUID) -> tuple[SessionRow, DisputeRow]:
    session = await uow.session.get(SessionRow, session_id, with_for_update=True)
    if session is None:
        raise NotFound("session", session_id)
    if session.status != SessionStatus.SCHEDULED.value:
        raise DisputeRuleError("status", f"the session is {session.status}, not scheduled")
    dispute = await _dispute(SqlMediationRepository(uow.session), session.dispute_id)
    return session, dispute


async def record_session(cmd: RecordSession, uow: UnitOfWork, *, now: datetime) -> None:
    """Minutes and attendance of a session that took place."""
    session, dispute = await _scheduled(uow, cmd.session_id)
    if now < session.starts_at:
        raise DisputeRuleError("session_id", "the session has not started yet")
    invited = set(session.attendance)
    unknown = [str(p) for p in cmd.attendance if str(p) not in invited]
    if unknown:
        raise DisputeRuleError("attendance", f"not invited to this session: {', '.join(unknown)}")
    attendance = {p: bool(cmd.attendance.get(uuid.UUID(p), False)) for p in invited}
    session.attendance = attendance
    session.minutes = cmd.minutes
    session.status = SessionStatus.HELD.value
    session.held_at = now
    uow.session.add(session)
    present = sum(attendance.values())
    _log(uow, dispute.id, "session_held", now, f"{present} of {len(attendance)} parties present")
    uow.emit(
        MediationSessionHeld(
            session_id=session.id,
            dispute_id=dispute.id,
            case_id=dispute.case_id,
            present=present,
            absent=len(attendance) - present,
            held_at=now,
        )
    )


async def cancel_session(cmd: CancelSession, uow: UnitOfWork, *, now: datetime) -> None:
    session, dispute = await _scheduled(uow, cmd.session_id)
    await _check_text(SqlMediationRepository(uow.session), dispute.id, "reason", cmd.reason)
    session.status, session.cancel_reason = SessionStatus.CANCELLED.value, cmd.reason
    uow.session.add(session)
    roles = {str(p.id): p.role for p in await SqlMediationRepository(uow.session).parties(dispute.id)}
    _log(uow, dispute.id, "session_cancelled", now, cmd.reason)
    uow.emit(
        MediationSessionCancelled(
            session_id=session.id,
            dispute_id=dispute.id,
            case_id=dispute.case_id,
            reason=cmd.reason[:500],
            notices=tuple(
                SessionNotice(party_id=uuid.UUID(p), role=roles.get(p, "third_party")) for p in session.attendance
            ),
            cancelled_at=now,
        )
    )


# --- outcomes ---------------------------------------------------------------------------------


async def record_agreement(cmd: RecordAgreement, uow: UnitOfWork, *, now: datetime) -> uuid.UUID:
    repo = SqlMediationRepository(uow.session)
    dispute = await _dispute(repo, cmd.dispute_id)
    signed_at = cmd.signed_at or now
    if signed_at > now:
        raise DisputeRuleError("signed_at", "is in the future")
    rules.check_agreement(rules.DisputeStatus(dispute.status), dispute.mediator_id, list(cmd.terms), signed_at.date())
    roles = {p.role for p in await repo.parties(dispute.id)}
    for number, term in enumerate(cmd.terms):
        if term.obligor not in roles:
            raise DisputeRuleError(f"terms[{number}].obligor", f"the dispute has no {term.obligor} party")
    agreement = AgreementRow(
        dispute_id=dispute.id,
        terms=[
            {
                "number": n,
                "obligor": t.obligor,
                "action": t.action,
                "due_on": t.due_on.isoformat(),
                "performed_on": None,
            }
            for n, t in enumerate(cmd.terms, start=1)
        ],
        signed_at=signed_at,
        confirmation_deadline=rules.confirmation_deadline(signed_at),
        confirmation_status="open",
    )
    uow.session.add(agreement)
    dispute.status, dispute.updated_at = DisputeStatus.AGREED.value, now
    uow.session.add(dispute)
    await uow.session.flush()
    _log(uow, dispute.id, "agreement_reached", now, f"{len(cmd.terms)} terms")
    uow.emit(
        AgreementReached(
            dispute_id=dispute.id,
            case_id=dispute.case_id,
            agreement_id=agreement.id,
            terms=len(cmd.terms),
            last_term_due_on=max(t.due_on for t in cmd.terms),
            confirmation_deadline=agreement.confirmation_deadline,
            reached_at=signed_at,
        )
    )
    return agreement.id


async def apply_for_judicial_confirmation(dispute_id: uuid.UUID, uow: UnitOfWork, *, now: datetime) -> None:
    repo = SqlMediationRepository(uow.session)
    dispute = await _dispute(repo, dispute_id)
    agreement = await repo.agreement(dispute_id)
    if agreement is None:
        raise DisputeRuleError("agreement", "the dispute has no agreement")
    rules.check_confirmation_application(agreement.confirmation_deadline, agreement.confirmation_status, now)
    agreement.confirmation_status, agreement.confirmation_changed_at = "applied", now
    uow.session.add(agreement)
    _log(uow, dispute.id, "judicial_confirmation_applied", now)
    uow.emit(
        JudicialConfirmationApplied(
            dispute_id=dispute.id, case_id=dispute.case_id, agreement_id=agreement.id, applied_at=now
        )
    )


async def record_follow_up(cmd: RecordFollowUp, uow: UnitOfWork, *, now: datetime) -> bool:
    """A follow-up visit: terms found performed. When none is outstanding, the dispute closes (done)."""
    repo = SqlMediationRepository(uow.session)
    dispute = await _dispute(repo, cmd.dispute_id)
    agreement = await repo.agreement(dispute.id)
    outstanding = {t["number"] for t in (agreement.terms if agreement else []) if t["performed_on"] is None}
    rules.check_follow_up(rules.DisputeStatus(dispute.status), outstanding, list(cmd.performed_terms))
    assert agreement is not None
    agreement.terms = [
        {**t, "performed_on": now.date().isoformat()} if t["number"] in cmd.performed_terms else t
        for t in agreement.terms
    ]
    uow.session.add(agreement)
    visit = FollowUpRow(dispute_id=dispute.id, visited_at=now, performed_terms=list(cmd.performed_terms), note=cmd.note)
    uow.session.add(visit)
    await uow.session.flush()
    left = len(outstanding - set(cmd.performed_terms))
    _log(uow, dispute.id, "follow_up", now, f"{len(cmd.performed_terms)} terms performed, {left} outstanding")
    uow.emit(
        FollowUpVisitRecorded(
            dispute_id=dispute.id,
            case_id=dispute.case_id,
            visit_id=visit.id,
            terms_performed=len(agreement.terms) - left,
            terms_outstanding=left,
            visited_at=now,
        )
    )
    if left:
        return False
    _close(uow, dispute, Outcome.DONE, f"agreement of {len(agreement.terms)} terms performed", now)
    return True


async def refer_dispute(cmd: ReferDispute, uow: UnitOfWork, *, now: datetime) -> None:
    """Mediation failed: refer to the court, legal aid, police (public order) or a department; the dispute closes."""
    repo = SqlMediationRepository(uow.session)
    dispute = await _dispute(repo, cmd.dispute_id)
    rules.require_open(rules.DisputeStatus(dispute.status), "refer it")
    rules.check_referral(cmd.referral_to, rules.Category(dispute.category), RiskLevel(dispute.risk_level))
    await _check_text(repo, dispute.id, "reason", cmd.reason)
    uow.emit(
        DisputeReferred(
            dispute_id=dispute.id,
            case_id=dispute.case_id,
            referral_to=cmd.referral_to,
            reason=cmd.reason[:2000],
            referred_at=now,
        )
    )
    _close(uow, dispute, Outcome.REFERRED, f"mediation failed: {cmd.reason}", now, referral_to=cmd.referral_to)


async def withdraw_dispute(cmd: WithdrawDispute, uow: UnitOfWork, *, now: datetime) -> None:
    repo = SqlMediationRepository(uow.session)
    dispute = await _dispute(repo, cmd.dispute_id)
    rules.require_open(rules.DisputeStatus(dispute.status), "withdraw it")
    await _check_text(repo, dispute.id, "reason", cmd.reason)
    _close(uow, dispute, Outcome.WITHDRAWN, f"withdrawn: {cmd.reason}", now)


# --- time-based rules -------------------------------------------------------------------------


@dataclass(frozen=True)
class SweepResult:
    flagged_late: int
    confirmations_lapsed: int


async def run_deadline_sweep(uow: UnitOfWork, *, now: datetime) -> SweepResult:
    """Flag disputes open past their one-month target; lapse judicial-confirmation windows that passed.

    The state is persisted (``late_flagged_at``, ``confirmation_status``), so each fact is
    flagged once however often the sweep runs."""
    repo = SqlMediationRepository(uow.session)
    late = await repo.late_candidates(now)
    for dispute in late:
        dispute.late_flagged_at = now
        uow.session.add(dispute)
        _log(uow, dispute.id, "flagged_late", now, f"target was {dispute.target_close_at.isoformat()}")
        uow.emit(
            DisputeFlaggedLate(
                dispute_id=dispute.id, case_id=dispute.case_id, target_close_at=dispute.target_close_at, flagged_at=now
            )
        )
    lapsed = await repo.lapsing_agreements(now)
    for agreement in lapsed:
        dispute = await _dispute(repo, agreement.dispute_id)
        agreement.confirmation_status, agreement.confirmation_changed_at = "lapsed", now
        uow.session.add(agreement)
        _log(uow, dispute.id, "judicial_confirmation_lapsed", now)
        uow.emit(
            JudicialConfirmationLapsed(
                dispute_id=dispute.id,
                case_id=dispute.case_id,
                agreement_id=agreement.id,
                deadline=agreement.confirmation_deadline,
                lapsed_at=now,
            )
        )
    return SweepResult(flagged_late=len(late), confirmations_lapsed=len(lapsed))


# --- window services and deliberations --------------------------------------------------------


async def open_window_request(cmd: OpenWindowRequest, uow: UnitOfWork, *, now: datetime) -> uuid.UUID:
    if cmd.studio_id is not None and await uow.session.get(StudioRow, cmd.studio_id) is None:
        raise DisputeRuleError("studio_id", f"unknown studio {cmd.studio_id!r}")
    row = WindowRequestRow(kind=cmd.kind.value, studio_id=cmd.studio_id, topic=cmd.topic, status="open", opened_at=now)
    uow.session.add(row)
    await uow.session.flush()
    return row.id


async def complete_window_request(cmd: CompleteWindowRequest, uow: UnitOfWork, *, now: datetime) -> None:
    row = await uow.session.get(WindowRequestRow, cmd.request_id, with_for_update=True)
    if row is None:
        raise NotFound("window request", cmd.request_id)
    if row.status != "open":
        raise DisputeRuleError("status", f"the request is {row.status}")
    result = task_outcome(WindowKind(row.kind), cmd.outcome, cmd.referral_to)
    row.status, row.outcome, row.referral_to, row.note, row.closed_at = (
        "closed",
        cmd.outcome,
        cmd.referral_to,
        cmd.note,
        now,
    )
    uow.session.add(row)
    metrics.after_commit(uow.session, metrics.MEDIATION_OUTCOMES.labels(result, "window").inc)
    if row.task_id is not None and row.case_id is not None:
        uow.emit(
            MediationTaskCompleted(
                task_id=row.task_id,
                case_id=row.case_id,
                outcome=TaskOutcome(result),
                summary=f"{row.kind.replace('_', ' ')}: {cmd.outcome}",
                referral_to=cmd.referral_to if result == "referred" else None,
                completed_at=now,
            )
        )


async def record_deliberation(cmd: RecordDeliberation, uow: UnitOfWork, *, now: datetime) -> uuid.UUID:
    present = len(cmd.participants)
    deliberation_rules.check_deliberation(present, [d.vote for d in cmd.decisions])
    if cmd.dispute_id is not None and await uow.session.get(DisputeRow, cmd.dispute_id) is None:
        raise DisputeRuleError("dispute_id", f"unknown dispute {cmd.dispute_id}")
    row = DeliberationRow(
        community_code=cmd.community_code,
        topic=cmd.topic,
        held_at=datetime.combine(cmd.held_on, datetime.min.time(), tzinfo=now.tzinfo),
        participants=list(cmd.participants),
        decisions=[
            {
                "text": d.text,
                "votes_for": d.vote.votes_for,
                "votes_against": d.vote.votes_against,
                "abstentions": d.vote.abstentions,
                "passed": deliberation_rules.decision_passed(d.vote, present),
            }
            for d in cmd.decisions
        ],
        dispute_id=cmd.dispute_id,
        recorded_at=now,
    )
    uow.session.add(row)
    await uow.session.flush()
    if cmd.dispute_id is not None:
        _log(uow, cmd.dispute_id, "deliberation", now, cmd.topic[:500])
    return row.id
