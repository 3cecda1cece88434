"""Task results: how a service that acted on a dispatch task reports its end.

One class per producer (an event type maps to exactly one class and one topic), all
with the same fields, so dispatch treats them alike."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from govmesh_contracts.events.base import Event
from govmesh_contracts.events.common import TaskOutcome


class TaskResult(Event):
    """Fields of every task result (not registered itself)."""

    key_field: ClassVar[str] = "case_id"

    task_id: UUID
    case_id: UUID
    outcome: TaskOutcome
    summary: str = Field(max_length=2000, description="What was done; no personal data.")
    referral_to: str | None = Field(
        default=None, description="With outcome=referred: mediation, policing, court, legal_aid or a department code."
    )
    completed_at: datetime


class MediationTaskCompleted(TaskResult):
    event_type: ClassVar[str] = "gov.mediation.task.completed"


class PolicingTaskCompleted(TaskResult):
    event_type: ClassVar[str] = "gov.policing.task.completed"
