"""Grids and their differentiated service lists (差异化服务清单)."""

from __future__ import annotations

from dispatch.domain.routing import GRID_FUNCTIONS

# Standard duties of every grid (网格员职责).
STANDARD_SERVICES: tuple[str, ...] = (
    "information_reporting",
    "hazard_investigation",
    "dispute_resolution",
    "legal_publicity",
    "convenience_services",
    "volunteer_services",
)

FUNCTION_SERVICES: dict[str, tuple[str, ...]] = {
    "residential": ("elderly_care_visits", "property_dispute_liaison", "community_correction_follow_up"),
    "commercial": ("business_licence_assistance", "consumer_dispute_intake", "fire_safety_checks"),
    "rural": ("land_contract_disputes", "agricultural_subsidy_help", "left_behind_care"),
    "industrial": ("workplace_safety_inspection", "labour_dispute_liaison", "hazardous_goods_register"),
    "mixed": ("elderly_care_visits", "fire_safety_checks", "consumer_dispute_intake"),
}


class GridDataError(ValueError):
    pass


def service_list(function: str) -> list[str]:
    """The grid's service list: the standard duties plus those of its function."""
    if function not in GRID_FUNCTIONS:
        raise GridDataError(f"function {function!r} must be one of {', '.join(GRID_FUNCTIONS)}")
    return [*STANDARD_SERVICES, *FUNCTION_SERVICES[function]]


def normalise_address(address: str) -> str:
    """Addresses compare without blanks and case (full-width blanks too)."""
    return "".join(address.split()).replace("\u3000", "").lower()
