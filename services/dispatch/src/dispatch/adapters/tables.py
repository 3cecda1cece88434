"""Dispatch's tables (its own database; no other service reads them)."""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from govmesh_runtime.grids import GridFields, GridVersionFields
from govmesh_runtime.types import utc_column


class TableBase(SQLModel, registry=registry()):
    """Base of this service's tables: a metadata of its own, so that two services' tables
    with the same name (e.g. ``grids``) never meet, even when imported into one process."""


class AdminUnitRow(TableBase, table=True):
    """City, county, township or community (GB/T 2260 + statistical codes)."""

    __tablename__ = "dispatch_admin_units"

    code: str = Field(primary_key=True, max_length=12)
    name: str = Field(max_length=200)
    level: str = Field(max_length=16, index=True)
    parent_code: str | None = Field(default=None, max_length=12, index=True)


class CentreRow(TableBase, table=True):
    """A governance centre (综治中心) at one of the four levels, with its windows."""

    __tablename__ = "dispatch_centres"

    centre_code: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=200)
    level: str = Field(max_length=16, index=True)
    admin_code: str = Field(max_length=12, index=True)
    windows: str = Field(default="[]", sa_column=sa.Column(sa.Text, nullable=False), description="JSON list")


class GridRow(GridFields, TableBase, table=True):
    """A grid of the registry (code and boundary: the runtime's grid store; the rest: the registry's)."""

    __tablename__ = "dispatch_grids"

    name: str = Field(max_length=200)
    community_code: str = Field(max_length=12, index=True)
    township_code: str = Field(max_length=9, index=True)
    county_code: str = Field(max_length=6, index=True)
    branch_code: str | None = Field(default=None, max_length=14)
    function: str = Field(max_length=16)
    households: int = 0
    population: int = 0
    services: str = Field(default="[]", sa_column=sa.Column(sa.Text, nullable=False), description="JSON list")


class ReferenceVersionRow(GridVersionFields, TableBase, table=True):
    """Bumped by every grid import, so each instance knows when to rebuild its grid index."""

    __tablename__ = "dispatch_reference_version"


class BuildingRow(TableBase, table=True):
    """A building or courtyard (楼院) of a grid, found by its address."""

    __tablename__ = "dispatch_buildings"

    building_code: str = Field(primary_key=True, max_length=18)
    grid_code: str = Field(max_length=15, index=True)
    address: str = Field(max_length=300, index=True)
    name: str | None = Field(default=None, max_length=200)


class WorkerRow(TableBase, table=True):
    """A grid worker (网格员). Name and phone stay in this table; they never leave in events or logs."""

    __tablename__ = "dispatch_workers"

    worker_id: str = Field(primary_key=True, max_length=64)
    grid_code: str = Field(max_length=15, index=True)
    community_code: str = Field(max_length=12, index=True)
    name: str = Field(max_length=100)
    phone: str | None = Field(default=None, max_length=32)
    on_duty: bool = True


class VisitPlanRow(TableBase, table=True):
    """A community cadre's schedule for walking a grid (走访)."""

    __tablename__ = "dispatch_visit_plans"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    grid_code: str = Field(max_length=15, index=True)
    cadre_ref: str = Field(max_length=64)
    every_days: int
    next_visit_on: datetime = Field(sa_column=utc_column())


class VisitRecordRow(TableBase, table=True):
    __tablename__ = "dispatch_visit_records"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    plan_id: uuid.UUID | None = Field(default=None, index=True)
    grid_code: str = Field(max_length=15, index=True)
    cadre_ref: str = Field(max_length=64)
    visited_at: datetime = Field(sa_column=utc_column())
    households_visited: int = 0
    views: str = Field(sa_column=sa.Column(sa.Text, nullable=False), description="Residents' views collected")


class RoutingRuleRow(TableBase, table=True):
    __tablename__ = "dispatch_routing_rules"
    __table_args__ = (sa.UniqueConstraint("matter_code", "grid_function", name="uq_rule_matter_function"),)

    id: int | None = Field(default=None, primary_key=True)
    matter_code: str = Field(max_length=64)
    grid_function: str | None = Field(default=None, max_length=16)
    targets: str = Field(max_length=500, description="Comma-separated targets")


