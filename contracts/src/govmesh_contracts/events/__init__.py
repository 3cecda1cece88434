"""Event models, one module per producing service."""

from govmesh_contracts.events.base import Event, Location
from govmesh_contracts.events.common import Level, TaskOutcome, TaskTarget
from govmesh_contracts.events.dispatch import (
    CaseClosed,
    CaseDispatched,
    CaseEscalated,
    CaseReopened,
    CaseResolved,
    TaskAssigned,
    TaskCancelled,
    TaskEscalated,
    TaskReassigned,
)
from govmesh_contracts.events.intake import CaseFeedbackGiven, CaseReceived
from govmesh_contracts.events.mediation import ViolenceRiskFlagged
from govmesh_contracts.events.results import MediationTaskCompleted, PolicingTaskCompleted, TaskResult
from govmesh_contracts.events.video import ChannelStatusChanged, VideoAlarmRaised

__all__ = [
    "CaseClosed",
    "CaseDispatched",
    "CaseEscalated",
    "CaseFeedbackGiven",
    "CaseReceived",
    "CaseReopened",
    "CaseResolved",
    "ChannelStatusChanged",
    "Event",
    "Level",
    "Location",
    "MediationTaskCompleted",
    "PolicingTaskCompleted",
    "TaskAssigned",
    "TaskCancelled",
    "TaskEscalated",
    "TaskOutcome",
    "TaskReassigned",
    "TaskResult",
    "TaskTarget",
    "VideoAlarmRaised",
    "ViolenceRiskFlagged",
]
