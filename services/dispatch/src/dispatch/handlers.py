"""Dispatch's handlers: one async function per command or event.

Handlers change state through ``uow.session`` and emit events with ``uow.emit``; they
never commit (runtime's runner for a command, the consumer loop for an event, does). Every use
case is listed in ``dispatch.registry``; dependencies come by parameter name (``dispatcher``)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import col, select

from dispatch.adapters import metrics
from dispatch.adapters.locator import GridLocator
from dispatch.adapters.photos import task_photo_ids
from dispatch.adapters.repository import (
    OPEN,
    case_tasks,
    centre_for,
    community_worker_loads,
    get_case_for_update,
    get_task_for_update,
    grid_by_address,
    load_rules,
)
from dispatch.adapters.tables import DispatchCaseRow, TaskRow, WebhookDeliveryRow
from dispatch.domain import tasks as rules_of_tasks
from dispatch.domain.assignment import choose_worker
from dispatch.domain.cases import cancellation_reason, centre_ref
from dispatch.domain.codes import LEVELS, GridCode, next_level
from dispatch.domain.routing import Rule, Target, default_sla, route
from dispatch.domain.tasks import CaseState, TaskState, TransitionError, chosen_for_return_visit, escalations_due
from dispatch.settings import DispatchSettings
from govmesh_contracts import (
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
    Level,
    Location,
    MediationTaskCompleted,
    ReturnVisitRecorded,
    TaskAssigned,
    TaskCancelled,
    TaskCompleted,
    TaskEscalated,
    TaskKind,
    TaskOutcome,
    TaskReassigned,
    TaskResult,
    TaskTarget,
)
from govmesh_kit.clock import Clock, system_clock
from govmesh_kit.errors import NotFound
from govmesh_runtime.geo import GeometryRules
from govmesh_runtime.logging import get_logger
from govmesh_runtime.uow import UnitOfWork

log = get_logger(__name__)


@dataclass
class Dispatcher:
    """What the handlers need besides the unit of work; built once by bootstrap."""

    settings: DispatchSettings
    locator: GridLocator = field(default_factory=GridLocator)
    clock: Clock = system_clock
    geometry: GeometryRules = field(init=False)

    def __post_init__(self) -> None:
        # read once: the outline file is parsed at start, and a bad one stops the service there
        self.geometry = GeometryRules.from_settings(self.settings.grid_tolerance, self.settings.city_outline_file)

    def sla(self, matter_code: str) -> timedelta:
        if self.settings.sla_override_s is not None:
            return timedelta(seconds=self.settings.sla_override_s)
        return default_sla(matter_code)

    @property
    def escalation_step(self) -> timedelta:
        return timedelta(seconds=self.settings.sla_override_s or self.settings.escalation_step_s)


# ---------------------------------------------------------------- cases in


async def dispatch_case_on_received(event: CaseReceived, uow: UnitOfWork, *, dispatcher: Dispatcher) -> None:
    """Locate the case on the grid, split it into tasks per the routing rules, publish it all."""
    session = uow.session
    if await session.get(DispatchCaseRow, event.case_id) is not None:
        return  # the same case under another event id (e.g. replayed by hand): already ours
    now = dispatcher.clock()
    grid_code = await _locate(uow, dispatcher, event)
    level = Level.COMMUNITY if grid_code else Level.CITY
    centre = await _centre(uow, dispatcher, grid_code, level)
    # intake's deadline from the matter's SLA when it gives one; ours otherwise (the override is for tests/demo)
    due_at = now + dispatcher.sla(event.matter_code)
    if event.due_at is not None and dispatcher.settings.sla_override_s is None:
        due_at = event.due_at
    case = DispatchCaseRow(
        case_id=event.case_id,
        case_number=event.case_number,
        matter_code=event.matter_code,
        grid_code=grid_code,
        status=CaseState.DISPATCHED.value,
        handled_by=centre_ref(centre),
        received_at=event.received_at,
        dispatched_at=now,
        level=level.value,
        centre_code=centre,
        due_at=due_at,
        description=event.description,
        lat=event.location.lat if event.location else None,
        lon=event.location.lon if event.location else None,
        address=event.address,
    )
    session.add(case)
    metrics.after_commit(session, lambda: metrics.CASE_DISPATCH.observe((now - event.received_at).total_seconds()))
    note = None if grid_code else "not located on a grid: held by the city centre"
    uow.emit(
        CaseDispatched(
            case_id=case.case_id, grid_code=grid_code, handled_by=case.handled_by, dispatched_at=now, note=note
        )
    )
    await _open_tasks_by_rules(uow, dispatcher, case, now, priority=event.priority)


async def _rules(uow: UnitOfWork) -> list[Rule]:
    """The routing rules, read once per transaction: a consumer batch routes all its cases with one read."""
    rules: list[Rule] | None = uow.memo.get("routing_rules")
    if rules is None:
        rules = uow.memo["routing_rules"] = await load_rules(uow.session)
    return rules


async def _centre(uow: UnitOfWork, dispatcher: Dispatcher, grid_code: str | None, level: Level) -> str:
    """The supervising centre, looked up once per grid and level in a transaction (batch)."""
    key = f"centre:{grid_code}:{level.value}"
    centre: str | None = uow.memo.get(key)
    if centre is None:
        centre = uow.memo[key] = await centre_for(uow.session, grid_code, level, dispatcher.settings.city_centre_code)
    return centre


async def _locate(uow: UnitOfWork, dispatcher: Dispatcher, event: CaseReceived) -> str | None:
    """The point's grid; else the reporter's grid hint (a grid worker's own grid, a camera's
    configured grid) when it is a grid we know; else the address's building; else none."""
    await dispatcher.locator.get(uow.session)  # rebuilt first if another instance imported grids
    if event.location is not None:
        found = dispatcher.locator.locate(event.location.lat, event.location.lon)
        if found is not None:
            return found
    if event.grid_code and event.grid_code in dispatcher.locator.functions:
        return event.grid_code
    if event.address:
        return await grid_by_address(uow.session, event.address)
    return None