class DispatchCaseRow(TableBase, table=True):
    __tablename__ = "dispatch_cases"
    # the feedback-window timer: resolved cases by when they resolved
    __table_args__ = (sa.Index("ix_dispatch_cases_feedback_timer", "status", "resolved_at"),)

    case_id: uuid.UUID = Field(primary_key=True)
    case_number: str = Field(max_length=32)
    matter_code: str = Field(max_length=64, index=True)
    grid_code: str | None = Field(default=None, max_length=32, index=True)
    status: str = Field(max_length=32, index=True)
    handled_by: str = Field(max_length=100)
    received_at: datetime = Field(sa_column=utc_column())
    dispatched_at: datetime = Field(sa_column=utc_column())
    level: str = Field(default="community", max_length=16, index=True)
    centre_code: str = Field(default="", max_length=32, index=True)
    due_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    description: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    lat: float | None = None
    lon: float | None = None
    address: str | None = Field(default=None, max_length=500)
    resolved_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    reopened: int = 0
    # the resident's satisfaction (1..5) given with their feedback when the case closed
    satisfaction: int | None = None


class TaskRow(TableBase, table=True):
    """One task of a case; its ``due_at`` is the persisted SLA timer the escalation loop scans."""

    __tablename__ = "dispatch_tasks"
    __table_args__ = (sa.Index("ix_dispatch_tasks_timer", "state", "due_at"),)

    task_id: uuid.UUID = Field(primary_key=True)
    case_id: uuid.UUID = Field(index=True)
    target: str = Field(max_length=32)
    department: str | None = Field(default=None, max_length=64)
    assignee: str | None = Field(default=None, max_length=64, index=True)
    grid_code: str | None = Field(default=None, max_length=15)
    state: str = Field(max_length=16)
    level: str = Field(max_length=16)
    centre_code: str = Field(max_length=32)
    due_at: datetime = Field(sa_column=utc_column())
    assigned_at: datetime = Field(sa_column=utc_column())
    completed_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    outcome: str | None = Field(default=None, max_length=16)
    summary: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    referral_to: str | None = Field(default=None, max_length=64)
    parent_task_id: uuid.UUID | None = None
    # handling, or return_visit (回访) whose answer carries the resident's satisfaction
    kind: str = Field(default="handling", sa_column=sa.Column(sa.String(16), nullable=False, server_default="handling"))
    satisfaction: int | None = None


class WebhookDeliveryRow(TableBase, table=True):
    """A department task to deliver to the department's webhook; retried until delivered or parked."""

    __tablename__ = "dispatch_webhook_deliveries"
    __table_args__ = (sa.Index("ix_dispatch_webhook_due", "delivered_at", "next_attempt_at"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    task_id: uuid.UUID = Field(index=True)
    department: str = Field(max_length=64)
    url: str = Field(max_length=1000)
    body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_column=utc_column())
    delivered_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))
    last_error: str | None = Field(default=None, max_length=500)
    # set after webhook_max_attempts failures: no more retries until an operator resends it
    parked_at: datetime | None = Field(default=None, sa_column=utc_column(nullable=True))


class ElementRow(TableBase, table=True):
    """A six-category grid element record (人、地、事、物、情、组织)."""

    __tablename__ = "dispatch_elements"
    __table_args__ = (sa.Index("ix_dispatch_elements_grid_category", "grid_code", "category", "element_id"),)

    element_id: str = Field(primary_key=True, max_length=64)
    grid_code: str = Field(max_length=15)
    category: str = Field(max_length=16)
    name: str = Field(max_length=200)
    attributes: str = Field(default="{}", sa_column=sa.Column(sa.Text, nullable=False), description="JSON object")


class TaskPhotoRow(TableBase, table=True):
    """A photo the task's assignee took on site (JPEG, PNG or WebP by its bytes), kept by dispatch
    and served to whoever may see the case (its grid within their places)."""

    __tablename__ = "dispatch_task_photos"

    photo_id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    task_id: uuid.UUID = Field(index=True)
    case_id: uuid.UUID = Field(index=True)
    grid_code: str | None = Field(default=None, max_length=15)
    media_type: str = Field(max_length=32)
    size: int
    content: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))
    uploaded_by: str = Field(max_length=64)
    uploaded_at: datetime = Field(sa_column=utc_column())
