"""Policing's handlers: one async function per command or event.

A handler changes state through ``uow.session`` and emits events with ``uow.emit``; the
caller (the registry's runner for a route, the consumer loop for an event) opens and commits
the unit of work; every use case is listed in ``policing.registry``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from govmesh_contracts import (
    CasePersonalDataErased,
    Location,
    PoliceTaskAccepted,
    PoliceTaskClosed,
    PoliceTaskOnScene,
    PoliceTaskOpened,
    PoliceTaskRouted,
    PoliceTaskSource,
    PolicingTaskCompleted,
    TaskAssigned,
    TaskCancelled,
    TaskEscalated,
    TaskOutcome,
    TaskReassigned,
    TaskTarget,
    ViolenceRiskFlagged,
)
from govmesh_kit.clock import system_clock as now
from govmesh_kit.errors import NotFound
from govmesh_kit.masking import mask_personal_data
from govmesh_runtime.auth import Principal
from govmesh_runtime.geo import GeometryRules
from govmesh_runtime.logging import get_logger
from govmesh_runtime.uow import UnitOfWork
from policing.adapters.reference import parse_grids
from policing.adapters.repository import GridIndexCache, SqlPolicingRepository
from policing.adapters.tables import DutyShiftRow, OfficerRow, PoliceTaskRow
from policing.domain import tasks as rules
from policing.domain.jurisdiction import (
    ReferenceDataError,
    Shift,
    check_jurisdictions,
    check_new_shifts,
    parse_rooms,
)
from policing.domain.tasks import MediationResult, Outcome, TaskStatus

log = get_logger(__name__)


# --- reference data ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportSummary:
    grids: int
    rooms: int
    officers: int
    auxiliaries: int


async def import_reference(
    uow: UnitOfWork, *, grids: Any | None = None, rooms: Any | None = None, rules: GeometryRules | None = None
) -> ImportSummary:
    """Replace the grid set and/or the rooms; refuse (ReferenceDataError) a gap, overlap or unknown
    grid, and grid polygons that overlap or leave the city's outline (``rules``)."""
    repo = SqlPolicingRepository(uow.session)
    grid_rows = parse_grids(grids, rules) if grids is not None else None
    room_specs = parse_rooms(rooms) if rooms is not None else await repo.rooms_as_specs()
    known = {g.grid_code for g in grid_rows} if grid_rows is not None else await repo.grid_codes()
    if not known:
        raise ReferenceDataError(["grids: no grid set is known yet; import grids.geojson first or with the rooms"])
    report = check_jurisdictions(known, room_specs)
    if (rooms is not None or room_specs) and not report.ok:
        raise ReferenceDataError(report.problems())
    if grid_rows is not None:
        await repo.replace_grids(grid_rows)
    if rooms is not None:
        await repo.replace_rooms(room_specs)
    officers = [o for r in room_specs for o in r.officers] if rooms is not None else []
    return ImportSummary(
        grids=len(known),
        rooms=len(room_specs),
        officers=sum(1 for o in officers if o.role == "officer"),
        auxiliaries=sum(1 for o in officers if o.role == "auxiliary"),
    )


async def set_roster(uow: UnitOfWork, room_code: str, on_duty: list[str]) -> list[OfficerRow]:
    """The room's duty roster: exactly the officers listed are on duty."""
    repo = SqlPolicingRepository(uow.session)
    if await repo.room(room_code) is None:
        raise NotFound(f"room {room_code} not found")
    officers = await repo.officers(room_code)
    unknown = sorted(set(on_duty) - {o.officer_id for o in officers})
    if unknown:
        raise rules.TaskRuleError(f"on_duty: not officers of room {room_code}: {', '.join(unknown)}")
    for officer in officers:
        officer.on_duty = officer.officer_id in on_duty
        uow.session.add(officer)
    return officers


async def add_shifts(uow: UnitOfWork, room_code: str, shifts: list[Shift]) -> list[DutyShiftRow]:
    """Add shifts to the room's duty roster (refused, naming the shift, if one overlaps another)."""
    repo = SqlPolicingRepository(uow.session)
    if await repo.room(room_code) is None:
        raise NotFound(f"room {room_code} not found")
    officers = [o.officer_id for o in await repo.officers(room_code)]
    existing = [
        Shift(r.officer_id, r.starts_at, r.ends_at)
        for r in await repo.shifts(
            room_code,
            start=min((s.starts_at for s in shifts), default=None),
            end=max((s.ends_at for s in shifts), default=None),
        )
    ]
    check_new_shifts(officers, existing, shifts)
    rows = [
        DutyShiftRow(room_code=room_code, officer_id=s.officer_id, starts_at=s.starts_at, ends_at=s.ends_at)
        for s in shifts
    ]
    uow.session.add_all(rows)
    return rows


