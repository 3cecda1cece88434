"""VideoBridge's tables (its own database; no other service reads them)."""

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


class DeviceRow(TableBase, table=True):
    """A GB/T 28181 device (NVR, IPC, platform): registration, address, liveness."""

    __tablename__ = "devices"

    device_id: str = Field(max_length=20, primary_key=True)
    type_code: str = Field(max_length=3)
    known: bool = Field(default=False, description="Imported or configured, not only seen.")
    sip_ha1: str | None = Field(default=None, max_length=32, description="Own digest secret: MD5(id:realm:password).")
    name: str | None = Field(default=None, max_length=200)
    manufacturer: str | None = Field(default=None, max_length=100)
    model: str | None = Field(default=None, max_length=100)
    firmware: str | None = Field(default=None, max_length=100)
    transport: str | None = Field(default=None, max_length=3)
    host: str | None = Field(default=None, max_length=64)
    port: int | None = None
    registered: bool = False
    online: bool = Field(default=False, index=True)
    register_expires_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    registered_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    last_seen_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True, index=True))
    last_keepalive_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    catalog_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    info_json: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    status_json: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    updated_at: datetime = Field(default_factory=system_clock, sa_column=utc_column())


class ChannelRow(TableBase, table=True):
    """A video channel (camera) of a device, where it is and whether it is online."""

    __tablename__ = "channels"

    channel_id: str = Field(max_length=20, primary_key=True)
    device_id: str = Field(max_length=20, index=True)
    name: str | None = Field(default=None, max_length=200)
    manufacturer: str | None = Field(default=None, max_length=100)
    model: str | None = Field(default=None, max_length=100)
    civil_code: str | None = Field(default=None, max_length=20, index=True)
    address: str | None = Field(default=None, max_length=300)
    parent_id: str | None = Field(default=None, max_length=20)
    status: str = Field(default="OFF", max_length=16)
    online: bool = Field(default=False, index=True)
    lat: float | None = Field(default=None, index=True)
    lon: float | None = None
    grid_code: str | None = Field(default=None, max_length=32, index=True)
    grid_source: str | None = Field(default=None, max_length=16, description="coordinates | configuration")
    offline_since: datetime | None = Field(
        default=None,
        sa_column=utc_column(nullable=True, index=True),
        description="When it went from online to offline.",
    )
    updated_at: datetime = Field(default_factory=system_clock, sa_column=utc_column())


class GridRow(GridFields, TableBase, table=True):
    """A grid's boundary (GeoJSON geometry), imported from grids.geojson (columns: the runtime's grid store)."""

    __tablename__ = "grids"

    imported_at: datetime = Field(default_factory=system_clock, sa_column=utc_column())


class ReferenceVersionRow(GridVersionFields, TableBase, table=True):
    """Bumped by every grid import, so each process knows when to rebuild its grid index."""

    __tablename__ = "reference_version"


class AlarmRow(TableBase, table=True):
    """An alarm taken in (SIP or webhook); dedupe_key makes a retransmission one alarm."""

    __tablename__ = "alarms"

    alarm_id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    dedupe_key: str = Field(max_length=200, unique=True)
    channel_id: str = Field(max_length=20, index=True)
    device_id: str = Field(max_length=20)
    source: str = Field(max_length=16)
    priority: int
    method: str = Field(max_length=8)
    alarm_type: str | None = Field(default=None, max_length=32)
    grid_code: str | None = Field(default=None, max_length=32)
    lat: float | None = None
    lon: float | None = None
    alarm_time: datetime = Field(sa_column=utc_column())
    received_at: datetime = Field(default_factory=system_clock, sa_column=utc_column())


class EvidenceRow(TableBase, table=True):
    """An evidence request for a case and what it found."""

    __tablename__ = "evidence"

    evidence_id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    case_id: uuid.UUID = Field(index=True)
    lat: float
    lon: float
    radius_m: float
    window_start: datetime = Field(sa_column=utc_column())
    window_end: datetime = Field(sa_column=utc_column())
    channel_ids: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    recordings_json: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    unanswered_json: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    attached_at: datetime = Field(default_factory=system_clock, sa_column=utc_column())
    requested_by: str | None = Field(default=None, max_length=200)


class ChannelFaultRow(TableBase, table=True):
    """An outage of a channel longer than the fault threshold (a maintenance case at intake).

    ``open_channel_id`` is the channel id while the fault is open and NULL once cleared: its
    unique index lets a channel have one open fault at a time, whatever runs the check."""

    __tablename__ = "channel_faults"

    fault_id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    channel_id: str = Field(max_length=20, index=True)
    open_channel_id: str | None = Field(default=None, max_length=20, unique=True)
    device_id: str = Field(max_length=20)
    offline_since: datetime = Field(sa_column=utc_column())
    opened_at: datetime = Field(sa_column=utc_column())
    cleared_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    clear_reason: str | None = Field(default=None, max_length=16)


class KnownCaseRow(TableBase, table=True):
    """What the bridge learnt of a case from its CaseReceived: where and when, so evidence is
    searched around the case's own place and time (a caller names only the case), and whether
    the bridge searches by itself (``evidence_due_at``: once the window has passed)."""

    __tablename__ = "cases"

    case_id: uuid.UUID = Field(primary_key=True)
    matter_code: str = Field(max_length=64)
    channel: str = Field(max_length=32)
    lat: float | None = None
    lon: float | None = None
    grid_code: str | None = Field(default=None, max_length=32, index=True)
    received_at: datetime = Field(sa_column=utc_column(index=True))
    evidence_due_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True, index=True))
    evidence_claimed_until: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    evidence_attempts: int = 0
    evidence_done_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
