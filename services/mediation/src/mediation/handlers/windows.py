"""Window services (legal aid, counselling) and community deliberations."""

from __future__ import annotations

import uuid
from datetime import datetime

from govmesh_contracts import MediationTaskCompleted, TaskOutcome
from govmesh_runtime.uow import UnitOfWork
from mediation.adapters import metrics
from mediation.adapters.tables import DeliberationRow, DisputeRow, StudioRow, WindowRequestRow
from mediation.domain import deliberation as deliberation_rules
from mediation.domain.commands import CompleteWindowRequest, OpenWindowRequest, RecordDeliberation
from mediation.domain.disputes import DisputeRuleError
from mediation.domain.window_services import WindowKind, task_outcome
from mediation.handlers.common import NotFound, add_log


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
        add_log(uow, cmd.dispute_id, "deliberation", now, cmd.topic[:500])
    return row.id
