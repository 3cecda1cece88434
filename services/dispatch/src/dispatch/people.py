"""Commands on the people of the grid (listed in ``dispatch.registry``): grid workers (网格员),
governance centres (综治中心), cadres' visit plans and visit records (走访).

Who may change what where (places, assignee or manager) is checked at the door, from the
credential; these change the tables in the runner's one transaction."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from dispatch.adapters.tables import CentreRow, GridRow, VisitPlanRow, VisitRecordRow, WorkerRow
from dispatch.domain.codes import GridCode
from govmesh_kit.errors import Invalid, NotFound
from govmesh_runtime import audit
from govmesh_runtime.tables import AuditRecord


def personal(row: WorkerRow) -> dict[str, str]:
    """A worker's personal data (read and change audits name these fields)."""
    return {"name": row.name} | ({"phone": row.phone} if row.phone else {})


async def _registered(session: AsyncSession, grid_code: str) -> None:
    if await session.get(GridRow, grid_code) is None:
        raise Invalid(f"grid {grid_code} is not registered", field="grid_code")


async def save_worker(
    worker_id: str,
    session: AsyncSession,
    grid_code: str,
    name: str,
    phone: str | None,
    on_duty: bool,
    audit_entry: Callable[[list[str]], AuditRecord],
) -> WorkerRow:
    """Create or update a worker; a change of personal data is audited (``audit_entry(fields)``)
    in the change's own transaction."""
    await _registered(session, grid_code)
    existing = await session.get(WorkerRow, worker_id)
    before = personal(existing) if existing else {}
    row = existing or WorkerRow(worker_id=worker_id, grid_code=grid_code, community_code="", name=name)
    row.grid_code, row.community_code = grid_code, GridCode(grid_code).community
    row.name, row.phone, row.on_duty = name, phone, on_duty
    session.add(row)
    after = personal(row)
    changed = sorted(f for f in before.keys() | after.keys() if before.get(f) != after.get(f))
    if changed:
        audit.add(session, audit_entry(changed))
    return row


async def set_worker_duty(worker_id: str, session: AsyncSession, on_duty: bool) -> WorkerRow:
    row = await session.get(WorkerRow, worker_id)
    if row is None:  # deleted since the door's check
        raise NotFound(f"worker {worker_id} not found")
    row.on_duty = on_duty
    session.add(row)
    return row


async def save_centre(
    centre_code: str, session: AsyncSession, name: str, level: str, admin_code: str, windows: list[str]
) -> None:
    row = CentreRow(
        centre_code=centre_code,
        name=name,
        level=level,
        admin_code=admin_code,
        windows=json.dumps(windows, ensure_ascii=False),
    )
    await session.merge(row)


async def plan_visits(
    session: AsyncSession, grid_code: str, cadre_ref: str, every_days: int, first_visit_on: datetime
) -> VisitPlanRow:
    await _registered(session, grid_code)
    row = VisitPlanRow(grid_code=grid_code, cadre_ref=cadre_ref, every_days=every_days, next_visit_on=first_visit_on)
    session.add(row)
    return row


async def record_visit(
    session: AsyncSession, grid_code: str, plan_id: uuid.UUID | None, visited_at: datetime, record: dict[str, Any]
) -> VisitRecordRow:
    """A visit; with a plan, the plan's next visit moves on by its interval."""
    await _registered(session, grid_code)
    if plan_id is not None:
        plan = await session.get(VisitPlanRow, plan_id)
        if plan is None or plan.grid_code != grid_code:
            raise Invalid("no visit plan with this id for this grid", field="plan_id")
        plan.next_visit_on = max(plan.next_visit_on, visited_at) + timedelta(days=plan.every_days)
        session.add(plan)
    row = VisitRecordRow(**record)
    session.add(row)
    return row