async def _open_tasks_by_rules(
    uow: UnitOfWork, dispatcher: Dispatcher, case: DispatchCaseRow, now: datetime, *, priority: str = "normal"
) -> None:
    function = dispatcher.locator.functions.get(case.grid_code) if case.grid_code else None
    targets = route(await _rules(uow), case.matter_code, function)
    for target in targets:
        await open_task(uow, dispatcher, case, target, now, priority=priority)


async def open_task(
    uow: UnitOfWork,
    dispatcher: Dispatcher,
    case: DispatchCaseRow,
    target: Target,
    now: datetime,
    *,
    parent: uuid.UUID | None = None,
    due_at: datetime | None = None,
    priority: str = "normal",
    kind: TaskKind = TaskKind.HANDLING,
) -> TaskRow:
    session = uow.session
    assignee: str | None = target.department
    if target.kind is TaskTarget.GRID_WORKER and case.grid_code:
        loads = await community_worker_loads(session, GridCode(case.grid_code).community)
        chosen = choose_worker(case.grid_code, loads, dispatcher.settings.max_worker_load)
        assignee = chosen.worker_id if chosen else None
    task = TaskRow(
        task_id=uuid.uuid4(),
        case_id=case.case_id,
        target=target.kind.value,
        department=target.department,
        assignee=assignee,
        grid_code=case.grid_code,
        state=TaskState.ASSIGNED.value,
        level=case.level,
        centre_code=case.centre_code,
        due_at=due_at or case.due_at or now + dispatcher.sla(case.matter_code),
        assigned_at=now,
        parent_task_id=parent,
        kind=kind.value,
    )
    session.add(task)
    await session.flush()  # the worker-load query of the next task sees this one
    event = TaskAssigned(
        task_id=task.task_id,
        case_id=case.case_id,
        case_number=case.case_number,
        matter_code=case.matter_code,
        target=target.kind,
        assignee=assignee,
        grid_code=case.grid_code,
        description=case.description,
        location=_location(case),
        address=case.address,
        priority=priority,
        due_at=task.due_at,
        assigned_at=now,
        kind=kind,
    )
    uow.emit(event)
    _queue_webhook(uow, dispatcher, task, event, now)
    return task


def _location(case: DispatchCaseRow | None) -> Location | None:
    if case is None or case.lat is None or case.lon is None:
        return None
    return Location(lat=case.lat, lon=case.lon)


