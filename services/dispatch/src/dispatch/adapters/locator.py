"""The in-memory point → grid index: the runtime's grid store over dispatch's grid table,
with each grid's function (what the routing needs besides the code)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from dispatch.adapters import metrics
from dispatch.adapters.tables import GridRow, ReferenceVersionRow
from govmesh_runtime.grids import GridStore


class GridLocator(GridStore):
    """Holds the current ``GridIndex``; a new index replaces the old one atomically."""

    def __init__(self) -> None:
        super().__init__(GridRow, ReferenceVersionRow)
        self.functions: dict[str, str] = {}

    async def reload(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        async with sessions() as session:
            await self.load(session)

    async def _load(self, session: AsyncSession, version: int) -> None:
        await super()._load(session, version)
        rows = (await session.exec(select(col(GridRow.grid_code), col(GridRow.function)))).all()
        self.functions = dict(rows)
        metrics.GRIDS_INDEXED.set(len(self))
