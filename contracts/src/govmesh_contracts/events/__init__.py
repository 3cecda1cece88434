"""Event models, one module per producing service."""

from govmesh_contracts.events.base import Event, Location
from govmesh_contracts.events.dispatch import CaseDispatched
from govmesh_contracts.events.intake import CaseReceived

__all__ = ["CaseDispatched", "CaseReceived", "Event", "Location"]
