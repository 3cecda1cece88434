"""The dispute file: opened from a dispatch task (or a window request for legal/counselling
matters), handed over or withdrawn when dispatch moves the task, erased on intake's request;
its parties, facts, risk, and the failures that close it (referral, withdrawal)."""

from __future__ import annotations

import uuid
from datetime import datetime

from govmesh_contracts import (
    CasePersonalDataErased,
    DisputeOpened,
    DisputeReferred,
    TaskAssigned,
    TaskCancelled,
    TaskReassigned,
    TaskTarget,
    ViolenceRiskFlagged,
)
from govmesh_runtime.logging import get_logger
from govmesh_runtime.uow import UnitOfWork
from mediation.adapters.repository import SqlMediationRepository
from mediation.adapters.tables import DisputeRow, PartyRow, WindowRequestRow
from mediation.domain import disputes as rules
from mediation.domain.commands import AddParty, AssessRisk, ReferDispute, UpdateDispute, WithdrawDispute
from mediation.domain.disputes import DisputeStatus, Outcome, RiskLevel
from mediation.domain.parties import party_key
from mediation.domain.window_services import window_kind_for_matter
from mediation.handlers.assignment import auto_assign
from mediation.handlers.common import NotFound, add_log, check_text, close_dispute, get_dispute

log = get_logger(__name__)


# --- reactions to dispatch --------------------------------------------------------------------


def _emit_opened(uow: UnitOfWork, dispute: DisputeRow, now: datetime) -> None:
    """A dispute opened, or opened again when the task comes back: the same event either way."""
    uow.emit(
        DisputeOpened(
            dispute_id=dispute.id,
            case_id=dispute.case_id,
            task_id=dispute.task_id,
            case_number=dispute.case_number,
            category=dispute.category,
            grid_code=dispute.grid_code,
            risk_level=dispute.risk_level,
            opened_at=now,
            target_close_at=dispute.target_close_at,
        )
    )


async def open_dispute_on_task_assigned(event: TaskAssigned, uow: UnitOfWork, *, now: datetime) -> None:
    """A mediation task opens a dispute file (or a window service for legal/counselling matters)."""
    if event.target is not TaskTarget.MEDIATION:
        return
    repo = SqlMediationRepository(uow.session)
    kind = window_kind_for_matter(event.matter_code)
    if kind is not None:
        if await repo.window_by_task(event.task_id) is None:
            uow.session.add(
                WindowRequestRow(
                    kind=kind.value,
                    case_id=event.case_id,
                    task_id=event.task_id,
                    topic=event.description[:2000],
                    status="open",
                    opened_at=now,
                )
            )
        return
    if await repo.dispute_by_task(event.task_id) is not None:
        return  # the same task again under another event id
    category = rules.category_for_matter(event.matter_code)
    risk = rules.initial_risk(event.priority)
    dispute = DisputeRow(
        case_id=event.case_id,
        task_id=event.task_id,
        case_number=event.case_number,
        matter_code=event.matter_code,
        category=category.value,
        grid_code=event.grid_code,
        facts=event.description,
        risk_level=risk.value,
        status=DisputeStatus.OPEN.value,
        opened_at=now,
        target_close_at=rules.target_close_at(now),
        updated_at=now,
    )
    uow.session.add(dispute)
    await uow.session.flush()
    add_log(uow, dispute.id, "opened", now, f"from task {event.task_id} of case {event.case_number}")
    _emit_opened(uow, dispute, now)
    await auto_assign(repo, uow, dispute, now)


async def withdraw_on_task_cancelled(event: TaskCancelled, uow: UnitOfWork, *, now: datetime) -> None:
    """Dispatch cancelled the task: the dispute closes as withdrawn (dispatch needs no result)."""
    repo = SqlMediationRepository(uow.session)
    dispute = await repo.dispute_by_task(event.task_id)
    if dispute is not None and dispute.status != DisputeStatus.CLOSED.value:
        close_dispute(
            uow,
            dispute,
            Outcome.WITHDRAWN,
            f"task cancelled by dispatch: {event.reason}",
            now,
            report_to_dispatch=False,
        )
        return
    window = await repo.window_by_task(event.task_id)
    if window is not None and window.status == "open":
        window.status, window.outcome, window.closed_at = "closed", "cancelled", now
        uow.session.add(window)


