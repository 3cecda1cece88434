"""Events produced by dispatch, the grid (网格)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from govmesh_contracts.events.base import Event, Location
from govmesh_contracts.events.common import Level, TaskKind, TaskOutcome, TaskTarget


class CaseDispatched(Event):
    """Dispatch located the case on the grid and took it into coordinated handling."""

    event_type: ClassVar[str] = "gov.dispatch.case.dispatched"
    key_field: ClassVar[str] = "case_id"

    case_id: UUID
    grid_code: str | None = Field(default=None, description="Unified grid code of the case's grid, when located.")
    handled_by: str = Field(description="Who holds the case now, e.g. a governance centre code or 'grid-worker'.")
    dispatched_at: datetime
    note: str | None = None


class CaseEscalated(Event):
    """A case (or one of its tasks) missed its deadline and went up one level, or a centre
    escalated it by hand (``escalated_by``, the credential's subject)."""

    event_type: ClassVar[str] = "gov.dispatch.case.escalated"
    key_field: ClassVar[str] = "case_id"

    case_id: UUID
    from_level: Level
    to_level: Level
    centre_code: str = Field(description="The governance centre that now supervises the case.")
    reason: str
    escalated_at: datetime
    escalated_by: str | None = Field(
        default=None, description="Who escalated the case by hand (a centre's subject); None for a missed deadline."
    )


class CaseResolved(Event):
    """Every task of the case is done; the resident's feedback is awaited."""

    event_type: ClassVar[str] = "gov.dispatch.case.resolved"
    key_field: ClassVar[str] = "case_id"

    case_id: UUID
    summary: str | None = None
    resolved_at: datetime


class CaseClosed(Event):
    """The resident's feedback is in and the case is closed, or none came within the
    feedback window and the case closed without it (``without_feedback``), or a centre
    closed the resolved case by hand (``closed_by``, with its ``note``)."""

    event_type: ClassVar[str] = "gov.dispatch.case.closed"
    key_field: ClassVar[str] = "case_id"

    case_id: UUID
    satisfaction: int | None = Field(default=None, ge=1, le=5)
    closed_at: datetime
    without_feedback: bool = Field(
        default=False, description="Closed because the resident gave no feedback within the feedback window."
    )
    closed_by: str | None = Field(
        default=None, description="Who closed the resolved case by hand (a centre's subject); None otherwise."
    )
    note: str | None = Field(default=None, max_length=2000, description="Why a centre closed it; no personal data.")


class CaseReopened(Event):
    """The resident said "not solved": the case goes back into handling with new tasks."""

    event_type: ClassVar[str] = "gov.dispatch.case.reopened"
    key_field: ClassVar[str] = "case_id"

    case_id: UUID
    reason: str
    reopened_at: datetime


class TaskAssigned(Event):
    """A part of a case for one who must act (grid worker, mediation, policing, a department).

    Keyed by case id so that all tasks of one case stay in order on one partition."""

    event_type: ClassVar[str] = "gov.dispatch.task.assigned"
    key_field: ClassVar[str] = "case_id"

    task_id: UUID
    case_id: UUID
    case_number: str
    matter_code: str
    target: TaskTarget
    assignee: str | None = Field(default=None, description="Grid worker id or department code, when known.")
    grid_code: str | None = None
    description: str
    location: Location | None = None
    address: str | None = None
    priority: str = Field(default="normal", description="normal or urgent.")
    due_at: datetime
    assigned_at: datetime
    kind: TaskKind = Field(
        default=TaskKind.HANDLING, description="handling, or return_visit: ask the resident after the case closed."
    )


class TaskReassigned(Event):
    """A centre handed a task to another holder (another worker, another target), or reopened a
    failed one. The previous holder closes its file; the new one opens its own from the case
    fields carried here (the same as TaskAssigned's)."""

    event_type: ClassVar[str] = "gov.dispatch.task.reassigned"
    key_field: ClassVar[str] = "case_id"

    task_id: UUID
    case_id: UUID
    target: TaskTarget
    assignee: str | None = None
    reason: str
    reassigned_at: datetime
    # Optional (added in 1.x): what the receiving service needs to open its file.
    previous_target: TaskTarget | None = Field(default=None, description="Who held the task before.")
    case_number: str | None = None
    matter_code: str | None = None
    grid_code: str | None = None
    description: str | None = None
    location: Location | None = None
    address: str | None = None
    priority: str | None = Field(default=None, description="normal or urgent.")
    due_at: datetime | None = Field(default=None, description="The task's deadline after the reassignment.")


class TaskEscalated(Event):
    """A task missed its deadline; the next level's centre supervises it with a new deadline."""

    event_type: ClassVar[str] = "gov.dispatch.task.escalated"
    key_field: ClassVar[str] = "case_id"

    task_id: UUID
    case_id: UUID
    from_level: Level
    to_level: Level
    centre_code: str
    due_at: datetime
    escalated_at: datetime


class TaskCancelled(Event):
    """A centre cancelled the task, or its whole case was cancelled: every holder closes its
    file (no result goes back to dispatch)."""

    event_type: ClassVar[str] = "gov.dispatch.task.cancelled"
    key_field: ClassVar[str] = "case_id"

    task_id: UUID
    case_id: UUID
    reason: str
    cancelled_at: datetime
    # Optional (added in 1.x).
    target: TaskTarget | None = Field(default=None, description="Who held the task.")
    cancelled_by: str | None = Field(default=None, description="The subject of the credential that cancelled.")
    case_cancelled: bool = Field(default=False, description="True when the whole case was cancelled.")


class TaskCompleted(Event):
    """A grid worker or a department ended its task over dispatch's REST API (mediation and
    policing report their own ends on their task-results topics), with the references of the
    photos taken on site (dispatch keeps them: ``GET /v1/photos/{photo_id}``)."""

    event_type: ClassVar[str] = "gov.dispatch.task.completed"
    key_field: ClassVar[str] = "case_id"

    task_id: UUID
    case_id: UUID
    target: TaskTarget
    outcome: TaskOutcome
    summary: str = Field(max_length=2000, description="What was done; no personal data.")
    referral_to: str | None = None
    completed_by: str = Field(description="The subject of the credential that completed the task.")
    completed_at: datetime
    photo_ids: list[UUID] = Field(
        default_factory=list, max_length=50, description="The task's photos, in upload order (dispatch serves them)."
    )


class ReturnVisitRecorded(Event):
    """The grid worker's answer to a return-visit task (回访): whether the resident was
    reached and, if so, how satisfied they are. The case stays closed."""

    event_type: ClassVar[str] = "gov.dispatch.case.return-visit-recorded"
    key_field: ClassVar[str] = "case_id"

    case_id: UUID
    task_id: UUID
    reached: bool = Field(description="Whether the resident was reached.")
    satisfaction: int | None = Field(default=None, ge=1, le=5, description="The resident's rating, when reached.")
    comment: str | None = Field(default=None, max_length=2000)
    visited_by: str = Field(description="The credential's subject that recorded the visit.")
    visited_at: datetime
