"""CloudEvents 1.0 envelope carried as Kafka headers (Kafka protocol binding, binary mode).

The event payload is the Kafka value (JSON); every CloudEvents attribute is a header
with the ``ce_`` prefix. Extensions used by the mesh: ``correlationid`` (the first
event of a chain), ``causationid`` (the event that caused this one) and W3C
``traceparent`` (the CloudEvents distributed-tracing extension, ``ce_traceparent``). The same
trace context also travels as a plain W3C ``traceparent`` header, the one OpenTelemetry's Kafka
instrumentations read and write; a record with only that header (from such a producer) keeps
its trace. ``time`` is optional, as CloudEvents says; the mesh always sets it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
HEADER_PREFIX = "ce_"
W3C_TRACEPARENT = "traceparent"
# W3C trace context: version-traceid-parentid-flags, lowercase hex.
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


class EnvelopeError(ValueError):
    """A Kafka record whose headers are not a valid CloudEvent."""


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("time must be timezone-aware")
    return value.astimezone(UTC)


class Envelope(BaseModel):
    """The CloudEvents attributes of one event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=200, description="Unique per event; the inbox dedupes on it.")
    source: str = Field(min_length=1, description="URI-reference of the producer, e.g. /govmesh/intake.")
    type: str = Field(min_length=1, description="Stable, namespaced event type, e.g. gov.intake.case.received.")
    specversion: str = SPEC_VERSION
    time: Annotated[datetime, AfterValidator(_utc)] | None = None
    subject: str | None = Field(default=None, description="Aggregate id the event is about (also the Kafka key).")
    datacontenttype: str = CONTENT_TYPE
    dataschema: str | None = None
    correlationid: str | None = None
    causationid: str | None = None
    traceparent: str | None = None

    @classmethod
    def new(
        cls,
        *,
        source: str,
        type: str,
        subject: str | None = None,
        dataschema: str | None = None,
        correlationid: str | None = None,
        causationid: str | None = None,
        traceparent: str | None = None,
    ) -> Envelope:
        event_id = str(uuid.uuid4())
        return cls(
            id=event_id,
            source=source,
            type=type,
            time=datetime.now(UTC),
            subject=subject,
            dataschema=dataschema,
            # A chain starts with its own id as correlation id.
            correlationid=correlationid or event_id,
            causationid=causationid,
            traceparent=traceparent if traceparent and _TRACEPARENT.match(traceparent) else None,
        )

    def to_headers(self) -> list[tuple[str, bytes]]:
        headers: list[tuple[str, bytes]] = []
        for name, value in self.model_dump(mode="json", exclude_none=True).items():
            if name == "datacontenttype":
                # The binding maps datacontenttype to the Kafka content-type header.
                headers.append(("content-type", str(value).encode()))
            else:
                headers.append((HEADER_PREFIX + name, str(value).encode()))
        if self.traceparent is not None:
            headers.append((W3C_TRACEPARENT, self.traceparent.encode()))
        return headers

    @classmethod
    def from_headers(cls, headers: Sequence[tuple[str, bytes | None]]) -> Envelope:
        attrs: dict[str, str] = {}
        plain_traceparent: str | None = None
        try:
            for name, raw in headers:
                if raw is None:  # Kafka allows null header values; treat as absent
                    continue
                if name.startswith(HEADER_PREFIX):
                    attrs[name[len(HEADER_PREFIX) :]] = raw.decode("utf-8")
                elif name == "content-type":
                    attrs["datacontenttype"] = raw.decode("utf-8")
                elif name == W3C_TRACEPARENT:
                    plain_traceparent = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise EnvelopeError(f"header is not UTF-8: {exc}") from exc
        # W3C trace context: a receiver ignores a traceparent it cannot parse (as new() does).
        if "traceparent" in attrs and not _TRACEPARENT.match(attrs["traceparent"]):
            del attrs["traceparent"]
        if "traceparent" not in attrs and plain_traceparent and _TRACEPARENT.match(plain_traceparent):
            attrs["traceparent"] = plain_traceparent
        if attrs.get("specversion") != SPEC_VERSION:
            raise EnvelopeError(f"ce_specversion must be {SPEC_VERSION!r}, got {attrs.get('specversion')!r}")
        known = set(cls.model_fields)
        try:
            return cls.model_validate({k: v for k, v in attrs.items() if k in known})
        except ValidationError as exc:
            raise EnvelopeError(f"invalid CloudEvents headers: {exc.errors(include_url=False)}") from exc
