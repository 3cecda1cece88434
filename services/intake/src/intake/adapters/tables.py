"""Intake's tables (its own database; no other service reads them)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from govmesh_kit.clock import system_clock
from govmesh_runtime.types import utc_column


class TableBase(SQLModel, registry=registry()):
    """Base of this service's tables: a metadata of its own, so that two services' tables
    with the same name (e.g. ``grids``) never meet, even when imported into one process."""


def _ts(nullable: bool = False) -> sa.Column[datetime]:
    return utc_column(nullable=nullable)


class CaseRow(TableBase, table=True):
    __tablename__ = "cases"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    case_number: str = Field(max_length=32, unique=True)
    matter_code: str = Field(max_length=64, index=True)
    channel: str = Field(max_length=32)
    description: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    lat: float | None = None
    lon: float | None = None
    address: str | None = Field(default=None, max_length=500)
    status: str = Field(max_length=32, index=True)
    handled_by: str | None = Field(default=None, max_length=100)
    # The grid the case is in: the creator's hint, then where dispatch located it. Callers
    # bound to places see a case only through it (an unlocated case: unbound callers only).
    grid_code: str | None = Field(default=None, max_length=15, index=True)
    received_at: datetime = Field(default_factory=system_clock, sa_column=_ts())
    updated_at: datetime = Field(default_factory=system_clock, sa_column=_ts())
    due_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    reporter_ref: str | None = Field(default=None, max_length=40)
    attributes_json: str = Field(default="{}", sa_column=sa.Column(sa.Text, nullable=False, server_default="{}"))
    attachments_json: str = Field(default="[]", sa_column=sa.Column(sa.Text, nullable=False, server_default="[]"))
    source_ref: str | None = Field(default=None, max_length=64)
    linked_reports: int = Field(default=0, sa_column=sa.Column(sa.Integer, nullable=False, server_default="0"))
    satisfaction: int | None = None
    feedback_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))
    # closed because the feedback window passed without an answer; a return visit's rating (回访)
    closed_without_feedback: bool = Field(
        default=False, sa_column=sa.Column(sa.Boolean, nullable=False, server_default=sa.false())
    )
    return_visit_satisfaction: int | None = None


class ReporterRow(TableBase, table=True):
    """Personal data of a reporter: in intake's database only; events carry ``ref``."""

    __tablename__ = "reporters"

    ref: str = Field(max_length=40, primary_key=True)
    name: str | None = Field(default=None, max_length=50)
    phone: str | None = Field(default=None, max_length=20)
    id_number: str | None = Field(default=None, max_length=18)
    created_at: datetime = Field(default_factory=system_clock, sa_column=_ts())


class CaseLinkRow(TableBase, table=True):
    """A later report of the same matter, linked to an open case instead of opening a second one."""

    __tablename__ = "case_links"

    id: int | None = Field(default=None, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="cases.id", index=True)
    channel: str = Field(max_length=32)
    reporter_ref: str | None = Field(default=None, max_length=40)
    description: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    lat: float | None = None
    lon: float | None = None
    address: str | None = Field(default=None, max_length=500)
    attachments_json: str = Field(default="[]", sa_column=sa.Column(sa.Text, nullable=False, server_default="[]"))
    attributes_json: str = Field(default="{}", sa_column=sa.Column(sa.Text, nullable=False, server_default="{}"))
    linked_at: datetime = Field(default_factory=system_clock, sa_column=_ts())


class AlarmBurstRow(TableBase, table=True):
    """The case of a camera channel's current burst of alarms."""

    __tablename__ = "alarm_bursts"

    channel_id: str = Field(max_length=20, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="cases.id")
    alarms: int = 1
    first_alarm_at: datetime = Field(sa_column=_ts())
    last_alarm_at: datetime = Field(sa_column=_ts())


class ChannelFaultCaseRow(TableBase, table=True):
    """The maintenance case (设备故障) of one camera outage (the bridge's fault id): one case per
    outage however often the fault event is delivered, and the case to clear when it ends."""

    __tablename__ = "channel_fault_cases"

    fault_id: uuid.UUID = Field(primary_key=True)
    channel_id: str = Field(max_length=20, index=True)
    case_id: uuid.UUID = Field(foreign_key="cases.id")
    opened_at: datetime = Field(sa_column=_ts())
    cleared_at: datetime | None = Field(default=None, sa_column=_ts(nullable=True))


class TimelineEntryRow(TableBase, table=True):
    """One hand-off or step of a case, in the order it happened."""

    __tablename__ = "case_timeline"

    id: int | None = Field(default=None, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="cases.id", index=True)
    event_id: str | None = Field(default=None, max_length=64)
    kind: str = Field(max_length=64)
    actor: str = Field(max_length=100)
    note: str | None = Field(default=None, max_length=2000)
    # The note as a message of the catalogue (intake.domain.messages), worded in the reader's
    # language when read; None for steps recorded before it (their note is read as stored).
    note_key: str | None = Field(default=None, max_length=64)
    note_args: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    at: datetime = Field(sa_column=_ts())


class CaseNumberSequence(TableBase, table=True):
    """The next daily sequence number per accepting centre."""

    __tablename__ = "case_number_sequences"

    centre_code: str = Field(max_length=6, primary_key=True)
    day: date = Field(primary_key=True)
    last_value: int = 0


class IdempotencyKeyRow(TableBase, table=True):
    """A client's Idempotency-Key and the case its first request created."""

    __tablename__ = "idempotency_keys"

    key: str = Field(max_length=200, primary_key=True)
    request_hash: str = Field(max_length=64)
    case_id: uuid.UUID = Field(foreign_key="cases.id")
    link_id: int | None = None  # the report it made, when it was linked to an open case
    created_at: datetime = Field(default_factory=system_clock, sa_column=_ts())
