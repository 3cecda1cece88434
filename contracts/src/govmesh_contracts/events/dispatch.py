"""Events produced by dispatch, the grid (网格)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from govmesh_contracts.events.base import Event


class CaseDispatched(Event):
    """Dispatch located the case on the grid and took it into coordinated handling."""

    event_type: ClassVar[str] = "gov.dispatch.case.dispatched"
    key_field: ClassVar[str] = "case_id"

    case_id: UUID
    grid_code: str | None = Field(default=None, description="Unified grid code of the case's grid, when located.")
    handled_by: str = Field(description="Who holds the case now, e.g. a governance centre code or 'grid-worker'.")
    dispatched_at: datetime
    note: str | None = None
