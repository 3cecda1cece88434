"""Studios (mediation rooms) and their mediators, loaded from the seed document."""

from __future__ import annotations

from datetime import datetime

from govmesh_runtime.uow import UnitOfWork
from mediation.adapters.tables import MediatorRow, StudioRow
from mediation.domain.commands import MediatorSpec, StudioSpec
from mediation.domain.disputes import DisputeRuleError


async def load_seed(
    studios: list[StudioSpec], mediators: list[MediatorSpec], uow: UnitOfWork, *, now: datetime
) -> None:
    """Create or update studios and mediators by id (idempotent)."""
    known_studios = {s.studio_id for s in studios}
    for spec in studios:
        row = await uow.session.get(StudioRow, spec.studio_id) or StudioRow(id=spec.studio_id, name=spec.name)
        row.name, row.area_codes, row.rooms, row.updated_at = spec.name, list(spec.area_codes), list(spec.rooms), now
        uow.session.add(row)
    await uow.session.flush()
    for number, m in enumerate(mediators):
        if m.studio_id not in known_studios and await uow.session.get(StudioRow, m.studio_id) is None:
            raise DisputeRuleError(f"mediators[{number}].studio_id", f"unknown studio {m.studio_id!r}")
        row_m = await uow.session.get(MediatorRow, m.mediator_id) or MediatorRow(
            id=m.mediator_id, studio_id=m.studio_id, name=m.name, kind=m.kind
        )
        row_m.studio_id, row_m.name, row_m.kind = m.studio_id, m.name, m.kind
        row_m.skills, row_m.capacity, row_m.active, row_m.updated_at = list(m.skills), m.capacity, m.active, now
        uow.session.add(row_m)
