"""Events produced by policing (社区警务): the life of a police task in a community police room.

A police task comes from a dispatch task (target=policing), a video alarm or a violence
risk flagged by mediation. All events are keyed by the police task id. No personal data:
officers appear by their staff id only, never by name or phone.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from govmesh_contracts.events.base import Event
from govmesh_contracts.events.common import TaskOutcome


class PoliceTaskSource(StrEnum):
    """Where a police task came from."""

    DISPATCH = "dispatch"  # a TaskAssigned with target=policing (source_ref = dispatch task id)
    VIDEO_ALARM = "video_alarm"  # a VideoAlarmRaised (source_ref = alarm id)
    VIOLENCE_RISK = "violence_risk"  # a ViolenceRiskFlagged (source_ref = dispute id)


class PoliceTaskOpened(Event):
    """A police task was opened and routed to the room owning its grid (and an on-duty officer, if any)."""

    event_type: ClassVar[str] = "gov.policing.police-task.opened"
    key_field: ClassVar[str] = "police_task_id"

    police_task_id: UUID
    source: PoliceTaskSource
    source_ref: str = Field(description="Id of what caused the task: dispatch task id, alarm id or dispute id.")
    case_id: UUID | None = Field(default=None, description="The case, when the task belongs to one.")
    grid_code: str | None = None
    room_code: str | None = Field(default=None, description="The police room owning the grid; None if unrouted.")
    officer_id: str | None = Field(default=None, description="Staff id of the on-duty officer it went to, if any.")
    priority: str = Field(default="normal", description="normal or urgent.")
    opened_at: datetime


class PoliceTaskRouted(Event):
    """The duty desk routed (or re-routed) a task that was not yet accepted to a room."""

    event_type: ClassVar[str] = "gov.policing.police-task.routed"
    key_field: ClassVar[str] = "police_task_id"

    police_task_id: UUID
    case_id: UUID | None = Field(default=None, description="The case, when the task belongs to one.")
    room_code: str
    officer_id: str | None = Field(default=None, description="Staff id of the on-duty officer it went to, if any.")
    previous_room_code: str | None = None
    routed_at: datetime


class PoliceTaskAccepted(Event):
    """An officer of the room accepted the task (接警)."""

    event_type: ClassVar[str] = "gov.policing.police-task.accepted"
    key_field: ClassVar[str] = "police_task_id"

    police_task_id: UUID
    case_id: UUID | None = Field(default=None, description="The case, when the task belongs to one.")
    room_code: str
    officer_id: str
    accepted_at: datetime
    response_seconds: float = Field(ge=0, description="From the report (assigned/alarm/flag time) to acceptance.")


class PoliceTaskOnScene(Event):
    """The officer arrived on scene (到场)."""

    event_type: ClassVar[str] = "gov.policing.police-task.on-scene"
    key_field: ClassVar[str] = "police_task_id"

    police_task_id: UUID
    case_id: UUID | None = Field(default=None, description="The case, when the task belongs to one.")
    room_code: str
    officer_id: str
    on_scene_at: datetime
    arrival_seconds: float = Field(ge=0, description="From the report to arrival on scene.")


class PoliceTaskClosed(Event):
    """The task ended with an outcome. For dispatch tasks a PolicingTaskCompleted follows on
    policing.task-results.v1; ``mediated`` marks a minor dispute settled by police mediation."""

    event_type: ClassVar[str] = "gov.policing.police-task.closed"
    key_field: ClassVar[str] = "police_task_id"

    police_task_id: UUID
    source: PoliceTaskSource
    source_ref: str
    case_id: UUID | None = None
    room_code: str | None = None
    outcome: TaskOutcome
    referral_to: str | None = None
    mediated: bool = False
    summary: str = Field(max_length=2000, description="What was done; no personal data.")
    closed_at: datetime