async def remove_shift(uow: UnitOfWork, room_code: str, shift_id: uuid.UUID) -> None:
    row = await uow.session.get(DutyShiftRow, shift_id)
    if row is None or row.room_code != room_code:
        raise NotFound(f"shift {shift_id} not found in room {room_code}")
    await uow.session.delete(row)


# --- police tasks from events -------------------------------------------------------------------


@dataclass(frozen=True)
class NewTask:
    source: PoliceTaskSource
    source_ref: str
    reported_at: datetime
    priority: str
    case_id: uuid.UUID | None = None
    dispatch_task_id: uuid.UUID | None = None
    case_number: str | None = None
    matter_code: str | None = None
    description: str | None = None
    grid_code: str | None = None
    location: Location | None = None
    address: str | None = None
    due_at: datetime | None = None


async def open_task(new: NewTask, uow: UnitOfWork, grids: GridIndexCache, *, reopen: bool = False) -> PoliceTaskRow:
    """Open a police task and route it: the room owning the grid (located from the point when the
    grid is not given or not known), then the on-duty officer with the fewest open tasks."""
    repo = SqlPolicingRepository(uow.session)
    existing = await repo.task_by_source(new.source.value, new.source_ref)
    if existing is not None and not (reopen and existing.status == TaskStatus.CLOSED):
        return existing
    grid_code = new.grid_code
    room_code = await repo.room_for_grid(grid_code) if grid_code else None
    if room_code is None and new.location is not None:
        index = await grids.get(uow.session)
        located = index.locate(new.location.lat, new.location.lon) if index is not None else None
        if located is not None:
            grid_code = located
            room_code = await repo.room_for_grid(located)
    officer_id = None
    if room_code is not None:
        candidates = await repo.on_duty_candidates(room_code, now())
        officer_id = rules.choose_officer(candidates, prefer_sworn=new.source != PoliceTaskSource.VIDEO_ALARM)
    opened = now()
    task = PoliceTaskRow(
        source=new.source.value,
        source_ref=new.source_ref,
        case_id=new.case_id,
        dispatch_task_id=new.dispatch_task_id,
        case_number=new.case_number,
        matter_code=new.matter_code,
        description=new.description,
        grid_code=grid_code,
        lat=new.location.lat if new.location else None,
        lon=new.location.lon if new.location else None,
        address=new.address,
        room_code=room_code,
        officer_id=officer_id,
        priority=new.priority,
        status=rules.initial_status(room_code).value,
        reported_at=new.reported_at,
        opened_at=opened,
        due_at=new.due_at,
    )
    if existing is not None:
        # A dispatch task that comes back to policing (reassigned away, then back) reopens its row:
        # (source, source_ref) is unique; every field is the new one's, its earlier end forgotten.
        task.id = existing.id
        task = await uow.session.merge(task)
    uow.session.add(task)
    await uow.session.flush()
    uow.emit(
        PoliceTaskOpened(
            police_task_id=task.id,
            source=new.source,
            source_ref=new.source_ref,
            case_id=new.case_id,
            grid_code=grid_code,
            room_code=room_code,
            officer_id=officer_id,
            priority=new.priority,
            opened_at=opened,
        )
    )
    return task


async def open_task_on_task_assigned(event: TaskAssigned, uow: UnitOfWork, *, grids: GridIndexCache) -> None:
    """A dispatch task for policing (public order, safety hazards, escalated disputes …)."""
    if event.target != TaskTarget.POLICING:
        return
    await open_task(
        NewTask(
            source=PoliceTaskSource.DISPATCH,
            source_ref=str(event.task_id),
            reported_at=event.assigned_at,
            priority="urgent" if event.priority == "urgent" else "normal",
            case_id=event.case_id,
            dispatch_task_id=event.task_id,
            case_number=event.case_number,
            matter_code=event.matter_code,
            description=event.description,
            grid_code=event.grid_code,
            location=event.location,
            address=event.address,
            due_at=event.due_at,
        ),
        uow,
        grids,
    )


async def open_task_on_violence_risk(event: ViolenceRiskFlagged, uow: UnitOfWork, *, grids: GridIndexCache) -> None:
    """A dispute at risk of violence: the grid's room must act."""
    await open_task(
        NewTask(
            source=PoliceTaskSource.VIOLENCE_RISK,
            source_ref=str(event.dispute_id),
            reported_at=event.flagged_at,
            priority=rules.violence_priority(event.risk_level),
            case_id=event.case_id,
            matter_code="dispute.violence_risk",
            description=event.summary,
            grid_code=event.grid_code,
        ),
        uow,
        grids,
    )


