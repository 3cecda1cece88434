"""Contracts of the community-governance event mesh.

Install this package alone to read or write the mesh's Kafka topics: it holds the
CloudEvents envelope, the topic registry and every event model.
"""

from govmesh_contracts.codec import DecodeError, Record, decode, encode, envelope_for
from govmesh_contracts.envelope import Envelope, EnvelopeError
from govmesh_contracts.events import *  # noqa: F403  (every event model)
from govmesh_contracts.events import __all__ as _events
from govmesh_contracts.topics import EVENT_TYPES, TOPICS, Topic, all_topic_names, topic, topic_for

__all__ = [
    *_events,
    "EVENT_TYPES",
    "TOPICS",
    "DecodeError",
    "Envelope",
    "EnvelopeError",
    "Record",
    "Topic",
    "all_topic_names",
    "decode",
    "encode",
    "envelope_for",
    "topic",
    "topic_for",
]
