"""The resident-facing timeline as a table: for each event of the mesh, the step it adds to a case.

One entry per event type says which step it is (``kind``), who acted (``actor``), the note's
words (a message of ``messages.py``, worded in the reader's language when read), when, and how
the case moves: its status (forward only, see ``cases.advance``), its holder (``handled_by``) and
the few fields an event sets on it. ``handlers/timeline.py`` applies any entry with one function:
a new event on the timeline is one entry here and its words in ``messages.py``.

Plain data and pure functions: no I/O, nothing of the runtime."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from govmesh_contracts import (
    AgreementReached,
    CaseClosed,
    CaseDispatched,
    CaseEscalated,
    CaseReopened,
    CaseResolved,
    DisputeClosed,
    DisputeFlaggedLate,
    DisputeOpened,
    DisputeReferred,
    Event,
    EvidenceAttached,
    FollowUpVisitRecorded,
    JudicialConfirmationApplied,
    JudicialConfirmationLapsed,
    MediationSessionCancelled,
    MediationSessionHeld,
    MediationSessionScheduled,
    MediationTaskCompleted,
    MediatorAssigned,
    PoliceTaskAccepted,
    PoliceTaskClosed,
    PoliceTaskOnScene,
    PoliceTaskOpened,
    PoliceTaskRouted,
    PolicingTaskCompleted,
    ReturnVisitRecorded,
    TaskAssigned,
    TaskCancelled,
    TaskCompleted,
    TaskEscalated,
    TaskKind,
    TaskReassigned,
    TaskResult,
    ViolenceRiskFlagged,
)
from intake.domain.cases import CaseStatus
from intake.domain.messages import Message, msg

E = TypeVar("E", bound=Event)


@dataclass(frozen=True)
class Step:
    """One hand-off on a case's timeline and what it changes on the case."""

    case_id: UUID
    kind: str
    actor: str
    note: Message | None
    at: datetime
    status: CaseStatus | None = None  # the status it moves the case to (never back)
    handled_by: str | None = None  # who holds the case from this step on
    reopened: bool = False  # "not solved": back into handling, its feedback cleared for the next resolution
    grid_code: str | None = None  # where dispatch located the case
    closed_without_feedback: bool = False
    return_visit_satisfaction: int | None = None


@dataclass(frozen=True)
class On(Generic[E]):
    """The table's entry for one event type: how its event becomes a step."""

    event: type[E]
    handler: str  # the consumer's name for it (metrics and logs name handlers)
    kind: str
    actor: str | Callable[[E], str]
    at: Callable[[E], datetime]
    note: Callable[[E], Message | None]
    status: CaseStatus | None = None
    handled_by: str | Callable[[E], str] | None = None
    reopened: bool = False
    when: Callable[[E], bool] | None = None  # this entry only for such events (the next entry for the rest)
    grid_code: Callable[[E], str | None] | None = None
    closed_without_feedback: Callable[[E], bool] | None = None
    return_visit_satisfaction: Callable[[E], int | None] | None = None
    # Events written before policing named the case on every step carry none: worth a log line.
    log_without_case: bool = False

    def step(self, event: E, case_id: UUID) -> Step:
        return Step(
            case_id=case_id,
            kind=self.kind,
            actor=self.actor if isinstance(self.actor, str) else self.actor(event),
            note=self.note(event),
            at=self.at(event),
            status=self.status,
            handled_by=self.handled_by if not callable(self.handled_by) else self.handled_by(event),
            reopened=self.reopened,
            grid_code=self.grid_code(event) if self.grid_code else None,
            closed_without_feedback=self.closed_without_feedback(event) if self.closed_without_feedback else False,
            return_visit_satisfaction=self.return_visit_satisfaction(event) if self.return_visit_satisfaction else None,
        )


def _minutes(at: datetime) -> str:
    return at.isoformat(timespec="minutes")


def _task(task_id: UUID) -> str:
    return str(task_id)[:8]


def _assignee(event: TaskAssigned | TaskReassigned) -> str:
    return f"{event.target.value}:{event.assignee}" if event.assignee else event.target.value