def _queue_webhook(
    uow: UnitOfWork, dispatcher: Dispatcher, task: TaskRow, event: TaskAssigned | TaskCancelled, now: datetime
) -> None:
    """A department without a service also gets its task (and its cancellation) on its webhook,
    from a persisted queue."""
    url = dispatcher.settings.department_webhooks.get(task.department or "")
    if task.department is None or not url:
        return
    body = json.dumps(
        {"type": event.event_type, "department": task.department, "data": event.model_dump(mode="json")},
        separators=(",", ":"),
        ensure_ascii=False,
    )
    uow.session.add(
        WebhookDeliveryRow(task_id=task.task_id, department=task.department, url=url, body=body, next_attempt_at=now)
    )


# ---------------------------------------------------------------- task results


@dataclass(frozen=True)
class CompleteTask:
    task_id: uuid.UUID
    outcome: TaskOutcome
    summary: str
    referral_to: str | None = None
    completed_by: str = "dispatch"  # the credential's subject


async def apply_task_result(event: TaskResult, uow: UnitOfWork, *, dispatcher: Dispatcher) -> None:
    """Mediation or policing ended a task (MediationTaskCompleted, PolicingTaskCompleted)."""
    task = await get_task_for_update(uow.session, event.task_id)
    producer = TaskTarget.MEDIATION if isinstance(event, MediationTaskCompleted) else TaskTarget.POLICING
    if task is None or TaskState(task.state) not in rules_of_tasks.OPEN_STATES or task.target != producer.value:
        log.info("task_result_ignored", task_id=str(event.task_id), reason="unknown, ended, or not this service's")
        return
    await _finish(uow, dispatcher, task, event.outcome, event.summary, event.referral_to, event.completed_at)


async def complete_task(cmd: CompleteTask, uow: UnitOfWork, *, dispatcher: Dispatcher) -> TaskRow:
    """A grid worker's terminal or a department ends its task over REST."""
    task = await get_task_for_update(uow.session, cmd.task_id)
    if task is None:
        raise NotFound(f"task {cmd.task_id} not found")
    if task.target in (TaskTarget.MEDIATION.value, TaskTarget.POLICING.value):
        raise TransitionError(f"a {task.target} task is ended by {task.target} on its task-results topic, not here")
    if task.kind == TaskKind.RETURN_VISIT.value:
        raise TransitionError(
            "a return visit is answered with POST /v1/tasks/{id}/return-visit (it carries satisfaction)"
        )
    rules_of_tasks.complete(TaskState(task.state), cmd.outcome)  # raises TransitionError
    now = dispatcher.clock()
    # the task's end with its photos' references, before the case's resolution it may bring
    uow.emit(
        TaskCompleted(
            task_id=task.task_id,
            case_id=task.case_id,
            target=TaskTarget(task.target),
            outcome=cmd.outcome,
            summary=cmd.summary,
            referral_to=cmd.referral_to,
            completed_by=cmd.completed_by,
            completed_at=now,
            photo_ids=await task_photo_ids(uow.session, task.task_id),
        )
    )
    await _finish(uow, dispatcher, task, cmd.outcome, cmd.summary, cmd.referral_to, now)
    return task


async def accept_task(task_id: uuid.UUID, uow: UnitOfWork) -> TaskRow:
    """Who may accept (the assignee or a centre) is checked at the door, from the credential."""
    task = await get_task_for_update(uow.session, task_id)
    if task is None:
        raise NotFound(f"task {task_id} not found")
    task.state = rules_of_tasks.accept(TaskState(task.state)).value
    uow.session.add(task)
    return task


async def _finish(
    uow: UnitOfWork,
    dispatcher: Dispatcher,
    task: TaskRow,
    outcome: TaskOutcome,
    summary: str,
    referral_to: str | None,
    completed_at: datetime,
) -> None:
    session = uow.session
    task.state = rules_of_tasks.complete(TaskState(task.state), outcome).value
    task.outcome = outcome.value
    task.summary = summary
    task.referral_to = referral_to
    task.completed_at = completed_at
    session.add(task)
    within_sla = "true" if completed_at <= task.due_at else "false"
    metrics.after_commit(session, metrics.TASKS_COMPLETED.labels(task.target, within_sla).inc)
    case = await get_case_for_update(session, task.case_id)
    if case is None:
        return
    now = dispatcher.clock()
    if outcome is TaskOutcome.REFERRED:
        follow_up = rules_of_tasks.referral_target(referral_to)
        if follow_up is not None:
            await open_task(
                uow,
                dispatcher,
                case,
                follow_up,
                now,
                parent=task.task_id,
                due_at=now + dispatcher.sla(case.matter_code),
            )
    await session.flush()
    await _resolve_if_settled(uow, case, now)


