"""Dispatch's tables (its own database; no other service reads them)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from govmesh_runtime.types import utc_column


class DispatchCaseRow(SQLModel, table=True):
    __tablename__ = "dispatch_cases"

    case_id: uuid.UUID = Field(primary_key=True)
    case_number: str = Field(max_length=32)
    matter_code: str = Field(max_length=64, index=True)
    grid_code: str | None = Field(default=None, max_length=32, index=True)
    status: str = Field(max_length=32, index=True)
    handled_by: str = Field(max_length=100)
    received_at: datetime = Field(sa_column=utc_column())
    dispatched_at: datetime = Field(sa_column=utc_column())
