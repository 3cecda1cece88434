"""Queries on intake's tables."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from intake.adapters.tables import CaseNumberSequence, CaseRow, IdempotencyKeyRow, TimelineEntryRow


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
        return list(result.all())

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