async def extend_due_on_task_escalated(event: TaskEscalated, uow: UnitOfWork) -> None:
    """Dispatch escalated the task one level up with a new deadline: the room sees the new deadline."""
    task = await SqlPolicingRepository(uow.session).task_by_source(PoliceTaskSource.DISPATCH, str(event.task_id))
    if task is None or task.status == TaskStatus.CLOSED:
        return
    task.due_at = event.due_at
    task.escalated_to = event.centre_code
    uow.session.add(task)


async def withdraw_task_on_task_cancelled(event: TaskCancelled, uow: UnitOfWork) -> None:
    """Dispatch cancelled the task: close ours as withdrawn (no result goes back to dispatch)."""
    await _withdraw(uow, event.task_id, f"cancelled by dispatch: {event.reason}", event.cancelled_at)


async def hand_over_on_task_reassigned(event: TaskReassigned, uow: UnitOfWork, *, grids: GridIndexCache) -> None:
    """Dispatch reassigned a task. Into policing: open a police task as on TaskAssigned (from the
    case fields the event carries), routed to the room of its grid. Away from policing: close
    ours as withdrawn."""
    if event.target != TaskTarget.POLICING:
        await _withdraw(uow, event.task_id, f"reassigned by dispatch to {event.target}", event.reassigned_at)
        return
    if event.case_number is None or event.matter_code is None or event.description is None:
        log.warning("reassignment_without_case_fields", task_id=str(event.task_id))
        return  # from a producer older than the case fields: nothing to open the task with
    await open_task(
        NewTask(
            source=PoliceTaskSource.DISPATCH,
            source_ref=str(event.task_id),
            reported_at=event.reassigned_at,
            priority="urgent" if event.priority == "urgent" else "normal",
            case_id=event.case_id,
            dispatch_task_id=event.task_id,
            case_number=event.case_number,
            matter_code=event.matter_code,
            description=event.description,
            grid_code=event.grid_code,
            location=event.location,
            address=event.address,
            due_at=event.due_at,
        ),
        uow,
        grids,
        reopen=True,
    )


ERASED = "[erased at the resident's request]"


async def erase_case_copies_on_erasure(event: CasePersonalDataErased, uow: UnitOfWork) -> None:
    """Intake erased a resident's personal data from a case: erase the copies our police tasks
    keep of its text and address (the tasks, their place and their history stay)."""
    for task in await SqlPolicingRepository(uow.session).tasks_of_case(event.case_id):
        task.description = ERASED
        task.address = None
        uow.session.add(task)


async def _withdraw(uow: UnitOfWork, dispatch_task_id: uuid.UUID, summary: str, at: datetime) -> None:
    task = await SqlPolicingRepository(uow.session).task_by_source(PoliceTaskSource.DISPATCH, str(dispatch_task_id))
    if task is None or task.status == TaskStatus.CLOSED:
        return
    _finish(task, Outcome.WITHDRAWN, None, summary, at, mediated=False)
    uow.session.add(task)
    _emit_closed(uow, task, report_to_dispatch=False)


# --- police tasks: officers' steps ---------------------------------------------------------------


async def _load(uow: UnitOfWork, task_id: uuid.UUID) -> PoliceTaskRow:
    task = await SqlPolicingRepository(uow.session).task(task_id)
    if task is None:
        raise NotFound(f"police task {task_id} not found")
    return task


async def route_task(uow: UnitOfWork, task_id: uuid.UUID, room_code: str) -> PoliceTaskRow:
    """The duty desk routes an unrouted task (or moves an open one) to a room and its on-duty officer."""
    task = await _load(uow, task_id)
    repo = SqlPolicingRepository(uow.session)
    if await repo.room(room_code) is None:
        raise rules.TaskRuleError(f"room_code: room {room_code} not found")
    rules.check_route(task.status, task.room_code, room_code)
    at = now()
    candidates = await repo.on_duty_candidates(room_code, at)
    previous = task.room_code
    task.room_code = room_code
    task.officer_id = rules.choose_officer(candidates, prefer_sworn=task.source != PoliceTaskSource.VIDEO_ALARM)
    task.status = TaskStatus.OPEN.value
    uow.session.add(task)
    uow.emit(
        PoliceTaskRouted(
            police_task_id=task.id,
            case_id=task.case_id,
            room_code=room_code,
            officer_id=task.officer_id,
            previous_room_code=previous,
            routed_at=at,
        )
    )
    return task


