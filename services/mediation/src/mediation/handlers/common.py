"""What mediation's handlers share: the not-found error, the dispute's history line, the
dispute fetched for update, the personal-data check on free text, and closing a dispute
(by withdrawal, referral or a performed agreement)."""

from __future__ import annotations

import uuid
from datetime import datetime

from govmesh_contracts import DisputeClosed, MediationTaskCompleted, TaskOutcome
from govmesh_runtime.uow import UnitOfWork
from mediation.adapters import metrics
from mediation.adapters.repository import SqlMediationRepository
from mediation.adapters.tables import DisputeLogRow, DisputeRow
from mediation.domain import disputes as rules
from mediation.domain.disputes import DisputeStatus, Outcome
from mediation.domain.parties import check_no_personal_data


class NotFound(LookupError):
    def __init__(self, kind: str, ident: object) -> None:
        super().__init__(f"{kind} {ident} not found")


def add_log(uow: UnitOfWork, dispute_id: uuid.UUID, kind: str, at: datetime, note: str | None = None) -> None:
    uow.session.add(DisputeLogRow(dispute_id=dispute_id, kind=kind, note=note, at=at))


async def get_dispute(repo: SqlMediationRepository, dispute_id: uuid.UUID) -> DisputeRow:
    dispute = await repo.dispute(dispute_id, for_update=True)
    if dispute is None:
        raise NotFound("dispute", dispute_id)
    return dispute


async def check_text(repo: SqlMediationRepository, dispute_id: uuid.UUID, field: str, text: str | None) -> None:
    """Free text bound for an event: no phone, ID number or party name in it."""
    if text:
        check_no_personal_data(field, text, [p.name for p in await repo.parties(dispute_id)])


def close_dispute(
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
    add_log(uow, dispute.id, "closed", now, f"{outcome.value}: {summary}"[:2000])
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
