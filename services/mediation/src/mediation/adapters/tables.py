"""Mediation's tables (its own database; no other service reads them)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from govmesh_kit.clock import system_clock
from govmesh_runtime.types import utc_column


class TableBase(SQLModel, registry=registry()):
    """Base of this service's tables: a metadata of its own, so that two services' tables
    with the same name (e.g. ``grids``) never meet, even when imported into one process."""


def _json(default: Any = None) -> Any:
    return Field(
        default_factory=lambda: [] if default is None else default, sa_column=sa.Column(sa.JSON, nullable=False)
    )


class StudioRow(TableBase, table=True):
    """A community mediation studio (调解工作室) and the area it serves."""

    __tablename__ = "studios"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=200)
    area_codes: list[str] = _json()
    rooms: list[str] = _json()
    updated_at: datetime = Field(default_factory=system_clock, sa_column=utc_column())


class MediatorRow(TableBase, table=True):
    """A full-time mediator, legal adviser or volunteer peacemaker of a studio."""

    __tablename__ = "mediators"

    id: str = Field(primary_key=True, max_length=64)
    studio_id: str = Field(foreign_key="studios.id", index=True, max_length=64)
    name: str = Field(max_length=100)
    kind: str = Field(max_length=32)
    skills: list[str] = _json()
    capacity: int = 10
    active: bool = True
    updated_at: datetime = Field(default_factory=system_clock, sa_column=utc_column())


class DisputeRow(TableBase, table=True):
    __tablename__ = "disputes"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    case_id: uuid.UUID = Field(index=True)
    task_id: uuid.UUID = Field(unique=True)
    case_number: str = Field(max_length=64)
    matter_code: str = Field(max_length=64)
    category: str = Field(max_length=32, index=True)
    grid_code: str | None = Field(default=None, max_length=64, index=True)
    facts: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    risk_level: str = Field(max_length=16)
    status: str = Field(max_length=32, index=True)
    outcome: str | None = Field(default=None, max_length=32)
    referral_to: str | None = Field(default=None, max_length=100)
    closing_note: str | None = Field(default=None, max_length=2000)
    mediator_id: str | None = Field(default=None, max_length=64, index=True)
    studio_id: str | None = Field(default=None, max_length=64, index=True)
    opened_at: datetime = Field(sa_column=utc_column())
    target_close_at: datetime = Field(sa_column=utc_column())
    late_flagged_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    updated_at: datetime = Field(sa_column=utc_column())


class PartyRow(TableBase, table=True):
    """A party to a dispute. Contact data is protected: shown masked, full only through an
    audited read (the runtime's audit log)."""

    __tablename__ = "dispute_parties"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    dispute_id: uuid.UUID = Field(foreign_key="disputes.id", index=True)
    role: str = Field(max_length=32)
    name: str = Field(max_length=100)
    phone: str | None = Field(default=None, max_length=32)
    id_number: str | None = Field(default=None, max_length=32)
    party_key: str = Field(max_length=64, index=True)


class ConflictOfInterestRow(TableBase, table=True):
    __tablename__ = "conflicts_of_interest"

    id: int | None = Field(default=None, primary_key=True)
    dispute_id: uuid.UUID = Field(foreign_key="disputes.id", index=True)
    mediator_id: str = Field(max_length=64)
    reason: str = Field(max_length=500)
    recorded_at: datetime = Field(sa_column=utc_column())


class DisputeLogRow(TableBase, table=True):
    """The dispute's own history, in order (opened, assigned, session …, closed)."""

    __tablename__ = "dispute_log"

    id: int | None = Field(default=None, primary_key=True)
    dispute_id: uuid.UUID = Field(foreign_key="disputes.id", index=True)
    kind: str = Field(max_length=64)
    note: str | None = Field(default=None, max_length=2000)
    at: datetime = Field(sa_column=utc_column())


class SessionRow(TableBase, table=True):
    __tablename__ = "mediation_sessions"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    dispute_id: uuid.UUID = Field(foreign_key="disputes.id", index=True)
    studio_id: str = Field(max_length=64, index=True)
    room: str = Field(max_length=64)
    mediator_id: str = Field(max_length=64, index=True)
    starts_at: datetime = Field(sa_column=utc_column(index=True))
    ends_at: datetime = Field(sa_column=utc_column())
    status: str = Field(max_length=16, index=True)
    party_keys: list[str] = _json()
    minutes: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    attendance: dict[str, bool] = _json({})
    cancel_reason: str | None = Field(default=None, max_length=500)
    held_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class AgreementRow(TableBase, table=True):
    """A mediation agreement: terms (who performs what by when) and the judicial-confirmation window."""

    __tablename__ = "agreements"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    dispute_id: uuid.UUID = Field(foreign_key="disputes.id", unique=True)
    terms: list[dict[str, Any]] = _json()
    signed_at: datetime = Field(sa_column=utc_column())
    confirmation_deadline: datetime = Field(sa_column=utc_column(index=True))
    confirmation_status: str = Field(max_length=16, index=True)  # open, applied, lapsed
    confirmation_changed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class FollowUpRow(TableBase, table=True):
    __tablename__ = "follow_up_visits"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    dispute_id: uuid.UUID = Field(foreign_key="disputes.id", index=True)
    visited_at: datetime = Field(sa_column=utc_column())
    performed_terms: list[int] = _json()
    note: str | None = Field(default=None, max_length=2000)


class WindowRequestRow(TableBase, table=True):
    """A window service: legal consultation, legal aid or psychological counselling."""

    __tablename__ = "window_requests"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    kind: str = Field(max_length=32, index=True)
    studio_id: str | None = Field(default=None, max_length=64, index=True)
    case_id: uuid.UUID | None = Field(default=None, index=True)
    task_id: uuid.UUID | None = Field(default=None, unique=True)
    topic: str = Field(max_length=2000)
    status: str = Field(max_length=16, index=True)  # open, closed
    outcome: str | None = Field(default=None, max_length=32)
    referral_to: str | None = Field(default=None, max_length=100)
    note: str | None = Field(default=None, max_length=2000)
    opened_at: datetime = Field(sa_column=utc_column())
    closed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class DeliberationRow(TableBase, table=True):
    """A residents' deliberation council session (议事会)."""

    __tablename__ = "deliberations"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    community_code: str = Field(max_length=32, index=True)
    topic: str = Field(max_length=500)
    held_at: datetime = Field(sa_column=utc_column())
    participants: list[str] = _json()
    decisions: list[dict[str, Any]] = _json()
    dispute_id: uuid.UUID | None = Field(default=None)
    recorded_at: datetime = Field(default_factory=system_clock, sa_column=utc_column())
