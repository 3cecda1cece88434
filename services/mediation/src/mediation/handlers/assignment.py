"""Who holds a dispute: a mediator chosen by area, skill and load, a manual assignment, and a
conflict of interest that takes the dispute away from its mediator."""

from __future__ import annotations

from datetime import datetime

from govmesh_contracts import MediatorAssigned
from govmesh_runtime.uow import UnitOfWork
from mediation.adapters.repository import SqlMediationRepository
from mediation.adapters.tables import ConflictOfInterestRow, DisputeRow, MediatorRow
from mediation.domain import disputes as rules
from mediation.domain.assignment import Candidate, choose_mediator
from mediation.domain.commands import AssignMediator, RecordConflictOfInterest
from mediation.domain.disputes import DisputeRuleError, DisputeStatus
from mediation.handlers.common import add_log, check_text, get_dispute


async def candidates(repo: SqlMediationRepository) -> list[Candidate]:
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


def set_mediator(
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
    add_log(uow, dispute.id, kind, now, f"mediator {mediator_id} of {studio_id}: {reason}")
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


async def auto_assign(
    repo: SqlMediationRepository, uow: UnitOfWork, dispute: DisputeRow, now: datetime, *, why: str = ""
) -> bool:
    excluded = await repo.conflicted_mediators(dispute.id)
    if dispute.mediator_id:
        excluded.add(dispute.mediator_id)
    choice = choose_mediator(
        await candidates(repo), grid_code=dispute.grid_code, category=dispute.category, excluded=frozenset(excluded)
    )
    if choice is None:
        add_log(uow, dispute.id, "unassigned", now, "no mediator available" + (f" ({why})" if why else ""))
        return False
    set_mediator(uow, dispute, choice.mediator_id, choice.studio_id, (why + "; " if why else "") + choice.reason, now)
    return True


async def assign_mediator(cmd: AssignMediator, uow: UnitOfWork, *, now: datetime) -> str | None:
    """Assign (or reassign) the dispute: to the mediator named, or the best by area, skill and load."""
    repo = SqlMediationRepository(uow.session)
    dispute = await get_dispute(repo, cmd.dispute_id)
    rules.require_open(rules.DisputeStatus(dispute.status), "assign a mediator")
    await check_text(repo, dispute.id, "reason", cmd.reason)
    if cmd.mediator_id is None:
        if not await auto_assign(repo, uow, dispute, now, why=cmd.reason or ""):
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
    set_mediator(uow, dispute, mediator.id, mediator.studio_id, cmd.reason or "manual", now)
    return mediator.id


async def record_conflict_of_interest(cmd: RecordConflictOfInterest, uow: UnitOfWork, *, now: datetime) -> None:
    """Record a mediator's conflict of interest; if it is the current mediator, reassign."""
    repo = SqlMediationRepository(uow.session)
    dispute = await get_dispute(repo, cmd.dispute_id)
    rules.require_open(rules.DisputeStatus(dispute.status), "record a conflict of interest")
    if await uow.session.get(MediatorRow, cmd.mediator_id) is None:
        raise DisputeRuleError("mediator_id", f"unknown mediator {cmd.mediator_id!r}")
    uow.session.add(
        ConflictOfInterestRow(dispute_id=dispute.id, mediator_id=cmd.mediator_id, reason=cmd.reason, recorded_at=now)
    )
    await uow.session.flush()
    add_log(uow, dispute.id, "conflict_of_interest", now, f"mediator {cmd.mediator_id}")
    if dispute.mediator_id == cmd.mediator_id and not await auto_assign(
        repo, uow, dispute, now, why="conflict of interest"
    ):
        dispute.mediator_id, dispute.studio_id = None, None
        dispute.status = DisputeStatus.OPEN.value
        dispute.updated_at = now
        uow.session.add(dispute)