async def _resolve_if_settled(uow: UnitOfWork, case: DispatchCaseRow, now: datetime) -> None:
    tasks = await case_tasks(uow.session, case.case_id)
    if case.status != CaseState.DISPATCHED.value or not rules_of_tasks.all_settled(TaskState(t.state) for t in tasks):
        return
    case.status = CaseState.RESOLVED.value
    case.resolved_at = now
    uow.session.add(case)
    # a cancelled task has no outcome: its state says how it ended
    summary = "; ".join(f"{t.target}{':' + t.department if t.department else ''} {t.outcome or t.state}" for t in tasks)
    uow.emit(CaseResolved(case_id=case.case_id, summary=summary[:2000], resolved_at=now))


# ---------------------------------------------------------------- erasure


ERASED = "[erased at the resident's request]"


async def erase_case_copy_on_erasure(event: CasePersonalDataErased, uow: UnitOfWork) -> None:
    """Intake erased a resident's personal data from a case: erase dispatch's copy of its text
    and address too (the case, its grid and tasks stay)."""
    case = await get_case_for_update(uow.session, event.case_id)
    if case is None:
        return
    case.description = ERASED
    case.address = None
    uow.session.add(case)


# ---------------------------------------------------------------- feedback and closure


async def close_or_reopen_on_feedback(event: CaseFeedbackGiven, uow: UnitOfWork, *, dispatcher: Dispatcher) -> None:
    case = await get_case_for_update(uow.session, event.case_id)
    if case is None or case.status != CaseState.RESOLVED.value:
        log.info("feedback_ignored", case_id=str(event.case_id), reason="case unknown or not resolved")
        return
    now = dispatcher.clock()
    if event.solved:
        await _close(uow, dispatcher, case, now, satisfaction=event.satisfaction)
        return
    case.status = CaseState.DISPATCHED.value
    case.resolved_at = None
    case.reopened += 1
    case.due_at = now + dispatcher.sla(case.matter_code)
    uow.session.add(case)
    uow.emit(
        CaseReopened(
            case_id=case.case_id, reason=f"resident: not solved (satisfaction {event.satisfaction})", reopened_at=now
        )
    )
    await _open_tasks_by_rules(uow, dispatcher, case, now)


async def _close(
    uow: UnitOfWork,
    dispatcher: Dispatcher,
    case: DispatchCaseRow,
    now: datetime,
    *,
    satisfaction: int | None,
    by: str | None = None,
    note: str | None = None,
) -> None:
    """Close a resolved case; a share of closed cases (chosen by case id) gets a return visit."""
    without_feedback = satisfaction is None and by is None
    case.status = CaseState.CLOSED.value
    case.closed_at = now
    case.satisfaction = satisfaction
    uow.session.add(case)
    uow.emit(
        CaseClosed(
            case_id=case.case_id,
            satisfaction=satisfaction,
            closed_at=now,
            without_feedback=without_feedback,
            closed_by=by,
            note=note,
        )
    )
    how = "by_centre" if by is not None else "without_feedback" if without_feedback else "feedback"
    metrics.after_commit(uow.session, metrics.CASES_CLOSED.labels(how).inc)
    if chosen_for_return_visit(case.case_id, dispatcher.settings.return_visit_share):
        due_at = now + timedelta(seconds=dispatcher.settings.return_visit_due_s)
        target = Target(TaskTarget.GRID_WORKER)
        await open_task(uow, dispatcher, case, target, now, due_at=due_at, kind=TaskKind.RETURN_VISIT)


