"""Dispatch's own Prometheus metrics (bounded labels: levels, county codes, targets, outcomes).

Counters and histograms move after the commit (``after_commit``); the open/overdue gauges
are counted from dispatch's own tables every few seconds (``refresh_case_gauges``)."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from prometheus_client import Counter, Gauge, Histogram
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from dispatch.adapters.tables import DispatchCaseRow
from dispatch.domain.tasks import CaseState
from govmesh_contracts import Level, TaskTarget
from govmesh_runtime import jobs
from govmesh_runtime.app import Runtime
from govmesh_runtime.uow import after_commit as after_commit  # handlers call metrics.after_commit

ESCALATIONS = Counter("govmesh_escalations_total", "Task escalations, by level reached.", ["to_level"])
WEBHOOK_DELIVERIES = Counter(
    "govmesh_dispatch_webhook_attempts_total",
    "Department webhook attempts, by outcome (delivered, failed; parked: a failure that parked the delivery).",
    ["outcome"],
)
WEBHOOK_BACKLOG = Gauge(
    "govmesh_dispatch_webhook_backlog", "Department webhook deliveries not yet delivered (parked ones excepted)."
)
WEBHOOK_PARKED = Gauge(
    "govmesh_dispatch_webhook_parked",
    "Department webhook deliveries parked after webhook_max_attempts failures, waiting for an operator's resend.",
)
GRIDS_INDEXED = Gauge("govmesh_dispatch_grids_indexed", "Grids in the point-lookup index.")
CASE_DISPATCH = Histogram(
    "govmesh_case_dispatch_seconds",
    "From the case's acceptance at intake to its dispatch (located, tasks opened).",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
TASKS_COMPLETED = Counter(
    "govmesh_tasks_completed_total",
    "Tasks completed, by target and whether within their deadline (within_sla true/false).",
    ["target", "within_sla"],
)
CASES_CLOSED = Counter(
    "govmesh_cases_closed_total",
    "Cases closed, by how (feedback: the resident answered; without_feedback: the feedback window passed; "
    "by_centre: a centre closed the resolved case by hand).",
    ["how"],
)
CASES_OPEN = Gauge("govmesh_cases_open", "Cases with tasks open, by level and county code.", ["level", "county"])
CASES_OVERDUE = Gauge(
    "govmesh_cases_overdue", "Open cases past their deadline, by level and county code.", ["level", "county"]
)
NO_COUNTY = "none"  # cases not located on a grid (held by the city centre)

for _level in Level:
    ESCALATIONS.labels(_level.value)
for _target in TaskTarget:
    for _within in ("true", "false"):
        TASKS_COMPLETED.labels(_target.value, _within)
for _outcome in ("delivered", "failed"):
    WEBHOOK_DELIVERIES.labels(_outcome)


async def refresh_case_gauges(session: AsyncSession, now: datetime) -> None:
    """Open and overdue cases by level and county (the first 6 digits of the grid code)."""
    county = func.coalesce(func.substr(col(DispatchCaseRow.grid_code), 1, 6), NO_COUNTY)
    overdue = func.sum(sa.case((col(DispatchCaseRow.due_at) < now, 1), else_=0))
    rows = (
        await session.exec(
            select(col(DispatchCaseRow.level), county, func.count(), overdue)
            .where(col(DispatchCaseRow.status) == CaseState.DISPATCHED.value)
            .group_by(col(DispatchCaseRow.level), county)
        )
    ).all()
    CASES_OPEN.clear()
    CASES_OVERDUE.clear()
    for level in Level:  # every level is shown, 0 when nothing is open there
        CASES_OPEN.labels(level.value, NO_COUNTY).set(0)
        CASES_OVERDUE.labels(level.value, NO_COUNTY).set(0)
    for case_level, county_code, open_count, overdue_count in rows:
        CASES_OPEN.labels(case_level, county_code).set(open_count)
        CASES_OVERDUE.labels(case_level, county_code).set(overdue_count or 0)


def case_gauges_job(
    clock: Callable[[], datetime], interval_s: float = 5.0
) -> Callable[[Runtime], Coroutine[Any, Any, None]]:
    """A background job (``create_app(background=[...])``) recounting the gauges every ``interval_s``."""

    async def case_gauges(runtime: Runtime) -> None:
        async with runtime.db.sessions() as session:
            await refresh_case_gauges(session, clock())

    return jobs.periodic(interval_s, case_gauges)
