"""Mediation sessions (调解会): time slots and conflict detection (mediator, room, parties)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from mediation.domain.disputes import DisputeRuleError

MAX_SESSION = timedelta(hours=8)


class SessionStatus(StrEnum):
    SCHEDULED = "scheduled"
    HELD = "held"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class SessionSlot:
    """What a session occupies: a mediator, a room of a studio and the parties, for a time."""

    starts_at: datetime
    ends_at: datetime
    mediator_id: str
    studio_id: str
    room: str
    party_keys: frozenset[str] = field(default_factory=frozenset)
    session_id: UUID | None = None

    def overlaps(self, other: SessionSlot) -> bool:
        return self.starts_at < other.ends_at and other.starts_at < self.ends_at


@dataclass(frozen=True)
class Conflict:
    kind: str  # mediator, room or party
    session_id: UUID | None
    starts_at: datetime
    ends_at: datetime

    def describe(self) -> str:
        what = {
            "mediator": "the mediator is already in session",
            "room": "the room is already booked",
            "party": "a party is already due at another session",
        }[self.kind]
        return f"{what} {self.starts_at.isoformat()}–{self.ends_at.isoformat()} (session {self.session_id})"


def check_slot(slot: SessionSlot, now: datetime, rooms: list[str]) -> None:
    if slot.ends_at <= slot.starts_at:
        raise DisputeRuleError("ends_at", "must be after starts_at")
    if slot.ends_at - slot.starts_at > MAX_SESSION:
        raise DisputeRuleError("ends_at", "a session lasts at most 8 hours")
    if slot.starts_at < now:
        raise DisputeRuleError("starts_at", "is in the past")
    if rooms and slot.room not in rooms:
        raise DisputeRuleError("room", f"the studio has no room {slot.room!r} (rooms: {', '.join(rooms)})")


def find_conflicts(slot: SessionSlot, booked: list[SessionSlot]) -> list[Conflict]:
    """Every scheduled session that overlaps the slot and shares its mediator, room or a party."""
    conflicts: list[Conflict] = []
    for other in booked:
        if other.session_id is not None and other.session_id == slot.session_id:
            continue
        if not slot.overlaps(other):
            continue
        if other.mediator_id == slot.mediator_id:
            conflicts.append(Conflict("mediator", other.session_id, other.starts_at, other.ends_at))
        if other.studio_id == slot.studio_id and other.room == slot.room:
            conflicts.append(Conflict("room", other.session_id, other.starts_at, other.ends_at))
        if slot.party_keys & other.party_keys:
            conflicts.append(Conflict("party", other.session_id, other.starts_at, other.ends_at))
    return conflicts
