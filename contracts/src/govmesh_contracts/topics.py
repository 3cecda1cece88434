"""The topic registry: every topic of the mesh, its one producer, key and events.

Topic names follow ``<service>.<aggregate>.v<N>``; dead letters of a topic go to
``<topic>.dlq``. A topic has exactly one producing service.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from govmesh_contracts.events import CaseDispatched, CaseReceived, Event

DLQ_SUFFIX = ".dlq"


class Topic(BaseModel):
    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    producer: str = Field(description="The one service that writes this topic.")
    key: str = Field(description="What the Kafka key is; all events of one key stay in order.")
    partitions: int = Field(ge=1)
    events: tuple[type[Event], ...]
    description: str

    @property
    def dlq(self) -> str:
        return self.name + DLQ_SUFFIX


TOPICS: tuple[Topic, ...] = (
    Topic(
        name="intake.cases.v1",
        producer="intake",
        key="case id (UUID)",
        partitions=6,
        events=(CaseReceived,),
        description="Cases accepted at the one door.",
    ),
    Topic(
        name="dispatch.cases.v1",
        producer="dispatch",
        key="case id (UUID)",
        partitions=6,
        events=(CaseDispatched,),
        description="The case's life in coordinated handling: dispatched, escalated, resolved, closed.",
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


def all_topic_names(*, with_dlq: bool = True) -> list[str]:
    names = [t.name for t in TOPICS]
    return names + [t.dlq for t in TOPICS] if with_dlq else names