ERASED = "[erased at the resident's request]"


async def erase_case_copies_on_erasure(event: CasePersonalDataErased, uow: UnitOfWork) -> None:
    """Intake erased a resident's personal data from a case: erase what mediation keeps of it —
    the dispute's facts, its parties' names and contact data (and the key that linked a party's
    other disputes), a window request's topic. The file, its sessions, agreement and history stay
    as a tombstone; the erasure itself is in the dispute's history."""
    repo = SqlMediationRepository(uow.session)
    for dispute in await repo.disputes_of_case(event.case_id):
        dispute.facts = ERASED
        uow.session.add(dispute)
        for party in await repo.parties(dispute.id):
            party.name, party.phone, party.id_number = ERASED[:100], None, None
            party.party_key = f"erased-{party.id.hex}"  # no longer links this person's disputes
            uow.session.add(party)
        add_log(uow, dispute.id, "personal_data_erased", event.erased_at, "at the resident's request (via intake)")
    for window in await repo.windows_of_case(event.case_id):
        window.topic = ERASED
        uow.session.add(window)


async def hand_over_on_task_reassigned(event: TaskReassigned, uow: UnitOfWork, *, now: datetime) -> None:
    """Dispatch reassigned a task. Into mediation: open the dispute file as on TaskAssigned (from
    the case fields the event carries). Away from mediation (e.g. to policing): the dispute is no
    longer ours, it closes as withdrawn."""
    if event.target is TaskTarget.MEDIATION:
        assigned = task_assigned_from(event)
        if assigned is None:
            log.warning("reassignment_without_case_fields", task_id=str(event.task_id))
            return
        repo = SqlMediationRepository(uow.session)
        dispute = await repo.dispute_by_task(event.task_id)
        if dispute is not None and dispute.status == DisputeStatus.CLOSED.value:
            await _reopen(repo, uow, dispute, event.reason, now)
            return
        await open_dispute_on_task_assigned(assigned, uow, now=now)
        return
    await withdraw_on_task_cancelled(
        TaskCancelled(
            task_id=event.task_id,
            case_id=event.case_id,
            reason=f"reassigned to {event.target.value}: {event.reason}",
            cancelled_at=event.reassigned_at,
        ),
        uow,
        now=now,
    )


async def _reopen(
    repo: SqlMediationRepository, uow: UnitOfWork, dispute: DisputeRow, reason: str, now: datetime
) -> None:
    """The task came back to mediation (reassigned away and back, or failed and reassigned): the
    dispute file (one per task) opens again, with a new target and a mediator chosen anew."""
    dispute.status = DisputeStatus.OPEN.value
    dispute.outcome = dispute.referral_to = dispute.closing_note = None
    dispute.closed_at = dispute.late_flagged_at = None
    dispute.mediator_id = dispute.studio_id = None
    dispute.opened_at, dispute.target_close_at, dispute.updated_at = now, rules.target_close_at(now), now
    uow.session.add(dispute)
    add_log(uow, dispute.id, "reopened", now, f"task reassigned to mediation again: {reason}"[:2000])
    _emit_opened(uow, dispute, now)
    await auto_assign(repo, uow, dispute, now)


def task_assigned_from(event: TaskReassigned) -> TaskAssigned | None:
    """The TaskAssigned a reassignment amounts to for its new holder; None when the event comes
    from a producer older than the case fields (nothing to open the file with)."""
    if event.case_number is None or event.matter_code is None or event.description is None or event.due_at is None:
        return None
    return TaskAssigned(
        task_id=event.task_id,
        case_id=event.case_id,
        case_number=event.case_number,
        matter_code=event.matter_code,
        target=event.target,
        assignee=event.assignee,
        grid_code=event.grid_code,
        description=event.description,
        location=event.location,
        address=event.address,
        priority=event.priority or "normal",
        due_at=event.due_at,
        assigned_at=event.reassigned_at,
    )


# --- the dispute file -------------------------------------------------------------------------


