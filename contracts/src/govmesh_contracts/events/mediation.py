"""Events produced by mediation (矛盾纠纷调处).

All events of one dispute file are keyed by its dispute id on ``mediation.disputes.v1``.
None of them carries personal data: parties appear as opaque party ids and roles, never
as names, phone numbers or ID numbers; free text is limited to summaries written for
the record.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from govmesh_contracts.events.base import Event
from govmesh_contracts.events.common import TaskOutcome


class ViolenceRiskFlagged(Event):
    """A dispute is at risk of violence: policing must act. No personal data."""

    event_type: ClassVar[str] = "gov.mediation.dispute.violence-risk-flagged"
    key_field: ClassVar[str] = "dispute_id"

    dispute_id: UUID
    case_id: UUID
    grid_code: str | None = None
    risk_level: str = Field(description="high or critical.")
    summary: str = Field(max_length=2000)
    flagged_at: datetime


class DisputeOpened(Event):
    """A mediation task from dispatch opened a dispute file (纠纷案卷)."""

    event_type: ClassVar[str] = "gov.mediation.dispute.opened"
    key_field: ClassVar[str] = "dispute_id"

    dispute_id: UUID
    case_id: UUID
    task_id: UUID
    case_number: str
    category: str = Field(description="neighbour, family, property, labour, land, consumer, other, …")
    grid_code: str | None = None
    risk_level: str = Field(description="low, medium, high or critical.")
    opened_at: datetime
    target_close_at: datetime = Field(description="One month after opening: the dispute is flagged late after it.")


class MediatorAssigned(Event):
    """A mediator (by staff id) of a studio took the dispute; also on reassignment."""

    event_type: ClassVar[str] = "gov.mediation.dispute.mediator-assigned"
    key_field: ClassVar[str] = "dispute_id"

    dispute_id: UUID
    case_id: UUID
    mediator_id: str
    studio_id: str
    previous_mediator_id: str | None = Field(default=None, description="Set on a reassignment.")
    reason: str = Field(max_length=500, description="area+skill, load, manual, conflict of interest, …")
    assigned_at: datetime


class SessionNotice(BaseModel):
    """Who must be told of a session: an opaque party id and the party's role."""

    model_config = ConfigDict(frozen=True)

    party_id: UUID
    role: str = Field(description="applicant, respondent or third_party.")


class MediationSessionScheduled(Event):
    """A mediation session was scheduled: the notice to each party (delivered by a notifier)."""

    event_type: ClassVar[str] = "gov.mediation.session.scheduled"
    key_field: ClassVar[str] = "dispute_id"

    session_id: UUID
    dispute_id: UUID
    case_id: UUID
    studio_id: str
    room: str
    mediator_id: str
    starts_at: datetime
    ends_at: datetime
    notices: tuple[SessionNotice, ...] = ()
    scheduled_at: datetime


class MediationSessionCancelled(Event):
    """A scheduled session will not take place; the parties are told."""

    event_type: ClassVar[str] = "gov.mediation.session.cancelled"
    key_field: ClassVar[str] = "dispute_id"

    session_id: UUID
    dispute_id: UUID
    case_id: UUID
    reason: str = Field(max_length=500)
    notices: tuple[SessionNotice, ...] = ()
    cancelled_at: datetime


class MediationSessionHeld(Event):
    """A session took place; minutes are kept by mediation, the event gives attendance only."""

    event_type: ClassVar[str] = "gov.mediation.session.held"
    key_field: ClassVar[str] = "dispute_id"

    session_id: UUID
    dispute_id: UUID
    case_id: UUID
    present: int = Field(ge=0)
    absent: int = Field(ge=0)
    held_at: datetime


class AgreementReached(Event):
    """The parties signed a mediation agreement (调解协议); the judicial-confirmation window opens."""

    event_type: ClassVar[str] = "gov.mediation.dispute.agreement-reached"
    key_field: ClassVar[str] = "dispute_id"

    dispute_id: UUID
    case_id: UUID
    agreement_id: UUID
    terms: int = Field(ge=1, description="Number of terms (who performs what by when).")
    last_term_due_on: date
    confirmation_deadline: datetime = Field(description="30 days after signing: last day to apply to the court.")
    reached_at: datetime


class JudicialConfirmationApplied(Event):
    """The parties applied to the court for judicial confirmation (司法确认) within the window."""

    event_type: ClassVar[str] = "gov.mediation.dispute.judicial-confirmation-applied"
    key_field: ClassVar[str] = "dispute_id"

    dispute_id: UUID
    case_id: UUID
    agreement_id: UUID
    applied_at: datetime


class JudicialConfirmationLapsed(Event):
    """The 30-day window passed without an application for judicial confirmation."""

    event_type: ClassVar[str] = "gov.mediation.dispute.judicial-confirmation-lapsed"
    key_field: ClassVar[str] = "dispute_id"

    dispute_id: UUID
    case_id: UUID
    agreement_id: UUID
    deadline: datetime
    lapsed_at: datetime


class FollowUpVisitRecorded(Event):
    """A follow-up visit (回访) checked how the agreement is performed."""

    event_type: ClassVar[str] = "gov.mediation.dispute.follow-up-recorded"
    key_field: ClassVar[str] = "dispute_id"

    dispute_id: UUID
    case_id: UUID
    visit_id: UUID
    terms_performed: int = Field(ge=0)
    terms_outstanding: int = Field(ge=0)
    visited_at: datetime


class DisputeReferred(Event):
    """Mediation failed (or does not apply): the dispute goes to a court, legal aid, police or a department."""

    event_type: ClassVar[str] = "gov.mediation.dispute.referred"
    key_field: ClassVar[str] = "dispute_id"

    dispute_id: UUID
    case_id: UUID
    referral_to: str = Field(description="court, legal_aid, policing or department:<code>.")
    reason: str = Field(max_length=2000)
    referred_at: datetime


class DisputeFlaggedLate(Event):
    """The dispute is still open one month after it was opened."""

    event_type: ClassVar[str] = "gov.mediation.dispute.flagged-late"
    key_field: ClassVar[str] = "dispute_id"

    dispute_id: UUID
    case_id: UUID
    target_close_at: datetime
    flagged_at: datetime


class DisputeClosed(Event):
    """The dispute file is closed: agreement performed (done), referred or withdrawn."""

    event_type: ClassVar[str] = "gov.mediation.dispute.closed"
    key_field: ClassVar[str] = "dispute_id"

    dispute_id: UUID
    case_id: UUID
    category: str
    outcome: TaskOutcome
    referral_to: str | None = None
    late: bool = Field(description="Closed after the one-month target.")
    closed_at: datetime
