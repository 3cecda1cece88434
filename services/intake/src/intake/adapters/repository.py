"""Queries on intake's tables."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, func, or_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from intake.adapters.tables import (
    AlarmBurstRow,
    CaseLinkRow,
    CaseNumberSequence,
    CaseRow,
    IdempotencyKeyRow,
    ReporterRow,
    TimelineEntryRow,
)
from intake.domain.cases import OPEN_STATUSES, step_order


@dataclass(frozen=True)
class CaseFilter:
    statuses: Sequence[str] = ()
    matter_codes: Sequence[str] = ()
    channels: Sequence[str] = ()
    received_from: datetime | None = None
    received_to: datetime | None = None
    text: str | None = None
    bbox: tuple[float, float, float, float] | None = None  # min_lon, min_lat, max_lon, max_lat
    ids: Sequence[uuid.UUID] = ()
    case_numbers: Sequence[str] = ()
    places: Sequence[str] | None = None  # grid code prefixes the caller may see; None = everywhere
    grid: str | None = None  # a grid, or a division code covering the grids below it (the board's filter)
    due_before: datetime | None = None  # open cases whose deadline is before this time (the board's "overdue")


def within(places: Sequence[str]) -> ColumnElement[bool]:
    """Cases whose grid code starts with one of the prefixes (never an unlocated case)."""
    return or_(*(col(CaseRow.grid_code).startswith(place, autoescape=True) for place in places))


class SqlCaseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, case_id: uuid.UUID) -> CaseRow | None:
        return await self.session.get(CaseRow, case_id)

    async def timeline(self, case_id: uuid.UUID) -> list[TimelineEntryRow]:
        result = await self.session.exec(
            select(TimelineEntryRow)
            .where(col(TimelineEntryRow.case_id) == case_id)
            .order_by(col(TimelineEntryRow.at), col(TimelineEntryRow.id))
        )
        # one dispatch decision publishes several events at the same instant, on several topics
        return sorted(result.all(), key=lambda t: (t.at, step_order(t.kind), t.id or 0))

    async def timelines(self, case_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, list[TimelineEntryRow]]:
        """The timelines of several cases in one query (a page of requests, not a query per case)."""
        out: dict[uuid.UUID, list[TimelineEntryRow]] = {case_id: [] for case_id in case_ids}
        if not case_ids:
            return out
        result = await self.session.exec(
            select(TimelineEntryRow).where(col(TimelineEntryRow.case_id).in_(list(case_ids)))
        )
        for step in result.all():
            out[step.case_id].append(step)
        return {
            case_id: sorted(steps, key=lambda t: (t.at, step_order(t.kind), t.id or 0))
            for case_id, steps in out.items()
        }

    async def by_number(self, case_number: str) -> CaseRow | None:
        result = await self.session.exec(select(CaseRow).where(col(CaseRow.case_number) == case_number))
        return result.first()

    async def search(self, f: CaseFilter, *, limit: int, offset: int) -> tuple[list[CaseRow], int]:
        """Cases matching the filter, newest first, and how many match in all."""
        conditions: list[ColumnElement[bool]] = []
        if f.statuses:
            conditions.append(col(CaseRow.status).in_(list(f.statuses)))
        if f.matter_codes:
            conditions.append(col(CaseRow.matter_code).in_(list(f.matter_codes)))
        if f.channels:
            conditions.append(col(CaseRow.channel).in_(list(f.channels)))
        if f.received_from is not None:
            conditions.append(col(CaseRow.received_at) >= f.received_from)
        if f.received_to is not None:
            conditions.append(col(CaseRow.received_at) <= f.received_to)
        if f.text:
            pattern = "%" + f.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            conditions.append(
                or_(
                    col(CaseRow.description).ilike(pattern, escape="\\"),
                    col(CaseRow.case_number).ilike(pattern, escape="\\"),
                    col(CaseRow.address).ilike(pattern, escape="\\"),
                )
            )
        if f.bbox is not None:
            min_lon, min_lat, max_lon, max_lat = f.bbox
            conditions += [
                col(CaseRow.lon) >= min_lon,
                col(CaseRow.lon) <= max_lon,
                col(CaseRow.lat) >= min_lat,
                col(CaseRow.lat) <= max_lat,
            ]
        if f.ids or f.case_numbers:
            conditions.append(or_(col(CaseRow.id).in_(list(f.ids)), col(CaseRow.case_number).in_(list(f.case_numbers))))
        if f.places is not None:
            conditions.append(within(f.places))
        if f.grid is not None:
            conditions.append(within([f.grid]))
        if f.due_before is not None:  # past its deadline and still open: resolved or closed cases are not late
            conditions += [
                col(CaseRow.due_at) < f.due_before,
                col(CaseRow.status).in_([s.value for s in OPEN_STATUSES]),
            ]
        total = (await self.session.exec(select(func.count()).select_from(CaseRow).where(*conditions))).one()
        rows = await self.session.exec(
            select(CaseRow)
            .where(*conditions)
            .order_by(col(CaseRow.received_at).desc(), col(CaseRow.case_number).desc())
            .limit(limit)
            .offset(offset)
        )
        return list(rows.all()), int(total)

    async def open_candidates(
        self,
        matter_code: str,
        since: datetime,
        statuses: Sequence[str],
        box: tuple[float, float, float, float] | None,
        address: str | None,
        places: Sequence[str] = (),
    ) -> list[CaseRow]:
        """Open cases of a matter received since ``since``, near a point (box) or at the same address."""
        near: list[ColumnElement[bool]] = []
        if box is not None:
            min_lat, max_lat, min_lon, max_lon = box
            near.append(
                (col(CaseRow.lat) >= min_lat)
                & (col(CaseRow.lat) <= max_lat)
                & (col(CaseRow.lon) >= min_lon)
                & (col(CaseRow.lon) <= max_lon)
            )
        if address:
            near.append(col(CaseRow.address) == address)
        if not near:
            return []
        result = await self.session.exec(
            select(CaseRow)
            .where(
                col(CaseRow.matter_code) == matter_code,
                col(CaseRow.status).in_(list(statuses)),
                col(CaseRow.received_at) >= since,
                col(CaseRow.channel) != "video",
                or_(*near),
                *([within(places)] if places else []),
            )
            .order_by(col(CaseRow.received_at))
        )
        return list(result.all())

    async def reporter(self, ref: str) -> ReporterRow | None:
        return await self.session.get(ReporterRow, ref)

    async def reporters(self, refs: Sequence[str]) -> dict[str, ReporterRow]:
        if not refs:
            return {}
        result = await self.session.exec(select(ReporterRow).where(col(ReporterRow.ref).in_(list(refs))))
        return {r.ref: r for r in result.all()}

    async def links(self, case_id: uuid.UUID) -> list[CaseLinkRow]:
        result = await self.session.exec(
            select(CaseLinkRow).where(col(CaseLinkRow.case_id) == case_id).order_by(col(CaseLinkRow.id))
        )
        return list(result.all())

    async def link(self, link_id: int) -> CaseLinkRow | None:
        return await self.session.get(CaseLinkRow, link_id)

    async def alarm_burst(self, channel_id: str) -> AlarmBurstRow | None:
        return await self.session.get(AlarmBurstRow, channel_id)

    async def by_idempotency_key(self, key: str) -> IdempotencyKeyRow | None:
        return await self.session.get(IdempotencyKeyRow, key)

    async def next_sequence(self, centre_code: str, day: date) -> int:
        """Increment the centre's daily counter inside the caller's transaction.

        One upsert statement, so concurrent first requests of a day cannot collide."""
        dialect = self.session.get_bind().dialect.name
        insert = sqlite_insert if dialect == "sqlite" else pg_insert
        table = CaseNumberSequence.__table__  # type: ignore[attr-defined]
        stmt = (
            insert(table)
            .values(centre_code=centre_code, day=day, last_value=1)
            .on_conflict_do_update(index_elements=["centre_code", "day"], set_={"last_value": table.c.last_value + 1})
            .returning(table.c.last_value)
        )
        return int((await self.session.exec(stmt)).scalar_one())
