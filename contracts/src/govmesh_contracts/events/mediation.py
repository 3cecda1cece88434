"""Events produced by mediation (矛盾纠纷调处)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar
from uuid import UUID

from pydantic import Field

from govmesh_contracts.events.base import Event


class ViolenceRiskFlagged(Event):
    """A dispute is at risk of violence: policing must act. No personal data."""

    event_type: ClassVar[str] = "gov.mediation.dispute.violence-risk-flagged"
    key_field: ClassVar[str] = "dispute_id"

    dispute_id: UUID
    case_id: UUID
    grid_code: str | None = None
    risk_level: str = Field(description="high or critical.")
    summary: str = Field(max_length=2000)
    flagged_at: datetime
