"""Queries dispatch's handlers and routes share (SQL on dispatch's own tables)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from sqlmodel import col, delete, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from dispatch.adapters.tables import (
    BuildingRow,
    CentreRow,
    DispatchCaseRow,
    RoutingRuleRow,
    TaskRow,
    WorkerRow,
)
from dispatch.domain.assignment import WorkerLoad
from dispatch.domain.codes import LEVELS, GridCode
from dispatch.domain.grids import normalise_address
from dispatch.domain.routing import Rule, Target
from dispatch.domain.tasks import OPEN_STATES, TaskState
from govmesh_contracts import Level

OPEN = [s.value for s in OPEN_STATES]


async def load_rules(session: AsyncSession) -> list[Rule]:
    rows = (await session.exec(select(RoutingRuleRow))).all()
    return [
        Rule(row.matter_code, row.grid_function, tuple(Target.parse(t) for t in row.targets.split(","))) for row in rows
    ]


async def replace_rules(session: AsyncSession, rules: Sequence[Rule]) -> None:
    await session.exec(delete(RoutingRuleRow))
    await add_rules(session, rules)


async def add_rules(session: AsyncSession, rules: Sequence[Rule]) -> None:
    for rule in rules:
        session.add(
            RoutingRuleRow(
                matter_code=rule.matter_code,
                grid_function=rule.grid_function,
                targets=",".join(str(t) for t in rule.targets),
            )
        )


async def centre_for(session: AsyncSession, grid_code: str | None, level: Level, city_code: str) -> str:
    """The governance centre supervising a grid at a level; the nearest centre above when
    that level has none for the grid; the admin code itself when no centre is registered."""
    levels = LEVELS[LEVELS.index(level) :]
    for lvl in levels:
        admin = city_code if grid_code is None or lvl is Level.CITY else GridCode(grid_code).admin_code(lvl)
        found = (
            await session.exec(
                select(CentreRow.centre_code)
                .where(col(CentreRow.admin_code) == admin, col(CentreRow.level) == lvl.value)
                .order_by(col(CentreRow.centre_code))
            )
        ).first()
        if found is not None:
            return found
    return city_code if grid_code is None or level is Level.CITY else GridCode(grid_code).admin_code(level)


async def grid_by_address(session: AsyncSession, address: str) -> str | None:
    """A building whose address is the case's address, or the longest one the address contains."""
    wanted = normalise_address(address)
    if not wanted:
        return None
    exact = (await session.exec(select(BuildingRow.grid_code).where(col(BuildingRow.address) == wanted))).first()
    if exact is not None:
        return exact
    # the case address may add a flat or a landmark to a building's address
    contained = (
        await session.exec(
            select(BuildingRow.grid_code)
            .where(sa.literal(wanted).like(col(BuildingRow.address) + "%"))
            .order_by(sa.func.length(col(BuildingRow.address)).desc())
        )
    ).first()
    return contained


async def community_worker_loads(session: AsyncSession, community_code: str) -> list[WorkerLoad]:
    # Counted per worker of the community (index on assignee), not over every open task of the city.
    open_tasks = (
        select(func.count())
        .where(
            col(TaskRow.assignee) == col(WorkerRow.worker_id),
            col(TaskRow.state).in_(OPEN),
            col(TaskRow.target) == "grid_worker",
        )
        .scalar_subquery()
    )
    rows = (
        await session.exec(
            select(col(WorkerRow.worker_id), col(WorkerRow.grid_code), col(WorkerRow.on_duty), open_tasks).where(
                col(WorkerRow.community_code) == community_code
            )
        )
    ).all()
    return [WorkerLoad(w, g, bool(d), int(n or 0)) for w, g, d, n in rows]


async def case_tasks(session: AsyncSession, case_id: uuid.UUID, *, for_update: bool = False) -> list[TaskRow]:
    query = select(TaskRow).where(col(TaskRow.case_id) == case_id).order_by(col(TaskRow.assigned_at))
    return list(await session.exec(query.with_for_update() if for_update else query))


async def get_case_for_update(session: AsyncSession, case_id: uuid.UUID) -> DispatchCaseRow | None:
    return (
        await session.exec(select(DispatchCaseRow).where(col(DispatchCaseRow.case_id) == case_id).with_for_update())
    ).first()


async def get_task_for_update(session: AsyncSession, task_id: uuid.UUID) -> TaskRow | None:
    return (await session.exec(select(TaskRow).where(col(TaskRow.task_id) == task_id).with_for_update())).first()


def is_open(task: TaskRow) -> bool:
    return TaskState(task.state) in OPEN_STATES
