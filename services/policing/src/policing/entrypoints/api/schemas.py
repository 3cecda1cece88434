"""API models of policing."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from policing.domain.jurisdiction import OfficerRole
from policing.domain.tasks import MediationResult, Outcome


class ReferenceImport(BaseModel):
    """The city generator's files: grids.geojson and/or police_rooms.json (as parsed JSON)."""

    model_config = ConfigDict(extra="forbid")

    grids: dict[str, Any] | None = Field(default=None, description="grids.geojson: a GeoJSON FeatureCollection.")
    police_rooms: list[Any] | None = Field(default=None, description="police_rooms.json: a list of rooms.")

    @model_validator(mode="after")
    def _something(self) -> ReferenceImport:
        if self.grids is None and self.police_rooms is None:
            raise ValueError("give grids, police_rooms or both")
        return self


class ImportResult(BaseModel):
    grids: int
    rooms: int
    officers: int
    auxiliaries: int


class CardOfficer(BaseModel):
    officer_id: str
    name: str
    role: OfficerRole


class OfficerPublic(CardOfficer):
    on_duty: bool = Field(description="On duty now: by the roster's shifts if the officer has any, else by the flag.")
    scheduled: bool = Field(description="True when shifts in the roster decide this officer's duty.")


class RoomSummary(BaseModel):
    room_code: str
    name: str
    county_code: str


class RoomPublic(RoomSummary):
    grid_codes: list[str]
    officers: list[OfficerPublic]


class Roster(BaseModel):
    room_code: str
    officers: list[OfficerPublic]


class RosterUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    on_duty: list[str] = Field(description="Officer ids on duty now; every other officer of the room is off duty.")


class PoliceTaskPublic(BaseModel):
    id: uuid.UUID
    source: str
    source_ref: str
    case_id: uuid.UUID | None
    case_number: str | None
    matter_code: str | None
    description: str | None
    grid_code: str | None
    lat: float | None
    lon: float | None
    address: str | None
    room_code: str | None
    officer_id: str | None
    priority: str
    status: str
    reported_at: datetime
    opened_at: datetime
    due_at: datetime | None
    escalated_to: str | None
    accepted_at: datetime | None
    on_scene_at: datetime | None
    closed_at: datetime | None
    outcome: str | None
    referral_to: str | None
    mediated: bool
    summary: str | None


class AcceptBody(BaseModel):
    """Empty: who accepts is the credential's subject (an officer of the room), or, for the
    duty desk, the officer the task was routed to — never a field of the body."""

    model_config = ConfigDict(extra="forbid")


class RouteBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    room_code: str = Field(min_length=1, max_length=32, description="The room that must act.")


class CloseBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Outcome
    summary: str = Field(min_length=1, max_length=2000, description="What was done; no personal data.")
    referral_to: str | None = Field(default=None, max_length=64, description="With outcome referred: to whom.")


class MediationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    result: MediationResult
    summary: str | None = Field(default=None, max_length=1500)


class ResponseTimes(BaseModel):
    room_code: str
    since: datetime | None
    tasks: int
    open: int
    accepted: int
    on_scene: int
    closed: int
    mean_response_s: float | None = Field(description="Report → accepted, seconds.")
    median_response_s: float | None
    p90_response_s: float | None
    mean_arrival_s: float | None = Field(description="Report → on scene, seconds.")
    median_arrival_s: float | None
    p90_arrival_s: float | None


class ContactCard(BaseModel):
    """警民联系卡: the community police room and officers for a place."""

    grid_code: str
    grid_name: str | None
    room_code: str
    room_name: str
    community_officers: list[CardOfficer] = Field(description="The room's community police officers (民警).")
    auxiliaries: list[CardOfficer]


class ShiftCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    officer_id: str = Field(min_length=1, max_length=32)
    starts_at: datetime
    ends_at: datetime

    @model_validator(mode="after")
    def _aware(self) -> ShiftCreate:
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError("starts_at and ends_at must carry a time zone")
        return self


class ShiftsCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shifts: list[ShiftCreate] = Field(min_length=1, max_length=1000)


class ShiftPublic(ShiftCreate):
    id: uuid.UUID
    room_code: str


class PatrolCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grid_code: str = Field(min_length=1, max_length=32)
    officer_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=32,
        description="Who patrolled: the caller (its credential's subject) when absent; another officer's "
        "patrol only with tasks:manage.",
    )
    started_at: datetime
    ended_at: datetime
    note: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _order(self) -> PatrolCreate:
        if self.started_at.tzinfo is None or self.ended_at.tzinfo is None:
            raise ValueError("started_at and ended_at must carry a time zone")
        if self.ended_at < self.started_at:
            raise ValueError("ended_at must not be before started_at")
        return self


class PatrolPublic(PatrolCreate):
    id: uuid.UUID
    room_code: str
    officer_id: str


class VisitCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grid_code: str = Field(min_length=1, max_length=32)
    officer_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=32,
        description="Who visited: the caller (its credential's subject) when absent; another officer's visit "
        "only with tasks:manage.",
    )
    kind: str = Field(min_length=1, max_length=32, examples=["household", "shop", "key_place", "key_person"])
    visited_at: datetime
    note: str | None = Field(default=None, max_length=2000)

    @model_validator(mode="after")
    def _aware(self) -> VisitCreate:
        if self.visited_at.tzinfo is None:
            raise ValueError("visited_at must carry a time zone")
        return self


class VisitPublic(VisitCreate):
    id: uuid.UUID
    room_code: str
    officer_id: str


class KeyPersonCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grid_code: str = Field(min_length=1, max_length=32)
    category: str = Field(min_length=1, max_length=64, examples=["community_correction", "mental_health"])
    name: str = Field(min_length=1, max_length=100)
    note: str | None = Field(default=None, max_length=2000)


class KeyPersonPublic(KeyPersonCreate):
    id: uuid.UUID
    room_code: str
    created_at: datetime


class KeyPlaceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grid_code: str = Field(min_length=1, max_length=32)
    category: str = Field(min_length=1, max_length=64, examples=["school", "hospital", "market", "hazardous_goods"])
    name: str = Field(min_length=1, max_length=200)
    address: str | None = Field(default=None, max_length=500)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    note: str | None = Field(default=None, max_length=2000)


class KeyPlacePublic(KeyPlaceCreate):
    id: uuid.UUID
    room_code: str
    created_at: datetime
