"""Commands mediation accepts (from studios over REST)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID

from mediation.domain.deliberation import Vote
from mediation.domain.disputes import Category, RiskLevel, Term
from mediation.domain.parties import PartyRole
from mediation.domain.window_services import WindowKind


@dataclass(frozen=True)
class StudioSpec:
    studio_id: str
    name: str
    area_codes: tuple[str, ...]
    rooms: tuple[str, ...]


@dataclass(frozen=True)
class MediatorSpec:
    mediator_id: str
    studio_id: str
    name: str
    kind: str
    skills: tuple[str, ...]
    capacity: int
    active: bool = True


@dataclass(frozen=True)
class AddParty:
    dispute_id: UUID
    role: PartyRole
    name: str
    phone: str | None = None
    id_number: str | None = None


@dataclass(frozen=True)
class UpdateDispute:
    dispute_id: UUID
    category: Category | None = None
    facts: str | None = None


@dataclass(frozen=True)
class AssessRisk:
    dispute_id: UUID
    risk_level: RiskLevel
    summary: str


@dataclass(frozen=True)
class AssignMediator:
    dispute_id: UUID
    mediator_id: str | None = None  # None: choose by area, skill and load
    reason: str | None = None


@dataclass(frozen=True)
class RecordConflictOfInterest:
    dispute_id: UUID
    mediator_id: str
    reason: str


@dataclass(frozen=True)
class ScheduleSession:
    dispute_id: UUID
    starts_at: datetime
    ends_at: datetime
    room: str
    party_ids: tuple[UUID, ...] = ()  # empty: every party of the dispute


@dataclass(frozen=True)
class RecordSession:
    session_id: UUID
    minutes: str
    attendance: dict[UUID, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class CancelSession:
    session_id: UUID
    reason: str


@dataclass(frozen=True)
class RecordAgreement:
    dispute_id: UUID
    terms: tuple[Term, ...]
    signed_at: datetime | None = None  # default: now


@dataclass(frozen=True)
class RecordFollowUp:
    dispute_id: UUID
    performed_terms: tuple[int, ...]
    note: str | None = None


@dataclass(frozen=True)
class ReferDispute:
    dispute_id: UUID
    referral_to: str
    reason: str


@dataclass(frozen=True)
class WithdrawDispute:
    dispute_id: UUID
    reason: str


@dataclass(frozen=True)
class OpenWindowRequest:
    kind: WindowKind
    topic: str
    studio_id: str | None = None


@dataclass(frozen=True)
class CompleteWindowRequest:
    request_id: UUID
    outcome: str
    referral_to: str | None = None
    note: str | None = None


@dataclass(frozen=True)
class Decision:
    text: str
    vote: Vote


@dataclass(frozen=True)
class RecordDeliberation:
    community_code: str
    topic: str
    held_on: date
    participants: tuple[str, ...]
    decisions: tuple[Decision, ...]
    dispute_id: UUID | None = None
