"""/v1/reports: outcomes by category for the studios."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from govmesh_runtime import access
from mediation.adapters.repository import SqlMediationRepository
from mediation.entrypoints.api.deps import CasesRead, ClockDep, RuntimeDep, aware, refusals
from mediation.entrypoints.api.schemas import CategoryOutcomes

router = APIRouter(prefix="/v1/reports", tags=["reports"], responses=refusals(401, 403, 422))


@router.get(
    "/outcomes-by-category",
    summary="Closed disputes in your places by category and outcome (done, referred, withdrawn)",
)
async def outcomes_by_category(
    caller: CasesRead,
    runtime: RuntimeDep,
    clock: ClockDep,
    studio_id: str | None = None,
    starts: Annotated[datetime | None, Query(alias="from")] = None,
    ends: Annotated[datetime | None, Query(alias="to")] = None,
) -> list[CategoryOutcomes]:
    end = aware(ends, "to") if ends else clock() + timedelta(seconds=1)
    start = aware(starts, "from") if starts else end - timedelta(days=365)
    async with runtime.db.sessions() as session:
        rows = await SqlMediationRepository(session).outcomes_by_category(
            closed_from=start, closed_to=end, studio_id=studio_id, places=access.place_filter(caller)
        )
    table: dict[str, CategoryOutcomes] = {}
    for category, outcome, count in rows:
        line = table.setdefault(category, CategoryOutcomes(category=category))
        if outcome in ("done", "referred", "withdrawn"):
            setattr(line, outcome, getattr(line, outcome) + count)
        line.total += count
    return [table[c] for c in sorted(table)]
