"""Intake's tables (its own database; no other service reads them)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from govmesh_runtime.types import utc_column


def utcnow() -> datetime:
    return datetime.now(UTC)


def _ts(nullable: bool = False) -> sa.Column[datetime]:
    return utc_column(nullable=nullable)


class CaseRow(SQLModel, table=True):
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
    received_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_ts())


class TimelineEntryRow(SQLModel, table=True):
    """One hand-off or step of a case, in the order it happened."""

    __tablename__ = "case_timeline"

    id: int | None = Field(default=None, primary_key=True)
    case_id: uuid.UUID = Field(foreign_key="cases.id", index=True)
    event_id: str | None = Field(default=None, max_length=64)
    kind: str = Field(max_length=64)
    actor: str = Field(max_length=100)
    note: str | None = Field(default=None, max_length=2000)
    at: datetime = Field(sa_column=_ts())


class CaseNumberSequence(SQLModel, table=True):
    """The next daily sequence number per accepting centre."""

    __tablename__ = "case_number_sequences"

    centre_code: str = Field(max_length=6, primary_key=True)
    day: date = Field(primary_key=True)
    last_value: int = 0


class IdempotencyKeyRow(SQLModel, table=True):
    """A client's Idempotency-Key and the case its first request created."""

    __tablename__ = "idempotency_keys"

    key: str = Field(max_length=200, primary_key=True)
    request_hash: str = Field(max_length=64)
    case_id: uuid.UUID = Field(foreign_key="cases.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_ts())
