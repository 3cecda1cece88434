"""Policing's tables (its own database; no other service reads them)."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from govmesh_kit.clock import system_clock
from govmesh_runtime.grids import GridFields, GridVersionFields
from govmesh_runtime.types import utc_column


class TableBase(SQLModel, registry=registry()):
    """Base of this service's tables: a metadata of its own, so that two services' tables
    with the same name (e.g. ``grids``) never meet, even when imported into one process."""


class GridRow(GridFields, TableBase, table=True):
    """Reference data: a grid and its boundary (GeoJSON geometry), imported from grids.geojson
    (code and boundary: the runtime's grid store)."""

    __tablename__ = "grids"

    name: str | None = Field(default=None, max_length=200)
    community_code: str | None = Field(default=None, max_length=32)
    township_code: str | None = Field(default=None, max_length=32)
    county_code: str | None = Field(default=None, max_length=32)


class ReferenceVersionRow(GridVersionFields, TableBase, table=True):
    """Bumped by every import, so each process knows when to rebuild its grid index."""

    __tablename__ = "reference_version"


class RoomRow(TableBase, table=True):
    """A community police room (社区警务室)."""

    __tablename__ = "police_rooms"

    room_code: str = Field(max_length=32, primary_key=True)
    name: str = Field(max_length=200)
    county_code: str = Field(max_length=32, index=True)


class RoomGridRow(TableBase, table=True):
    """A grid of a room's jurisdiction; the primary key makes a grid belong to one room only."""

    __tablename__ = "room_grids"

    grid_code: str = Field(max_length=32, primary_key=True)
    room_code: str = Field(max_length=32, foreign_key="police_rooms.room_code", index=True)


class OfficerRow(TableBase, table=True):
    """A community police officer or auxiliary of a room, with the duty roster flag."""

    __tablename__ = "officers"

    officer_id: str = Field(max_length=32, primary_key=True)
    room_code: str = Field(max_length=32, foreign_key="police_rooms.room_code", index=True)
    name: str = Field(max_length=100)
    role: str = Field(max_length=16)
    on_duty: bool = False


class DutyShiftRow(TableBase, table=True):
    """A shift of the room's duty roster (值班表). An officer with shifts is on duty only during them."""

    __tablename__ = "duty_shifts"
    __table_args__ = (sa.Index("ix_duty_shifts_officer_time", "officer_id", "starts_at", "ends_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    room_code: str = Field(max_length=32, index=True)
    officer_id: str = Field(max_length=32)
    starts_at: datetime = Field(sa_column=utc_column())
    ends_at: datetime = Field(sa_column=utc_column())


class PoliceTaskRow(TableBase, table=True):
    __tablename__ = "police_tasks"
    __table_args__ = (
        sa.UniqueConstraint("source", "source_ref", name="uq_police_task_source"),
        sa.Index("ix_police_tasks_room_status", "room_code", "status"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    source: str = Field(max_length=32)
    source_ref: str = Field(max_length=64)
    case_id: uuid.UUID | None = Field(default=None, index=True)
    dispatch_task_id: uuid.UUID | None = None
    case_number: str | None = Field(default=None, max_length=64)
    matter_code: str | None = Field(default=None, max_length=64)
    description: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    grid_code: str | None = Field(default=None, max_length=32)
    lat: float | None = None
    lon: float | None = None
    address: str | None = Field(default=None, max_length=500)
    room_code: str | None = Field(default=None, max_length=32)
    officer_id: str | None = Field(default=None, max_length=32, index=True)
    priority: str = Field(default="normal", max_length=16)
    status: str = Field(max_length=16)
    reported_at: datetime = Field(sa_column=utc_column())
    opened_at: datetime = Field(sa_column=utc_column())
    due_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    escalated_to: str | None = Field(default=None, max_length=32, description="Centre supervising it after escalation.")
    accepted_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    on_scene_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    outcome: str | None = Field(default=None, max_length=16)
    referral_to: str | None = Field(default=None, max_length=64)
    mediated: bool = False
    summary: str | None = Field(default=None, max_length=2000)


class PatrolRow(TableBase, table=True):
    """A patrol (巡逻) of a grid by an officer of the room."""

    __tablename__ = "patrols"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    room_code: str = Field(max_length=32, index=True)
    grid_code: str = Field(max_length=32, index=True)
    officer_id: str = Field(max_length=32)
    started_at: datetime = Field(sa_column=utc_column())
    ended_at: datetime = Field(sa_column=utc_column())
    note: str | None = Field(default=None, max_length=2000)


class VisitRow(TableBase, table=True):
    """A visit (走访) in a grid: households, shops, key places."""

    __tablename__ = "visits"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    room_code: str = Field(max_length=32, index=True)
    grid_code: str = Field(max_length=32, index=True)
    officer_id: str = Field(max_length=32)
    kind: str = Field(max_length=32)
    visited_at: datetime = Field(sa_column=utc_column())
    note: str | None = Field(default=None, max_length=2000)


class KeyPersonRow(TableBase, table=True):
    """A key person (重点人员) of a room's jurisdiction; visible with the policing scope only."""

    __tablename__ = "key_persons"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    room_code: str = Field(max_length=32, index=True)
    grid_code: str = Field(max_length=32)
    category: str = Field(max_length=64)
    name: str = Field(max_length=100)
    note: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=system_clock, sa_column=utc_column())


class KeyPlaceRow(TableBase, table=True):
    """A key place (重点场所) of a room's jurisdiction; visible with the policing scope only."""

    __tablename__ = "key_places"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    room_code: str = Field(max_length=32, index=True)
    grid_code: str = Field(max_length=32)
    category: str = Field(max_length=64)
    name: str = Field(max_length=200)
    address: str | None = Field(default=None, max_length=500)
    lat: float | None = None
    lon: float | None = None
    note: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=system_clock, sa_column=utc_column())
