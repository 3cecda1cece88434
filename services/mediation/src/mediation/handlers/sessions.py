"""Mediation sessions: scheduled without clashes (mediator, room, parties), held or cancelled."""

from __future__ import annotations

import uuid
from datetime import datetime

from govmesh_contracts import MediationSessionCancelled, MediationSessionHeld, MediationSessionScheduled, SessionNotice
from govmesh_runtime.uow import UnitOfWork
from mediation.adapters.repository import SqlMediationRepository
from mediation.adapters.tables import DisputeRow, MediatorRow, SessionRow, StudioRow
from mediation.domain import disputes as rules
from mediation.domain.commands import CancelSession, RecordSession, ScheduleSession
from mediation.domain.disputes import DisputeRuleError
from mediation.domain.sessions import Conflict, SessionSlot, SessionStatus, check_slot, find_conflicts
from mediation.handlers.common import NotFound, add_log, check_text, get_dispute


class SessionConflict(DisputeRuleError):
    """The session would clash with others (mediator, room or a party)."""

    def __init__(self, conflicts: list[Conflict]) -> None:
        super().__init__("starts_at", "; ".join(c.describe() for c in conflicts))
        self.conflicts = conflicts


async def schedule_session(cmd: ScheduleSession, uow: UnitOfWork, *, now: datetime) -> uuid.UUID:
    repo = SqlMediationRepository(uow.session)
    dispute = await get_dispute(repo, cmd.dispute_id)
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
    add_log(uow, dispute.id, "session_scheduled", now, f"{slot.starts_at.isoformat()} in {slot.room}")
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
    dispute = await get_dispute(SqlMediationRepository(uow.session), session.dispute_id)
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
    add_log(uow, dispute.id, "session_held", now, f"{present} of {len(attendance)} parties present")
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
    await check_text(SqlMediationRepository(uow.session), dispute.id, "reason", cmd.reason)
    session.status, session.cancel_reason = SessionStatus.CANCELLED.value, cmd.reason
    uow.session.add(session)
    roles = {str(p.id): p.role for p in await SqlMediationRepository(uow.session).parties(dispute.id)}
    add_log(uow, dispute.id, "session_cancelled", now, cmd.reason)
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
