"""Queries on policing's tables, and the per-process grid index built from them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlmodel import col, delete, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from govmesh_runtime.grids import GridStore
from govmesh_runtime.places import within
from policing.adapters.tables import (
    DutyShiftRow,
    GridRow,
    OfficerRow,
    PoliceTaskRow,
    ReferenceVersionRow,
    RoomGridRow,
    RoomRow,
)
from policing.domain.jurisdiction import RoomSpec, Shift, on_duty
from policing.domain.tasks import OPEN_STATUSES, OnDutyOfficer


class SqlPolicingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # --- reference data --------------------------------------------------------------------

    async def grid_codes(self) -> set[str]:
        return set((await self.session.exec(select(GridRow.grid_code))).all())

    async def grid(self, grid_code: str) -> GridRow | None:
        return await self.session.get(GridRow, grid_code)

    async def rooms_as_specs(self) -> list[RoomSpec]:
        rooms = (await self.session.exec(select(RoomRow))).all()
        grids: dict[str, list[str]] = {}
        for link in (await self.session.exec(select(RoomGridRow))).all():
            grids.setdefault(link.room_code, []).append(link.grid_code)
        return [RoomSpec(r.room_code, r.name, r.county_code, tuple(grids.get(r.room_code, ()))) for r in rooms]

    async def replace_grids(self, grids: Sequence[GridRow]) -> None:
        await GridIndexCache().replace(self.session, [grid.model_dump() for grid in grids])

    async def replace_rooms(self, rooms: Sequence[RoomSpec]) -> None:
        """Replace rooms, jurisdictions and officers (each officer's on-duty flag from the file)."""
        for table in (RoomGridRow, OfficerRow, RoomRow):
            await self.session.exec(delete(table))  # type: ignore[call-overload]
        await self.session.flush()
        self.session.add_all(RoomRow(room_code=r.room_code, name=r.name, county_code=r.county_code) for r in rooms)
        await self.session.flush()
        for room in rooms:
            self.session.add_all(RoomGridRow(grid_code=g, room_code=room.room_code) for g in room.grid_codes)
            self.session.add_all(
                OfficerRow(
                    officer_id=o.officer_id, room_code=room.room_code, name=o.name, role=o.role.value, on_duty=o.on_duty
                )
                for o in room.officers
            )

    async def grid_for_address(self, address: str) -> str | None:
        """The grid whose name is the longest one contained in the address (no geocoder here)."""
        names = (await self.session.exec(select(GridRow.grid_code, GridRow.name))).all()
        hits = [(len(name), code) for code, name in names if name and name in address]
        return max(hits, key=lambda hit: (hit[0], hit[1]))[1] if hits else None

    async def room(self, room_code: str) -> RoomRow | None:
        return await self.session.get(RoomRow, room_code)

    async def rooms(self, *, places: Sequence[str] | None = None, limit: int | None = None) -> list[RoomRow]:
        """Rooms with a grid in ``places`` (None: every room)."""
        query = select(RoomRow).order_by(col(RoomRow.room_code)).limit(limit)
        if places is not None:
            linked = select(RoomGridRow.room_code).where(within(RoomGridRow.grid_code, places))
            query = query.where(col(RoomRow.room_code).in_(linked))
        return list((await self.session.exec(query)).all())

    async def room_grids(self, room_code: str) -> list[str]:
        result = await self.session.exec(
            select(RoomGridRow.grid_code)
            .where(col(RoomGridRow.room_code) == room_code)
            .order_by(col(RoomGridRow.grid_code))
        )
        return list(result.all())

    async def room_for_grid(self, grid_code: str) -> str | None:
        link = await self.session.get(RoomGridRow, grid_code)
        return link.room_code if link else None

    async def officers(self, room_code: str) -> list[OfficerRow]:
        result = await self.session.exec(
            select(OfficerRow).where(col(OfficerRow.room_code) == room_code).order_by(col(OfficerRow.officer_id))
        )
        return list(result.all())

    async def shifts(
        self, room_code: str, *, start: datetime | None = None, end: datetime | None = None, limit: int | None = None
    ) -> list[DutyShiftRow]:
        """The room's shifts that overlap [start, end) (all of them without bounds), by start."""
        query = select(DutyShiftRow).where(col(DutyShiftRow.room_code) == room_code)
        if start is not None:
            query = query.where(col(DutyShiftRow.ends_at) > start)
        if end is not None:
            query = query.where(col(DutyShiftRow.starts_at) < end)
        query = query.order_by(col(DutyShiftRow.starts_at), col(DutyShiftRow.officer_id)).limit(limit)
        return list((await self.session.exec(query)).all())

    async def scheduled_officers(self, room_code: str) -> set[str]:
        """Officers of the room who have shifts in the roster (their shifts decide their duty)."""
        result = await self.session.exec(
            select(DutyShiftRow.officer_id).where(col(DutyShiftRow.room_code) == room_code).distinct()
        )
        return set(result.all())

    async def duty(self, room_code: str, at: datetime) -> dict[str, tuple[bool, bool]]:
        """Officer id → (on duty at ``at``, whether shifts decide it), for the room's officers."""
        officers = await self.officers(room_code)
        scheduled = await self.scheduled_officers(room_code)
        current = await self.shifts(room_code, start=at, end=at + timedelta(microseconds=1))
        by_officer: dict[str, list[Shift]] = {}
        for row in current:
            by_officer.setdefault(row.officer_id, []).append(Shift(row.officer_id, row.starts_at, row.ends_at))
        out: dict[str, tuple[bool, bool]] = {}
        for officer in officers:
            if officer.officer_id in scheduled:
                out[officer.officer_id] = (on_duty(False, by_officer.get(officer.officer_id, []), at), True)
            else:
                out[officer.officer_id] = (officer.on_duty, False)
        return out

    async def on_duty_candidates(self, room_code: str, at: datetime) -> list[OnDutyOfficer]:
        duty = await self.duty(room_code, at)
        officers = [o for o in await self.officers(room_code) if duty[o.officer_id][0]]
        if not officers:
            return []
        counts = dict(
            (
                await self.session.exec(
                    select(PoliceTaskRow.officer_id, func.count())
                    .where(col(PoliceTaskRow.officer_id).in_([o.officer_id for o in officers]))
                    .where(col(PoliceTaskRow.status).in_([s.value for s in OPEN_STATUSES]))
                    .group_by(col(PoliceTaskRow.officer_id))
                )
            ).all()
        )
        return [OnDutyOfficer(o.officer_id, o.role, int(counts.get(o.officer_id, 0))) for o in officers]

    # --- tasks -----------------------------------------------------------------------------

    async def task(self, task_id: uuid.UUID) -> PoliceTaskRow | None:
        return await self.session.get(PoliceTaskRow, task_id)

    async def task_by_source(self, source: str, source_ref: str) -> PoliceTaskRow | None:
        result = await self.session.exec(
            select(PoliceTaskRow).where(
                col(PoliceTaskRow.source) == source, col(PoliceTaskRow.source_ref) == source_ref
            )
        )
        return result.first()

    async def tasks_of_case(self, case_id: uuid.UUID) -> list[PoliceTaskRow]:
        query = select(PoliceTaskRow).where(col(PoliceTaskRow.case_id) == case_id).with_for_update()
        return list((await self.session.exec(query)).all())

    async def tasks(
        self,
        *,
        room_code: str | None = None,
        statuses: Sequence[str] | None = None,
        limit: int = 500,
        places: Sequence[str] | None = None,
    ) -> list[PoliceTaskRow]:
        query = select(PoliceTaskRow).where(within(PoliceTaskRow.grid_code, places))
        if room_code is not None:
            query = query.where(col(PoliceTaskRow.room_code) == room_code)
        if statuses:
            query = query.where(col(PoliceTaskRow.status).in_(list(statuses)))
        query = query.order_by(col(PoliceTaskRow.opened_at), col(PoliceTaskRow.id)).limit(limit)
        return list((await self.session.exec(query)).all())


class GridIndexCache(GridStore):
    """The grid index of this process, rebuilt when an import bumped the grids version
    (the runtime's grid store over policing's tables)."""

    def __init__(self) -> None:
        super().__init__(GridRow, ReferenceVersionRow)
