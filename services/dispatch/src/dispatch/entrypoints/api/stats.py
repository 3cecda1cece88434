"""/v1/board/stats: the assessment figures (考核) of grids, workers, departments and centres.

Dispatch owns every figure here: cases received (its cases by when intake received them),
handled on time (resolved before the case's deadline), escalated (a located case now above the
community level: SLA escalation or a centre's decision) and satisfaction (the resident's rating
given with their feedback, and the return visits' answers). Per worker and department the
figures are their handling tasks': received = assigned, on time = completed before the case's
deadline, escalated = the task went above the community level. Bucketed by day, week or month."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field
from sqlmodel import col, select

from dispatch.adapters.tables import DispatchCaseRow, TaskRow
from dispatch.entrypoints.api.deps import CaseReader, DispatcherDep, RuntimeDep, refusals
from govmesh_contracts import Level
from govmesh_runtime.places import in_places

router = APIRouter(prefix="/v1/board", tags=["board"], responses=refusals(403, 422))
MAX_DAYS = 366


class StatsBy(StrEnum):
    GRID = "grid"
    WORKER = "worker"
    DEPARTMENT = "department"
    CENTRE = "centre"


class Bucket(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class StatsRow(BaseModel):
    key: str = Field(description="The grid, worker, department or centre code.")
    period: str = Field(description="Start of the bucket (UTC date, YYYY-MM-DD); 'total' for the whole window.")
    received: int
    resolved: int
    on_time: int = Field(description="Resolved (task: completed) before the case's deadline.")
    escalated: int
    satisfaction_count: int = Field(description="Ratings: feedback at closure and return-visit answers.")
    satisfaction_mean: float | None


@dataclass
class _Tally:
    received: int = 0
    resolved: int = 0
    on_time: int = 0
    escalated: int = 0
    ratings: list[int] = field(default_factory=list)

    def row(self, key: str, period: str) -> StatsRow:
        mean = round(sum(self.ratings) / len(self.ratings), 2) if self.ratings else None
        return StatsRow(
            key=key,
            period=period,
            received=self.received,
            resolved=self.resolved,
            on_time=self.on_time,
            escalated=self.escalated,
            satisfaction_count=len(self.ratings),
            satisfaction_mean=mean,
        )


def bucket_of(at: datetime, bucket: Bucket) -> str:
    day = at.astimezone(UTC).date()
    if bucket is Bucket.WEEK:
        day -= timedelta(days=day.weekday())
    elif bucket is Bucket.MONTH:
        day = day.replace(day=1)
    return day.isoformat()


def _on_time(done_at: datetime | None, due_at: datetime | None) -> bool:
    return done_at is not None and (due_at is None or done_at <= due_at)


@router.get("/stats", summary="Assessment figures by grid, worker, department or centre, per day/week/month")
async def stats(
    caller: CaseReader,
    runtime: RuntimeDep,
    dispatcher: DispatcherDep,
    by: StatsBy,
    bucket: Bucket = Bucket.DAY,
    since: Annotated[datetime | None, Query(description="Cases received at or after (default: 30 days ago).")] = None,
    until: Annotated[datetime | None, Query(description="Cases received before (default: now).")] = None,
) -> list[StatsRow]:
    end = until or dispatcher.clock() + timedelta(seconds=1)
    start = since or end - timedelta(days=30)
    for name, value in (("since", start), ("until", end)):
        if value.tzinfo is None:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"{name}: must carry a time zone")
    if not start < end <= start + timedelta(days=MAX_DAYS):
        detail = f"until: must be after since and at most {MAX_DAYS} days later"
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail)
    async with runtime.db.sessions() as session:
        cases = (
            await session.exec(
                select(DispatchCaseRow).where(
                    in_places(DispatchCaseRow.grid_code, caller),
                    col(DispatchCaseRow.received_at) >= start,
                    col(DispatchCaseRow.received_at) < end,
                )
            )
        ).all()
        ids = [c.case_id for c in cases]
        tasks: list[TaskRow] = []
        for first in range(0, len(ids), 500):  # bounded IN lists
            chunk = ids[first : first + 500]
            tasks += (await session.exec(select(TaskRow).where(col(TaskRow.case_id).in_(chunk)))).all()
    by_case = {c.case_id: c for c in cases}
    visits: dict[uuid.UUID, list[int]] = {}
    for task in tasks:
        if task.kind == "return_visit" and task.satisfaction is not None:
            visits.setdefault(task.case_id, []).append(task.satisfaction)
    tallies: dict[tuple[str, str], _Tally] = {}

    def add(key: str | None, at: datetime, resolved: bool, on_time: bool, escalated: bool, ratings: list[int]) -> None:
        if not key:
            return
        for period in (bucket_of(at, bucket), "total"):
            tally = tallies.setdefault((key, period), _Tally())
            tally.received += 1
            tally.resolved += resolved
            tally.on_time += on_time
            tally.escalated += escalated
            tally.ratings += ratings

    for case in cases:
        ratings = ([case.satisfaction] if case.satisfaction is not None else []) + visits.get(case.case_id, [])
        escalated = case.grid_code is not None and case.level != Level.COMMUNITY.value
        if by in (StatsBy.GRID, StatsBy.CENTRE):
            key = case.grid_code if by is StatsBy.GRID else case.centre_code
            resolved = case.resolved_at is not None
            add(key, case.received_at, resolved, _on_time(case.resolved_at, case.due_at), escalated, ratings)
    if by in (StatsBy.WORKER, StatsBy.DEPARTMENT):
        for task in tasks:
            case = by_case[task.case_id]
            if task.kind == "return_visit":
                continue
            key = task.assignee if by is StatsBy.WORKER else task.department
            if by is StatsBy.WORKER and task.target != "grid_worker":
                continue
            done = task.state == "done"
            on_time = done and _on_time(task.completed_at, case.due_at)
            ratings = ([case.satisfaction] if case.satisfaction is not None else []) + visits.get(case.case_id, [])
            escalated = task.level != Level.COMMUNITY.value
            add(key, task.assigned_at, done, on_time, escalated, ratings if done else [])
    return [tallies[k].row(*k) for k in sorted(tallies)]
