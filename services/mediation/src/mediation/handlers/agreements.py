"""Agreements: signed terms, judicial confirmation, follow-up visits until every term is
performed, and the deadline sweep (late disputes, lapsed confirmation windows)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from govmesh_contracts import (
    AgreementReached,
    DisputeFlaggedLate,
    FollowUpVisitRecorded,
    JudicialConfirmationApplied,
    JudicialConfirmationLapsed,
)
from govmesh_runtime.uow import UnitOfWork
from mediation.adapters.repository import SqlMediationRepository
from mediation.adapters.tables import AgreementRow, FollowUpRow
from mediation.domain import disputes as rules
from mediation.domain.commands import RecordAgreement, RecordFollowUp
from mediation.domain.disputes import DisputeRuleError, DisputeStatus, Outcome
from mediation.handlers.common import add_log, close_dispute, get_dispute


async def record_agreement(cmd: RecordAgreement, uow: UnitOfWork, *, now: datetime) -> uuid.UUID:
    repo = SqlMediationRepository(uow.session)
    dispute = await get_dispute(repo, cmd.dispute_id)
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
    add_log(uow, dispute.id, "agreement_reached", now, f"{len(cmd.terms)} terms")
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
    dispute = await get_dispute(repo, dispute_id)
    agreement = await repo.agreement(dispute_id)
    if agreement is None:
        raise DisputeRuleError("agreement", "the dispute has no agreement")
    rules.check_confirmation_application(agreement.confirmation_deadline, agreement.confirmation_status, now)
    agreement.confirmation_status, agreement.confirmation_changed_at = "applied", now
    uow.session.add(agreement)
    add_log(uow, dispute.id, "judicial_confirmation_applied", now)
    uow.emit(
        JudicialConfirmationApplied(
            dispute_id=dispute.id, case_id=dispute.case_id, agreement_id=agreement.id, applied_at=now
        )
    )


async def record_follow_up(cmd: RecordFollowUp, uow: UnitOfWork, *, now: datetime) -> bool:
    """A follow-up visit: terms found performed. When none is outstanding, the dispute closes (done)."""
    repo = SqlMediationRepository(uow.session)
    dispute = await get_dispute(repo, cmd.dispute_id)
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
    add_log(uow, dispute.id, "follow_up", now, f"{len(cmd.performed_terms)} terms performed, {left} outstanding")
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
    close_dispute(uow, dispute, Outcome.DONE, f"agreement of {len(agreement.terms)} terms performed", now)
    return True


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
        add_log(uow, dispute.id, "flagged_late", now, f"target was {dispute.target_close_at.isoformat()}")
        uow.emit(
            DisputeFlaggedLate(
                dispute_id=dispute.id, case_id=dispute.case_id, target_close_at=dispute.target_close_at, flagged_at=now
            )
        )
    lapsed = await repo.lapsing_agreements(now)
    for agreement in lapsed:
        dispute = await get_dispute(repo, agreement.dispute_id)
        agreement.confirmation_status, agreement.confirmation_changed_at = "lapsed", now
        uow.session.add(agreement)
        add_log(uow, dispute.id, "judicial_confirmation_lapsed", now)
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
