"""A case as dispatch follows it."""

from __future__ import annotations

from dispatch.domain.tasks import CaseState

DispatchStatus = CaseState


def centre_ref(centre_code: str) -> str:
    """How a governance centre is named as a holder (CaseDispatched.handled_by)."""
    return f"centre:{centre_code}"


def receiving_centre(city_centre_code: str) -> str:
    """Who holds a case that cannot be located on a grid: the city centre."""
    return centre_ref(city_centre_code)