async def accept_task(uow: UnitOfWork, task_id: uuid.UUID, actor: Principal) -> PoliceTaskRow:
    """``actor`` is the credential: an officer of the room accepts as themselves; anyone else
    (the duty desk) accepts for the officer the task was routed to."""
    caller = actor.subject
    task = await _load(uow, task_id)
    repo = SqlPolicingRepository(uow.session)
    duty = await repo.duty(task.room_code, now()) if task.room_code else {}
    officers = {officer_id: on for officer_id, (on, _) in duty.items()}
    officer = caller if caller in officers else task.officer_id
    rules.check_accept(task.status, officer, officers)
    assert officer is not None and task.room_code is not None  # checked above
    at = now()
    task.officer_id = officer
    task.status = TaskStatus.ACCEPTED.value
    task.accepted_at = at
    uow.session.add(task)
    uow.emit(
        PoliceTaskAccepted(
            police_task_id=task.id,
            case_id=task.case_id,
            room_code=task.room_code,
            officer_id=officer,
            accepted_at=at,
            response_seconds=rules.seconds_between(task.reported_at, at),
        )
    )
    return task


async def arrive_on_scene(uow: UnitOfWork, task_id: uuid.UUID) -> PoliceTaskRow:
    task = await _load(uow, task_id)
    rules.check_on_scene(task.status)
    assert task.room_code is not None and task.officer_id is not None
    at = now()
    task.status = TaskStatus.ON_SCENE.value
    task.on_scene_at = at
    uow.session.add(task)
    uow.emit(
        PoliceTaskOnScene(
            police_task_id=task.id,
            case_id=task.case_id,
            room_code=task.room_code,
            officer_id=task.officer_id,
            on_scene_at=at,
            arrival_seconds=rules.seconds_between(task.reported_at, at),
        )
    )
    return task


async def close_task(
    uow: UnitOfWork, task_id: uuid.UUID, outcome: Outcome, summary: str, referral_to: str | None = None
) -> PoliceTaskRow:
    task = await _load(uow, task_id)
    rules.check_close(task.status, outcome, referral_to)
    _finish(task, outcome, referral_to, summary, now(), mediated=False)
    uow.session.add(task)
    _emit_closed(uow, task)
    return task


async def mediate(uow: UnitOfWork, task_id: uuid.UUID, result: MediationResult, summary: str | None) -> PoliceTaskRow:
    """Police mediation of a minor dispute on scene: settled closes it as done; a civil dispute (or
    no agreement) is handed back to people's mediation through dispatch (referred, mediation)."""
    task = await _load(uow, task_id)
    rules.check_mediation(task.status, task.source, task.matter_code)
    outcome, referral_to, prefix = rules.mediation_outcome(result)
    text = f"{prefix}: {summary}" if summary else prefix
    _finish(task, outcome, referral_to, text, now(), mediated=result == MediationResult.SETTLED)
    uow.session.add(task)
    _emit_closed(uow, task)
    return task


def _finish(
    task: PoliceTaskRow, outcome: Outcome, referral_to: str | None, summary: str, at: datetime, *, mediated: bool
) -> None:
    task.status = TaskStatus.CLOSED.value
    task.outcome = outcome.value
    task.referral_to = referral_to
    task.summary = mask_personal_data(summary)[:2000]
    task.mediated = mediated
    task.closed_at = at


def _emit_closed(uow: UnitOfWork, task: PoliceTaskRow, *, report_to_dispatch: bool = True) -> None:
    assert task.closed_at is not None and task.outcome is not None and task.summary is not None
    outcome = TaskOutcome(task.outcome)
    uow.emit(
        PoliceTaskClosed(
            police_task_id=task.id,
            source=PoliceTaskSource(task.source),
            source_ref=task.source_ref,
            case_id=task.case_id,
            room_code=task.room_code,
            outcome=outcome,
            referral_to=task.referral_to,
            mediated=task.mediated,
            summary=task.summary,
            closed_at=task.closed_at,
        )
    )
    # Dispatch hears back about its own tasks (not about those it cancelled or moved away itself).
    if report_to_dispatch and task.dispatch_task_id is not None and task.case_id is not None:
        uow.emit(
            PolicingTaskCompleted(
                task_id=task.dispatch_task_id,
                case_id=task.case_id,
                outcome=outcome,
                summary=task.summary,
                referral_to=task.referral_to,
                completed_at=task.closed_at,
            )
        )
