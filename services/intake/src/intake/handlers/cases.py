"""Acceptance of cases (一门受理): a report becomes a case or joins an open one; the resident's
feedback; a centre's cancellation.

A handler changes state through ``uow.session`` and emits events with ``uow.emit``; the caller
(an API route or the consumer loop) opens and commits the unit of work. Each takes what it needs
as parameters (the command, the unit of work, the settings). Personal data (reporter name, phone,
ID number) is written to ``reporters`` only: events and the timeline carry the opaque ``reporter_ref``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol
from uuid import UUID

from govmesh_contracts import CaseCancelled, CaseFeedbackGiven, CaseReceived, Location
from govmesh_kit.distances import distance_m
from govmesh_runtime import audit
from govmesh_runtime.logging import get_logger
from govmesh_runtime.tables import AuditRecord
from govmesh_runtime.uow import UnitOfWork
from intake.adapters import metrics
from intake.adapters.repository import SqlCaseRepository
from intake.adapters.tables import CaseLinkRow, CaseRow, IdempotencyKeyRow, ReporterRow, TimelineEntryRow
from intake.domain.cases import (
    OPEN_STATUSES,
    CaseStatus,
    Channel,
    case_number,
    check_cancellable,
    check_merge_target,
    due_at,
)
from intake.domain.check import report_errors
from intake.domain.commands import AcceptCase, CancelCase, GiveFeedback, Reporter
from intake.domain.messages import msg
from intake.domain.taxonomy import matter, normalise_attributes
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


class ChangeAudit(Protocol):
    """Makes the audit row of a change of personal data: who and through what come from the
    request (the caller supplies this), what changed from the handler."""

    def __call__(self, *, resource_id: str, fields: Iterable[str], reason: str) -> AuditRecord: ...


async def accept_report(
    cmd: AcceptCase, uow: UnitOfWork, *, settings: IntakeSettings, audit_change: ChangeAudit
) -> Accepted:
    """A person's report (native API, Open311): accepted as ``accept_case`` does, and the
    reporter's personal data it stores audited in the same transaction (a retry stores nothing)."""
    accepted = await accept_case(cmd, uow, settings=settings)
    fields = cmd.reporter.fields() if cmd.reporter is not None else []
    if fields and accepted.outcome is not Outcome.RETRIED:
        reason = f"reporter's personal data recorded ({accepted.outcome.value})"
        audit.add(uow.session, audit_change(resource_id=str(accepted.case_id), fields=fields, reason=reason))
    return accepted


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
