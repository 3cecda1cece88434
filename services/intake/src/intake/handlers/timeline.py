"""The resident-facing timeline: the events of dispatch, mediation, policing and video become
steps of the case, by the table in ``intake.domain.timeline`` — one function applies any entry.

Each event type gets a handler named as its entry says (``record_case_dispatched`` …): the
consumer's metrics and logs name handlers, and those names stay what they were."""

from __future__ import annotations

from typing import Any

from govmesh_contracts import Event
from govmesh_runtime.consumer import Handler
from govmesh_runtime.logging import get_logger
from govmesh_runtime.uow import UnitOfWork
from intake.adapters.repository import SqlCaseRepository
from intake.adapters.tables import CaseRow, TimelineEntryRow
from intake.domain.cases import CaseStatus, advance, reopen
from intake.domain.messages import NoteColumns
from intake.domain.timeline import TIMELINE, On, Step, entry_for, timeline_step

log = get_logger(__name__)


async def apply_step(uow: UnitOfWork, step: Step) -> CaseRow | None:
    """Add one hand-off to a case's timeline and move the case; ignore cases of another intake."""
    case = await SqlCaseRepository(uow.session).get(step.case_id)
    if case is None:
        return None
    current = CaseStatus(case.status)
    if step.reopened:
        new = reopen(current)
        case.feedback_at = None  # the next resolution awaits the resident's feedback again
    else:
        new = advance(current, step.status) if step.status is not None else current
    if step.handled_by is not None:
        case.handled_by = step.handled_by
    if step.grid_code:
        case.grid_code = step.grid_code
    if step.closed_without_feedback:
        case.closed_without_feedback = True
    if step.return_visit_satisfaction is not None:
        case.return_visit_satisfaction = step.return_visit_satisfaction
    case.status = new.value
    case.updated_at = max(case.updated_at, step.at)
    uow.session.add(case)
    # A message is worded in the reader's language when read.
    words = step.note.columns() if step.note is not None else NoteColumns(note=None)
    uow.session.add(
        TimelineEntryRow(
            case_id=step.case_id, event_id=uow.causation_id, kind=step.kind, actor=step.actor, at=step.at, **words
        )
    )
    return case


async def record_step(event: Event, uow: UnitOfWork) -> None:
    """The step the timeline table gives the event, on its case."""
    step = timeline_step(event)
    if step is None:
        if entry_for(event).log_without_case:
            log.info("police_event_without_case", event_type=event.event_type, **{event.key_field: event.key()})
        return
    await apply_step(uow, step)


def _named(entry: On[Any]) -> Handler:
    async def handler(event: Event, uow: UnitOfWork) -> None:
        await record_step(event, uow)

    handler.__name__ = handler.__qualname__ = entry.handler
    return handler


def timeline_handlers() -> dict[type[Event], Handler]:
    """One handler per event type of the table, each under its entry's name."""
    return {event_type: _named(entries[0]) for event_type, entries in TIMELINE.items()}
