"""Dispute files (纠纷案卷): categories, risk, status and the rules that move a dispute to its end."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from govmesh_contracts.matters import registry

#: A mediation agreement may be taken to the court for judicial confirmation (司法确认)
#: within 30 days of its signing (People's Mediation Law, art. 33).
CONFIRMATION_WINDOW = timedelta(days=30)
#: A dispute normally closes within one month (30 days) of opening; later it is flagged late.
CLOSE_TARGET = timedelta(days=30)


class DisputeRuleError(ValueError):
    """A request that the dispute's state or the rules do not allow; the message says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Category(StrEnum):
    NEIGHBOUR = "neighbour"
    FAMILY = "family"
    PROPERTY = "property"  # property management and tenancy (物业、租赁)
    LABOUR = "labour"
    LAND = "land"
    CONSUMER = "consumer"
    PUBLIC_ORDER = "public_order"
    OTHER = "other"


# Each matter's category is in the mesh's matter registry (govmesh_contracts' matters.json, or
# GOVMESH_MATTERS_FILE); mediation's view of it, read once.
_MATTER_CATEGORIES: dict[str, Category] = {
    m.code: Category(m.mediation_category) for m in registry().matters if m.mediation_category is not None
}


def category_for_matter(matter_code: str) -> Category:
    """The dispute category of a matter code from the matter registry (``other`` when it names none)."""
    return _MATTER_CATEGORIES.get(matter_code, Category.OTHER)


class RiskLevel(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return list(RiskLevel).index(self)

    @property
    def at_risk_of_violence(self) -> bool:
        return self.rank >= RiskLevel.HIGH.rank


def initial_risk(priority: str) -> RiskLevel:
    """Dispatch's urgent tasks start at medium risk, others at low; a mediator assesses it then."""
    return RiskLevel.MEDIUM if priority == "urgent" else RiskLevel.LOW


def needs_police_flag(previous: RiskLevel, new: RiskLevel) -> bool:
    """A rise to high or critical sends a violence-risk flag to policing (once per level reached)."""
    return new.at_risk_of_violence and new.rank > previous.rank


class DisputeStatus(StrEnum):
    OPEN = "open"  # no mediator yet
    ASSIGNED = "assigned"  # a mediator holds it
    IN_MEDIATION = "in_mediation"  # at least one session scheduled
    AGREED = "agreed"  # agreement signed; follow-up visits check performance
    CLOSED = "closed"


class Outcome(StrEnum):
    """How a dispute ended; the same values as the task outcome dispatch receives."""

    DONE = "done"  # agreement performed
    REFERRED = "referred"
    WITHDRAWN = "withdrawn"


_REFERRAL = re.compile(r"^(court|legal_aid|policing|department:[A-Za-z0-9._-]{1,60})$")
_POLICE_CATEGORIES = {Category.PUBLIC_ORDER}


def check_referral(referral_to: str, category: Category, risk: RiskLevel) -> None:
    """Referrals go to the court, legal aid, a department, or police for public-order or at-risk cases."""
    if not _REFERRAL.fullmatch(referral_to):
        raise DisputeRuleError("referral_to", "must be court, legal_aid, policing or department:<code>")
    if referral_to == "policing" and category not in _POLICE_CATEGORIES and not risk.at_risk_of_violence:
        raise DisputeRuleError(
            "referral_to", "policing takes public-order disputes or disputes at high/critical risk only"
        )


def require_open(status: DisputeStatus, action: str) -> None:
    if status is DisputeStatus.CLOSED:
        raise DisputeRuleError("status", f"the dispute is closed; cannot {action}")


def require_mediator(mediator_id: str | None, action: str) -> None:
    if mediator_id is None:
        raise DisputeRuleError("mediator_id", f"no mediator is assigned; assign one before you {action}")


def status_after_scheduling(status: DisputeStatus) -> DisputeStatus:
    require_open(status, "schedule a session")
    if status is DisputeStatus.AGREED:
        raise DisputeRuleError("status", "the dispute already has an agreement; record follow-up visits instead")
    return DisputeStatus.IN_MEDIATION


@dataclass(frozen=True)
class Term:
    """One term of an agreement: who performs what by when."""

    obligor: str  # a party role: applicant, respondent, third_party
    action: str
    due_on: date


def check_agreement(status: DisputeStatus, mediator_id: str | None, terms: list[Term], signed_on: date) -> None:
    require_open(status, "record an agreement")
    require_mediator(mediator_id, "record an agreement")
    if status is DisputeStatus.AGREED:
        raise DisputeRuleError("status", "the dispute already has an agreement")
    if not terms:
        raise DisputeRuleError("terms", "an agreement needs at least one term")
    for number, term in enumerate(terms):
        if term.due_on < signed_on:
            raise DisputeRuleError(f"terms[{number}].due_on", "is before the agreement's signing date")


def confirmation_deadline(signed_at: datetime) -> datetime:
    return signed_at + CONFIRMATION_WINDOW


def check_confirmation_application(deadline: datetime, status: str, now: datetime) -> None:
    """Judicial confirmation can be applied for once, within the window."""
    if status == "applied":
        raise DisputeRuleError("judicial_confirmation", "already applied for")
    if status == "lapsed" or now > deadline:
        raise DisputeRuleError("judicial_confirmation", f"the 30-day window closed at {deadline.isoformat()}")


def confirmation_lapsed(deadline: datetime, status: str, now: datetime) -> bool:
    return status == "open" and now > deadline


def target_close_at(opened_at: datetime) -> datetime:
    return opened_at + CLOSE_TARGET


def is_late(target: datetime, now: datetime, closed_at: datetime | None = None) -> bool:
    """Late: still open after the target, or closed after it."""
    return (closed_at or now) > target


def check_follow_up(status: DisputeStatus, open_terms: set[int], performed: list[int]) -> None:
    if status is not DisputeStatus.AGREED:
        raise DisputeRuleError("status", "follow-up visits check an agreement; this dispute has none open")
    unknown = [t for t in performed if t not in open_terms]
    if unknown:
        raise DisputeRuleError("performed_terms", f"terms {unknown} are not outstanding terms of the agreement")