async def close_without_feedback(uow: UnitOfWork, *, dispatcher: Dispatcher, limit: int = 200) -> int:
    """The feedback-window timer: resolved cases whose resident said nothing within
    ``feedback_window_s`` close as "closed without feedback". ``resolved_at`` is the persisted
    timer; rows are locked and skipped when locked, so two instances never close one case twice."""
    now = dispatcher.clock()
    cutoff = now - timedelta(seconds=dispatcher.settings.feedback_window_s)
    due = (
        await uow.session.exec(
            select(DispatchCaseRow)
            .where(col(DispatchCaseRow.status) == CaseState.RESOLVED.value, col(DispatchCaseRow.resolved_at) <= cutoff)
            .order_by(col(DispatchCaseRow.resolved_at))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for case in due:
        await _close(uow, dispatcher, case, now, satisfaction=None)
    return len(due)


@dataclass(frozen=True)
class CloseCase:
    case_id: uuid.UUID
    note: str
    by: str  # the subject of the centre's credential


async def close_case(cmd: CloseCase, uow: UnitOfWork, *, dispatcher: Dispatcher) -> DispatchCaseRow:
    """A centre closes a resolved case by hand (结案), e.g. after hearing the resident by phone,
    without waiting for the feedback window; a case still in handling cannot be closed."""
    case = await get_case_for_update(uow.session, cmd.case_id)
    if case is None:
        raise NotFound(f"case {cmd.case_id} not found")
    if case.status != CaseState.RESOLVED.value:
        raise TransitionError(f"only a resolved case can be closed; this case is {case.status}")
    await _close(uow, dispatcher, case, dispatcher.clock(), satisfaction=None, by=cmd.by, note=cmd.note)
    return case


@dataclass(frozen=True)
class RecordReturnVisit:
    task_id: uuid.UUID
    reached: bool
    satisfaction: int | None
    comment: str | None
    by: str


async def record_return_visit(cmd: RecordReturnVisit, uow: UnitOfWork, *, dispatcher: Dispatcher) -> TaskRow:
    """The grid worker's answer to a return visit: reached (with satisfaction) or not reached."""
    task = await get_task_for_update(uow.session, cmd.task_id)
    if task is None:
        raise NotFound(f"task {cmd.task_id} not found")
    if task.kind != TaskKind.RETURN_VISIT.value:
        raise TransitionError("this task is not a return visit; end it with POST /v1/tasks/{id}/complete")
    outcome = TaskOutcome.DONE if cmd.reached else TaskOutcome.FAILED
    now = dispatcher.clock()
    task.state = rules_of_tasks.complete(TaskState(task.state), outcome).value  # raises TransitionError
    task.outcome = outcome.value
    task.satisfaction = cmd.satisfaction
    task.summary = cmd.comment
    task.completed_at = now
    uow.session.add(task)
    uow.emit(
        ReturnVisitRecorded(
            case_id=task.case_id,
            task_id=task.task_id,
            reached=cmd.reached,
            satisfaction=cmd.satisfaction,
            comment=cmd.comment,
            visited_by=cmd.by,
            visited_at=now,
        )
    )
    return task


# ---------------------------------------------------------------- reassignment


@dataclass(frozen=True)
class ReassignTask:
    task_id: uuid.UUID
    centre_code: str
    reason: str
    target: Target | None = None
    assignee: str | None = None


async def reassign_task(cmd: ReassignTask, uow: UnitOfWork, *, dispatcher: Dispatcher) -> TaskRow:
    """A centre hands a task to someone else (another worker, another target); a failed task reopens."""
    session = uow.session
    task = await get_task_for_update(session, cmd.task_id)
    if task is None:
        raise NotFound(f"task {cmd.task_id} not found")
    if task.state not in (*OPEN, TaskState.FAILED.value):
        raise TransitionError(f"a {task.state} task cannot be reassigned")
    now = dispatcher.clock()
    target = cmd.target or Target(TaskTarget(task.target), task.department)
    assignee = cmd.assignee or target.department
    if target.kind is TaskTarget.GRID_WORKER and cmd.assignee is None and task.grid_code:
        loads = [
            w
            for w in await community_worker_loads(session, GridCode(task.grid_code).community)
            if w.worker_id != task.assignee
        ]
        chosen = choose_worker(task.grid_code, loads, dispatcher.settings.max_worker_load)
        assignee = chosen.worker_id if chosen else None
    previous = TaskTarget(task.target)
    task.target, task.department, task.assignee = target.kind.value, target.department, assignee
    task.state = TaskState.ASSIGNED.value
    task.outcome = task.summary = task.referral_to = task.completed_at = None
    if task.due_at <= now:
        task.due_at = now + dispatcher.escalation_step
    session.add(task)
    case = await session.get(DispatchCaseRow, task.case_id)
    # The case's fields let the new holder (mediation, policing) open its file as on TaskAssigned.
    uow.emit(
        TaskReassigned(
            task_id=task.task_id,
            case_id=task.case_id,
            target=target.kind,
            assignee=assignee,
            reason=f"{cmd.reason} (by centre {cmd.centre_code})",
            reassigned_at=now,
            previous_target=previous,
            case_number=case.case_number if case else None,
            matter_code=case.matter_code if case else None,
            grid_code=task.grid_code,
            description=case.description if case else None,
            location=_location(case),
            address=case.address if case else None,
            due_at=task.due_at,
        )
    )
    if target.department and case is not None:
        _queue_webhook(
            uow,
            dispatcher,
            task,
            TaskAssigned(
                task_id=task.task_id,
                case_id=task.case_id,
                case_number=case.case_number,
                matter_code=case.matter_code,
                target=target.kind,
                assignee=assignee,
                grid_code=task.grid_code,
                description=case.description,
                due_at=task.due_at,
                assigned_at=now,
            ),
            now,
        )
    return task


# ---------------------------------------------------------------- cancellation


@dataclass(frozen=True)
class CancelTask:
    task_id: uuid.UUID
    reason: str
    by: str  # the subject of the centre's credential


async def cancel_task(cmd: CancelTask, uow: UnitOfWork, *, dispatcher: Dispatcher) -> TaskRow:
    """A centre cancels one task (not needed, wrongly assigned): its holder closes its file; the
    case resolves when its other tasks are settled, as after any task's end."""
    session = uow.session
    task = await get_task_for_update(session, cmd.task_id)
    if task is None:
        raise NotFound(f"task {cmd.task_id} not found")
    rules_of_tasks.cancel(TaskState(task.state))  # raises TransitionError
    now = dispatcher.clock()
    _cancel(uow, dispatcher, task, cmd.reason, cmd.by, now, case_cancelled=False)
    case = await get_case_for_update(session, task.case_id)
    if case is not None:
        await session.flush()
        await _resolve_if_settled(uow, case, now)
    return task


async def cancel_case_on_cancelled(event: CaseCancelled, uow: UnitOfWork, *, dispatcher: Dispatcher) -> None:
    """Intake cancelled the whole case: every task not yet ended is cancelled (TaskCancelled each,
    so that mediation, policing and departments close their files) and the case is cancelled."""
    session = uow.session
    case = await get_case_for_update(session, event.case_id)
    if case is None or not rules_of_tasks.case_cancellable(CaseState(case.status)):
        log.info("case_cancel_ignored", case_id=str(event.case_id), reason="case unknown, closed or cancelled")
        return
    now = dispatcher.clock()
    reason = cancellation_reason(event.reason, event.merged_into, event.note)
    for task in await case_tasks(session, case.case_id, for_update=True):
        if TaskState(task.state) in rules_of_tasks.CANCELLABLE_STATES:
            _cancel(uow, dispatcher, task, reason, event.cancelled_by, now, case_cancelled=True)
    case.status = CaseState.CANCELLED.value
    case.closed_at = now
    session.add(case)


async def resolve_case_on_cleared_at_source(
    event: CaseClearedAtSource, uow: UnitOfWork, *, dispatcher: Dispatcher
) -> None:
    """The case's matter went away at its source (a camera back online): its open tasks are
    cancelled (their holders close their files; a department hears it on its webhook) and the
    case resolves with intake's note. The feedback window then closes it as for any case."""
    session = uow.session
    case = await get_case_for_update(session, event.case_id)
    if case is None or case.status != CaseState.DISPATCHED.value:
        log.info("case_clear_ignored", case_id=str(event.case_id), reason="case unknown or not in handling")
        return
    now = dispatcher.clock()
    reason = f"cleared at source: {event.note}"
    for task in await case_tasks(session, case.case_id, for_update=True):
        if TaskState(task.state) in rules_of_tasks.CANCELLABLE_STATES:
            _cancel(uow, dispatcher, task, reason, event.cleared_by, now, case_cancelled=False)
    case.status = CaseState.RESOLVED.value
    case.resolved_at = now
    session.add(case)
    uow.emit(CaseResolved(case_id=case.case_id, summary=reason[:2000], resolved_at=now))


def _cancel(
    uow: UnitOfWork, dispatcher: Dispatcher, task: TaskRow, reason: str, by: str, now: datetime, *, case_cancelled: bool
) -> None:
    task.state = TaskState.CANCELLED.value
    task.summary = reason[:2000]
    task.completed_at = now
    uow.session.add(task)
    event = TaskCancelled(
        task_id=task.task_id,
        case_id=task.case_id,
        reason=reason,
        cancelled_at=now,
        target=TaskTarget(task.target),
        cancelled_by=by,
        case_cancelled=case_cancelled,
    )
    uow.emit(event)
    _queue_webhook(uow, dispatcher, task, event, now)


# ---------------------------------------------------------------- SLA timers and escalation


async def escalate_overdue(uow: UnitOfWork, *, dispatcher: Dispatcher, limit: int = 200) -> int:
    """Scan the persisted timers (open tasks past ``due_at``) and escalate each one level per
    missed deadline, as TaskEscalated, and its case as CaseEscalated when the case goes up."""
    session = uow.session
    now = dispatcher.clock()
    overdue = (
        await session.exec(
            select(TaskRow)
            .where(col(TaskRow.state).in_(OPEN), col(TaskRow.due_at) <= now, col(TaskRow.level) != Level.CITY.value)
            .order_by(col(TaskRow.due_at))
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    ).all()
    for task in overdue:
        steps = escalations_due(Level(task.level), task.due_at, dispatcher.escalation_step, now)
        for step in steps:
            centre = await centre_for(session, task.grid_code, step.to_level, dispatcher.settings.city_centre_code)
            uow.emit(
                TaskEscalated(
                    task_id=task.task_id,
                    case_id=task.case_id,
                    from_level=step.from_level,
                    to_level=step.to_level,
                    centre_code=centre,
                    due_at=step.due_at,
                    escalated_at=now,
                )
            )
            task.level, task.centre_code, task.due_at = step.to_level.value, centre, step.due_at
            metrics.after_commit(session, metrics.ESCALATIONS.labels(step.to_level.value).inc)
            await _raise_case(uow, task, step.to_level, centre, now)
        session.add(task)
    return len(overdue)


@dataclass(frozen=True)
class EscalateCase:
    case_id: uuid.UUID
    reason: str
    by: str  # the subject of the centre's credential


async def escalate_case(cmd: EscalateCase, uow: UnitOfWork, *, dispatcher: Dispatcher) -> DispatchCaseRow:
    """A centre sends an open case one level up by hand (上报: beyond its powers, or urgent),
    before any deadline is missed: the case and its open tasks below that level go to the
    next level's centre (CaseEscalated, TaskEscalated each); their deadlines stay."""
    session = uow.session
    case = await get_case_for_update(session, cmd.case_id)
    if case is None:
        raise NotFound(f"case {cmd.case_id} not found")
    if case.status != CaseState.DISPATCHED.value:
        raise TransitionError(f"only a case in handling can be escalated; this case is {case.status}")
    above = next_level(Level(case.level))
    if above is None:
        raise TransitionError("the case is already at the city level")
    now = dispatcher.clock()
    centre = await centre_for(session, case.grid_code, above, dispatcher.settings.city_centre_code)
    for task in await case_tasks(session, case.case_id, for_update=True):
        if task.state not in OPEN or LEVELS.index(Level(task.level)) >= LEVELS.index(above):
            continue
        uow.emit(
            TaskEscalated(
                task_id=task.task_id,
                case_id=task.case_id,
                from_level=Level(task.level),
                to_level=above,
                centre_code=centre,
                due_at=task.due_at,
                escalated_at=now,
            )
        )
        task.level, task.centre_code = above.value, centre
        session.add(task)
        metrics.after_commit(session, metrics.ESCALATIONS.labels(above.value).inc)
    uow.emit(
        CaseEscalated(
            case_id=case.case_id,
            from_level=Level(case.level),
            to_level=above,
            centre_code=centre,
            reason=cmd.reason,
            escalated_at=now,
            escalated_by=cmd.by,
        )
    )
    case.level, case.centre_code, case.handled_by = above.value, centre, centre_ref(centre)
    session.add(case)
    return case


async def _raise_case(uow: UnitOfWork, task: TaskRow, level: Level, centre: str, now: datetime) -> None:
    case = await uow.session.get(DispatchCaseRow, task.case_id)
    if case is None or case.status == CaseState.CLOSED.value or LEVELS.index(Level(case.level)) >= LEVELS.index(level):
        return  # a late return visit goes up on its own; its closed case stays closed where it is
    uow.emit(
        CaseEscalated(
            case_id=case.case_id,
            from_level=Level(case.level),
            to_level=level,
            centre_code=centre,
            reason=f"task {task.task_id} ({task.target}) missed its deadline",
            escalated_at=now,
        )
    )
    case.level, case.centre_code, case.handled_by = level.value, centre, centre_ref(centre)
    uow.session.add(case)