def _room(event: PoliceTaskRouted | PoliceTaskAccepted | PoliceTaskOnScene) -> str:
    return f"police_room:{event.room_code}"


def _police_holder(event: PoliceTaskOpened | PoliceTaskClosed) -> str:
    return f"police_room:{event.room_code}" if event.room_code else "policing"


def _closed(event: CaseClosed) -> Message | None:
    if event.closed_by is not None:  # a centre closed it by hand
        return msg("closed.by_centre", note=event.note) if event.note else msg("closed.by_centre.bare")
    if event.without_feedback:
        return msg("closed.without_feedback")
    return msg("closed.satisfaction", satisfaction=event.satisfaction) if event.satisfaction else None


def _task_result(event: TaskResult) -> Message:
    return msg("task_completed", outcome=event.outcome.value, summary=event.summary, referral_to=event.referral_to)


def _evidence(event: EvidenceAttached) -> Message:
    return msg(
        "evidence",
        recordings=len(event.recordings),
        cameras=len(event.channel_ids),
        radius=f"{event.radius_m:.0f}",
        start=_minutes(event.window_start),
        end=_minutes(event.window_end),
        silent=len(event.unanswered_channel_ids),
        # one search's recordings, split over several events
        part=f"{event.page} of {event.page_count}" if event.page_count > 1 else "",
    )


