"""Intake's handlers: one async function per command or event.

A handler changes state through ``uow.session`` and emits events with ``uow.emit``;
the caller (an API route or the consumer loop) opens and commits the unit of work.
Personal data (reporter name, phone, ID number) is written to ``reporters`` only:
events and the timeline carry the opaque ``reporter_ref``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import partial
from uuid import UUID

import sqlalchemy as sa
from sqlmodel import col, select

from govmesh_contracts import (
    AgreementReached,
    CancelReason,
    CaseCancelled,
    CaseClearedAtSource,
    CaseClosed,
    CaseDispatched,
    CaseEscalated,
    CaseFeedbackGiven,
    CasePersonalDataErased,
    CaseReceived,
    CaseReopened,
    CaseResolved,
    ChannelFaultCleared,
    ChannelFaultOpened,
    DisputeClosed,
    DisputeFlaggedLate,
    DisputeOpened,
    DisputeReferred,
    Event,
    EvidenceAttached,
    FollowUpVisitRecorded,
    JudicialConfirmationApplied,
    JudicialConfirmationLapsed,
    Location,
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
    TaskEscalated,
    TaskKind,
    TaskReassigned,
    TaskResult,
    VideoAlarmRaised,
    ViolenceRiskFlagged,
)
from govmesh_kit.distances import distance_m
from govmesh_runtime.consumer import Handler
from govmesh_runtime.logging import get_logger
from govmesh_runtime.tables import OutboxMessage
from govmesh_runtime.uow import UnitOfWork
from intake.adapters import metrics
from intake.adapters.repository import SqlCaseRepository
from intake.adapters.tables import (
    AlarmBurstRow,
    CaseLinkRow,
    CaseRow,
    ChannelFaultCaseRow,
    IdempotencyKeyRow,
    ReporterRow,
    TimelineEntryRow,
)
from intake.domain.cases import (
    OPEN_STATUSES,
    CaseStatus,
    Channel,
    advance,
    case_number,
    check_cancellable,
    check_merge_target,
    due_at,
    reopen,
    within_burst,
)
from intake.domain.check import report_errors
from intake.domain.commands import AcceptCase, GiveFeedback, Reporter
from intake.domain.messages import BEIJING, Message, NoteColumns, msg
from intake.domain.taxonomy import DEVICE_FAULT_MATTER, matter, matter_for_alarm, normalise_attributes
from intake.domain.validation import Bounds, degrees_around, normalise_phone
from intake.settings import IntakeSettings

log = get_logger(__name__)


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before with a different request."""


class ReportInvalid(Exception):
    """The report has bad fields; nothing was written."""

    def __init__(self, errors: dict[tuple[str, ...], str]) -> None:
        super().__init__("; ".join(f"{'.'.join(k)}: {v}" for k, v in errors.items()))
        self.errors = errors


class CaseNotFound(Exception):
    pass


class FeedbackNotAllowed(Exception):
    pass


class Outcome(StrEnum):
    CREATED = "created"  # a new case
    LINKED = "linked"  # a duplicate report, linked to an open case
    RETRIED = "retried"  # a retried request (same Idempotency-Key): what the first one gave


@dataclass(frozen=True)
class Opened:
    """The rows a new case was written as: enough to answer the request without reading them back."""

    case: CaseRow
    timeline: list[TimelineEntryRow]
    reporter: ReporterRow | None


@dataclass(frozen=True)
class Accepted:
    case_id: UUID
    outcome: Outcome
    opened: Opened | None = None  # for a new case
    link_id: int | None = None  # the caller's own report, when it was linked to an open case (or retried so)


