"""Turn events into Kafka records and back, with the CloudEvents envelope."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from govmesh_contracts.envelope import Envelope, EnvelopeError
from govmesh_contracts.events import Event
from govmesh_contracts.topics import EVENT_TYPES, topic_for

SCHEMA_BASE = "https://govmesh.example/schemas/"


class DecodeError(ValueError):
    """A record that is not a valid event of the registry (a poison message)."""


@dataclass(frozen=True)
class Record:
    topic: str
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


def envelope_for(
    event: Event,
    *,
    source: str,
    correlationid: str | None = None,
    causationid: str | None = None,
    traceparent: str | None = None,
) -> Envelope:
    return Envelope.new(
        source=source,
        type=event.event_type,
        subject=event.key(),
        dataschema=f"{SCHEMA_BASE}{event.event_type}.json",
        correlationid=correlationid,
        causationid=causationid,
        traceparent=traceparent,
    )


def encode(event: Event, envelope: Envelope) -> Record:
    return Record(
        topic=topic_for(event).name,
        key=event.key().encode(),
        value=event.model_dump_json().encode(),
        headers=envelope.to_headers(),
    )


def decode(headers: Sequence[tuple[str, bytes | None]], value: bytes | None) -> tuple[Envelope, Event]:
    try:
        envelope = Envelope.from_headers(headers)
    except EnvelopeError as exc:
        raise DecodeError(str(exc)) from exc
    cls = EVENT_TYPES.get(envelope.type)
    if cls is None:
        raise DecodeError(f"unknown event type {envelope.type!r}")
    if value is None:
        raise DecodeError("empty value")
    try:
        return envelope, cls.model_validate(json.loads(value))
    except (ValueError, ValidationError, RecursionError) as exc:  # RecursionError: JSON nested too deep
        raise DecodeError(f"payload is not a valid {envelope.type}: {exc}") from exc
