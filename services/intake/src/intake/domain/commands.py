"""Commands intake accepts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from govmesh_contracts import CancelReason
from intake.domain.cases import Channel
from intake.domain.taxonomy import AttributeValue


@dataclass(frozen=True)
class Reporter:
    """Personal data: kept in intake only, never in events or logs."""

    name: str | None = None
    phone: str | None = None
    id_number: str | None = None

    def is_empty(self) -> bool:
        return not (self.name or self.phone or self.id_number)

    def fields(self) -> list[str]:
        """The personal fields given, as the audit log names them."""
        given = {"name": self.name, "phone": self.phone, "id_number": self.id_number}
        return [f"reporter.{name}" for name, value in given.items() if value]


@dataclass(frozen=True)
class AcceptCase:
    matter_code: str
    description: str
    channel: Channel
    lat: float | None = None
    lon: float | None = None
    address: str | None = None
    idempotency_key: str | None = None
    reporter: Reporter | None = None
    attachments: tuple[str, ...] = ()
    attributes: dict[str, AttributeValue] = field(default_factory=dict)
    source_ref: str | None = None  # e.g. the camera channel id of a video alarm
    received_at: datetime | None = None  # when the matter happened, if not now (video alarms)
    grid_code: str | None = None  # the creator's grid (a hint until dispatch locates the case)
    priority: str = "normal"  # urgent: a camera alarm of GB/T 28181 priority 1 or 2
    # The caller's places: a report is linked only to an open case they may see (empty = everywhere).
    places: tuple[str, ...] = ()


@dataclass(frozen=True)
class GiveFeedback:
    satisfaction: int
    solved: bool
    comment: str | None = None


@dataclass(frozen=True)
class CancelCase:
    reason: CancelReason
    by: str  # the subject of the centre's credential, never a body field
    merged_into: UUID | None = None
    note: str | None = None