async def add_party(cmd: AddParty, uow: UnitOfWork, *, now: datetime) -> uuid.UUID:
    repo = SqlMediationRepository(uow.session)
    dispute = await get_dispute(repo, cmd.dispute_id)
    rules.require_open(rules.DisputeStatus(dispute.status), "add a party")
    party = PartyRow(
        dispute_id=dispute.id,
        role=cmd.role.value,
        name=cmd.name,
        phone=cmd.phone,
        id_number=cmd.id_number,
        party_key=party_key(cmd.id_number, cmd.phone, cmd.name),
    )
    uow.session.add(party)
    await uow.session.flush()
    add_log(uow, dispute.id, "party_added", now, f"{cmd.role.value} {party.id}")
    return party.id


async def read_contact(dispute_id: uuid.UUID, party_id: uuid.UUID, uow: UnitOfWork) -> PartyRow:
    """The full contact data of a party (the API audits the read)."""
    party = await uow.session.get(PartyRow, party_id)
    if party is None or party.dispute_id != dispute_id:
        raise NotFound("party", party_id)
    return party


async def update_dispute(cmd: UpdateDispute, uow: UnitOfWork, *, now: datetime) -> None:
    repo = SqlMediationRepository(uow.session)
    dispute = await get_dispute(repo, cmd.dispute_id)
    rules.require_open(rules.DisputeStatus(dispute.status), "change the file")
    if cmd.category is not None and cmd.category.value != dispute.category:
        add_log(uow, dispute.id, "category_set", now, f"{dispute.category} → {cmd.category.value}")
        dispute.category = cmd.category.value
    if cmd.facts is not None:
        dispute.facts = cmd.facts
        add_log(uow, dispute.id, "facts_updated", now)
    dispute.updated_at = now
    uow.session.add(dispute)


async def assess_risk(cmd: AssessRisk, uow: UnitOfWork, *, now: datetime) -> bool:
    """Set the risk level; a rise to high or critical flags the dispute to policing. Returns whether it did."""
    repo = SqlMediationRepository(uow.session)
    dispute = await get_dispute(repo, cmd.dispute_id)
    rules.require_open(rules.DisputeStatus(dispute.status), "assess the risk")
    await check_text(repo, dispute.id, "summary", cmd.summary)
    previous = RiskLevel(dispute.risk_level)
    dispute.risk_level = cmd.risk_level.value
    dispute.updated_at = now
    uow.session.add(dispute)
    add_log(uow, dispute.id, "risk_assessed", now, f"{previous.value} → {cmd.risk_level.value}")
    if not rules.needs_police_flag(previous, cmd.risk_level):
        return False
    uow.emit(
        ViolenceRiskFlagged(
            dispute_id=dispute.id,
            case_id=dispute.case_id,
            grid_code=dispute.grid_code,
            risk_level=cmd.risk_level.value,
            summary=cmd.summary[:2000],
            flagged_at=now,
        )
    )
    add_log(uow, dispute.id, "violence_risk_flagged", now, "policing notified")
    return True


async def refer_dispute(cmd: ReferDispute, uow: UnitOfWork, *, now: datetime) -> None:
    """Mediation failed: refer to the court, legal aid, police (public order) or a department; the dispute closes."""
    repo = SqlMediationRepository(uow.session)
    dispute = await get_dispute(repo, cmd.dispute_id)
    rules.require_open(rules.DisputeStatus(dispute.status), "refer it")
    rules.check_referral(cmd.referral_to, rules.Category(dispute.category), RiskLevel(dispute.risk_level))
    await check_text(repo, dispute.id, "reason", cmd.reason)
    uow.emit(
        DisputeReferred(
            dispute_id=dispute.id,
            case_id=dispute.case_id,
            referral_to=cmd.referral_to,
            reason=cmd.reason[:2000],
            referred_at=now,
        )
    )
    close_dispute(uow, dispute, Outcome.REFERRED, f"mediation failed: {cmd.reason}", now, referral_to=cmd.referral_to)


async def withdraw_dispute(cmd: WithdrawDispute, uow: UnitOfWork, *, now: datetime) -> None:
    repo = SqlMediationRepository(uow.session)
    dispute = await get_dispute(repo, cmd.dispute_id)
    rules.require_open(rules.DisputeStatus(dispute.status), "withdraw it")
    await check_text(repo, dispute.id, "reason", cmd.reason)
    close_dispute(uow, dispute, Outcome.WITHDRAWN, f"withdrawn: {cmd.reason}", now)