def _request_hash(cmd: AcceptCase) -> str:
    body = {k: v for k, v in asdict(cmd).items() if k != "idempotency_key"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def bounds_of(settings: IntakeSettings) -> Bounds:
    return Bounds(settings.bounds_min_lat, settings.bounds_max_lat, settings.bounds_min_lon, settings.bounds_max_lon)


async def accept_case(cmd: AcceptCase, uow: UnitOfWork, *, settings: IntakeSettings, validate: bool = True) -> Accepted:
    """Make the matter a case, or link it to an open case of the same matter nearby.

    Raises ``ReportInvalid`` (nothing written) or ``IdempotencyConflict``."""
    repo = SqlCaseRepository(uow.session)
    if cmd.idempotency_key:
        previous = await repo.by_idempotency_key(cmd.idempotency_key)
        if previous is not None:
            if previous.request_hash != _request_hash(cmd):
                raise IdempotencyConflict(cmd.idempotency_key)
            return Accepted(previous.case_id, Outcome.RETRIED, link_id=previous.link_id)
    if validate and (errors := report_errors(cmd, bounds_of(settings))):
        raise ReportInvalid(errors)
    definition = matter(cmd.matter_code)
    if definition is None:
        raise ReportInvalid({("matter_code",): f"unknown matter {cmd.matter_code!r}"})
    now = datetime.now(UTC)
    reporter = _store_reporter(uow, cmd.reporter)
    reporter_ref = reporter.ref if reporter else None

    opened: Opened | None = None
    link_id: int | None = None
    detect = cmd.channel is not Channel.VIDEO and settings.duplicate_window_s > 0
    original = await _open_duplicate(repo, cmd, settings, now) if detect else None
    if original is not None:
        original.linked_reports += 1
        original.updated_at = now
        uow.session.add(original)
        # Everything the resident sent is kept with the link (nothing accepted is lost); their answer
        # is this report and the case's public status, never the other residents' reports.
        link = CaseLinkRow(
            case_id=original.id,
            channel=cmd.channel.value,
            reporter_ref=reporter_ref,
            description=cmd.description,
            lat=cmd.lat,
            lon=cmd.lon,
            address=cmd.address,
            attachments_json=json.dumps(list(cmd.attachments)),
            attributes_json=json.dumps(normalise_attributes(definition, cmd.attributes), ensure_ascii=False),
            linked_at=now,
        )
        uow.session.add(link)
        await uow.session.flush()  # its id: the caller's receipt
        link_id = link.id
        uow.session.add(
            TimelineEntryRow(
                case_id=original.id,
                kind="report_linked",
                actor=f"centre:{settings.centre_code}",
                **msg("report_linked", channel=cmd.channel.value, reports=original.linked_reports + 1).columns(),
                at=now,
            )
        )
        case_id = original.id
        outcome = Outcome.LINKED
    else:
        case, received = await _open_case(uow, repo, cmd, settings, now, reporter_ref)
        opened = Opened(case, [received], reporter)
        case_id = case.id
        outcome = Outcome.CREATED
    if cmd.idempotency_key:
        uow.session.add(
            IdempotencyKeyRow(
                key=cmd.idempotency_key, request_hash=_request_hash(cmd), case_id=case_id, link_id=link_id
            )
        )
    log.info("case_accepted", case_id=str(case_id), outcome=outcome.value, matter=cmd.matter_code)
    return Accepted(case_id, outcome, opened, link_id)


def _store_reporter(uow: UnitOfWork, reporter: Reporter | None) -> ReporterRow | None:
    if reporter is None or reporter.is_empty():
        return None
    row = ReporterRow(
        ref="rep-" + uuid.uuid4().hex[:20],
        name=reporter.name,
        phone=normalise_phone(reporter.phone) if reporter.phone else None,
        id_number=reporter.id_number.upper() if reporter.id_number else None,
    )
    uow.session.add(row)
    return row


async def _open_duplicate(
    repo: SqlCaseRepository, cmd: AcceptCase, settings: IntakeSettings, now: datetime
) -> CaseRow | None:
    """The earliest open case of the same matter within the distance and time window, if any."""
    since = now - timedelta(seconds=settings.duplicate_window_s)
    box = None
    if cmd.lat is not None and cmd.lon is not None:
        dlat, dlon = degrees_around(cmd.lat, settings.duplicate_distance_m)
        box = (cmd.lat - dlat, cmd.lat + dlat, cmd.lon - dlon, cmd.lon + dlon)
    address = cmd.address.strip() if cmd.address and box is None else None
    statuses = [s.value for s in OPEN_STATUSES]
    for candidate in await repo.open_candidates(cmd.matter_code, since, statuses, box, address, cmd.places):
        if box is None or candidate.lat is None or candidate.lon is None:
            if address and candidate.address == address:
                return candidate
            continue
        assert cmd.lat is not None and cmd.lon is not None
        if distance_m(cmd.lat, cmd.lon, candidate.lat, candidate.lon) <= settings.duplicate_distance_m:
            return candidate
    return None


async def _open_case(
    uow: UnitOfWork,
    repo: SqlCaseRepository,
    cmd: AcceptCase,
    settings: IntakeSettings,
    now: datetime,
    reporter_ref: str | None,
) -> tuple[CaseRow, TimelineEntryRow]:
    definition = matter(cmd.matter_code)
    assert definition is not None
    centre = settings.centre_code
    deadline = due_at(now, definition.sla_hours)
    attributes = normalise_attributes(definition, cmd.attributes)
    # The centre's daily counter is one row that every new case updates: taken last, so its row
    # lock is held only for the inserts below and the commit, not for the work above.
    number = case_number(centre, now.date(), await repo.next_sequence(centre, now.date()))
    case = CaseRow(
        case_number=number,
        matter_code=cmd.matter_code,
        channel=cmd.channel.value,
        description=cmd.description,
        lat=cmd.lat,
        lon=cmd.lon,
        address=cmd.address,
        status=CaseStatus.RECEIVED.value,
        handled_by=f"centre:{centre}",
        grid_code=cmd.grid_code,
        received_at=now,
        updated_at=now,
        due_at=deadline,
        reporter_ref=reporter_ref,
        attributes_json=json.dumps(attributes, ensure_ascii=False),
        attachments_json=json.dumps(list(cmd.attachments)),
        source_ref=cmd.source_ref,
    )
    uow.session.add(case)
    await uow.session.flush()  # before the rows that refer to it (foreign keys; the unit of work has no relationships)
    metrics.after_commit(uow.session, metrics.CASES_RECEIVED.labels(cmd.matter_code, cmd.channel.value).inc)
    envelope = uow.emit(
        CaseReceived(
            case_id=case.id,
            case_number=number,
            matter_code=cmd.matter_code,
            channel=cmd.channel.value,
            description=cmd.description,
            location=Location(lat=cmd.lat, lon=cmd.lon) if cmd.lat is not None and cmd.lon is not None else None,
            address=cmd.address,
            received_at=now,
            reporter_ref=reporter_ref,
            due_at=deadline,
            grid_code=cmd.grid_code,
            priority=cmd.priority,
        )
    )
    received = TimelineEntryRow(
        case_id=case.id,
        event_id=envelope.id,
        kind="received",
        actor=f"centre:{centre}",
        **msg(
            "received",
            channel=cmd.channel.value,
            matter_zh=definition.name_zh,
            matter=definition.code,
            due=deadline.isoformat(timespec="minutes"),
        ).columns(),
        at=now,
    )
    uow.session.add(received)
    return case, received


async def give_feedback(case_id: UUID, cmd: GiveFeedback, uow: UnitOfWork) -> None:
    """The resident's judgement of a resolved case; dispatch closes it or, if not solved, reopens it.

    The case row is locked (PostgreSQL): of two concurrent posts the second waits, then sees
    ``feedback_at`` set and is refused, so one resolution gets one CaseFeedbackGiven."""
    case = await uow.session.get(CaseRow, case_id, with_for_update=True)
    if case is None:
        raise CaseNotFound(str(case_id))
    if case.status != CaseStatus.RESOLVED.value:
        raise FeedbackNotAllowed(msg("error.feedback_status", status=case.status))
    if case.feedback_at is not None:
        raise FeedbackNotAllowed(msg("error.feedback_again"))
    now = datetime.now(UTC)
    case.satisfaction = cmd.satisfaction
    case.feedback_at = now
    case.updated_at = now
    uow.session.add(case)
    envelope = uow.emit(
        CaseFeedbackGiven(
            case_id=case_id, satisfaction=cmd.satisfaction, solved=cmd.solved, comment=cmd.comment, given_at=now
        )
    )
    verdict = "solved" if cmd.solved else "not solved"
    uow.session.add(
        TimelineEntryRow(
            case_id=case_id,
            event_id=envelope.id,
            kind="feedback",
            actor="resident",
            **msg("feedback", verdict=verdict, satisfaction=cmd.satisfaction).columns(),
            at=now,
        )
    )


@dataclass(frozen=True)
class CancelCase:
    reason: CancelReason
    by: str  # the subject of the centre's credential, never a body field
    merged_into: UUID | None = None
    note: str | None = None


async def cancel_case(case_id: UUID, cmd: CancelCase, uow: UnitOfWork) -> None:
    """A centre cancels a whole case (withdrawn, mis-report, merged into another case).

    Intake owns the case's status: it sets it here and publishes CaseCancelled on the case's
    key, after its CaseReceived; dispatch cancels the open tasks and every holder closes its
    file. Raises CaseNotFound, CancelNotAllowed (409) or ReportInvalid (merged_into, 422)."""
    repo = SqlCaseRepository(uow.session)
    case = await repo.get(case_id)
    if case is None:
        raise CaseNotFound(str(case_id))
    check_cancellable(CaseStatus(case.status))
    target: CaseRow | None = None
    if cmd.merged_into is not None:
        target = await repo.get(cmd.merged_into)
        problem = check_merge_target(case_id, cmd.merged_into, CaseStatus(target.status) if target else None)
        if problem:
            raise ReportInvalid({("merged_into",): problem})
    now = datetime.now(UTC)
    note = msg("cancelled", reason=cmd.reason.value, merged_into=target.case_number if target else None, note=cmd.note)
    case.status = CaseStatus.CANCELLED.value
    case.updated_at = now
    uow.session.add(case)
    envelope = uow.emit(
        CaseCancelled(
            case_id=case_id,
            reason=cmd.reason,
            merged_into=cmd.merged_into,
            note=cmd.note,
            cancelled_by=cmd.by,
            cancelled_at=now,
        )
    )
    uow.session.add(
        TimelineEntryRow(
            case_id=case_id, event_id=envelope.id, kind="cancelled", actor=cmd.by, at=now, **note.columns()
        )
    )
    if target is not None:
        target.updated_at = now
        uow.session.add(target)
        uow.session.add(
            TimelineEntryRow(
                case_id=target.id,
                kind="case_merged",
                actor=cmd.by,
                **msg("case_merged", case_number=case.case_number).columns(),
                at=now,
            )
        )
    log.info("case_cancelled", case_id=str(case_id), reason=cmd.reason.value)


# --- erasure of a resident's personal data -----------------------------------------------------

ERASED = "[erased at the resident's request]"


async def erase_personal_data(case_id: UUID, actor: str, at: datetime, uow: UnitOfWork) -> list[str]:
    """Erase what a case holds about people: its text, address, attributes and attachments,
    its reporters' name, phone and ID number (theirs in every case), linked reports' text,
    timeline notes and the payloads of its sent events. The case stays as a tombstone (number,
    matter, status, times, grid) so statistics and the other services' references hold.
    Returns the fields erased; the caller audits them in this transaction."""
    session = uow.session
    case = await SqlCaseRepository(session).get(case_id)
    if case is None:
        raise CaseNotFound(str(case_id))
    links = (await session.exec(select(CaseLinkRow).where(col(CaseLinkRow.case_id) == case_id))).all()
    refs = {ref for ref in [case.reporter_ref, *(link.reporter_ref for link in links)] if ref}
    for ref in refs:
        reporter = await session.get(ReporterRow, ref)
        if reporter is not None:
            reporter.name = reporter.phone = reporter.id_number = None
            session.add(reporter)
    case.description = ERASED
    case.address = None
    case.attributes_json = "{}"
    case.attachments_json = "[]"
    case.updated_at = at
    session.add(case)
    for link in links:
        link.description = ERASED
        link.address = None
        link.attachments_json = "[]"
        link.attributes_json = "{}"
        session.add(link)
    notes = (
        await session.exec(
            select(TimelineEntryRow).where(
                col(TimelineEntryRow.case_id) == case_id, col(TimelineEntryRow.note).is_not(None)
            )
        )
    ).all()
    for entry in notes:
        entry.note, entry.note_key, entry.note_args = ERASED, None, None  # a message's values are words too
        session.add(entry)
    # sent events of the case (keyed by its id) keep no payload; unsent ones still go out
    await session.exec(
        sa.update(OutboxMessage)
        .where(col(OutboxMessage.key) == str(case_id), col(OutboxMessage.sent_at).is_not(None))
        .values(payload="")
    )
    session.add(TimelineEntryRow(case_id=case_id, kind="personal_data_erased", actor=actor, note=None, at=at))
    uow.emit(CasePersonalDataErased(case_id=case_id, erased_at=at))  # services holding copies erase theirs
    return ["description", "address", "attributes", "attachments", "reporter", "linked_reports", "timeline.note"]


# --- the timeline: events of the other services ---------------------------------------------


async def _step(
    uow: UnitOfWork,
    case_id: UUID,
    *,
    kind: str,
    actor: str,
    note: Message | str | None,
    at: datetime,
    status: CaseStatus | None = None,
    handled_by: str | None = None,
    reopened: bool = False,
) -> CaseRow | None:
    """Add one hand-off to a case's timeline and move its status; ignore cases of another intake."""
    case = await SqlCaseRepository(uow.session).get(case_id)
    if case is None:
        return None
    current = CaseStatus(case.status)
    new = reopen(current) if reopened else advance(current, status) if status is not None else current
    if handled_by is not None:
        case.handled_by = handled_by
    case.status = new.value
    case.updated_at = max(case.updated_at, at)
    uow.session.add(case)
    # A message is worded in the reader's language when read; a bare text is shown as written.
    words = note.columns() if isinstance(note, Message) else NoteColumns(note=note[:2000] if note else None)
    uow.session.add(
        TimelineEntryRow(case_id=case_id, event_id=uow.causation_id, kind=kind, actor=actor, at=at, **words)
    )
    return case


async def record_case_dispatched(event: CaseDispatched, uow: UnitOfWork) -> None:
    note = msg("dispatched.grid" if event.grid_code else "dispatched.nowhere", grid=event.grid_code, note=event.note)
    case = await _step(
        uow,
        event.case_id,
        kind="dispatched",
        actor=event.handled_by,
        note=note,
        at=event.dispatched_at,
        status=CaseStatus.DISPATCHED,
        handled_by=event.handled_by,
    )
    # Dispatch's location decides where the case is; unlocated, the creator's grid stays.
    if case is not None and event.grid_code:
        case.grid_code = event.grid_code
        uow.session.add(case)


async def record_case_escalated(event: CaseEscalated, uow: UnitOfWork) -> None:
    holder = f"centre:{event.centre_code}"
    note = msg("escalated", from_level=event.from_level.value, to_level=event.to_level.value, reason=event.reason)
    actor = event.escalated_by or holder  # by hand: the centre's person who decided it
    await _step(uow, event.case_id, kind="escalated", actor=actor, note=note, at=event.escalated_at, handled_by=holder)


async def record_case_resolved(event: CaseResolved, uow: UnitOfWork) -> None:
    note = msg("resolved.summary", summary=event.summary) if event.summary else msg("resolved")
    await _step(
        uow,
        event.case_id,
        kind="resolved",
        actor="dispatch",
        note=note,
        at=event.resolved_at,
        status=CaseStatus.RESOLVED,
    )


async def record_case_closed(event: CaseClosed, uow: UnitOfWork) -> None:
    note = msg("closed.satisfaction", satisfaction=event.satisfaction) if event.satisfaction else None
    if event.without_feedback:
        note = msg("closed.without_feedback")
    if event.closed_by is not None:
        note = msg("closed.by_centre", note=event.note) if event.note else msg("closed.by_centre.bare")
    actor = event.closed_by or "dispatch"
    case = await _step(
        uow, event.case_id, kind="closed", actor=actor, note=note, at=event.closed_at, status=CaseStatus.CLOSED
    )
    if case is not None and event.without_feedback:
        case.closed_without_feedback = True
        uow.session.add(case)


async def record_return_visit(event: ReturnVisitRecorded, uow: UnitOfWork) -> None:
    """A grid worker's return visit (回访) of a closed case: its rating is kept beside the resident's own."""
    if event.reached:
        note = msg("return_visit.reached", satisfaction=event.satisfaction, comment=event.comment)
    else:
        note = msg("return_visit.not_reached")
    case = await _step(uow, event.case_id, kind="return_visit", actor=event.visited_by, note=note, at=event.visited_at)
    if case is not None and event.satisfaction is not None:
        case.return_visit_satisfaction = event.satisfaction
        uow.session.add(case)


async def record_case_reopened(event: CaseReopened, uow: UnitOfWork) -> None:
    case = await _step(
        uow,
        event.case_id,
        kind="reopened",
        actor="dispatch",
        note=msg("reopened", reason=event.reason),
        at=event.reopened_at,
        reopened=True,
    )
    if case is not None:
        case.feedback_at = None
        uow.session.add(case)


def _holder(target: str, assignee: str | None) -> str:
    return f"{target}:{assignee}" if assignee else target


async def record_task_assigned(event: TaskAssigned, uow: UnitOfWork) -> None:
    holder = _holder(event.target.value, event.assignee)
    if event.kind is TaskKind.RETURN_VISIT:  # the case stays closed, with no new holder
        note = msg("return_visit_assigned", task=str(event.task_id)[:8], holder=holder, due=_minutes(event.due_at))
        await _step(uow, event.case_id, kind="return_visit_assigned", actor=holder, note=note, at=event.assigned_at)
        return
    note = msg(
        "task_assigned",
        task=str(event.task_id)[:8],
        target=event.target.value,
        priority=str(event.priority),
        due=_minutes(event.due_at),
    )
    await _step(
        uow,
        event.case_id,
        kind="task_assigned",
        actor=holder,
        note=note,
        at=event.assigned_at,
        status=CaseStatus.IN_PROGRESS,
        handled_by=holder,
    )


async def record_task_reassigned(event: TaskReassigned, uow: UnitOfWork) -> None:
    holder = _holder(event.target.value, event.assignee)
    note = msg(
        "task_reassigned",
        task=str(event.task_id)[:8],
        previous=event.previous_target.value if event.previous_target else None,
        target=event.target.value,
        reason=event.reason,
    )
    await _step(
        uow,
        event.case_id,
        kind="task_reassigned",
        actor=holder,
        note=note,
        at=event.reassigned_at,
        handled_by=holder,
    )


async def record_task_escalated(event: TaskEscalated, uow: UnitOfWork) -> None:
    actor = f"centre:{event.centre_code}"
    note = msg(
        "task_escalated",
        task=str(event.task_id)[:8],
        from_level=event.from_level.value,
        to_level=event.to_level.value,
        due=_minutes(event.due_at),
    )
    await _step(
        uow, event.case_id, kind="task_escalated", actor=actor, note=note, at=event.escalated_at, handled_by=actor
    )


async def record_task_cancelled(event: TaskCancelled, uow: UnitOfWork) -> None:
    target = event.target.value if event.target else None
    note = msg("task_cancelled", task=str(event.task_id)[:8], target=target, reason=event.reason)
    actor = event.cancelled_by or "dispatch"
    await _step(uow, event.case_id, kind="task_cancelled", actor=actor, note=note, at=event.cancelled_at)


async def _record_task_result(actor: str, event: TaskResult, uow: UnitOfWork) -> None:
    note = msg("task_completed", outcome=event.outcome.value, summary=event.summary, referral_to=event.referral_to)
    await _step(uow, event.case_id, kind="task_completed", actor=actor, note=note, at=event.completed_at)


async def record_mediation_result(event: MediationTaskCompleted, uow: UnitOfWork) -> None:
    await _record_task_result("mediation", event, uow)


async def record_policing_result(event: PolicingTaskCompleted, uow: UnitOfWork) -> None:
    await _record_task_result("policing", event, uow)


async def record_violence_risk(event: ViolenceRiskFlagged, uow: UnitOfWork) -> None:
    note = msg("violence_risk", risk=str(event.risk_level))
    await _step(uow, event.case_id, kind="violence_risk_flagged", actor="mediation", note=note, at=event.flagged_at)


def _minutes(at: datetime) -> str:
    return at.isoformat(timespec="minutes")


# --- mediation's dispute file (mediation.disputes.v1) -------------------------------------------


async def record_dispute_opened(event: DisputeOpened, uow: UnitOfWork) -> None:
    note = msg(
        "dispute_opened",
        category=str(event.category),
        risk=str(event.risk_level),
        target_close=_minutes(event.target_close_at),
    )
    await _step(
        uow,
        event.case_id,
        kind="dispute_opened",
        actor="mediation",
        note=note,
        at=event.opened_at,
        status=CaseStatus.IN_PROGRESS,
        handled_by="mediation",
    )


async def record_mediator_assigned(event: MediatorAssigned, uow: UnitOfWork) -> None:
    holder = f"mediation:{event.studio_id}"
    what = "reassigned" if event.previous_mediator_id else "assigned"
    note = msg("mediator_assigned", mediator=event.mediator_id, what=what, reason=event.reason)
    await _step(
        uow, event.case_id, kind="mediator_assigned", actor=holder, note=note, at=event.assigned_at, handled_by=holder
    )


async def record_session_scheduled(event: MediationSessionScheduled, uow: UnitOfWork) -> None:
    note = msg("session_scheduled", starts=_minutes(event.starts_at), room=event.room, parties=len(event.notices))
    await _step(
        uow,
        event.case_id,
        kind="session_scheduled",
        actor=f"mediation:{event.studio_id}",
        note=note,
        at=event.scheduled_at,
    )


async def record_session_cancelled(event: MediationSessionCancelled, uow: UnitOfWork) -> None:
    await _step(
        uow,
        event.case_id,
        kind="session_cancelled",
        actor="mediation",
        note=msg("session_cancelled", reason=event.reason),
        at=event.cancelled_at,
    )


async def record_session_held(event: MediationSessionHeld, uow: UnitOfWork) -> None:
    note = msg("session_held", present=event.present, absent=event.absent)
    await _step(uow, event.case_id, kind="session_held", actor="mediation", note=note, at=event.held_at)


async def record_agreement_reached(event: AgreementReached, uow: UnitOfWork) -> None:
    note = msg(
        "agreement_reached",
        terms=event.terms,
        last_due=event.last_term_due_on.isoformat(),
        deadline=_minutes(event.confirmation_deadline),
    )
    await _step(uow, event.case_id, kind="agreement_reached", actor="mediation", note=note, at=event.reached_at)


async def record_confirmation_applied(event: JudicialConfirmationApplied, uow: UnitOfWork) -> None:
    await _step(
        uow,
        event.case_id,
        kind="judicial_confirmation_applied",
        actor="court",
        note=msg("confirmation_applied"),
        at=event.applied_at,
    )


async def record_confirmation_lapsed(event: JudicialConfirmationLapsed, uow: UnitOfWork) -> None:
    await _step(
        uow,
        event.case_id,
        kind="judicial_confirmation_lapsed",
        actor="mediation",
        note=msg("confirmation_lapsed"),
        at=event.lapsed_at,
    )


async def record_follow_up(event: FollowUpVisitRecorded, uow: UnitOfWork) -> None:
    note = msg("follow_up_visit", performed=event.terms_performed, outstanding=event.terms_outstanding)
    await _step(uow, event.case_id, kind="follow_up_visit", actor="mediation", note=note, at=event.visited_at)


async def record_dispute_referred(event: DisputeReferred, uow: UnitOfWork) -> None:
    note = msg("dispute_referred", referral_to=event.referral_to, reason=event.reason)
    await _step(
        uow,
        event.case_id,
        kind="dispute_referred",
        actor=event.referral_to,
        note=note,
        at=event.referred_at,
        handled_by=event.referral_to,
    )


async def record_dispute_late(event: DisputeFlaggedLate, uow: UnitOfWork) -> None:
    note = msg("dispute_late", target_close=_minutes(event.target_close_at))
    await _step(uow, event.case_id, kind="dispute_late", actor="mediation", note=note, at=event.flagged_at)


async def record_dispute_closed(event: DisputeClosed, uow: UnitOfWork) -> None:
    note = msg("dispute_closed", outcome=event.outcome.value, referral_to=event.referral_to)
    await _step(uow, event.case_id, kind="dispute_closed", actor="mediation", note=note, at=event.closed_at)


# --- the community police room (policing.police-tasks.v1) ---------------------------------------


def _police_case(event: PoliceTaskRouted | PoliceTaskAccepted | PoliceTaskOnScene | PoliceTaskClosed) -> UUID | None:
    """The case a police task event names. Events written before policing named the case on every
    step (it did on Opened and Closed only) carry none: they are logged and left off the timeline."""
    if event.case_id is None and not isinstance(event, PoliceTaskClosed):
        log.info("police_event_without_case", event_type=event.event_type, police_task_id=str(event.police_task_id))
    return event.case_id


async def record_police_task_opened(event: PoliceTaskOpened, uow: UnitOfWork) -> None:
    if event.case_id is None:
        return
    holder = f"police_room:{event.room_code}" if event.room_code else "policing"
    room = event.room_code or "not yet routed"
    note = msg("police_task_opened", priority=str(event.priority), room=room, officer=event.officer_id)
    await _step(
        uow,
        event.case_id,
        kind="police_task_opened",
        actor=holder,
        note=note,
        at=event.opened_at,
        status=CaseStatus.IN_PROGRESS,
        handled_by=holder,
    )


async def record_police_task_routed(event: PoliceTaskRouted, uow: UnitOfWork) -> None:
    if (case_id := _police_case(event)) is None:
        return
    holder = f"police_room:{event.room_code}"
    note = msg("police_task_routed", room=event.room_code, previous=event.previous_room_code)
    await _step(uow, case_id, kind="police_task_routed", actor=holder, note=note, at=event.routed_at, handled_by=holder)


async def record_police_task_accepted(event: PoliceTaskAccepted, uow: UnitOfWork) -> None:
    if (case_id := _police_case(event)) is None:
        return
    holder = f"police_room:{event.room_code}"
    note = msg("police_task_accepted", officer=event.officer_id)
    await _step(
        uow, case_id, kind="police_task_accepted", actor=holder, note=note, at=event.accepted_at, handled_by=holder
    )


async def record_police_on_scene(event: PoliceTaskOnScene, uow: UnitOfWork) -> None:
    if (case_id := _police_case(event)) is None:
        return
    note = msg("police_on_scene", officer=event.officer_id)
    await _step(
        uow, case_id, kind="police_on_scene", actor=f"police_room:{event.room_code}", note=note, at=event.on_scene_at
    )


async def record_police_task_closed(event: PoliceTaskClosed, uow: UnitOfWork) -> None:
    if (case_id := _police_case(event)) is None:
        return
    note = msg(
        "police_task_closed", outcome=event.outcome.value, mediated=event.mediated, referral_to=event.referral_to
    )
    actor = f"police_room:{event.room_code}" if event.room_code else "policing"
    await _step(uow, case_id, kind="police_task_closed", actor=actor, note=note, at=event.closed_at)


# --- video evidence (video.evidence.v1) ---------------------------------------------------------


async def record_evidence(event: EvidenceAttached, uow: UnitOfWork) -> None:
    note = msg(
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
    await _step(uow, event.case_id, kind="evidence_attached", actor="video", note=note, at=event.attached_at)


async def record_video_alarm(event: VideoAlarmRaised, uow: UnitOfWork, *, settings: IntakeSettings) -> None:
    """A camera alarm becomes a case; further alarms of the channel's burst join that case."""
    repo = SqlCaseRepository(uow.session)
    burst = await repo.alarm_burst(event.channel_id)
    if burst is not None and within_burst(burst.last_alarm_at, event.alarm_time, settings.alarm_burst_window_s):
        case = await repo.get(burst.case_id)
        if case is not None and case.status in {s.value for s in OPEN_STATUSES}:
            burst.alarms += 1
            burst.last_alarm_at = max(burst.last_alarm_at, event.alarm_time)
            uow.session.add(burst)
            await _step(
                uow,
                case.id,
                kind="alarm_repeated",
                actor="video",
                note=msg("alarm_burst", alarms=burst.alarms, channel=event.channel_id),
                at=event.alarm_time,
            )
            return
    kind = event.alarm_type or f"method {event.method}"
    description = f"Video alarm ({kind}, priority {event.priority}) from channel {event.channel_id}"
    if event.description:
        description += f": {event.description}"
    attributes: dict[str, str | float | int | list[str]] = {"channel_id": event.channel_id}
    code = matter_for_alarm(event.alarm_type)
    if code == "video.alarm" and event.alarm_type:
        attributes["alarm_type"] = event.alarm_type[:200]
    accepted = await accept_case(
        AcceptCase(
            matter_code=code,
            description=description[:4000],
            channel=Channel.VIDEO,
            lat=event.location.lat if event.location else None,
            lon=event.location.lon if event.location else None,
            attributes=attributes if code == "video.alarm" else {},
            source_ref=event.channel_id,
            grid_code=event.grid_code,  # the camera's configured grid: dispatch's hint when it has no point
            priority="urgent" if event.priority <= 2 else "normal",  # GB/T 28181 AlarmPriority 1 and 2
        ),
        uow,
        settings=settings,
        validate=False,
    )
    if burst is None:
        uow.session.add(
            AlarmBurstRow(
                channel_id=event.channel_id,
                case_id=accepted.case_id,
                alarms=1,
                first_alarm_at=event.alarm_time,
                last_alarm_at=event.alarm_time,
            )
        )
    else:
        burst.case_id = accepted.case_id
        burst.alarms = 1
        burst.first_alarm_at = burst.last_alarm_at = event.alarm_time
        uow.session.add(burst)


# --- dead cameras (video.faults.v1): a maintenance case per outage --------------------------------


async def open_fault_case(event: ChannelFaultOpened, uow: UnitOfWork, *, settings: IntakeSettings) -> None:
    """A camera offline longer than the bridge's threshold becomes one maintenance case (设备故障),
    routed by dispatch to the department that keeps the cameras. The bridge's fault id makes a
    second delivery of the same outage (a replay under another event id) no second case."""
    if await uow.session.get(ChannelFaultCaseRow, event.fault_id) is not None:
        return
    # The case's own text (what people read on the board): in the city's language.
    where = f"（{event.address}）" if event.address else ""
    name = f"{event.channel_name} " if event.channel_name else ""
    since = event.offline_since.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")
    description = f"摄像机 {name}{event.channel_id}{where} 自 {since}（北京时间）起离线，设备状态 {event.status}"
    accepted = await accept_case(
        AcceptCase(
            matter_code=DEVICE_FAULT_MATTER,
            description=description[:4000],
            channel=Channel.VIDEO,
            lat=event.location.lat if event.location else None,
            lon=event.location.lon if event.location else None,
            attributes={"channel_id": event.channel_id},
            source_ref=event.channel_id,
            grid_code=event.grid_code,
        ),
        uow,
        settings=settings,
        validate=False,
    )
    uow.session.add(
        ChannelFaultCaseRow(
            fault_id=event.fault_id, channel_id=event.channel_id, case_id=accepted.case_id, opened_at=event.opened_at
        )
    )


async def clear_fault_case(event: ChannelFaultCleared, uow: UnitOfWork) -> None:
    """The camera is back (or gone from its catalog): its case, if still in handling, is cleared at
    the source (CaseClearedAtSource: dispatch cancels the open tasks and resolves it with the note)."""
    fault = await uow.session.get(ChannelFaultCaseRow, event.fault_id)
    if fault is None or fault.cleared_at is not None:
        log.info("fault_clear_ignored", fault_id=str(event.fault_id), reason="unknown or already cleared")
        return
    fault.cleared_at = event.cleared_at
    uow.session.add(fault)
    case = await SqlCaseRepository(uow.session).get(fault.case_id)
    if case is None:
        return
    hours = (event.cleared_at - event.offline_since).total_seconds() / 3600
    key = "cleared_at_source.online" if event.reason == "online" else "cleared_at_source.removed"
    words = msg(key, channel=event.channel_id, at=_minutes(event.cleared_at), hours=f"{hours:.1f}")
    note = words.text("en")  # dispatch's resolution summary (an event field: one language)
    if case.status in {s.value for s in OPEN_STATUSES}:
        envelope = uow.emit(
            CaseClearedAtSource(case_id=case.id, note=note, cleared_by="video-bridge", cleared_at=event.cleared_at)
        )
        event_id: str | None = envelope.id
    else:
        event_id = None  # handled already (resolved, closed, cancelled): the timeline only says so
    case.updated_at = max(case.updated_at, event.cleared_at)
    uow.session.add(case)
    uow.session.add(
        TimelineEntryRow(
            case_id=case.id,
            event_id=event_id,
            kind="cleared_at_source",
            actor="video",
            at=event.cleared_at,
            **words.columns(),
        )
    )


def event_handlers(settings: IntakeSettings) -> dict[type[Event], Handler]:
    return {
        CaseDispatched: record_case_dispatched,
        CaseEscalated: record_case_escalated,
        CaseResolved: record_case_resolved,
        CaseClosed: record_case_closed,
        CaseReopened: record_case_reopened,
        ReturnVisitRecorded: record_return_visit,
        TaskAssigned: record_task_assigned,
        TaskReassigned: record_task_reassigned,
        TaskEscalated: record_task_escalated,
        TaskCancelled: record_task_cancelled,
        MediationTaskCompleted: record_mediation_result,
        PolicingTaskCompleted: record_policing_result,
        ViolenceRiskFlagged: record_violence_risk,
        DisputeOpened: record_dispute_opened,
        MediatorAssigned: record_mediator_assigned,
        MediationSessionScheduled: record_session_scheduled,
        MediationSessionCancelled: record_session_cancelled,
        MediationSessionHeld: record_session_held,
        AgreementReached: record_agreement_reached,
        JudicialConfirmationApplied: record_confirmation_applied,
        JudicialConfirmationLapsed: record_confirmation_lapsed,
        FollowUpVisitRecorded: record_follow_up,
        DisputeReferred: record_dispute_referred,
        DisputeFlaggedLate: record_dispute_late,
        DisputeClosed: record_dispute_closed,
        PoliceTaskOpened: record_police_task_opened,
        PoliceTaskRouted: record_police_task_routed,
        PoliceTaskAccepted: record_police_task_accepted,
        PoliceTaskOnScene: record_police_on_scene,
        PoliceTaskClosed: record_police_task_closed,
        EvidenceAttached: record_evidence,
    }


def alarm_handlers(settings: IntakeSettings) -> dict[type[Event], Handler]:
    return {VideoAlarmRaised: partial(record_video_alarm, settings=settings)}


def fault_handlers(settings: IntakeSettings) -> dict[type[Event], Handler]:
    return {ChannelFaultOpened: partial(open_fault_case, settings=settings), ChannelFaultCleared: clear_fault_case}
