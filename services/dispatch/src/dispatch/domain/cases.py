"""A case as dispatch follows it."""

from __future__ import annotations

from uuid import UUID

from dispatch.domain.tasks import CaseState
from govmesh_contracts import CancelReason

DispatchStatus = CaseState


def centre_ref(centre_code: str) -> str:
    """How a governance centre is named as a holder (CaseDispatched.handled_by)."""
    return f"centre:{centre_code}"


def receiving_centre(city_centre_code: str) -> str:
    """Who holds a case that cannot be located on a grid: the city centre."""
    return centre_ref(city_centre_code)


def cancellation_reason(reason: CancelReason, merged_into: UUID | None, note: str | None) -> str:
    """How a case's cancellation reads on each of its cancelled tasks."""
    words = {
        CancelReason.WITHDRAWN: "withdrawn by the resident",
        CancelReason.MIS_REPORT: "a mis-report",
        CancelReason.MERGED: f"merged into case {merged_into}",
    }[reason]
    return f"case cancelled: {words}" + (f" ({note})" if note else "")
