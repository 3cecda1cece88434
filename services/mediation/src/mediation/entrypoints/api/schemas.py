"""API models of mediation (Create / Public families)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from mediation.domain.disputes import Category, RiskLevel
from mediation.domain.parties import PartyRole
from mediation.domain.window_services import WindowKind


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- studios and mediators


class StudioPublic(BaseModel):
    studio_id: str
    name: str
    area_codes: list[str]
    rooms: list[str]


class MediatorPublic(BaseModel):
    mediator_id: str
    studio_id: str
    name: str
    kind: str
    skills: list[str]
    capacity: int
    load: int
    active: bool


class SeedResult(BaseModel):
    studios: int
    mediators: int


# --- disputes


class PartyCreate(Closed):
    role: PartyRole
    name: str = Field(min_length=1, max_length=100)
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9 -]{5,20}$")
    id_number: str | None = Field(default=None, pattern=r"^[0-9]{17}[0-9Xx]$", description="Resident ID number (18).")


class PartyPublic(BaseModel):
    """A party as the board shows it: contact data masked."""

    party_id: UUID
    role: str
    name: str
    phone: str | None
    id_number: str | None


class PartyContact(BaseModel):
    """Full contact data (the read is audited)."""

    party_id: UUID
    role: str
    name: str
    phone: str | None
    id_number: str | None


class DisputeUpdate(Closed):
    category: Category | None = None
    facts: str | None = Field(default=None, min_length=1, max_length=8000)


class RiskAssessment(Closed):
    risk_level: RiskLevel
    summary: str = Field(
        min_length=1, max_length=2000, description="Why; for policing. No names, phones or ID numbers."
    )


class AssignmentCreate(Closed):
    mediator_id: str | None = Field(default=None, description="Empty: choose by area, skill and load.")
    reason: str | None = Field(default=None, max_length=500)


class ConflictCreate(Closed):
    mediator_id: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=500)


class TermIn(Closed):
    obligor: PartyRole = Field(description="Which party performs the term.")
    action: str = Field(min_length=1, max_length=1000, examples=["repair the leaking pipe"])
    due_on: date


class AgreementCreate(Closed):
    terms: list[TermIn] = Field(min_length=1)
    signed_at: datetime | None = None


class FollowUpCreate(Closed):
    performed_terms: list[int] = Field(default_factory=list, description="Numbers (1-based) of terms found performed.")
    note: str | None = Field(default=None, max_length=2000)


class ReferralCreate(Closed):
    referral_to: str = Field(
        min_length=1, max_length=100, examples=["court", "legal_aid", "policing", "department:620702-HOUSING"]
    )
    reason: str = Field(min_length=1, max_length=2000)


class WithdrawalCreate(Closed):
    reason: str = Field(min_length=1, max_length=2000)


class SessionCreate(Closed):
    starts_at: datetime
    ends_at: datetime
    room: str = Field(min_length=1, max_length=64)
    party_ids: list[UUID] = Field(default_factory=list, description="Parties to invite; empty: all parties.")


class SessionRecord(Closed):
    minutes: str = Field(min_length=1, max_length=20000)
    attendance: dict[UUID, bool] = Field(default_factory=dict, description="party id → present.")


class SessionCancel(Closed):
    reason: str = Field(min_length=1, max_length=500)


class SessionPublic(BaseModel):
    session_id: UUID
    dispute_id: UUID
    studio_id: str
    room: str
    mediator_id: str
    starts_at: datetime
    ends_at: datetime
    status: str
    attendance: dict[str, bool]
    minutes: str | None = None


class AgreementPublic(BaseModel):
    agreement_id: UUID
    terms: list[dict[str, Any]]
    signed_at: datetime
    confirmation_deadline: datetime
    confirmation_status: str


class FollowUpPublic(BaseModel):
    visit_id: UUID
    visited_at: datetime
    performed_terms: list[int]
    note: str | None


class LogEntry(BaseModel):
    kind: str
    note: str | None
    at: datetime


class DisputeSummary(BaseModel):
    dispute_id: UUID
    case_id: UUID
    task_id: UUID
    case_number: str
    category: str
    grid_code: str | None
    risk_level: str
    status: str
    outcome: str | None
    referral_to: str | None
    mediator_id: str | None
    studio_id: str | None
    opened_at: datetime
    target_close_at: datetime
    closed_at: datetime | None
    late: bool


class DisputePublic(DisputeSummary):
    facts: str
    parties: list[PartyPublic]
    conflicts_of_interest: list[dict[str, Any]]
    sessions: list[SessionPublic]
    agreement: AgreementPublic | None
    follow_ups: list[FollowUpPublic]
    log: list[LogEntry]


class Created(BaseModel):
    id: UUID


class CategoryOutcomes(BaseModel):
    category: str
    done: int = 0
    referred: int = 0
    withdrawn: int = 0
    total: int = 0


# --- window services and deliberations


class WindowRequestCreate(Closed):
    kind: WindowKind
    topic: str = Field(min_length=1, max_length=2000)
    studio_id: str | None = None


class WindowRequestComplete(Closed):
    outcome: str = Field(min_length=1, max_length=32)
    referral_to: str | None = Field(default=None, max_length=100)
    note: str | None = Field(default=None, max_length=2000)


class WindowRequestPublic(BaseModel):
    request_id: UUID
    kind: str
    studio_id: str | None
    case_id: UUID | None
    topic: str
    status: str
    outcome: str | None
    referral_to: str | None
    opened_at: datetime
    closed_at: datetime | None


class DecisionIn(Closed):
    text: str = Field(min_length=1, max_length=2000)
    votes_for: int = Field(ge=0)
    votes_against: int = Field(default=0, ge=0)
    abstentions: int = Field(default=0, ge=0)


class DeliberationCreate(Closed):
    community_code: str = Field(pattern=r"^\d{12}$", examples=["620702001001"])
    topic: str = Field(min_length=1, max_length=500)
    held_on: date
    participants: list[str] = Field(min_length=1, description="Who took part (roles or names of representatives).")
    decisions: list[DecisionIn] = Field(default_factory=list)
    dispute_id: UUID | None = None


class DeliberationPublic(BaseModel):
    deliberation_id: UUID
    community_code: str
    topic: str
    held_at: datetime
    participants: list[str]
    decisions: list[dict[str, Any]]
    dispute_id: UUID | None