# One entry per event type (a return visit's task has its own, first). Hand-aligned as the table it is.
# fmt: off
ENTRIES = (
    # --- dispatch's decisions on the case (dispatch.cases.v1) ---
    On(CaseDispatched, "record_case_dispatched", "dispatched",
       actor=lambda e: e.handled_by, at=lambda e: e.dispatched_at,
       note=lambda e: msg("dispatched.grid" if e.grid_code else "dispatched.nowhere", grid=e.grid_code, note=e.note),
       status=CaseStatus.DISPATCHED, handled_by=lambda e: e.handled_by,
       grid_code=lambda e: e.grid_code),  # dispatch's location decides; unlocated, the creator's grid stays
    On(CaseEscalated, "record_case_escalated", "escalated",
       actor=lambda e: e.escalated_by or f"centre:{e.centre_code}",  # by hand: the centre's person who decided
       at=lambda e: e.escalated_at,
       note=lambda e: msg("escalated", from_level=e.from_level.value, to_level=e.to_level.value, reason=e.reason),
       handled_by=lambda e: f"centre:{e.centre_code}"),
    On(CaseResolved, "record_case_resolved", "resolved", actor="dispatch", at=lambda e: e.resolved_at,
       note=lambda e: msg("resolved.summary", summary=e.summary) if e.summary else msg("resolved"),
       status=CaseStatus.RESOLVED),
    On(CaseClosed, "record_case_closed", "closed", actor=lambda e: e.closed_by or "dispatch", at=lambda e: e.closed_at,
       note=_closed, status=CaseStatus.CLOSED, closed_without_feedback=lambda e: e.without_feedback),
    On(CaseReopened, "record_case_reopened", "reopened", actor="dispatch", at=lambda e: e.reopened_at,
       note=lambda e: msg("reopened", reason=e.reason), reopened=True),
    # a grid worker's return visit (回访) of a closed case: its rating is kept beside the resident's own
    On(ReturnVisitRecorded, "record_return_visit", "return_visit", actor=lambda e: e.visited_by,
       at=lambda e: e.visited_at,
       note=lambda e: msg("return_visit.reached", satisfaction=e.satisfaction, comment=e.comment)
       if e.reached else msg("return_visit.not_reached"),
       return_visit_satisfaction=lambda e: e.satisfaction),
    # --- dispatch's tasks (dispatch.tasks.v1) ---
    # a return visit's task: the case stays closed, with no new holder
    On(TaskAssigned, "record_task_assigned", "return_visit_assigned", when=lambda e: e.kind is TaskKind.RETURN_VISIT,
       actor=_assignee, at=lambda e: e.assigned_at,
       note=lambda e: msg("return_visit_assigned", task=_task(e.task_id), holder=_assignee(e), due=_minutes(e.due_at))),
    On(TaskAssigned, "record_task_assigned", "task_assigned", actor=_assignee, at=lambda e: e.assigned_at,
       note=lambda e: msg("task_assigned", task=_task(e.task_id), target=e.target.value, priority=str(e.priority),
                          due=_minutes(e.due_at)),
       status=CaseStatus.IN_PROGRESS, handled_by=_assignee),
    On(TaskReassigned, "record_task_reassigned", "task_reassigned", actor=_assignee, at=lambda e: e.reassigned_at,
       note=lambda e: msg("task_reassigned", task=_task(e.task_id), target=e.target.value, reason=e.reason,
                          previous=e.previous_target.value if e.previous_target else None),
       handled_by=_assignee),
    On(TaskEscalated, "record_task_escalated", "task_escalated",
       actor=lambda e: f"centre:{e.centre_code}", at=lambda e: e.escalated_at,
       note=lambda e: msg("task_escalated", task=_task(e.task_id), from_level=e.from_level.value,
                          to_level=e.to_level.value, due=_minutes(e.due_at)),
       handled_by=lambda e: f"centre:{e.centre_code}"),
    On(TaskCancelled, "record_task_cancelled", "task_cancelled",
       actor=lambda e: e.cancelled_by or "dispatch", at=lambda e: e.cancelled_at,
       note=lambda e: msg("task_cancelled", task=_task(e.task_id), target=e.target.value if e.target else None,
                          reason=e.reason)),
    # a grid worker or a department ended its task; the note says how many photos it took
    On(TaskCompleted, "record_task_completed", "task_completed", actor=lambda e: e.completed_by,
       at=lambda e: e.completed_at,
       note=lambda e: msg("grid_task_completed", task=_task(e.task_id), outcome=e.outcome.value, summary=e.summary,
                          referral_to=e.referral_to, photos=len(e.photo_ids))),
    # --- the holders' results (mediation.task-results.v1, policing.task-results.v1) ---
    On(MediationTaskCompleted, "record_mediation_result", "task_completed", actor="mediation",
       at=lambda e: e.completed_at, note=_task_result),
    On(PolicingTaskCompleted, "record_policing_result", "task_completed", actor="policing",
       at=lambda e: e.completed_at, note=_task_result),
    # --- mediation's dispute file (mediation.disputes.v1) ---
    On(ViolenceRiskFlagged, "record_violence_risk", "violence_risk_flagged", actor="mediation",
       at=lambda e: e.flagged_at, note=lambda e: msg("violence_risk", risk=str(e.risk_level))),
    On(DisputeOpened, "record_dispute_opened", "dispute_opened", actor="mediation", at=lambda e: e.opened_at,
       note=lambda e: msg("dispute_opened", category=str(e.category), risk=str(e.risk_level),
                          target_close=_minutes(e.target_close_at)),
       status=CaseStatus.IN_PROGRESS, handled_by="mediation"),
    On(MediatorAssigned, "record_mediator_assigned", "mediator_assigned",
       actor=lambda e: f"mediation:{e.studio_id}", at=lambda e: e.assigned_at,
       note=lambda e: msg("mediator_assigned", mediator=e.mediator_id, reason=e.reason,
                          what="reassigned" if e.previous_mediator_id else "assigned"),
       handled_by=lambda e: f"mediation:{e.studio_id}"),
    On(MediationSessionScheduled, "record_session_scheduled", "session_scheduled",
       actor=lambda e: f"mediation:{e.studio_id}", at=lambda e: e.scheduled_at,
       note=lambda e: msg("session_scheduled", starts=_minutes(e.starts_at), room=e.room, parties=len(e.notices))),
    On(MediationSessionCancelled, "record_session_cancelled", "session_cancelled", actor="mediation",
       at=lambda e: e.cancelled_at, note=lambda e: msg("session_cancelled", reason=e.reason)),
    On(MediationSessionHeld, "record_session_held", "session_held", actor="mediation", at=lambda e: e.held_at,
       note=lambda e: msg("session_held", present=e.present, absent=e.absent)),
    On(AgreementReached, "record_agreement_reached", "agreement_reached", actor="mediation", at=lambda e: e.reached_at,
       note=lambda e: msg("agreement_reached", terms=e.terms, last_due=e.last_term_due_on.isoformat(),
                          deadline=_minutes(e.confirmation_deadline))),
    On(JudicialConfirmationApplied, "record_confirmation_applied", "judicial_confirmation_applied", actor="court",
       at=lambda e: e.applied_at, note=lambda e: msg("confirmation_applied")),
    On(JudicialConfirmationLapsed, "record_confirmation_lapsed", "judicial_confirmation_lapsed", actor="mediation",
       at=lambda e: e.lapsed_at, note=lambda e: msg("confirmation_lapsed")),
    On(FollowUpVisitRecorded, "record_follow_up", "follow_up_visit", actor="mediation", at=lambda e: e.visited_at,
       note=lambda e: msg("follow_up_visit", performed=e.terms_performed, outstanding=e.terms_outstanding)),
    On(DisputeReferred, "record_dispute_referred", "dispute_referred",
       actor=lambda e: e.referral_to, at=lambda e: e.referred_at,
       note=lambda e: msg("dispute_referred", referral_to=e.referral_to, reason=e.reason),
       handled_by=lambda e: e.referral_to),
    On(DisputeFlaggedLate, "record_dispute_late", "dispute_late", actor="mediation", at=lambda e: e.flagged_at,
       note=lambda e: msg("dispute_late", target_close=_minutes(e.target_close_at))),
    On(DisputeClosed, "record_dispute_closed", "dispute_closed", actor="mediation", at=lambda e: e.closed_at,
       note=lambda e: msg("dispute_closed", outcome=e.outcome.value, referral_to=e.referral_to)),
    # --- the community police room (policing.police-tasks.v1); a task of no case is on no timeline ---
    On(PoliceTaskOpened, "record_police_task_opened", "police_task_opened",
       actor=_police_holder, at=lambda e: e.opened_at,
       note=lambda e: msg("police_task_opened", priority=str(e.priority), room=e.room_code or "not yet routed",
                          officer=e.officer_id),
       status=CaseStatus.IN_PROGRESS, handled_by=_police_holder),
    On(PoliceTaskRouted, "record_police_task_routed", "police_task_routed", actor=_room, at=lambda e: e.routed_at,
       note=lambda e: msg("police_task_routed", room=e.room_code, previous=e.previous_room_code),
       handled_by=_room, log_without_case=True),
    On(PoliceTaskAccepted, "record_police_task_accepted", "police_task_accepted", actor=_room,
       at=lambda e: e.accepted_at, note=lambda e: msg("police_task_accepted", officer=e.officer_id),
       handled_by=_room, log_without_case=True),
    On(PoliceTaskOnScene, "record_police_on_scene", "police_on_scene", actor=_room, at=lambda e: e.on_scene_at,
       note=lambda e: msg("police_on_scene", officer=e.officer_id), log_without_case=True),
    On(PoliceTaskClosed, "record_police_task_closed", "police_task_closed",
       actor=_police_holder, at=lambda e: e.closed_at,
       note=lambda e: msg("police_task_closed", outcome=e.outcome.value, mediated=e.mediated,
                          referral_to=e.referral_to)),
    # --- video evidence (video.evidence.v1) ---
    On(EvidenceAttached, "record_evidence", "evidence_attached", actor="video", at=lambda e: e.attached_at,
       note=_evidence),
)
# fmt: on


# The table: event type → its entries, the first that applies wins.
TIMELINE: dict[type[Event], tuple[On[Any], ...]] = {}
for _entry in ENTRIES:
    TIMELINE[_entry.event] = (*TIMELINE.get(_entry.event, ()), _entry)


def entry_for(event: Event) -> On[Any]:
    """The entry that applies to this event (raises KeyError for an event not on the timeline)."""
    entries = TIMELINE[type(event)]
    return next((e for e in entries if e.when is None or e.when(event)), entries[-1])


def timeline_step(event: Event) -> Step | None:
    """The step an event adds to its case's timeline; None when the event names no case."""
    case_id: UUID | None = getattr(event, "case_id", None)  # every event on the timeline names its case, or None
    if case_id is None:
        return None
    return entry_for(event).step(event, case_id)
