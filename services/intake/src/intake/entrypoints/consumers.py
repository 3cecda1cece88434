"""What intake consumes: every case-related topic (for the resident-facing timeline), the
video bridge's alarms (which become cases) and its camera faults (maintenance cases)."""

from __future__ import annotations

from govmesh_runtime.consumer import ConsumerSpec
from intake.handlers.alarms import alarm_handlers, fault_handlers
from intake.handlers.timeline import timeline_handlers
from intake.settings import IntakeSettings

TIMELINE_TOPICS = (
    "dispatch.cases.v1",
    "dispatch.tasks.v1",
    "mediation.task-results.v1",
    "mediation.disputes.v1",
    "policing.task-results.v1",
    "policing.police-tasks.v1",
    "video.evidence.v1",
)


def consumer_specs(settings: IntakeSettings) -> list[ConsumerSpec]:
    return [
        ConsumerSpec(name="intake-timeline", topics=TIMELINE_TOPICS, handlers=timeline_handlers()),
        ConsumerSpec(name="intake-video-alarms", topics=("video.alarms.v1",), handlers=alarm_handlers(settings)),
        # dead cameras: a maintenance case per outage, cleared when the camera is back
        ConsumerSpec(name="intake-video-faults", topics=("video.faults.v1",), handlers=fault_handlers(settings)),
    ]
