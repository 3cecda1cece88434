"""The topic registry: every topic of the mesh, its one producer, key and events.

Topic names follow ``<namespace>.<aggregate>.v<N>``, the namespace being the producing
service's name (``video`` for the video bridge); dead letters of a topic go to
``<topic>.dlq``. A topic has exactly one producing service.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from govmesh_contracts.events import (
    AgreementReached,
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
    ChannelStatusChanged,
    DisputeClosed,
    DisputeFlaggedLate,
    DisputeOpened,
    DisputeReferred,
    Event,
    EvidenceAttached,
    FollowUpVisitRecorded,
    JudicialConfirmationApplied,
    JudicialConfirmationLapsed,
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
    TaskCompleted,
    TaskEscalated,
    TaskReassigned,
    VideoAlarmRaised,
    ViolenceRiskFlagged,
)

DLQ_SUFFIX = ".dlq"
# Kafka's own default record size limit (the producer's max.request.size; a broker's message.max.bytes
# is 1 MiB + 12 bytes): what every topic of the mesh is created with unless it says otherwise.
DEFAULT_MAX_MESSAGE_BYTES = 1_048_576
# A dead letter is the original record plus the dlq_* headers (the reason is cut at 2,000 bytes):
# its topic takes this much more, so any record its topic accepted fits.
DLQ_HEADROOM_BYTES = 65_536


class Topic(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    producer: str = Field(description="The one service that writes this topic.")
    key: str = Field(description="What the Kafka key is; all events of one key stay in order.")
    partitions: int = Field(ge=1)
    events: tuple[type[Event], ...]
    description: str
    consumers: tuple[str, ...] = Field(
        default=(),
        description="The services that consume this topic (their consumer groups are named <service>-…);"
        " the broker's ACLs let them, and only them, read it.",
    )
    max_message_bytes: int = Field(
        default=DEFAULT_MAX_MESSAGE_BYTES,
        ge=1024,
        description="The topic's max.message.bytes: the largest record (key, value and headers, as one record"
        " batch) it takes. A producer refuses a larger event when it is written, never at publication.",
    )

    @property
    def namespace(self) -> str:
        """First part of the topic name and of its event types (gov.<namespace>.…)."""
        return self.name.split(".", 1)[0]

    @property
    def dlq(self) -> str:
        return self.name + DLQ_SUFFIX

    @property
    def dlq_max_message_bytes(self) -> int:
        return self.max_message_bytes + DLQ_HEADROOM_BYTES


TOPICS: tuple[Topic, ...] = (
    Topic(
        name="intake.cases.v1",
        producer="intake",
        consumers=("dispatch", "mediation", "policing", "video-bridge"),
        key="case id (UUID)",
        partitions=6,
        events=(CaseReceived, CaseFeedbackGiven, CaseCancelled, CasePersonalDataErased, CaseClearedAtSource),
        description="Cases accepted at the one door, the resident's feedback, their cancellation, erasures of"
        " personal data, matters cleared at their source (a camera back online).",
    ),
    Topic(
        name="dispatch.cases.v1",
        producer="dispatch",
        consumers=("intake",),
        key="case id (UUID)",
        partitions=6,
        events=(CaseDispatched, CaseEscalated, CaseResolved, CaseClosed, CaseReopened, ReturnVisitRecorded),
        description=(
            "The case's life in coordinated handling: dispatched, escalated, resolved, closed (with or without "
            "feedback), reopened, and the return visit's answer."
        ),
    ),
    Topic(
        name="dispatch.tasks.v1",
        producer="dispatch",
        consumers=("intake", "mediation", "policing"),
        key="case id (UUID)",
        partitions=6,
        events=(TaskAssigned, TaskReassigned, TaskEscalated, TaskCancelled, TaskCompleted),
        description="Tasks for those who must act on a case: grid workers, mediation, policing, departments; "
        "a grid worker's or department's end of its task (with its photos' references).",
    ),
    Topic(
        name="mediation.disputes.v1",
        producer="mediation",
        consumers=("intake", "policing"),
        key="dispute id (UUID)",
        partitions=3,
        events=(
            DisputeOpened,
            MediatorAssigned,
            MediationSessionScheduled,
            MediationSessionCancelled,
            MediationSessionHeld,
            AgreementReached,
            JudicialConfirmationApplied,
            JudicialConfirmationLapsed,
            FollowUpVisitRecorded,
            DisputeReferred,
            DisputeFlaggedLate,
            DisputeClosed,
            ViolenceRiskFlagged,
        ),
        description="The life of a dispute file in community mediation: opened, assigned, sessions (notices to the"
        " parties), agreement and judicial-confirmation window, follow-up visits, referral, late flag, closure,"
        " violence risk.",
    ),
    Topic(
        name="mediation.task-results.v1",
        producer="mediation",
        consumers=("dispatch", "intake"),
        key="case id (UUID)",
        partitions=3,
        events=(MediationTaskCompleted,),
        description="How mediation ended a dispatch task: agreement performed, referred, withdrawn.",
    ),
    Topic(
        name="policing.task-results.v1",
        producer="policing",
        consumers=("dispatch", "intake"),
        key="case id (UUID)",
        partitions=3,
        events=(PolicingTaskCompleted,),
        description="How a community police room ended a dispatch task.",
    ),
    Topic(
        name="policing.police-tasks.v1",
        producer="policing",
        consumers=("intake",),
        key="police task id (UUID)",
        partitions=3,
        events=(PoliceTaskOpened, PoliceTaskRouted, PoliceTaskAccepted, PoliceTaskOnScene, PoliceTaskClosed),
        description="The life of a police task in a community police room: opened, routed, accepted, on scene, closed.",
    ),
    Topic(
        name="video.alarms.v1",
        producer="video-bridge",
        consumers=("intake",),
        key="channel id (20 digits)",
        partitions=6,
        events=(VideoAlarmRaised,),
        description="Alarms from cameras (GB/T 28181) and video-analytics platforms, with the channel's grid.",
    ),
    Topic(
        name="video.channels.v1",
        producer="video-bridge",
        key="channel id (20 digits)",
        partitions=6,
        events=(ChannelStatusChanged,),
        description="Online/offline changes of the city's video channels.",
    ),
    Topic(
        name="video.evidence.v1",
        producer="video-bridge",
        consumers=("intake",),
        key="case id (UUID)",
        partitions=3,
        events=(EvidenceAttached,),
        description="Video evidence (channels and recording references) found for a case, for its timeline.",
    ),
    Topic(
        name="video.faults.v1",
        producer="video-bridge",
        consumers=("intake",),
        key="channel id (20 digits)",
        partitions=3,
        events=(ChannelFaultOpened, ChannelFaultCleared),
        description="Channels offline longer than the fault threshold (a maintenance matter for intake) and their"
        " return.",
    ),
)

_BY_NAME = {t.name: t for t in TOPICS}
_BY_EVENT: dict[type[Event], Topic] = {e: t for t in TOPICS for e in t.events}
EVENT_TYPES: dict[str, type[Event]] = {e.event_type: e for t in TOPICS for e in t.events}


def topic(name: str) -> Topic:
    return _BY_NAME[name]


def topic_for(event: type[Event] | Event) -> Topic:
    cls = event if isinstance(event, type) else type(event)
    return _BY_EVENT[cls]


def consumed_by(service: str) -> list[Topic]:
    return [t for t in TOPICS if service in t.consumers]


def produced_by(service: str) -> list[Topic]:
    return [t for t in TOPICS if t.producer == service]


def all_topic_names(*, with_dlq: bool = True) -> list[str]:
    names = [t.name for t in TOPICS]
    return names + [t.dlq for t in TOPICS] if with_dlq else names
